"""The paper's figures from a trained model: run the model on the examples (evaluation.infer) and
draw them (plots): Figure 4 and its companions for Shapes, Figure 5 for TextureMNIST2; and the
spread over the seeds of a sweep. Each function writes one PNG atomically and returns its path.

All examples are taken without looking at the results: the first batch of the split (B images,
so that batch norm sees the batch size of training), of which the first ``n_examples`` are shown
in descending AMI order, as the paper's Figure 4 does. The paper's hand-picked generalisation
examples A-C are replaced by the image of median AMI in each case, so they are typical, not best.
"""

import csv
import json
import os

import numpy

from ..errors import DataError
from ..experiments.checkpoint import CONFIG, read_run_config
from ..experiments.evaluation import ami_per_image, infer, predicted_labels, true_labels
from ..experiments.run_evaluation import default_table
from ..files.fileio import write_text
from ..files.tables import read_table1
from . import plots
from .paper import MODEL_NAMES, PAPER_TABLE2, RC_AMI, TABLE1, TABLE1_AMI_SPREAD, labels_name

N_EXAMPLES = 7  # test images on the left of Figure 4, as in the paper
N_REMOVAL_IMAGES = 4  # rows of the group-removal figure
COLOUR_NAMES = ("blue", "red", "green", "yellow", "purple", "brown", "pink", "grey")  # plots.GROUP_COLOURS


def _colours(K):
    return ", ".join(f"{k} {COLOUR_NAMES[k % len(COLOUR_NAMES)]}" for k in range(K))


def figure4_caption(K, T, letters):
    """What figure4's rows and columns are; ``letters``: the generalisation rows drawn ("A", "B", "C")."""
    rows = {
        "A": "A: a test image grouped with K=2 groups instead of the trained K",
        "B": "B: an image with 4 shapes",
        "C": "C: an image with 2 shapes (the model was trained on 3)",
    }
    extra = "; ".join(rows[x] for x in letters)
    return (
        "Left: test images (input) and their grouping after the last iteration (each group's m_k z_k in "
        f"its colour: {_colours(K)}), in order of AMI"
        + (f"; then {extra} (each the median-AMI image of its set)" if extra else "")
        + f". Right: the inference of the first test image over iterations i = 0..{T}: the reconstruction, "
        "then per group its reconstruction z_k and its mask m_k."
    )


def _first_batch(config, features, mask=None):
    B = min(config.batch_size, len(features))
    return (features[:B], None if mask is None else mask[:B])


