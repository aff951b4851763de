"""One seed of a sweep: train, then evaluate, in ``SWEEP_DIR/seed-S/`` (``tagger-ref sweep``, docs/sweeps.md).

:func:`run_seed` is the whole task of a seed, the same function whether it runs in the sweep's own
process, in a local worker process or on a Dask worker. It does what ``tagger-ref train --config C
--seed S --data FILE --out SWEEP_DIR/seed-S [--resume]`` followed by ``tagger-ref evaluate
SWEEP_DIR/seed-S --data FILE EVALUATE_ARGS`` do, with the same functions, so its files equal theirs
(the clock entries of checkpoint.npz and log.csv aside):

- a checkpoint in the folder is resumed (training resumes exactly, docs/training.md), so a seed
  stopped by a signal, a time limit, ``kill -9`` or a lost worker continues where it stopped;
- a seed whose ``seed.json`` says ``finished`` with the same config and evaluation arguments is
  not run again;
- evaluation is ``run_evaluation.evaluate_run``, as for the ``evaluate`` subcommand, with the
  task's :class:`~tagger_ref.experiments.run_evaluation.Evaluation` (the command line parses it
  from EVALUATE_ARGS); whatever tables it writes (``table1.csv``, ``table2.csv``) are the seed's
  results, and what the subcommand would print goes to ``evaluate.txt``;
- every error is caught and returned (and recorded in ``seed.json``), so one failing seed does
  not stop the others (the sweep stops them itself on a full disk, ``no_space`` in the result).

What would fail every seed alike, a folder holding a run of another config, more epochs or
other data than the command's, is refused for the whole sweep before anything is written
(:func:`check_continuable`).

``seed.json`` records the seed's state: ``running`` (or a run that was killed), ``stopped``
(checkpointed before its last epoch), ``finished`` or ``failed``, with the host and process, the
config, the evaluation arguments and, for a failure, the error. An exclusive lock on
``seed-S/.lock`` (``locks.locked``: ``fcntl.flock``, released by the kernel when the process dies) keeps two
processes from running the same seed at once, e.g. a restarted sweep and a worker of the old one
that is still writing its last checkpoint.
"""

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import re
import socket
import tempfile
import time
import traceback
import typing

from ..config import TaggerConfig
from ..errors import CheckpointError, ConfigError, NoSpaceError, OutputError, TaggerError
from ..files.fileio import write_json, write_text
from ..files.locks import locked
from .memory import check_fits
from .run_evaluation import Evaluation, evaluate_run

SEED_JSON = "seed.json"
EVALUATE_TXT = "evaluate.txt"
LOCK_WAIT = 120.0  # seconds a task waits for another process to release a seed's folder
SEED_BYTES = 1000  # memory a seed costs the sweep at least (its task, config, folder name, report)
STOP_POLL = 2.0  # seconds between two looks at a Dask stop event (each one asks the scheduler)


@dataclasses.dataclass(frozen=True)
class SeedTask:
    """Everything a seed's task needs; plain values, so it travels to other processes and machines."""

    seed: int  # the run's seed (config.seed)
    run_dir: str  # SWEEP_DIR/seed-S
    config: TaggerConfig  # the config to train, seed and epoch count included
    data: str  # dataset file (train and valid for training, the rest to evaluate)
    evaluation: Evaluation = Evaluation()  # what the seed's run is evaluated on (split, T, K, seed, ...)
    evaluate_args: typing.Tuple[str, ...] = ()  # the words `evaluation` was parsed from, recorded in seed.json
    valid_images: typing.Optional[int] = None  # validate on the first that many images (train --valid-images)
    deadline: typing.Optional[float] = None  # time.time() after which training stops (checkpointed)
    threads: typing.Optional[int] = None  # BLAS threads of this task (threadpoolctl), None: unchanged
    stop_event: typing.Optional[str] = None  # name of a distributed.Event that asks the task to stop


def seed_dir(sweep_dir, seed):
    return os.path.join(sweep_dir, f"seed-{seed}")


