"""tagger-ref demo: the whole path on built-in defaults, in about a minute on two cores.

Generate a small Shapes set, train the ``demo`` preset briefly, evaluate iterations 1..5 into
table1.csv, draw the figures, and print where everything is and what its AMI means beside the
committed runs and the paper's. Each step is the subcommand a user would run, called with the
arguments printed before it.
"""

import csv
import json
import os
import time

from ..config import load_config
from ..errors import ConfigError, OutputError
from ..experiments.manifest import Segment
from ..report.paper import MODEL_NAMES, TABLE1
from .common import add_config_argument, add_device_argument

# The epoch budget ends training: 4 epochs of 10,000 images take about 42 s on two cores (10-11 s
# an epoch in float32, docs/training.md "Demo"); the time limit (--minutes) stops it earlier only on
# a slower machine.
DEFAULTS = {"train_images": 10000, "valid_images": 500, "test_images": 1000, "epochs": 4, "minutes": 3.0}
STATED = "about a minute on two cores"  # the README's and --help's promise for the defaults
# The committed two-core runs' AMI at iteration 5, mean over 10,000 test images (README "Results";
# test_demo checks both against the README): the authors' settings for 100 epochs
# (results/shapes-table1-paper; Tagger* not yet), and the CPU recipes of results/shapes-table1b
# (33 epochs, Ladder 1000-500-250)
AUTHORS_SETTINGS_AMI = {"batch": 0.837}
CPU_RECIPE_AMI = {"layer": 0.872, "batch": 0.687}


def register(sub):
    p = sub.add_parser(
        "demo",
        help=f"generate Shapes, train briefly, evaluate and draw figures ({STATED})",
        description=f"Run the whole path on built-in defaults ({STATED}): tagger-ref data shapes "
        "(small), train (preset 'demo' for --epochs epochs; --minutes stops it first on a slower "
        "machine), evaluate (T = 1..5) and figure all, then print the AMI beside the committed "
        "runs' and the paper's. Everything goes into --out.",
    )
    p.add_argument("--out", default="tagger-demo", metavar="DIR", help="output folder (default ./tagger-demo)")
    p.add_argument(
        "--train-images",
        type=int,
        default=DEFAULTS["train_images"],
        metavar="N",
        help=f"training images (default {DEFAULTS['train_images']})",
    )
    p.add_argument(
        "--valid-images",
        type=int,
        default=DEFAULTS["valid_images"],
        metavar="N",
        help=f"validation images (default {DEFAULTS['valid_images']})",
    )
    p.add_argument(
        "--test-images",
        type=int,
        default=DEFAULTS["test_images"],
        metavar="N",
        help=f"test images (default {DEFAULTS['test_images']})",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=DEFAULTS["epochs"],
        help=f"epochs to train, the budget that normally ends training (default {DEFAULTS['epochs']})",
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=DEFAULTS["minutes"],
        metavar="M",
        help=f"training time limit in minutes, which ends training first only on a slower machine "
        f"(default {DEFAULTS['minutes']:g})",
    )
    add_config_argument(p, required=False, default="demo", help="preset or JSON config to train (default demo)")
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar in training and no progress lines in evaluation (handed to both)",
    )
    add_device_argument(p)  # handed to train, evaluate and figure
    p.set_defaults(func=run)


