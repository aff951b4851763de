"""tagger-ref figure: the paper's figures for a trained run (Figure 4 and companions; Figure 5), Tables 1 and 2
beside the paper's, and a sweep's spread over seeds."""

import os

import numpy

from ..errors import ConfigError, DataError, OutputError
from ..experiments.memory import check_model_fits
from ..files.datasets import load_dataset
from ..files.fileio import check_outputs
from ..files.tables import read_table1
from .common import add_device_argument, apply_device, check_seed

NAMES = ("figure4", "convergence", "group-removal")
TEXTURE_NAMES = ("figure5",)  # needs a TextureMNIST file (its digit classes and masks)


def register(sub):
    p = sub.add_parser(
        "figure",
        help="Figure 4, Figure 5, convergence, group removal (PNG); Table 1 beside the paper; a sweep's seeds",
        description="Draw figures for the latest checkpoint of RUN_DIR on a split of a dataset "
        "file: figure4 (groupings, inference over iterations, generalisation examples "
        "A: K=2, B: 4 shapes, C: 2 shapes), convergence (denoising cost and AMI against "
        "the iteration), group-removal (the input re-explained without each group), "
        "figure5 (TextureMNIST2: groupings, example D from --data1, E1 with its inference "
        "and each group's class prediction, E2 without the topmost digit's group; "
        "'all' draws figure5 too when the data file has digit classes); "
        "table1 RUN_DIR...: Table 1 (b) of evaluated runs beside the paper's (table1.md, "
        "table1.png; any number of RUN_DIRs, no --data); table2 RUN_DIR...: Table 2 of "
        "evaluated runs, Tagger's and the baselines', mean and sample sd per dataset, "
        "method and labels beside the paper's (table2.md, table2.csv; no --data); "
        "sweep SWEEP_DIR: the spread over the finished seeds of tagger-ref sweep, per "
        "table column and iteration, the "
        "paper's Table 1 values marked (SWEEP_DIR/sweep.png unless --out); "
        "curves RUN_DIR...: validation cost, AMI (and class error) of log.csv against "
        "training steps for one or more runs on shared axes, the paper's final values "
        "dashed (--out DIR/curves.png; no --data).",
    )
    p.add_argument(
        "name", choices=NAMES + TEXTURE_NAMES + ("all", "table1", "table2", "sweep", "curves"), help="which figure"
    )
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        nargs="+",
        help="run folder of tagger-ref train (table1, table2: one or more, each evaluated; sweep: SWEEP_DIR)",
    )
    p.add_argument("--data", metavar="FILE", help="dataset file (required but for table1, table2 and sweep)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="folder for the files (created if missing; required but for sweep, default SWEEP_DIR)",
    )
    p.add_argument("--split", default="test", help="split to draw from (default test)")
    p.add_argument(
        "--iterations", type=int, metavar="T", help="iterations (default 5; figure5: the training T, as the paper)"
    )
    p.add_argument("--data1", metavar="FILE", help="figure5: a TextureMNIST1 file for example D (default: no D)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial masks and drawn examples (default 0)")
    p.add_argument(
        "--table", metavar="FILE", help="convergence: plot this table1.csv instead of evaluating the split again"
    )
    p.add_argument(
        "--epoch",
        type=int,
        action="append",
        metavar="E",
        help="the parameters kept after epoch E (train --keep-every) instead of the latest checkpoint's; "
        "table1: the tables RUN_DIR/table1-epoch-E.csv of evaluate --epoch E, a row for each E (repeatable)",
    )
    add_device_argument(p)
    p.set_defaults(func=run)


def make_figures(names, config, params, data, out, n_iterations, seed, table_rows=None, data1=None):
    """Write the named figures into ``out``; returns their paths. ``table_rows`` (table1 rows)
    spares the evaluation that convergence otherwise runs; ``data1`` is figure5's TextureMNIST1
    split (example D). ``n_iterations`` None: 5, or the training T for figure5."""
    from ..experiments.evaluation import evaluate, table1_rows
    from ..report import figures

    paths = []
    for name in names:
        path = os.path.join(out, name.replace("-", "_") + ".png")
        T = n_iterations or (config.n_iterations if name == "figure5" else 5)
        if name == "figure5":
            if data.targets is None:
                raise DataError(f"figure5 needs a TextureMNIST file (digit classes), not {data.name}")
            extra = None if data1 is None else (data1.features, data1.mask)
            figures.figure5(params, config, data.features, data.mask, data.targets, path, T, seed, data1=extra)
        elif name == "figure4":
            figures.figure4(params, config, data.features, data.mask, path, T, seed)
        elif name == "group-removal":
            figures.group_removal(params, config, data.features, path, T, seed)
        else:
            if table_rows is None:
                result = evaluate(params, config, data.features, data.mask, numpy.random.default_rng(seed), T)
                table_rows = table1_rows(result)
            figures.convergence(table_rows, path, title=f"{data.n_images} {data.split} images, K = {config.n_groups}")
        paths.append(path)
    return paths


