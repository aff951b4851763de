"""examples/walkthrough.py: it runs (every step checks itself against forward's trace), the committed
docs/walkthrough.md is what rendering it gives now, it opens as a notebook with Jupytext, and it
names every equation of the paper that the maths modules implement."""

import difflib
import glob
import importlib.util
import os
import re

import pytest
from conftest import REPO

SCRIPT = os.path.join(REPO, "examples", "walkthrough.py")
PAGE = os.path.join(REPO, "docs", "walkthrough.md")
FIGURES = os.path.join(REPO, "docs", "walkthrough")
EQUATION = re.compile(r"\((\d{1,2})\)(?:\s*-\s*\((\d{1,2})\))?")  # "(18)" or a range "(21)-(31)"
LAST_EQUATION = 31  # the paper numbers its equations (1) to (31)


@pytest.fixture(scope="module")
def renderer():
    spec = importlib.util.spec_from_file_location(
        "render_walkthrough", os.path.join(REPO, "examples", "render_walkthrough.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cells(renderer):
    with open(SCRIPT, encoding="utf-8") as f:
        return renderer.parse_cells(f.read())


def equation_numbers(text):
    """Every equation number named in ``text``, ranges expanded: "(21)-(23)" gives 21, 22, 23."""
    numbers = set()
    for first, last in EQUATION.findall(text):
        first = int(first)
        numbers.update(range(first, int(last) + 1) if last else [first])
    return {n for n in numbers if 1 <= n <= LAST_EQUATION}


def test_parse_cells_splits_percent_format(renderer):
    text = "\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n\n# %%\n\n# %% [markdown]\n# end\n"
    assert renderer.parse_cells(text) == [("markdown", "# Title\n\ntext"), ("code", "x = 1"), ("markdown", "end")]


def test_committed_page_is_the_rendered_script(renderer, tmp_path):
    page = tmp_path / "walkthrough.md"
    written = renderer.render(SCRIPT, str(page))
    text = page.read_text(encoding="utf-8")
    with open(PAGE, encoding="utf-8") as f:
        committed = f.read()
    if text != committed:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(True), text.splitlines(True), "docs/walkthrough.md (committed)", "rendered now"
                )
            )[:40]
        )
        pytest.fail("docs/walkthrough.md is out of date: run python examples/render_walkthrough.py\n" + diff)
    linked = re.findall(r"!\[[^]]*\]\(walkthrough/([^)]+)\)", text)
    assert linked, "the walkthrough draws no figure"
    assert sorted(os.path.basename(p) for p in written) == sorted(linked)
    for name in linked:
        assert (tmp_path / "walkthrough" / name).stat().st_size > 0
    committed_figures = sorted(os.path.basename(p) for p in glob.glob(os.path.join(FIGURES, "*.png")))
    assert committed_figures == sorted(linked), "docs/walkthrough/ must hold exactly the figures the page links"


def test_opens_as_a_notebook_with_jupytext(cells):
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.read(SCRIPT)
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    assert [(c.cell_type, c.source.strip()) for c in notebook.cells] == [(k, s.strip()) for k, s in cells]
    assert cells[0][0] == "markdown" and cells[0][1].startswith("# One TAG iteration")
    assert sum(kind == "code" for kind, _ in cells) >= 15


def test_names_every_equation_the_maths_modules_implement(cells):
    implemented = set()
    for path in glob.glob(os.path.join(REPO, "tagger_ref", "maths", "*.py")):
        with open(path, encoding="utf-8") as f:
            implemented |= equation_numbers(f.read())
    assert {1, 2, 5, 17, 18, 30, 31} <= implemented  # the search finds the forward pass's equations
    explained = equation_numbers("\n".join(source for kind, source in cells if kind == "markdown"))
    assert implemented - explained == set(), "equations the walkthrough's text never names"


def test_every_step_prints_the_heading_of_its_equations(cells):
    """Each code cell after the helpers opens with heading(...), naming the equations its section's
    markdown heading names, so that the script's plain output says which equation each block is."""
    import ast

    last_heading = None
    checked = 0
    for kind, source in cells[4:]:  # after the title, the imports and the helpers
        if kind == "markdown":
            headings = [line for line in source.splitlines() if line.startswith("#")]
            last_heading = headings[-1] if headings else None  # a cell that continues a section: no check
            continue
        first = ast.parse(source).body[0]
        assert isinstance(first, ast.Expr) and getattr(first.value.func, "id", None) == "heading", source[:80]
        text = first.value.args[0].value
        assert equation_numbers(last_heading or "") <= equation_numbers(text), (last_heading, text)
        checked += 1
    assert checked >= 15


def test_run_without_a_display_it_says_where_its_figures_went(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=REPO)
    r = subprocess.run([sys.executable, SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    saved = re.findall(r"^\(no display: figure saved to (\S+)\)$", r.stdout, re.MULTILINE)
    assert saved and all((tmp_path / path).stat().st_size > 0 for path in saved)
    assert sorted(os.listdir(tmp_path / "walkthrough-figures")) == sorted(os.path.basename(p) for p in saved)
    headings = re.findall(r"^-- (.*?) -+$", r.stdout, re.MULTILINE)
    assert "Step 3: the group likelihood L(m), (5) with (18)" in headings and len(headings) >= 15