def run(args):
    from ..device.backend import use_device
    from .cli import main

    for name in ("train_images", "valid_images", "test_images", "epochs"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not args.minutes > 0:
        raise ConfigError(f"--minutes must be positive, got {args.minutes}")
    load_config(args.config)  # a bad config in one line before the data is made (train reads it again)
    use_device(args.device)  # fail in one line before any work if the GPU is missing
    out = args.out
    run_dir, fig_dir, data = (os.path.join(out, d) for d in ("run", "figures", "shapes-demo.npz"))
    if os.path.exists(os.path.join(run_dir, "checkpoint.npz")):
        raise OutputError(f"{out} already holds a demo run ({run_dir}); choose another --out or remove it")
    try:
        os.makedirs(fig_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {fig_dir}: {e.strerror}") from None
    steps = _commands(args, data, run_dir, fig_dir)
    print(
        f"tagger-ref demo: {STATED} with the defaults; training ends after {args.epochs} epoch(s) of "
        f"{args.train_images} images, or at {args.minutes:g} minute(s) of training if that comes first",
        flush=True,
    )
    started = time.perf_counter()
    with Segment(out, "demo") as segment:  # out/manifest.json; run/ gets its own from train and evaluate
        for argv in steps:
            print(f"\n$ tagger-ref {' '.join(argv)}", flush=True)
            status = main(argv)
            if status != 0:
                segment.status = f"error: 'tagger-ref {argv[0]}' exited with {status}"
                return status
            if argv[0] == "train":
                print(training_end(run_dir, args.epochs, args.minutes), flush=True)
    print(
        f"\ndemo done in {time.perf_counter() - started:.0f} s; everything is in {out}/:\n"
        f"  {data}  the Shapes images (train, valid, test)\n"
        f"  {run_dir}/  checkpoint.npz, params.npz, config.json, log.csv (per-epoch costs and AMI),\n"
        f"      table1.csv (denoising cost and AMI per iteration) and table1.csv.provenance.json (what it scored)\n"
        f"  {fig_dir}/  figure4.png, convergence.png, group_removal.png\n"
        f"  manifest.json in {out}/ and {run_dir}/: what ran, with which versions, on which machine, how long\n"
    )
    print(yardstick(run_dir, args.epochs, args.train_images))
    return 0


def _commands(args, data, run_dir, fig_dir):
    """The demo's four command lines: data, train, evaluate, figure."""
    device = ["--device", args.device] + (["--dtype", args.dtype] if args.dtype else [])
    quiet = ["--no-progress"] if args.no_progress else []
    return [
        [
            "data",
            "shapes",
            "--out",
            data,
            "--train",
            str(args.train_images),
            "--valid",
            str(args.valid_images),
            "--test",
            str(args.test_images),
            "--single",
            "0",
        ],
        [
            "train",
            "--config",
            args.config,
            "--data",
            data,
            "--out",
            run_dir,
            "--epochs",
            str(args.epochs),
            "--max-minutes",
            f"{args.minutes:g}",
            *quiet,
            *device,
        ],
        ["evaluate", run_dir, "--data", data, "--iterations", "5", *quiet, *device],
        [
            "figure",
            "all",
            run_dir,
            "--data",
            data,
            "--out",
            fig_dir,
            "--table",
            os.path.join(run_dir, "table1.csv"),
            *device,
        ],
    ]


def _log_rows(run_dir):
    with open(os.path.join(run_dir, "log.csv"), newline="") as f:
        return list(csv.DictReader(f))


def training_end(run_dir, epochs, minutes):
    """Which budget ended training: the epochs asked for, or the time limit before them."""
    rows = _log_rows(run_dir)
    seconds = float(rows[-1]["seconds"]) if rows else 0.0
    if len(rows) >= epochs:
        return f"training ended by its epoch budget: {len(rows)} of {epochs} epoch(s) in {seconds:.0f} s"
    return (
        f"training ended by the time limit of {minutes:g} minute(s) after {len(rows)} of {epochs} epoch(s): "
        "a slower machine than the two cores the defaults were sized for (--minutes raises the limit)"
    )


def yardstick(run_dir, epochs, train_images):
    """A short table: the demo's AMI at iteration 5 beside the committed runs' and the paper's."""
    with open(os.path.join(run_dir, "config.json")) as f:
        norm = json.load(f)["norm"]
    with open(os.path.join(run_dir, "table1.csv"), newline="") as f:
        ami = {int(r["iteration"]): float(r["ami"]) for r in csv.DictReader(f)}
    trained = len(_log_rows(run_dir))
    models = ("layer", "batch")
    mine = [f"{ami[5]:.3f}" if norm == m else "" for m in models] if 5 in ami else ["", ""]
    rows = [
        ("AMI at iteration 5, mean over test images", *(f"{MODEL_NAMES[m]} ({m} norm)" for m in models)),
        (f"this demo: {trained} epoch(s) of {train_images} images", *mine),
        (
            "committed, the authors' settings: 100 epochs of 50,000, 2 cores",
            *(f"{AUTHORS_SETTINGS_AMI[m]:.3f}" if m in AUTHORS_SETTINGS_AMI else "-" for m in models),
        ),
        ("committed, a CPU recipe: 33 epochs of 50,000, 2 cores", *(f"{CPU_RECIPE_AMI[m]:.3f}" for m in models)),
        ("the paper: 100 epochs of 50,000, a GPU", *(f"{TABLE1[m]['ami'][5]:.2f}" for m in models)),
    ]
    widths = [max(len(r[j]) for r in rows) for j in range(3)]
    table = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
    return (
        f"{table}\n"
        f"A {epochs}-epoch demo is expected far below the others (AMI 1 is a perfect grouping, 0 chance):\n"
        f"it sees {train_images} images {epochs} time(s), where the committed runs and the paper train on "
        '50,000 images\nfor 33 to 100 epochs (README "Results"; the runs\' commands and logs in results/).'
    )
