"""Figures from arrays (matplotlib, Agg canvas, no pyplot state): the paper's Figure 4 layout (and
Figure 5's, which adds each group's class prediction), the convergence over iterations, group
removal (Figure 5's example E2), Table 1 beside the paper, and a sweep's spread over seeds.

Every function takes NumPy arrays, returns a ``matplotlib.figure.Figure``, and :func:`save_png`
writes it atomically. Groups are colour-coded as in the authors' plots: a group's value ``v`` in
[0, 1] paints ``1 - v (1 - colour)`` on white, and several groups multiply their paint, so a
pixel owned by group k shows colour k and an empty pixel stays white.
"""

import math
import textwrap

import numpy
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..files.fileio import atomic_path

# Group colours (RGB in [0, 1]): blue, red, green, yellow, then more for K > 4.
GROUP_COLOURS = numpy.array(
    [
        [0.12, 0.29, 0.80],
        [0.84, 0.15, 0.16],
        [0.17, 0.63, 0.17],
        [0.95, 0.70, 0.05],
        [0.58, 0.40, 0.74],
        [0.55, 0.34, 0.29],
        [0.89, 0.47, 0.76],
        [0.50, 0.50, 0.50],
    ]
)


def image_shape(n_inputs):
    """(height, width) of an image of N inputs: square when N is a square (20x20, 28x28), else one row."""
    side = math.isqrt(n_inputs)
    return (side, side) if side * side == n_inputs else (1, n_inputs)


def group_colour(k):
    return GROUP_COLOURS[k % len(GROUP_COLOURS)]


def colourize(values, groups=None):
    """RGB image (H, W, 3) of per-group values (K, H, W) in [0, 1], groups coloured by index
    (``groups`` gives each row's group index, default 0..K-1)."""
    values = numpy.clip(numpy.asarray(values, dtype=numpy.float64), 0.0, 1.0)
    groups = range(len(values)) if groups is None else groups
    rgb = numpy.ones(values.shape[1:] + (3,))
    for v, k in zip(values, groups):
        rgb *= 1.0 - v[..., None] * (1.0 - group_colour(k))
    return rgb


def _show(ax, img, title=None, ylabel=None, xlabel=None, edge=None):
    if img.ndim == 2:
        ax.imshow(img, cmap="Greys", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=8)
    if edge is not None:
        for spine in ax.spines.values():
            spine.set_edgecolor(edge)
            spine.set_linewidth(2)


def save_png(fig, path, dpi=100):
    """Write ``fig`` as PNG to ``path`` atomically, cropped to what is drawn (no wide white margins)."""
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)


def add_caption(fig, text, fontsize=8):
    """``text`` just below the lowest axes, wrapped to the figure's width (save_png's crop keeps it)."""
    width = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))  # characters per line, about
    bottom = min(ax.get_position().y0 for ax in fig.axes)
    fig.text(0.01, bottom - 0.15 / fig.get_figheight(), textwrap.fill(text, width), va="top", fontsize=fontsize)


def figure4(examples, process, group_classes=None, caption=None):
    """The layout of the paper's Figure 4 (and of Figure 5 with ``group_classes``).

    examples: list of dicts, one per row on the left: ``x`` (N,) the input, ``z`` and ``m``
    (K, N) of the last iteration, ``label`` (e.g. the AMI, or "A: K=2"). The right column is the
    grouping, colourised ``m_k z_k``.
    process: dict ``x`` (N,), ``z`` and ``m`` (T+1, K, N): the inference over iterations 0..T of
    one image on the right: a row of reconstructions, then per group its z and its m.
    group_classes: optional (K, C+1) per group its distribution over the C classes and "no class"
    (the top Ladder layer of the last iteration), drawn as bars beside the group's rows and
    labelled with the most probable class or "no class".
    caption: optional text below the figure saying what its rows and columns are.
    """
    T1, K, N = process["z"].shape
    shape = image_shape(N)
    rows_right = 1 + 2 * K
    extra = 0 if group_classes is None else 1
    fig = Figure(figsize=(1.2 * (2 + T1 + 1.6 * extra) + 0.8, 1.15 * max(len(examples), rows_right)))
    outer = fig.add_gridspec(1, 2 + extra, width_ratios=[2, T1] + [1.6] * extra, wspace=0.15)
    left = outer[0].subgridspec(len(examples), 2, hspace=0.25, wspace=0.05)
    for r, ex in enumerate(examples):
        k = len(ex["m"])
        _show(
            fig.add_subplot(left[r, 0]),
            ex["x"].reshape(shape),
            ylabel=ex.get("label"),
            title="input" if r == 0 else None,
        )
        _show(
            fig.add_subplot(left[r, 1]),
            colourize((ex["m"] * ex["z"]).reshape((k,) + shape)),
            title="groups" if r == 0 else None,
        )
    right = outer[1].subgridspec(rows_right, T1, hspace=0.12, wspace=0.05)
    for i in range(T1):
        z, m = process["z"][i].reshape((K,) + shape), process["m"][i].reshape((K,) + shape)
        _show(fig.add_subplot(right[0, i]), colourize(m * z), title=f"i={i}", ylabel="reconst." if i == 0 else None)
        for k in range(K):
            _show(
                fig.add_subplot(right[1 + 2 * k, i]),
                colourize(z[k : k + 1], [k]),
                ylabel=f"$z_{k}$" if i == 0 else None,
                edge=group_colour(k),
            )
            _show(
                fig.add_subplot(right[2 + 2 * k, i]),
                colourize(m[k : k + 1], [k]),
                ylabel=f"$m_{k}$" if i == 0 else None,
                edge=group_colour(k),
            )
    if group_classes is not None:
        bars = outer[2].subgridspec(rows_right, 1, hspace=1.0)
        for k, probs in enumerate(group_classes):
            _class_bars(fig.add_subplot(bars[1 + 2 * k : 3 + 2 * k, 0]), probs, group_colour(k))
    if caption:
        add_caption(fig, caption)
    return fig


