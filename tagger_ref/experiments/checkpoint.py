"""A run folder and its checkpoint, the same for Tagger's training and the baselines' (docs/training.md).

A run folder holds ``checkpoint.npz`` (everything needed to continue exactly, :func:`save_checkpoint`),
``log.csv`` (one row per epoch, rewritten from the checkpoint), ``config.json`` and ``params.npz``
(the parameters in the float64 exchange format, docs/spec.md section 8, written when training
stops). What differs between the kinds of run (how a config is read back, the parameters' names
and shapes, whether a labeled stream is kept) is a :class:`RunKind`; the layout of the file is one.
"""

import dataclasses
import hashlib
import json
import os
import typing
import zipfile
import zlib

import numpy

from ..device.backend import to_numpy
from ..errors import CheckpointError, DataError, OutputError
from ..files.fileio import load_npz, save_npz, write_json
from ..files.params import save_params
from . import optimizers
from .manifest import optional
from .streams import LabeledStream

CHECKPOINT = "checkpoint.npz"
LOG = "log.csv"
CONFIG = "config.json"
PARAMS = "params.npz"


@dataclasses.dataclass(frozen=True)
class RunKind:
    """What a checkpoint reader needs to know about one kind of run (Tagger's, a baseline's)."""

    name: str  # in messages: "training" (Tagger) or "baseline"
    from_dict: typing.Callable  # (config dict, source=) -> config, ConfigError if bad
    param_shapes: typing.Callable  # config -> {name: shape}
    log_columns: typing.Callable  # config -> log columns of checkpoints that did not store them
    labeled: typing.Callable  # config -> whether the run keeps a labeled stream
    refuse: typing.Optional[typing.Callable] = None  # stored config dict -> why it is not this kind, or None


@dataclasses.dataclass
class TrainState:
    """Where a run stands: what a checkpoint holds besides the config and the data's identity."""

    params: dict  # name -> array of the config's dtype
    opt_state: dict  # the config's optimiser's state (optimizers.Optimizer: init / update)
    rng: numpy.random.Generator  # the run's generator, after every draw made so far
    epoch: int = 0  # epochs completed
    step: int = 0  # training steps (batches) completed
    batch: int = 0  # batches completed in the current epoch (0 between epochs)
    order: numpy.ndarray = dataclasses.field(
        default_factory=lambda: numpy.zeros(0, numpy.int64)
    )  # current epoch's permutation
    cost_sum: float = 0.0  # sum of the training costs of the current epoch's batches
    log: dict = dataclasses.field(default_factory=dict)  # column -> values per epoch, in log.csv's order
    seconds: float = 0.0  # wall-clock seconds spent training, over all sessions
    cpu_seconds: float = 0.0  # CPU seconds spent training (process time), over all sessions
    labeled: typing.Optional[LabeledStream] = None  # semi-supervised runs: the labeled stream
    valid_ami_images: int = 0  # validation images whose AMI each epoch scores (0: none, no AMI columns)


