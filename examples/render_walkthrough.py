"""Render examples/walkthrough.py, a script in Jupytext's percent format, to docs/walkthrough.md.

    python examples/render_walkthrough.py [--script examples/walkthrough.py] [--out docs/walkthrough.md]

Runs the script's cells in order in one namespace, as a notebook would, and writes markdown: each
text cell as it is, each code cell in a fence, below it what the cell printed and the matplotlib
figures it drew, as PNGs in a folder beside the page named after it (docs/walkthrough/). Figures
are collected from pyplot after each cell (``plt.show`` does nothing here) and saved without
metadata (no software version, no timestamp); the script fixes its seeds and prints rounded
numbers, so rendering again changes the page only when the script or the library changed
(reference_tests/test_walkthrough.py checks that the committed page is up to date).
"""

import argparse
import contextlib
import io
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = os.path.join(HERE, "walkthrough.py")
PAGE = os.path.join(REPO, "docs", "walkthrough.md")
CELL_MARKER = re.compile(r"^# %%(.*)$")
FIGURE_DPI = 100


def parse_cells(text):
    """The cells of a percent-format script: a list of (kind, source), kind "markdown" or "code".

    A line ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell whose lines lose their
    leading ``# `` (or ``#``). Text before the first marker is a code cell unless blank. Blank lines
    at either end of a cell are dropped.
    """
    cells, kind, lines = [], "code", []

    def close():
        source = "\n".join(lines).strip("\n")
        if source.strip():
            cells.append((kind, source))

    for line in text.splitlines():
        marker = CELL_MARKER.match(line)
        if marker:
            close()
            kind, lines = ("markdown" if "[markdown]" in marker.group(1) else "code"), []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            lines.append(line)
    close()
    return cells


def run_cells(cells, script, save_figure):
    """Execute the code cells in order in one namespace. Returns, per cell, (printed text, figure names):
    ``save_figure(fig)`` saves each figure a cell leaves open and returns its name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy

    namespace = {"__name__": "__main__", "__file__": script, "RENDERING": True}  # figures collected here
    results = []
    show = plt.show
    plt.show = lambda *args, **kwargs: None
    try:
        with matplotlib.rc_context(), numpy.printoptions():
            matplotlib.rcdefaults()  # the same figures whatever the local matplotlibrc says
            for number, (kind, source) in enumerate(cells, start=1):
                if kind != "code":
                    results.append(("", []))
                    continue
                printed = io.StringIO()
                try:
                    with contextlib.redirect_stdout(printed):
                        exec(compile(source, f"{script}, cell {number}", "exec"), namespace)
                except Exception as error:
                    raise RuntimeError(
                        f"{script}: cell {number} failed ({type(error).__name__}: {error}); "
                        f"it printed:\n{printed.getvalue()}"
                    ) from error
                names = []
                for fig_number in plt.get_fignums():
                    fig = plt.figure(fig_number)
                    names.append(save_figure(fig))
                    plt.close(fig)
                results.append((printed.getvalue(), names))
    finally:
        plt.show = show
    return results


def render(script=SCRIPT, page=PAGE):
    """Run ``script`` and write ``page`` (markdown) and its figures; returns the list of figure paths."""
    from tagger_ref.files.fileio import atomic_path, write_text

    with open(script, encoding="utf-8") as f:
        cells = parse_cells(f.read())
    folder_name = os.path.splitext(os.path.basename(page))[0]
    folder = os.path.join(os.path.dirname(os.path.abspath(page)), folder_name)
    os.makedirs(folder, exist_ok=True)
    written = []

    def save_figure(fig):
        name = f"fig-{len(written) + 1:02d}.png"
        path = os.path.join(folder, name)
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
        written.append(path)
        return name

    results = run_cells(cells, script, save_figure)
    source = os.path.relpath(os.path.abspath(script), REPO).replace(os.sep, "/")
    if source.startswith("../"):
        source = os.path.basename(script)
    parts = [
        f"<!-- Generated from {source} by `python examples/render_walkthrough.py`; "
        "edit the script, then render again. -->"
    ]
    for (kind, text), (printed, names) in zip(cells, results):
        if kind == "markdown":
            parts.append(text)
            continue
        parts.append(f"```python\n{text}\n```")
        if printed.strip():
            parts.append(f"```text\n{printed.rstrip()}\n```")
        parts.extend(f"![{name}]({folder_name}/{name})" for name in names)
    write_text(page, "\n\n".join(parts) + "\n")
    for name in sorted(os.listdir(folder)):  # figures of an earlier rendering that no cell draws now
        path = os.path.join(folder, name)
        if re.fullmatch(r"fig-\d+\.png", name) and path not in written:
            os.remove(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", default=SCRIPT, help="the percent-format script (default: %(default)s)")
    parser.add_argument("--out", default=PAGE, help="the markdown page to write (default: %(default)s)")
    args = parser.parse_args(argv)
    figures = render(args.script, args.out)
    print(f"wrote {args.out} and {len(figures)} figures in {os.path.splitext(args.out)[0]}/")


if __name__ == "__main__":
    sys.exit(main())