def parse_seeds(text):
    """Seeds from ``"0-19"``, ``"3"`` or ``"0-4,10,12-13"``: a sorted list without repeats. A list
    whose bookkeeping (SEED_BYTES a seed) cannot fit in memory is refused before it is built."""
    ranges = []
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise ConfigError(f"--seeds {text!r}: expected seeds >= 0 and ranges, such as 0-19 or 0-4,10")
        lo, hi = int(match[1]), int(match[2] or match[1])
        if hi < lo:
            raise ConfigError(f"--seeds {text!r}: the range {part.strip()!r} is empty")
        ranges.append((lo, hi))
    count = sum(hi - lo + 1 for lo, hi in ranges)
    check_fits(count * SEED_BYTES, f"--seeds {text!r} ({count} seeds)")
    seeds = set()
    for lo, hi in ranges:
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def read_seed_json(run_dir):
    """The seed's record, or None where there is none (or it cannot be read)."""
    try:
        with open(os.path.join(run_dir, SEED_JSON)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None  # not a record (e.g. a hand-edited [1]): none


def is_finished(record, task):
    """Whether ``record`` (seed.json) is a finished run of ``task``'s config and evaluation."""
    return (
        record is not None
        and record.get("state") == "finished"
        and record.get("config") == task.config.to_dict()
        and record.get("evaluate_args") == list(task.evaluate_args)
    )


def check_continuable(tasks, data_id=None):
    """CheckpointError, before anything is written, if a seed's folder holds a run that its task
    cannot continue: another config (every field but the epoch count), more epochs done than the
    task's, or (``data_id``: ``checkpoint.data_identity`` of the command's training data) other
    training data. Such a command would fail every seed and overwrite their records; it is refused
    once instead. A checkpoint that cannot be read fails its seed alone, when the seed runs."""
    from .checkpoint import CHECKPOINT, config_changes, same_config
    from .training import load_checkpoint

    problems = []
    for task in tasks:
        path = os.path.join(task.run_dir, CHECKPOINT)
        if not os.path.isfile(path) or is_finished(read_seed_json(task.run_dir), task):
            continue
        try:
            state, stored, stored_data = load_checkpoint(path)
        except CheckpointError:
            continue
        name = os.path.basename(task.run_dir)
        if not same_config(stored, task.config):
            problems.append(f"{name} holds a run of another config ({'; '.join(config_changes(stored, task.config))})")
        elif state.epoch > task.config.num_epochs:
            problems.append(
                f"{name} has done {state.epoch} epochs, more than {task.config.num_epochs} (training cannot be undone)"
            )
        elif data_id is not None and stored_data != data_id:
            problems.append(f"{name} was trained on other data ({stored_data.get('images')} training images)")
    if problems:
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise CheckpointError(
            f"the sweep cannot continue the runs in {os.path.dirname(tasks[0].run_dir) or '.'}: "
            f"{'; '.join(problems[:3])}{more}; nothing was changed (run it as it was started, or choose another --out)"
        )


def check_sweep_folder(sweep_dir):
    """OutputError unless ``sweep_dir`` is missing, empty (hidden files aside) or a sweep's folder
    (seed-S/ folders, summary.csv, seeds.csv, or a manifest with a sweep's segment): a sweep never
    writes its files and segments into a folder of something else, say a training run."""
    from .manifest import read_manifest

    if not os.path.isdir(sweep_dir):
        return
    names = sorted(n for n in os.listdir(sweep_dir) if not n.startswith("."))
    if not names or any(re.fullmatch(r"seed-\d+", n) for n in names) or {"summary.csv", "seeds.csv"} & set(names):
        return
    with contextlib.suppress(TaggerError):
        if any(s.get("command") == "sweep" for s in read_manifest(sweep_dir)["segments"] if isinstance(s, dict)):
            return
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    raise OutputError(
        f"--out {sweep_dir} holds files ({shown}) but is not a sweep's folder (no seed-S/, summary.csv or "
        f"sweep manifest); choose a new or empty folder"
    )


def _record(task, state, **fields):
    return {
        "seed": task.seed,
        "state": state,
        "config": task.config.to_dict(),
        "evaluate_args": list(task.evaluate_args),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        **fields,
    }


# ---------------------------------------------------------------------------------------------
# stopping

_worker_stop = []  # callables set by a worker process's initializer (executors), polled with the others


def add_worker_stop(check):
    """Register ``check()`` (True: stop) for every task that runs in this process."""
    _worker_stop.append(check)


def _dask_stop(name):
    """A poll of the distributed.Event ``name``, asking the scheduler at most every STOP_POLL seconds."""
    from distributed import Event

    event, last, seen = Event(name), [0.0], [False]

    def check():
        if not seen[0] and time.monotonic() - last[0] >= STOP_POLL:
            last[0] = time.monotonic()
            seen[0] = event.is_set()
        return seen[0]

    return check


def _stop_check(task, stop_requested):
    """One function for the training loop: the name of the first stop asked for, or None."""
    checks = list(_worker_stop) + ([_dask_stop(task.stop_event)] if task.stop_event else [])

    def check():
        name = stop_requested() if stop_requested else None
        if name:
            return name
        if task.deadline is not None and time.time() >= task.deadline:
            return "time limit"
        return "a stop request" if any(c() for c in checks) else None

    return check


# ---------------------------------------------------------------------------------------------
# evaluation


def evaluate_seed(run_dir, data, evaluation):
    """``evaluate_run`` of the seed's folder; what ``tagger-ref evaluate`` would print goes to
    RUN_DIR/evaluate.txt (written also when the evaluation fails, with what it printed so far)."""
    lines = []
    try:
        return evaluate_run(run_dir, data, evaluation, echo=lines.append)
    finally:
        write_text(os.path.join(run_dir, EVALUATE_TXT), "".join(line + "\n" for line in lines))


def tables(run_dir):
    """The tables a seed's evaluation wrote (table1.csv, table2.csv, ...), sorted."""
    try:
        names = os.listdir(run_dir)
    except OSError:
        return []
    return sorted(n for n in names if n.startswith("table") and n.endswith(".csv") and n[5:-4].isdigit())


# ---------------------------------------------------------------------------------------------
# the task


def _locked(run_dir, wait=LOCK_WAIT):
    """Hold the seed folder's lock (``locks.locked``), waiting up to ``wait`` s for another process."""
    return locked(run_dir, wait, busy=f"{run_dir} is in use by another process (still running this seed?)")


def local_data_copy(data_bytes):
    """Write a dataset file received as bytes (``--scatter-data``) once per machine; returns its path."""
    digest = hashlib.sha256(data_bytes).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"tagger-ref-data-{digest}.npz")
    if not (os.path.isfile(path) and os.path.getsize(path) == len(data_bytes)):
        from ..files.fileio import atomic_path

        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as f:
                f.write(data_bytes)
    return path