def data_identity(features, targets=None):
    """A short record of a training set (size and a hash of its values, and of the class targets
    when training uses them): a run resumes only on the same data."""
    a = numpy.ascontiguousarray(features, dtype=numpy.float32)
    identity = {"images": int(a.shape[0]), "inputs": int(a.shape[1]), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
    if targets is not None:
        identity["targets_sha256"] = hashlib.sha256(numpy.ascontiguousarray(targets, dtype=numpy.int64)).hexdigest()
    return identity


def save_checkpoint(path, state, config, data_id):
    """Write one `.npz`: ``param/<name>``, the optimiser's state (``optimizers.Optimizer.arrays``:
    Adam's ``adam/m/<name>``, ``adam/v/<name>``, ``adam/t``), the counters ``epoch``, ``step``,
    ``batch``, the epoch's ``order`` and ``cost_sum``, the log as
    ``log/<column>`` arrays, a semi-supervised run's labeled stream (``labeled/index``,
    ``labeled/order``, ``labeled/position``), ``seconds``, ``cpu_seconds``, ``valid_ami_images``, and JSON
    strings ``rng_json`` (the generator's ``bit_generator.state``), ``config_json``, ``data_json`` and
    ``log_columns_json`` (the log's columns in order). Atomic (fileio.save_npz)."""
    arrays = {f"param/{k}": to_numpy(v) for k, v in state.params.items()}
    arrays.update(optimizers.get(config.optimizer).arrays(state.opt_state))
    arrays.update({f"log/{c}": numpy.asarray(values, dtype=numpy.float64) for c, values in state.log.items()})
    if state.labeled is not None:
        arrays.update({f"labeled/{k}": v for k, v in state.labeled.arrays().items()})
    arrays.update(
        {
            "epoch": numpy.int64(state.epoch),
            "step": numpy.int64(state.step),
            "batch": numpy.int64(state.batch),
            "order": numpy.asarray(state.order, dtype=numpy.int64),
            "cost_sum": numpy.float64(state.cost_sum),
            "seconds": numpy.float64(state.seconds),
            "cpu_seconds": numpy.float64(state.cpu_seconds),
            "valid_ami_images": numpy.int64(state.valid_ami_images),
            "log_columns_json": numpy.str_(json.dumps(list(state.log))),
            "rng_json": numpy.str_(json.dumps(state.rng.bit_generator.state)),
            "config_json": numpy.str_(json.dumps(config.to_dict())),
            "data_json": numpy.str_(json.dumps(data_id)),
        }
    )
    save_npz(path, arrays)


def read_checkpoint(path, kind):
    """Read a checkpoint of a run of ``kind`` (:class:`RunKind`). Returns ``(state, config, data_id)``;
    CheckpointError if it is unreadable, incomplete or another kind's."""
    raw = load_npz(path, CheckpointError, what="checkpoint")
    try:
        stored = json.loads(str(raw["config_json"]))
        why_not = kind.refuse(stored) if kind.refuse is not None else None
        if why_not:
            raise CheckpointError(f"checkpoint {path} {why_not}")
        config = kind.from_dict(stored, source=f"the config stored in checkpoint {path}")
        names = list(kind.param_shapes(config))
        # checkpoints written before the AMI columns existed hold neither key
        ami_images = int(raw["valid_ami_images"]) if "valid_ami_images" in raw else 0
        columns = (
            json.loads(str(raw["log_columns_json"])) if "log_columns_json" in raw else list(kind.log_columns(config))
        )
        rng_state = json.loads(str(raw["rng_json"]))
        rng = numpy.random.Generator(getattr(numpy.random, rng_state["bit_generator"])())
        rng.bit_generator.state = rng_state
        state = TrainState(
            params={k: raw[f"param/{k}"] for k in names},
            opt_state=optimizers.get(config.optimizer).from_arrays(raw, names),
            rng=rng,
            epoch=int(raw["epoch"]),
            step=int(raw["step"]),
            batch=int(raw["batch"]),
            order=raw["order"],
            cost_sum=float(raw["cost_sum"]),
            log={c: raw[f"log/{c}"].tolist() for c in columns},
            seconds=float(raw["seconds"]),
            cpu_seconds=float(raw["cpu_seconds"]),
            valid_ami_images=ami_images,
        )
        if kind.labeled(config):
            state.labeled = LabeledStream.from_arrays({k: raw[f"labeled/{k}"] for k in ("index", "order", "position")})
        data_id = json.loads(str(raw["data_json"]))
    except KeyError as e:
        raise CheckpointError(
            f"checkpoint {path} lacks {e.args[0]!r}: not a tagger-ref {kind.name} checkpoint"
        ) from None
    except (ValueError, TypeError, AttributeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"checkpoint {path} cannot be read: {e}") from None
    check_state_arrays(state, kind.param_shapes(config), path, optimizers.get(config.optimizer))
    return state, config, data_id


def check_state_arrays(state, shapes, path, optimizer):
    """CheckpointError unless every parameter and the ``optimizer``'s arrays of it (Adam's two
    moments) have the config's shape (``shapes``: name -> shape), a real dtype and finite values:
    a damaged checkpoint is refused when it is read, before anything is written or computed from it."""
    problems = []
    for name, shape in shapes.items():
        for what, a in [("parameter", state.params[name])] + optimizer.per_parameter(state.opt_state, name):
            a = numpy.asarray(a)
            if a.shape != tuple(shape):
                problems.append(f"{what} {name} has shape {a.shape}, the config's is {tuple(shape)}")
            elif a.dtype.kind not in "fiu":
                problems.append(f"{what} {name} has dtype {a.dtype}, not numbers")
            elif not numpy.all(numpy.isfinite(a)):
                problems.append(f"{what} {name} has {int(numpy.sum(~numpy.isfinite(a)))} non-finite value(s)")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CheckpointError(f"checkpoint {path} is damaged: {'; '.join(problems[:3])}{more}")


def load_run(run_dir, kind):
    """(config, params) of the latest checkpoint in a run folder of ``kind``."""
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise CheckpointError(f"{run_dir} holds no {CHECKPOINT}: not a training run folder, or training never started")
    state, config, _ = read_checkpoint(path, kind)
    return config, state.params


def log_csv(log):
    """The text of log.csv from the log columns (a dict in the order of ``log_columns``)."""
    formats = {
        "epoch": "{:.0f}",
        "step": "{:.0f}",
        "seconds": "{:.1f}",
        "cpu_seconds": "{:.1f}",
        "valid_class_error": "{:.2f}",
        "train_class_error": "{:.2f}",
    }
    lines = [",".join(log)]
    for row in zip(*log.values()):
        lines.append(",".join(formats.get(c, "{:.6f}").format(v) for c, v in zip(log, row)))
    return "\n".join(lines) + "\n"


def same_config(a, b):
    """Configs equal in every field but the epoch count (which --epochs may change on resume)."""
    return a.replace(num_epochs=0) == b.replace(num_epochs=0)


def config_changes(stored, config):
    """The fields but num_epochs in which ``config`` differs from a checkpoint's ``stored`` one, in words."""
    now = config.to_dict()
    return [
        f"{k}: {v!r} in the checkpoint, {now.get(k)!r} now"
        for k, v in stored.to_dict().items()
        if k != "num_epochs" and v != now.get(k)
    ]


def resume_path(run_dir):
    """The checkpoint that ``--resume`` continues from; CheckpointError when the folder holds none."""
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise CheckpointError(f"--resume: {run_dir} holds no {CHECKPOINT} to continue from")
    return path


def prepare_run(run_dir, config, data_id, resume, kind, fresh_state):
    """Create or reopen a run folder. Returns ``(state, config)``.

    A fresh run refuses a folder that already holds a checkpoint and starts from ``fresh_state()``;
    ``resume`` needs a checkpoint of ``kind`` (:class:`RunKind`) whose config (all fields but
    num_epochs; ``config`` None accepts the stored one) and training data match.
    """
    path = os.path.join(run_dir, CHECKPOINT)
    if resume:
        resume_path(run_dir)
        state, stored, stored_data = read_checkpoint(path, kind)
        if config is not None and not same_config(config, stored):
            raise CheckpointError(
                f"--resume with a different config than the checkpoint in {run_dir} "
                f"({'; '.join(config_changes(stored, config))})"
            )
        if stored_data != data_id:
            raise CheckpointError(
                f"--resume with other training data than the run in {run_dir} was trained on "
                f"(checkpoint: {stored_data['images']} images, sha256 {stored_data['sha256'][:12]}; "
                f"now: {data_id['images']} images, sha256 {data_id['sha256'][:12]})"
            )
        config = stored.replace(num_epochs=config.num_epochs) if config is not None else stored
        return state, config
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise OutputError(f"cannot use {run_dir} as a run folder: it is a file")
    if os.path.isfile(path):
        raise CheckpointError(
            f"{run_dir} already holds a training checkpoint: pass --resume to continue it, or choose another folder"
        )
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create run folder {run_dir}: {e.strerror}") from None
    if not os.access(run_dir, os.W_OK):
        raise OutputError(f"cannot write to run folder {run_dir}")
    return fresh_state(), config


def nothing_to_do(state, config, run_dir, echo=None):
    """Whether a resumed run has already done ``config.num_epochs`` epochs: then nothing is trained
    and nothing is written (config.json, the checkpoint and the log stay as they are; params.npz is
    written only if a kill left none). Fewer epochs than the run has done is a CheckpointError:
    training cannot be undone, and config.json must not claim fewer epochs than the checkpoint holds."""
    if state.epoch > config.num_epochs:
        raise CheckpointError(
            f"--resume --epochs {config.num_epochs}: the run in {run_dir} has done {state.epoch} "
            f"epochs already, and training cannot be undone (--epochs counts all epochs: "
            f"{state.epoch} does nothing, more trains on)"
        )
    if state.epoch < config.num_epochs:
        return False
    if not os.path.isfile(os.path.join(run_dir, PARAMS)):
        save_params(os.path.join(run_dir, PARAMS), state.params)
    if echo:
        echo(
            f"nothing to do: the run in {run_dir} has done its {state.epoch} epochs; nothing was changed "
            f"(raise --epochs to train on)"
        )
    return True


def stored_ami_images(path):
    """valid_ami_images of a checkpoint (None if unreadable: load_checkpoint then says why)."""
    try:
        with numpy.load(path) as f:
            return int(f["valid_ami_images"]) if "valid_ami_images" in f.files else 0
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError):
        return None