def _median_index(scores):
    """Index of the image whose score is the median (the lower middle one for an even count)."""
    order = numpy.argsort(scores, kind="stable")
    return int(order[(len(order) - 1) // 2])


def _scored_run(params, config, x, mask, rng, n_iterations, n_groups=None):
    """infer on clean x and the AMI of every image at the last iteration."""
    res = infer(params, config, x, rng, n_iterations, n_groups)
    labels, scored = true_labels(mask)
    return res, ami_per_image(labels, scored, predicted_labels(res["m"][-1]))


def generalisation_sets(config, seed, n_images):
    """Shapes images with 4 and with 2 sprites (Figure 4's B and C): {"B": (features, mask), "C": ...},
    or {} when the model is not a Shapes model. Drawn by data_gen.shapes from RandomState(seed)."""
    if config.input_type != "binary" or config.n_inputs != 400:
        return {}
    from data_gen import shapes

    sets = {}
    for name, sprites in (("B", 4), ("C", 2)):
        images = shapes.generate_images(numpy.random.RandomState(seed), n_images, n_sprites=sprites)
        sets[name] = (images["features"], shapes.mask_from_groups(images["groups"], n_groups=sprites))
    return sets


def _examples_by_ami(params, config, features, mask, rng, n_iterations, n_examples):
    """The first batch run for T iterations, and its first ``n_examples`` images with their last
    groupings in descending AMI order: (x, true masks, the run's result, the AMI per image, the examples)."""
    x, m_true = _first_batch(config, features, mask)
    res, ami = _scored_run(params, config, x, m_true, rng, n_iterations)
    shown = sorted(range(min(n_examples, len(x))), key=lambda b: -ami[b])
    examples = [
        {"x": x[b], "z": res["z"][-1][:, b], "m": res["m"][-1][:, b], "label": f"AMI {ami[b]:.2f}"} for b in shown
    ]
    return x, m_true, res, ami, examples


def figure4(params, config, features, mask, path, n_iterations=5, seed=0, n_examples=N_EXAMPLES):
    """Figure 4: test images with their groupings (AMI order), the inference of the first image
    over iterations 0..T, and the generalisation examples A (K=2), B (4 shapes), C (2 shapes)."""
    rng = numpy.random.default_rng(seed)
    x, m_true, res, ami, examples = _examples_by_ami(params, config, features, mask, rng, n_iterations, n_examples)
    cases = [("A: K=2", x, m_true, 2)]
    cases += [
        (f"{name}: {'4' if name == 'B' else '2'} shapes", fx, fm, None)
        for name, (fx, fm) in generalisation_sets(config, seed, len(x)).items()
    ]
    for label, fx, fm, K in cases:
        r, a = _scored_run(params, config, fx, fm, rng, n_iterations, K)
        b = _median_index(a)
        examples.append({"x": fx[b], "z": r["z"][-1][:, b], "m": r["m"][-1][:, b], "label": f"{label}\nAMI {a[b]:.2f}"})
    process = {"x": x[0], "z": res["z"][:, :, 0], "m": res["m"][:, :, 0]}
    caption = figure4_caption(config.n_groups, n_iterations, [label[0] for label, *_ in cases])
    plots.save_png(plots.figure4(examples, process, caption=caption), path)
    return path


def topmost_digit_group(m, mask):
    """The group whose mask m (K, N) covers most of the topmost digit's true mask (the last of
    ``mask`` (G, N): TextureMNIST draws its digits in order, the last on top)."""
    return int(numpy.argmax(m @ mask[-1]))


def figure5(params, config, features, mask, targets, path, n_iterations, seed=0, n_examples=N_EXAMPLES, data1=None):
    """Figure 5 (TextureMNIST2): test images with their groupings (AMI order), example D (a
    TextureMNIST1 image, from ``data1`` = (features, mask) when given), E1 (an image and, on the
    right, its inference over iterations 0..T with each group's class prediction) and E2 (E1 with
    the group of its topmost digit removed in the last iteration).

    D and E1 are picked without looking at the classes: the image of median AMI in the first batch
    (E1 among the images whose two digits differ, so that the removal leaves a digit). E1 and E2
    draw the same initial masks (a fresh generator from ``seed``).
    """
    rng = numpy.random.default_rng(seed)
    x, m_true, res, ami, examples = _examples_by_ami(params, config, features, mask, rng, n_iterations, n_examples)
    if data1 is not None:
        x1, m1 = _first_batch(config, *data1)
        r1, a1 = _scored_run(params, config, x1, m1, rng, n_iterations)
        b = _median_index(a1)
        examples.append({"x": x1[b], "z": r1["z"][-1][:, b], "m": r1["m"][-1][:, b], "label": f"D\nAMI {a1[b]:.2f}"})
    y = numpy.asarray(targets)[: len(x)].reshape(len(x), -1)
    candidates = numpy.flatnonzero(y[:, 0] != y[:, -1])
    candidates = candidates if len(candidates) else numpy.arange(len(x))
    e1 = int(candidates[_median_index(ami[candidates])])
    e1_run = infer(params, config, x, numpy.random.default_rng([seed, 1]), n_iterations)
    g = topmost_digit_group(e1_run["m"][-1][:, e1], m_true[e1])
    removed = infer(params, config, x, numpy.random.default_rng([seed, 1]), n_iterations, remove_group=g)
    examples.append(
        {
            "x": x[e1],
            "z": e1_run["z"][-1][:, e1],
            "m": e1_run["m"][-1][:, e1],
            "label": f"E1\ndigits {' '.join(map(str, y[e1]))}",
        }
    )
    examples.append(
        {"x": x[e1], "z": removed["z"][-1][:, e1], "m": removed["m"][-1][:, e1], "label": f"E2\nwithout group {g}"}
    )
    process = {"x": x[e1], "z": e1_run["z"][:, :, e1], "m": e1_run["m"][:, :, e1]}
    group_classes = e1_run["ladder_top"][-1][:, e1] if config.class_cost_x > 0 else None  # (K, C+1)
    caption = (
        "Left: test images (input) and their grouping after the last iteration (each group's m_k z_k in its "
        f"colour: {_colours(config.n_groups)}), in order of AMI; "
        + ("D: a TextureMNIST1 image; " if data1 is not None else "")
        + f"E1: an image of two different digits; E2: E1 with group {g}, the topmost digit's, removed in the "
        f"last iteration. Right: E1's inference over iterations i = 0..{n_iterations}: the reconstruction, then "
        "per group z_k and m_k" + (", and each group's class prediction." if group_classes is not None else ".")
    )
    plots.save_png(plots.figure4(examples, process, group_classes, caption=caption), path)
    return path


def group_removal(params, config, features, path, n_iterations=5, seed=0, n_images=N_REMOVAL_IMAGES):
    """Group removal (Figure 5, example E2): the first images of the split, normally and with each
    group removed in the last iteration. Every pass draws the same initial masks (a fresh
    generator from ``seed``)."""
    x, _ = _first_batch(config, features)
    normal = infer(params, config, x, numpy.random.default_rng(seed), n_iterations)
    removed = [
        infer(params, config, x, numpy.random.default_rng(seed), n_iterations, remove_group=g)
        for g in range(config.n_groups)
    ]
    images = [
        {
            "x": x[b],
            "z": normal["z"][-1][:, b],
            "m": normal["m"][-1][:, b],
            "removed": [(r["z"][-1][:, b], r["m"][-1][:, b]) for r in removed],
        }
        for b in range(min(n_images, len(x)))
    ]
    caption = (
        "Each row: a test image (input), its grouping after the last iteration (each group's m_k z_k in its "
        f"colour: {_colours(config.n_groups)}), then, in the column 'without g', the grouping when group g's "
        f"mask is removed in the last iteration (its mask logits set to -1e9, T = {n_iterations}): the other "
        "groups re-explain its pixels."
    )
    plots.save_png(plots.group_removal(images, caption=caption), path)
    return path


def convergence(rows, path, title=None):
    """Denoising cost and AMI against the iteration, from table1 rows."""
    plots.save_png(plots.convergence(rows, title), path)
    return path


# Table 1 (b) as the Table 1 comparison shows it (tagger_ref.report.paper): method -> AMI ± spread and,
# at iterations 3 and 5, (denoising cost, AMI). Tagger uses batch norm, Tagger* layer norm.
PAPER_TABLE1 = {"RC": {"ami": RC_AMI}}
PAPER_TABLE1.update(
    {
        MODEL_NAMES[norm]: {
            "ami": TABLE1_AMI_SPREAD[norm],
            "iterations": {i: (TABLE1[norm]["denoising_cost"][i], TABLE1[norm]["ami"][i]) for i in (3, 5)},
        }
        for norm in ("batch", "layer")
    }
)


def read_run_table1(run_dir, epoch=None):
    """(method, rows) of a run folder evaluated by ``tagger-ref evaluate``: method "Tagger" for batch
    norm, "Tagger*" for layer norm (from its config.json), rows from its table1.csv, or with ``epoch``
    from table1-epoch-E.csv (``evaluate --epoch E``)."""
    config = read_run_config(run_dir)
    if "baseline" in config:
        raise DataError(
            f"{run_dir} is a {config['baseline']} baseline's run: Table 1 compares Tagger runs on "
            f"Shapes (figure table2 takes the baselines)"
        )
    if "norm" not in config:
        raise DataError(f"{run_dir}/config.json has no field 'norm': not the config of a tagger-ref train run")
    norm = config["norm"]
    path = default_table(run_dir, classify=False, epoch=epoch)
    if not os.path.isfile(path):
        how = "tagger-ref evaluate" + ("" if epoch is None else f" --epoch {epoch}")
        raise DataError(f"{run_dir} holds no {os.path.basename(path)}: run {how} on it first")
    return MODEL_NAMES["layer" if norm == "layer" else "batch"], read_table1(path)


def table1_markdown(runs):
    """Table 1 (b) with our runs beside the paper: ``runs`` is a list of (label, method, rows)."""
    lines = [
        "| method | AMI, paper (iteration 5, median of 20 seeds) | run | AMI, ours (iteration 5: mean / median "
        "over images) | denoising cost at iteration 5, paper / ours |",
        "|---|---|---|---|---|",
    ]
    for method, paper in PAPER_TABLE1.items():
        mean, spread = paper["ami"]
        ours = [r for r in runs if r[1] == method]
        paper_cost = paper.get("iterations", {}).get(5, (None,))[0]
        if not ours:
            lines.append(
                f"| {method} | {mean:.2f} ± {spread:.3f} | - | - | "
                f"{'-' if paper_cost is None else f'{paper_cost:.3f} / -'} |"
            )
        for label, _, rows in ours:
            row = _iteration(rows, 5)
            it = "" if row["iteration"] == 5 else f" (iteration {row['iteration']})"
            lines.append(
                f"| {method} | {mean:.2f} ± {spread:.3f} | {label} | {row['ami']:.3f} / {row['ami_median']:.3f}"
                f"{it} | {'-' if paper_cost is None else f'{paper_cost:.3f}'} / {row['denoising_cost']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def _iteration(rows, i):
    """The row of iteration i, or the last one when the table stops earlier."""
    match = [r for r in rows if r["iteration"] == i]
    return match[0] if match else rows[-1]


def table1_comparison(run_dirs, out, epochs=(None,)):
    """Write ``table1.md`` and ``table1.png`` (AMI against the iteration, the paper's values marked)
    into ``out`` for the evaluated runs in ``run_dirs``, a row for each of ``epochs`` (None: the
    run's table1.csv, labelled by the folder's name; E: its table1-epoch-E.csv, labelled
    "NAME, epoch E"); returns the two paths."""
    runs = [
        (os.path.basename(os.path.normpath(d)) + ("" if e is None else f", epoch {e}"),) + read_run_table1(d, e)
        for d in run_dirs
        for e in epochs
    ]
    md_path, png_path = os.path.join(out, "table1.md"), os.path.join(out, "table1.png")
    write_text(md_path, table1_markdown(runs))
    plots.save_png(plots.table1(runs, PAPER_TABLE1), png_path)
    return md_path, png_path


def sweep(sweep_dir, path):
    """The spread over the finished seeds of a sweep (tagger-ref sweep), every table column one
    panel, with the paper's Table 1 values marked for a Shapes model. Returns the path."""
    from ..experiments.summary import collect, finished_seeds
    from ..experiments.sweep import read_seed_json
    from .paper import shapes_targets

    collected = collect(sweep_dir)
    if not collected:
        raise DataError(f"{sweep_dir} holds no finished seed with a table (seed-S/ of tagger-ref sweep)")
    seeds = finished_seeds(sweep_dir)
    config = read_seed_json(next(iter(seeds.values())))["config"]
    targets = shapes_targets(config)
    panels = []
    for name, table in collected.items():
        for column in table["columns"]:
            values = [
                [v for v in table["values"].get((row, column), {}).values() if v is not None] for row in table["rows"]
            ]
            if not any(values):
                continue
            panel = {"name": column, "key": table["key"], "rows": table["rows"], "values": values, "paper": {}}
            if targets and name == "table1":
                panel["paper"] = targets["table1"].get(column, {})
                if column == "ami" and "5" in table["rows"]:  # Table 1 (b) is the AMI after 5 iterations
                    value, spread = targets["ami_spread"]
                    panel["spread"] = ("5", value, spread, f"paper, Table 1 (b): {value} ± {spread}")
            panels.append(panel)
    title = (
        f"{len(seeds)} seeds, {config['num_epochs']} epochs, norm {config['norm']}, "
        f"Ladder {'-'.join(map(str, config['encoder_proj']))}"
        + (f"; red: the paper's {targets['model']}" if targets else "")
    )
    plots.save_png(plots.sweep(panels, title), path)
    return path


def read_log(run_dir):
    """log.csv of a run folder as {column: [numbers]}; DataError naming the file if unreadable."""
    path = os.path.join(run_dir, "log.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise ValueError("no epoch logged yet")
        return {c: [float(r[c]) for r in rows] for c in rows[0]}
    except (OSError, KeyError, ValueError, TypeError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read {path}: {e}") from None


def paper_lines(run_dir):
    """The paper's final values for a run's curves: {column: [(value, text)]}, from its config.json:
    Table 1's AMI and denoising cost at the training T (or iteration 5) for a Shapes model, Table 2's
    error for a classifying TextureMNIST model. Empty where the paper reports nothing comparable."""
    from .paper import shapes_targets

    try:
        with open(os.path.join(run_dir, CONFIG)) as f:
            config = json.load(f)
    except (OSError, ValueError):
        return {}
    lines = {}
    targets = shapes_targets(config) if isinstance(config, dict) else None
    if targets:
        ami, cost = targets["table1"]["ami"], targets["table1"]["denoising_cost"]
        T = config.get("n_iterations") if config.get("n_iterations") in ami else 5
        lines["valid_ami"] = [(ami[T], f"paper, {targets['model']}: AMI {ami[T]} (iteration {T}, test)")]
        lines["valid_cost_last"] = [(cost[T], f"paper, {targets['model']}: {cost[T]} (iteration {T}, test)")]
    elif isinstance(config, dict) and config.get("class_cost_x", 0) > 0:
        dataset = f"TextureMNIST{config.get('objects_per_sample', 1)}"
        key = (dataset, "Tagger", labels_name(config.get("labeled_samples")))
        if key in PAPER_TABLE2:
            lines["valid_class_error"] = [
                (PAPER_TABLE2[key][0], f"paper, Tagger on {dataset}, {key[2]} labels: {PAPER_TABLE2[key][0]} % (test)")
            ]
    return lines


def curves(run_dirs, path):
    """``figure curves``: validation cost, AMI and class error against training steps for the runs,
    each labelled by its folder's name, with the paper's values of every model among them as dashed
    lines (each once: Tagger's and Tagger*'s both where runs of both are drawn)."""
    runs = [(os.path.basename(os.path.normpath(d)), read_log(d)) for d in run_dirs]
    lines = {}
    for d in run_dirs:
        for column, values in paper_lines(d).items():
            lines.setdefault(column, [])
            lines[column] += [v for v in values if v not in lines[column]]
    plots.save_png(plots.curves(runs, lines), path)
    return path
