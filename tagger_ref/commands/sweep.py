"""tagger-ref sweep: one training run and its evaluation per seed, then medians and spreads (docs/sweeps.md)."""

import dataclasses
import os
import shlex
import time

from ..config import load_config
from ..errors import ConfigError, NoSpaceError, OutputError
from ..experiments.manifest import Segment
from ..files.fileio import write_text
from ..files.tables import seeds_csv
from .common import add_config_argument
from .evaluate import evaluation_from_words

POLL = 0.5  # seconds between two looks at the seeds' folders
SEEDS_CSV = "seeds.csv"


def register(sub):
    p = sub.add_parser(
        "sweep",
        help="train and evaluate a config for many seeds; summary.csv of medians and spreads",
        description="For every seed: tagger-ref train (--seed S) into SWEEP_DIR/seed-S, then tagger-ref "
        "evaluate on it; then SWEEP_DIR/summary.csv with the number of seeds, median, mean, "
        "sample standard deviation, minimum and maximum of every table entry. Seeds run "
        "one after another, in --workers processes, or on a Dask cluster (--scheduler). "
        "Run the same command again after a stop: finished seeds are skipped, the others "
        "resume from their checkpoints.",
    )
    add_config_argument(p, help="a preset name or a JSON file (as tagger-ref train)")
    p.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="dataset file (train and valid to train, test to evaluate); on a cluster, a path every "
        "worker can read, or use --scatter-data",
    )
    p.add_argument("--seeds", required=True, metavar="SEEDS", help="seeds: 0-19, 3, or 0-4,10,12-13")
    p.add_argument("--out", required=True, metavar="SWEEP_DIR", help="sweep folder (seed-S/ per seed, summary.csv)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="seeds at once on this machine, each in its own process (default 1: in this process)",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="BLAS threads per seed (default: cores // workers locally; unchanged on a cluster)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the seeds on a Dask cluster: the address of its scheduler (tcp://HOST:PORT); "
        "SWEEP_DIR must be on a file system that the workers share",
    )
    p.add_argument(
        "--scatter-data",
        action="store_true",
        help="with --scheduler: send the data file's bytes to every worker instead of reading it by path",
    )
    p.add_argument("--epochs", type=int, help="epochs of every seed (default: the config's num_epochs)")
    p.add_argument("--valid-images", type=int, metavar="N", help="validate on the first N images (default: all)")
    p.add_argument(
        "--max-minutes",
        type=float,
        metavar="M",
        help="stop the sweep after M minutes: running seeds checkpoint after their current step, the "
        "others wait; the same command continues",
    )
    p.add_argument(
        "--evaluate-args",
        default="",
        metavar="ARGS",
        help="arguments of tagger-ref evaluate for every seed, as one string: "
        "--evaluate-args='--iterations 5 --split test'",
    )
    p.set_defaults(func=run)


def _check_args(args):
    for name in ("workers", "threads", "epochs", "valid_images"):
        value = getattr(args, name)
        least = 0 if name == "epochs" else 1
        if value is not None and value < least:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ConfigError(f"--max-minutes must be positive, got {args.max_minutes}")
    if args.scatter_data and not args.scheduler:
        raise ConfigError("--scatter-data needs --scheduler")
    if args.scheduler and args.workers != 1:
        raise ConfigError("--workers is for this machine; with --scheduler the cluster's workers run the seeds")


class _Watch:
    """A seed's folder seen from the sweep: prints when its task starts and every new epoch in log.csv."""

    def __init__(self, seed, run_dir, epochs):
        from ..experiments.sweep import read_seed_json

        self.seed, self.run_dir, self.epochs = seed, run_dir, epochs
        record = read_seed_json(run_dir) or {}
        self.started = record.get("started")
        self.rows = self._rows()

    def _rows(self):
        """log.csv's rows as dicts (a classifying run's log has more columns than a Shapes run's)."""
        from ..experiments.checkpoint import LOG

        try:
            with open(os.path.join(self.run_dir, LOG)) as f:
                lines = f.read().split()
        except OSError:
            return []
        return [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]

    def poll(self):
        from ..experiments.sweep import read_seed_json

        record = read_seed_json(self.run_dir) or {}
        if record.get("state") == "running" and record.get("started") != self.started:
            self.started = record["started"]
            where = f"{record.get('host')}, pid {record.get('pid')}"
            at = f", resuming after epoch {len(self.rows)}" if self.rows else ""
            print(f"seed {self.seed}: started ({where}{at})", flush=True)
        rows = self._rows()
        for row in rows[len(self.rows) :]:
            print(
                f"seed {self.seed}: epoch {row['epoch']}/{self.epochs}: train cost {float(row['train_cost']):.4f}, "
                f"validation cost {float(row['valid_cost']):.4f}, {float(row['seconds']):.0f} s",
                flush=True,
            )
        self.rows = rows if len(rows) > len(self.rows) else self.rows


def _outcome(future, seed):
    """The task's result, or a failure for a task that could not run (a lost worker, a broken pool)."""
    try:
        return future.result()
    except Exception as e:  # noqa: BLE001 -- reported per seed
        return {"seed": seed, "status": "failed", "error": f"{type(e).__name__}: {e}"}


def _report(result):
    seed, status = result["seed"], result["status"]
    if status == "finished":
        return f"seed {seed}: finished ({result['epoch']} epochs, {result['seconds']:.0f} s of training)"
    if status == "stopped":
        return (
            f"seed {seed}: stopped after epoch {result['epoch']}, step {result['step']} ({result['error']}; "
            f"checkpointed)"
        )
    if status == "not started":
        return f"seed {seed}: not started"
    if status == "skipped":
        return f"seed {seed}: finished earlier, skipped"
    return f"seed {seed}: failed: {result['error']}"


def run(args):
    # the machinery here, not at the top: the parser (and --help) imports no maths (test_cli)
    from ..experiments.executors import DaskRunner, LocalRunner, available_cores, threads_per_worker
    from ..experiments.sweep import (
        SeedTask,
        check_continuable,
        check_sweep_folder,
        is_finished,
        read_seed_json,
        seed_dir,
    )

    seeds, config, evaluation, evaluate_args, data_id = _read_arguments(args)
    started = time.monotonic()
    deadline = None if args.max_minutes is None else time.time() + 60.0 * args.max_minutes
    tasks = [
        SeedTask(
            seed=s,
            run_dir=seed_dir(args.out, s),
            config=config.replace(seed=s),
            data=os.path.abspath(args.data),
            evaluation=evaluation,
            evaluate_args=evaluate_args,
            valid_images=args.valid_images,
            deadline=deadline,
        )
        for s in seeds
    ]
    check_sweep_folder(args.out)  # not a folder of something else
    check_continuable(tasks, data_id)  # a changed command is refused once, before anything is written
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create sweep folder {args.out}: {e.strerror}") from None
    todo = [t for t in tasks if not is_finished(read_seed_json(t.run_dir), t)]
    where = "nothing"
    if todo:
        workers = min(args.workers, len(todo))  # no idle processes, no threads kept for them
        threads = args.threads if args.threads or args.scheduler else threads_per_worker(workers)
        runner = DaskRunner(args.scheduler, args.data, args.scatter_data) if args.scheduler else LocalRunner(workers)
        todo = [dataclasses.replace(t, threads=threads, stop_event=getattr(runner, "stop_name", None)) for t in todo]
        where = runner.describe(threads) + (
            ""
            if args.scheduler or workers * threads <= available_cores()
            else f" (more threads than the {available_cores()} cores)"
        )
    print(
        f"sweep of {len(seeds)} seed(s) of {args.config} ({config.num_epochs} epochs) in {args.out}: "
        f"{len(seeds) - len(todo)} finished earlier, {len(todo)} to run on {where}",
        flush=True,
    )
    with Segment(args.out, "sweep", data=args.data) as segment:  # SWEEP_DIR/manifest.json
        results, stopped_by, no_space = _watch(runner, todo, config) if todo else ({}, None, None)
        if no_space:  # seeds.csv and summary.csv stay as they were
            raise NoSpaceError(
                f"sweep stopped: seed {no_space['seed']} failed: {no_space['error']} (the other seeds stopped "
                f"with a checkpoint; finished seeds are kept)"
            )
        failed = _write_tables(args.out, seeds, results, started)
        segment.status = stopped_by or (f"done; failed: seed(s) {', '.join(map(str, failed))}" if failed else "done")
    if stopped_by:
        return 130 if stopped_by == "SIGINT" else 143
    return 1 if failed else 0


def _watch(runner, todo, config):
    """Run the seeds of ``todo`` on ``runner`` until each has ended, printing each outcome. The first
    SIGINT/SIGTERM stops every seed after its step; a seed out of disk space stops the others.
    Returns ``(results by seed, the stopping signal or None, the no-space result or None)``."""
    from ..experiments.loop import stop_signals

    results, stopped_by, no_space = {}, None, None
    try:
        with stop_signals() as stop_requested:
            watches = {t.seed: _Watch(t.seed, t.run_dir, config.num_epochs) for t in todo}
            pending = {t.seed: runner.submit(t) for t in todo}
            while pending:
                signal_name = stop_requested()
                if signal_name and not stopped_by:
                    stopped_by = signal_name
                    print(
                        f"{signal_name}: every running seed stops after its current step (checkpointed); "
                        f"a second {signal_name} aborts",
                        flush=True,
                    )
                    runner.stop()
                for seed, future in list(pending.items()):
                    watches[seed].poll()
                    if future.done():
                        results[seed] = _outcome(future, seed)
                        print(_report(results[seed]), flush=True)
                        del pending[seed]
                        if results[seed].get("no_space") and not no_space:
                            no_space = results[seed]  # the others would fail alike: stop them
                            runner.stop()
                time.sleep(POLL if pending else 0)
    finally:
        runner.close()
    return results, stopped_by, no_space


def _write_tables(out, seeds, results, started):
    """seeds.csv and summary.csv of the sweep folder ``out``, and the closing lines. Returns the failed seeds."""
    from ..experiments.summary import write_summary
    from ..experiments.sweep import read_seed_json, seed_dir

    records = [(s, read_seed_json(seed_dir(out, s))) for s in seeds]
    write_text(os.path.join(out, SEEDS_CSV), seeds_csv(records))
    path, used = write_summary(out, seeds)
    states = [results.get(s, {"status": "skipped"})["status"] for s in seeds]
    failed = [s for s, state in zip(seeds, states) if state == "failed"]
    unfinished = [s for s, state in zip(seeds, states) if state in ("stopped", "not started")]
    print(
        f"{len(used)} of {len(seeds)} seed(s) finished; {path} and {os.path.join(out, SEEDS_CSV)} written "
        f"({time.monotonic() - started:.0f} s)"
    )
    if unfinished:
        print(f"unfinished: seed(s) {', '.join(map(str, unfinished))}; run the same command again to continue")
    if failed:
        print(f"failed: seed(s) {', '.join(map(str, failed))} (errors above and in seed-S/seed.json)")
    return failed


def _read_arguments(args):
    """The sweep's arguments read and checked before anything is written: ``(seeds, config, the
    evaluation and its words, the training data's identity or None with --scatter-data)``."""
    from ..experiments.checkpoint import data_identity
    from ..experiments.run_evaluation import check_evaluation
    from ..experiments.sweep import parse_seeds
    from ..experiments.training import load_split

    _check_args(args)
    seeds = parse_seeds(args.seeds)
    config = load_config(args.config)
    if args.epochs is not None:
        config = config.replace(num_epochs=args.epochs)
    try:
        words = shlex.split(args.evaluate_args)
    except ValueError as e:  # an unbalanced quote
        raise ConfigError(f"--evaluate-args {args.evaluate_args!r}: {e} (quote as a shell does)") from None
    evaluation, evaluate_args = evaluation_from_words(words), tuple(words)
    if evaluation.epoch is not None:
        raise ConfigError("--evaluate-args: --epoch evaluates kept parameters, and a sweep's runs keep none")
    data_id = None
    if not args.scatter_data:
        train = load_split(args.data, "train", config)  # one clear error before any seed starts
        data_id = data_identity(train.features, train.targets if config.class_cost_x > 0 else None)
    elif not os.path.isfile(args.data):
        raise ConfigError(f"data file {args.data} does not exist")
    check_evaluation(evaluation, config, args.data)  # --evaluate-args, before any seed trains
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise OutputError(f"cannot use {args.out} as a sweep folder: it is a file")
    return seeds, config, evaluation, evaluate_args, data_id