def checkpoint_step(path):
    try:
        with numpy.load(path) as f:
            return int(f["step"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, zlib.error, EOFError):
        return "unknown"


def read_run_config(run_dir):
    """The dict of a run folder's config.json, DataError in one clear line where there is none."""
    path = os.path.join(run_dir, CONFIG)
    if not os.path.isdir(run_dir):
        raise DataError(f"{run_dir} is not a folder: give the run folders of tagger-ref train or baseline")
    try:
        with open(path) as f:
            config = json.load(f)
    except FileNotFoundError:
        raise DataError(f"{run_dir} holds no {CONFIG}: not a run folder of tagger-ref train or baseline") from None
    except OSError as e:
        raise DataError(f"{path} cannot be read: {e.strerror}") from None
    except ValueError as e:
        raise DataError(f"{path} is not a JSON config: {e}") from None
    if not isinstance(config, dict):
        raise DataError(f"{path} is not a config (a JSON object of fields)")
    return config


def train_in_folder(run_dir, config, data_id, resume, kind, fresh_state, body, manifest=None, echo=None, check=None):
    """The run-folder scaffold that Tagger's training and the baselines' share.

    Opens or resumes the folder (:func:`prepare_run`; ``check(state)``, if given, may refuse the
    state before anything is written); a resumed run with nothing to do returns at once
    (:func:`nothing_to_do`). Otherwise, inside the ``manifest`` segment (if any): config.json, the
    step-0 checkpoint of a fresh run, ``body(state, config)`` (the epochs; returns the status),
    then params.npz. Returns ``{"status", "epoch", "step", "config"}``.
    """
    state, config = prepare_run(run_dir, config, data_id, resume, kind, fresh_state)
    if check is not None:
        check(state)
    if resume and nothing_to_do(state, config, run_dir, echo):
        return {"status": "done", "epoch": state.epoch, "step": state.step, "config": config}
    if manifest is not None:
        manifest.steps_fn = lambda: state.step
    with optional(manifest):
        write_json(os.path.join(run_dir, CONFIG), config.to_dict())
        if not resume:
            save_checkpoint(os.path.join(run_dir, CHECKPOINT), state, config, data_id)  # step 0: resumable
        status = body(state, config)
        save_params(os.path.join(run_dir, PARAMS), state.params)
        if manifest is not None:
            manifest.status = status
    return {"status": status, "epoch": state.epoch, "step": state.step, "config": config}