def run_seed(task, data_bytes=None, stop_requested=None):
    """Train and evaluate one seed (see the module doc). ``data_bytes``: the dataset file's content
    when the machine cannot read ``task.data``; ``stop_requested()``: a name to stop after the
    current step (e.g. from loop.stop_signals), besides the deadline and the worker's stops.

    Returns ``{"seed", "status": "finished" | "skipped" | "stopped" | "not started" | "failed",
    "epoch", "step", "resumed_step", "seconds", "host", "error", "no_space"}`` (``no_space``: it
    failed on a full disk); never raises for a seed's error.
    """
    result = {
        "seed": task.seed,
        "status": "failed",
        "epoch": None,
        "step": None,
        "resumed_step": None,
        "seconds": None,
        "host": socket.gethostname(),
        "error": None,
        "no_space": False,
    }
    stop = _stop_check(task, stop_requested)
    if stop():
        result["status"] = "not started"
        return result
    try:
        os.makedirs(task.run_dir, exist_ok=True)
        with _locked(task.run_dir):
            return _run_locked(task, data_bytes, stop, result)
    except Exception as e:  # noqa: BLE001 -- a seed's failure is reported, never raised into the sweep
        result["error"] = str(e) if isinstance(e, TaggerError) else f"{type(e).__name__}: {e}"
        result["no_space"] = isinstance(e, NoSpaceError) or getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
        with contextlib.suppress(Exception):
            write_json(
                os.path.join(task.run_dir, SEED_JSON),
                _record(task, "failed", error=result["error"], traceback=traceback.format_exc()),
            )
        return result


def _seed_command_line(task):
    """What a seed's training amounts to, for its manifest: the tagger-ref train command it equals."""
    line = [
        "tagger-ref",
        "train",
        "--config",
        "<the sweep's config>",
        "--data",
        os.fspath(task.data),
        "--out",
        os.fspath(task.run_dir),
        "--seed",
        str(task.config.seed),
        "--epochs",
        str(task.config.num_epochs),
    ]
    if task.valid_images:
        line += ["--valid-images", str(task.valid_images)]
    return line + ["(run by tagger-ref sweep)"]


def _run_locked(task, data_bytes, stop, result):
    from .manifest import Segment
    from .memory import keep_freed_memory
    from .training import CHECKPOINT, load_checkpoint, load_split, train

    run_dir, config = task.run_dir, task.config
    if is_finished(read_seed_json(run_dir), task):
        record = read_seed_json(run_dir)
        result.update(
            status="skipped", epoch=record.get("epoch"), step=record.get("step"), seconds=record.get("seconds")
        )
        return result
    data = local_data_copy(data_bytes) if data_bytes is not None else task.data
    checkpoint = os.path.join(run_dir, CHECKPOINT)
    resume = os.path.isfile(checkpoint)
    result["resumed_step"] = load_checkpoint(checkpoint)[0].step if resume else None
    write_json(os.path.join(run_dir, SEED_JSON), _record(task, "running", started=time.time()))
    keep_freed_memory()
    train_data, valid_data = load_split(data, "train", config), load_split(data, "valid", config)
    from threadpoolctl import threadpool_info, threadpool_limits

    limits = threadpool_limits(limits=task.threads, user_api="blas") if task.threads else contextlib.nullcontext()
    with limits:
        blas_threads = max([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"], default=None)
        trained = train(
            config,
            train_data.features,
            valid_data.features,
            run_dir,
            resume=resume,
            valid_images=task.valid_images,
            stop_requested=stop,
            valid_mask=valid_data.mask,
            train_y=train_data.targets,
            valid_y=valid_data.targets,
            manifest=Segment(run_dir, "train", argv=_seed_command_line(task), data=data),
        )
        state = load_checkpoint(checkpoint)[0]
        result.update(epoch=state.epoch, step=state.step, seconds=state.seconds)
        counters = {
            "epoch": state.epoch,
            "step": state.step,
            "seconds": state.seconds,
            "cpu_seconds": state.cpu_seconds,
            "blas_threads": blas_threads,
        }
        if trained["status"] != "done":
            result.update(status="stopped", error=trained["status"])
            write_json(os.path.join(run_dir, SEED_JSON), _record(task, "stopped", reason=trained["status"], **counters))
            return result
        evaluate_seed(run_dir, data, task.evaluation)
    write_json(os.path.join(run_dir, SEED_JSON), _record(task, "finished", tables=tables(run_dir), **counters))
    result["status"] = "finished"
    return result
