"""tagger-ref evaluate: the paper's Table 1 for a trained run (denoising cost and AMI per iteration),
or Table 2 for a model with a classification head (classification error, class cost, denoising cost, AMI)."""

import argparse

from ..errors import ConfigError
from .common import add_device_argument

RESERVED_BY_SWEEP = ("--data", "--out", "--device", "--dtype")  # tagger-ref sweep --evaluate-args may not set these


def register(sub):
    p = sub.add_parser(
        "evaluate",
        help="Table 1 (denoising cost, AMI) or Table 2 (classification) of a trained run",
        description="Evaluate the latest checkpoint of RUN_DIR on a split of a dataset file: per "
        "iteration 1..T the denoising cost on corrupted input and the AMI on clean input "
        "(docs/spec.md section 5: scored pixels, scikit-learn's AMI with average_method='max', "
        "mean and median over images). Prints the table and writes table1.csv. A model "
        "with a classification head writes table2.csv instead (class_error in percent on "
        "clean input, the top-2 error for two digits; class_cost and denoising_cost on "
        "corrupted input; ami) and table2.predictions.npz (class_probs (T, n, C), labels).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of tagger-ref train")
    p.add_argument("--data", required=True, metavar="FILE", help="dataset file")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument(
        "--iterations",
        type=int,
        metavar="T",
        help="iterations (default 5 as the paper's Table 1; a classifier: its training T, as Table 2)",
    )
    p.add_argument("--groups", type=int, metavar="K", help="groups (default: the config's n_groups)")
    p.add_argument("--seed", type=int, default=0, help="seed of the corruption and initial masks (default 0)")
    p.add_argument(
        "--epoch",
        type=int,
        metavar="E",
        help="evaluate the parameters kept after epoch E (train --keep-every) instead of the latest "
        "checkpoint's; the default table is then RUN_DIR/table1-epoch-E.csv",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="table to write (default RUN_DIR/table1.csv, or RUN_DIR/table2.csv; a classifier's "
        "predictions go beside it, named after it: a.csv, a.predictions.npz). Beside the table, "
        "<table>.provenance.json names the run's manifest and what was "
        "evaluated",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress lines while the images are scored (one every 5 s)"
    )
    add_device_argument(p)
    p.set_defaults(func=run)


def evaluation_from_args(args):
    """The library's :class:`Evaluation` from the parsed options of ``tagger-ref evaluate``."""
    # imported here, not at the top: the parser (and --help) imports no scikit-learn (test_cli)
    from ..experiments.run_evaluation import Evaluation

    return Evaluation(
        split=args.split,
        iterations=args.iterations,
        groups=args.groups,
        seed=args.seed,
        epoch=args.epoch,
        device=args.device,
        dtype=args.dtype,
    )


def run(args):
    from ..experiments.run_evaluation import evaluate_run

    evaluate_run(
        args.run_dir, args.data, evaluation_from_args(args), out=args.out, echo=_flushed, progress=not args.no_progress
    )
    return 0


def _flushed(line):
    print(line, flush=True)  # progress lines show at once when stdout is a pipe


class _ArgumentError(Exception):
    pass


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message):
        raise _ArgumentError(message)


def evaluation_from_words(words):
    """The :class:`Evaluation` of ``tagger-ref sweep --evaluate-args``: ``words`` are arguments of
    ``tagger-ref evaluate`` after RUN_DIR --data FILE, without those the sweep sets itself
    (RESERVED_BY_SWEEP); ConfigError in one line otherwise."""
    words = tuple(words)
    reserved = [w for w in words if w.split("=")[0] in RESERVED_BY_SWEEP]
    if reserved:
        raise ConfigError(f"--evaluate-args: {reserved[0].split('=')[0]} is set by the sweep")
    parser = _RaisingParser(prog="tagger-ref", add_help=False)
    register(parser.add_subparsers(dest="command", parser_class=_RaisingParser))
    try:
        args = parser.parse_args(["evaluate", "RUN_DIR", "--data", "FILE", *words])
    except _ArgumentError as e:
        raise ConfigError(f"--evaluate-args {' '.join(words)!r}: {e}") from None
    return evaluation_from_args(args)
