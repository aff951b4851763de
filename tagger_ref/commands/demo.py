"""tagger-ref demo: the whole path on built-in defaults, in a few minutes on two cores.

Generate a small Shapes set, train the ``demo`` preset briefly, evaluate iterations 1..5 into
table1.csv, draw the figures, and print where everything is. Each step is the subcommand a user
would run, called with the arguments printed before it.
"""

import os
import time

from ..config import load_config
from ..device.backend import use_device
from ..errors import ConfigError, OutputError
from ..experiments.manifest import Segment
from .common import add_device_argument

DEFAULTS = {"train_images": 10000, "valid_images": 500, "test_images": 1000, "epochs": 12, "minutes": 3.0}


def register(sub):
    p = sub.add_parser(
        "demo",
        help="generate Shapes, train briefly, evaluate and draw figures (a few minutes)",
        description="Run the whole path on built-in defaults: tagger-ref data shapes (small), "
        "train (preset 'demo', stopped after --minutes), evaluate (T = 1..5) and "
        "figure all. Everything goes into --out.",
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
        "--epochs", type=int, default=DEFAULTS["epochs"], help=f"epochs at most (default {DEFAULTS['epochs']})"
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=DEFAULTS["minutes"],
        metavar="M",
        help=f"training time limit in minutes (default {DEFAULTS['minutes']:g})",
    )
    p.add_argument("--config", default="demo", help="preset or JSON config to train (default demo)")
    add_device_argument(p)  # handed to train, evaluate and figure
    p.set_defaults(func=run)


def run(args):
    from .cli import main

    for name in ("train_images", "valid_images", "test_images", "epochs"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not args.minutes > 0:
        raise ConfigError(f"--minutes must be positive, got {args.minutes}")
    load_config(args.config)  # a bad config in one line before the data is made (train reads it again)
    use_device(args.device)  # fail in one line before any work if the GPU is missing
    device = ["--device", args.device] + (["--dtype", args.dtype] if args.dtype else [])
    out = args.out
    run_dir, fig_dir, data = (os.path.join(out, d) for d in ("run", "figures", "shapes-demo.npz"))
    if os.path.exists(os.path.join(run_dir, "checkpoint.npz")):
        raise OutputError(f"{out} already holds a demo run ({run_dir}); choose another --out or remove it")
    try:
        os.makedirs(fig_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {fig_dir}: {e.strerror}") from None
    steps = [
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
            "--no-progress",
            *device,
        ],
        ["evaluate", run_dir, "--data", data, "--iterations", "5", *device],
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
    started = time.perf_counter()
    with Segment(out, "demo") as segment:  # out/manifest.json; run/ gets its own from train and evaluate
        for argv in steps:
            print(f"\n$ tagger-ref {' '.join(argv)}", flush=True)
            status = main(argv)
            if status != 0:
                segment.status = f"error: 'tagger-ref {argv[0]}' exited with {status}"
                return status
    print(
        f"\ndemo done in {time.perf_counter() - started:.0f} s; everything is in {out}/:\n"
        f"  {data}  the Shapes images (train, valid, test)\n"
        f"  {run_dir}/  checkpoint.npz, params.npz, config.json, log.csv (per-epoch costs), table1.csv\n"
        f"  {fig_dir}/  figure4.png, convergence.png, group_removal.png\n"
        f"  manifest.json in {out}/ and {run_dir}/: what ran, with which versions, on which machine, how long"
    )
    return 0