def run(args):
    # the machinery here, not at the top: the parser (and --help) imports no matplotlib (test_cli)
    from ..device.backend import to_device
    from ..experiments.run_evaluation import check_iterations_groups, load_evaluated
    from ..experiments.training import load_split
    from ..report import figures, table2

    check_seed(args)
    check_epochs(args)
    if args.name == "sweep":
        return run_sweep(args)
    if args.name == "curves":
        return run_curves(args)
    tables = ("table1", "table2")
    for option in ("data", "out") if args.name not in tables else ("out",):
        if getattr(args, option) is None:
            raise ConfigError(f"figure {args.name} needs --{option}")
    if args.iterations is not None:
        check_iterations_groups(args.iterations, None)
    if args.name not in tables and len(args.run_dir) != 1:
        raise ConfigError(f"figure {args.name} takes one RUN_DIR, got {len(args.run_dir)}")
    if args.name in tables:
        epochs = args.epoch or [None]
        for run_dir in args.run_dir:  # every run checked before anything is written
            if args.name == "table1":
                for epoch in epochs:
                    figures.read_run_table1(run_dir, epoch)
            else:
                table2.read_run(run_dir)
        if os.path.isdir(args.out):  # --out RUN_DIR must not replace the run's own table
            written = (".md", ".png") if args.name == "table1" else (".md", ".csv")
            check_outputs(
                [os.path.join(args.out, args.name + ext) for ext in written],
                [os.path.join(run_dir, args.name + ".csv") for run_dir in args.run_dir],
            )
        make_folder(args.out)
        if args.name == "table1":
            paths = figures.table1_comparison(args.run_dir, args.out, epochs)
        else:
            paths = table2.table2_comparison(args.run_dir, args.out)
        for path in paths:
            print(f"wrote {path}")
        return 0
    config, params = load_evaluated(args.run_dir[0], args.epoch[0] if args.epoch else None)
    config = apply_device(args, config)
    check_model_fits(config, config.batch_size, args.iterations, param_copies=1)
    params = to_device(params, config.dtype)  # the model runs on the device; drawing on the host
    data = load_split(args.data, args.split, config)
    data1 = load_dataset(args.data1, args.split, expect="texture-mnist1") if args.data1 else None
    rows = read_table1(args.table) if args.table else None
    make_folder(args.out)  # only once everything was read
    names = (NAMES + (TEXTURE_NAMES if data.targets is not None else ())) if args.name == "all" else (args.name,)
    for path in make_figures(names, config, params, data, args.out, args.iterations, args.seed, rows, data1):
        print(f"wrote {path}")
    return 0


def make_folder(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create folder {path}: {e.strerror}") from None


def check_epochs(args):
    """--epoch: non-negative; several only for table1; none for table2, sweep and curves, which read
    no parameters."""
    if not args.epoch:
        return
    if any(e < 0 for e in args.epoch):
        raise ConfigError(f"--epoch must be at least 0, got {min(args.epoch)}")
    if args.name in ("table2", "sweep", "curves"):
        raise ConfigError(f"figure {args.name} takes no --epoch")
    if args.name != "table1" and len(args.epoch) > 1:
        raise ConfigError(f"figure {args.name} draws one epoch's parameters, got --epoch {len(args.epoch)} times")


def run_sweep(args):
    from ..report import figures

    if len(args.run_dir) != 1:
        raise ConfigError(f"figure sweep takes one SWEEP_DIR, got {len(args.run_dir)}")
    sweep_dir = args.run_dir[0]
    make_folder(args.out or sweep_dir)
    print(f"wrote {figures.sweep(sweep_dir, os.path.join(args.out or sweep_dir, 'sweep.png'))}")
    return 0


def run_curves(args):
    from ..report import figures

    if args.out is None:
        raise ConfigError("figure curves needs --out")
    for run_dir in args.run_dir:  # every log read before anything is written
        figures.read_log(run_dir)
    make_folder(args.out)
    print(f"wrote {figures.curves(args.run_dir, os.path.join(args.out, 'curves.png'))}")
    return 0
