"""tagger-ref evaluate: the paper's Table 1 for a trained run (denoising cost and AMI per iteration)."""
import os

import numpy

from ..backend import to_device
from ..errors import ConfigError
from ..evaluation import degenerate_images, evaluate, table1_rows
from ..fileio import write_text
from ..training import load_run, load_split
from .common import add_device_argument, apply_device, check_output_file

TABLE1_COLUMNS = ("iteration", "denoising_cost", "ami", "ami_median")


def register(sub):
    p = sub.add_parser("evaluate", help="Table 1: denoising cost and AMI per iteration of a trained run",
                       description="Evaluate the latest checkpoint of RUN_DIR on a split of a dataset file: per "
                                   "iteration 1..T the denoising cost on corrupted input and the AMI on clean input "
                                   "(docs/spec.md section 5: scored pixels, scikit-learn's AMI with average_method='max', "
                                   "mean and median over images). Prints the table and writes table1.csv.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of tagger-ref train")
    p.add_argument("--data", required=True, metavar="FILE", help="dataset file")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--iterations", type=int, default=5, metavar="T", help="iterations (default 5, as the paper)")
    p.add_argument("--groups", type=int, metavar="K", help="groups (default: the config's n_groups)")
    p.add_argument("--seed", type=int, default=0, help="seed of the corruption and initial masks (default 0)")
    p.add_argument("--out", metavar="FILE", help="table to write (default RUN_DIR/table1.csv)")
    add_device_argument(p)
    p.set_defaults(func=run)


def table1_csv(rows):
    """The text of table1.csv."""
    lines = [",".join(TABLE1_COLUMNS)]
    lines += [f"{r['iteration']},{r['denoising_cost']:.6f},{r['ami']:.6f},{r['ami_median']:.6f}" for r in rows]
    return "\n".join(lines) + "\n"


def check_iterations_groups(iterations, groups):
    if iterations < 1:
        raise ConfigError(f"--iterations must be at least 1, got {iterations}")
    if groups is not None and groups < 1:
        raise ConfigError(f"--groups must be at least 1, got {groups}")


def run(args):
    check_iterations_groups(args.iterations, args.groups)
    config, params = load_run(args.run_dir)
    config = apply_device(args, config)
    params = to_device(params, config.dtype)             # the forward passes run on the device; AMI on the host
    out = args.out or os.path.join(args.run_dir, "table1.csv")
    check_output_file(out)
    data = load_split(args.data, args.split, config)
    result = evaluate(params, config, data.features, data.mask, numpy.random.default_rng(args.seed),
                      n_iterations=args.iterations, n_groups=args.groups)
    rows = table1_rows(result)
    text = table1_csv(rows)
    write_text(out, text)
    K = args.groups or config.n_groups
    print(f"{args.split} split of {args.data}: {data.n_images} images, K = {K}, T = {args.iterations}; "
          f"{degenerate_images(data.mask)} image(s) have fewer than two scored true groups")
    print(text, end="")
    print(f"wrote {out}")
    return 0