def class_name(index, n_classes):
    """The label of unit ``index`` of the top layer: the digit, or "no class" for the last unit."""
    return "no class" if index == n_classes else str(index)


def _class_bars(ax, probs, colour):
    """One group's distribution over the C classes and "no class" (C+1,), titled with its argmax."""
    C = len(probs) - 1
    ax.bar(numpy.arange(C + 1), probs, color=colour, width=0.8)
    ax.set_ylim(0.0, 1.0)
    ax.set_xticks(numpy.arange(C + 1))
    ax.set_xticklabels([str(c) for c in range(C)] + ["-"], fontsize=6)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_title(f"class: {class_name(int(numpy.argmax(probs)), C)}", fontsize=8)


def convergence(rows, title=None):
    """Denoising cost and AMI against the iteration, from table1 rows (dicts with ``iteration``,
    ``denoising_cost``, ``ami``, ``ami_median``)."""
    it = [r["iteration"] for r in rows]
    fig = Figure(figsize=(8, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(it, [r["denoising_cost"] for r in rows], "o-", color="C0")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("denoising cost (corrupted input)")
    ax2.plot(it, [r["ami"] for r in rows], "o-", color="C1", label="mean")
    ax2.plot(it, [r["ami_median"] for r in rows], "s--", color="C2", label="median")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("AMI (clean input)")
    ax2.set_ylim(min(0.0, min(r["ami"] for r in rows)), 1.0)
    ax2.legend(loc="lower right", fontsize=8)
    for ax in (ax1, ax2):
        ax.set_xticks(it)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def group_removal(images, caption=None):
    """Group removal (Figure 5, example E2): one row per image. ``images``: list of dicts ``x`` (N,),
    ``z``, ``m`` (K, N) of the normal last iteration, and ``removed``: list over the K groups of
    (``z``, ``m``) (K, N) each, the last iteration when that group's mask logits were set to a
    large negative number. Columns: input, grouping, then the input re-explained without each group.
    ``caption``: optional text below the figure."""
    K, N = images[0]["m"].shape
    shape = image_shape(N)
    fig = Figure(figsize=(1.25 * (2 + K), 1.3 * len(images) + 0.3))
    axes = fig.subplots(len(images), 2 + K, squeeze=False)
    for r, im in enumerate(images):
        first = r == 0
        _show(axes[r, 0], im["x"].reshape(shape), title="input" if first else None)
        _show(axes[r, 1], colourize((im["m"] * im["z"]).reshape((K,) + shape)), title="groups" if first else None)
        for g, (z, m) in enumerate(im["removed"]):
            _show(
                axes[r, 2 + g],
                colourize((m * z).reshape((K,) + shape)),
                title=f"without {g}" if first else None,
                edge=group_colour(g),
            )
    fig.subplots_adjust(left=0.03, right=0.97, top=0.9, bottom=0.03, wspace=0.08, hspace=0.12)
    if caption:
        add_caption(fig, caption)
    return fig


def table1(runs, paper):
    """AMI (mean over images) against the iteration for each run (label, method, rows), with the
    paper's AMI of the same method at iterations 3 and 5 as open markers and RC as a dashed line."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    colours = {"Tagger": "C0", "Tagger*": "C1"}
    markers = "os^vD"
    count = {method: sum(r[1] == method for r in runs) for _, method, _ in runs}
    seen = dict.fromkeys(count, 0)
    for label, method, rows in runs:
        # several runs (or epochs) of one method: the later ones darker, each with its own marker
        i, seen[method] = seen[method], seen[method] + 1
        ax.plot(
            [r["iteration"] for r in rows],
            [r["ami"] for r in rows],
            f"{markers[i % len(markers)]}-",
            color=colours.get(method, "C2"),
            alpha=0.35 + 0.65 * (i + 1) / count[method],
            label=f"{label} ({method}, ours)",
        )
    iterations = sorted({r["iteration"] for _, _, rows in runs for r in rows} | {3, 5})
    ax.set_xticks(iterations)
    for method, colour in colours.items():
        its = paper[method]["iterations"]
        ax.plot(list(its), [v[1] for v in its.values()], "D", mfc="none", color=colour, ms=8, label=f"{method}, paper")
    ax.axhline(paper["RC"]["ami"][0], ls="--", color="grey", label="RC, paper")
    ax.set_xlabel("iteration")
    ax.set_ylabel("AMI (clean input)")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig


def sweep(panels, title=None):
    """The spread over seeds of a sweep: one panel per table column, a box per row (iteration) with
    every seed's value as a dot beside it, and the paper's values as red crosses.

    ``panels``: list of dicts ``name`` (the column), ``key`` (the rows' name, e.g. "iteration"),
    ``rows`` (labels), ``values`` (per row, the seeds' values), ``paper`` ({row label: value}) and
    optionally ``spread`` ((row label, value, ± spread, label) drawn as an error bar)."""
    n = len(panels)
    cols = min(n, 3)
    fig = Figure(figsize=(4.2 * cols, 3.4 * math.ceil(n / cols)))
    axes = fig.subplots(math.ceil(n / cols), cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        positions = numpy.arange(1, len(panel["rows"]) + 1)
        values = [numpy.asarray(v, dtype=numpy.float64) for v in panel["values"]]
        ax.boxplot(
            values, positions=positions, widths=0.4, showfliers=False, medianprops={"color": "C0", "linewidth": 2}
        )
        for p, v in zip(positions, values):
            offsets = numpy.linspace(-0.1, 0.1, len(v)) if len(v) > 1 else numpy.zeros(len(v))
            ax.plot(
                p + 0.3 + offsets,
                v,
                "o",
                color="C1",
                markersize=3,
                alpha=0.8,
                label="seeds" if p == positions[0] else None,
            )
        where = {str(r): p for r, p in zip(panel["rows"], positions)}
        marks = [(where[str(r)], v) for r, v in panel.get("paper", {}).items() if str(r) in where]
        if marks:
            ax.plot(*zip(*marks), "x", color="C3", markersize=9, markeredgewidth=2, label="paper (median of 20)")
        spread = panel.get("spread")
        if spread and str(spread[0]) in where:
            ax.errorbar(
                [where[str(spread[0])] - 0.3],
                [spread[1]],
                yerr=[spread[2]],
                fmt="none",
                ecolor="C3",
                capsize=4,
                label=spread[3],
            )
        ax.set_xticks(positions)
        ax.set_xticklabels([str(r) for r in panel["rows"]])
        ax.set_xlabel(panel["key"])
        ax.set_ylabel(panel["name"])
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def curves(runs, paper=None):
    """Validation quantities against training steps for one or more runs on shared axes.

    ``runs``: [(label, {column: [values]})] from log.csv (``step`` and ``valid_cost_last`` always;
    ``valid_ami``, ``valid_ami_median``, ``valid_class_error``, ``train_class_error`` where
    present). ``paper``: {column: (value, text)} drawn as dashed horizontal lines (the paper's final
    value). One panel per quantity that some run has: the validation cost at the last training iteration, the mean AMI
    over images (the median dotted, same colour), the classification error (of the labeled training
    images dashed, same colour).
    """
    paper = paper or {}
    panels = [("valid_cost_last", "validation denoising cost\n(last training iteration)")]
    if any("valid_ami" in log for _, log in runs):
        panels.append(("valid_ami", "validation AMI (last training iteration)\nmean over images; median dotted"))
    if any("valid_class_error" in log for _, log in runs):
        panels.append(("valid_class_error", "class error (%), validation;\nlabeled training images dashed"))
    fig = Figure(figsize=(4.2 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (column, ylabel) in zip(axes, panels):
        for i, (label, log) in enumerate(runs):
            if column in log:
                # a marker on every epoch's point, so a run with one or two epochs still shows
                ax.plot(log["step"], log[column], ".-", color=f"C{i}", label=label, markersize=4)
                if column == "valid_ami" and "valid_ami_median" in log:
                    ax.plot(log["step"], log["valid_ami_median"], ":", color=f"C{i}")
                if column == "valid_class_error" and "train_class_error" in log:
                    ax.plot(log["step"], log["train_class_error"], "--", color=f"C{i}")
        for j, (value, text) in enumerate(paper.get(column, ())):
            ax.axhline(value, color="0.4", linestyle="--", linewidth=1)
            ax.annotate(text, (0.01, value), xycoords=("axes fraction", "data"), fontsize=7, color="0.3", va="bottom")
        if column == "valid_ami":
            ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.0)
        ax.set_xlabel("training steps")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig
