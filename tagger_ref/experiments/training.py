"""Training (section 3.1): Adam on the denoising cost, backpropagated through all T iterations.

One run lives in a folder:

- ``checkpoint.npz``: everything needed to continue exactly (see :func:`save_checkpoint`),
  replaced atomically at the start, after every epoch, and when training stops early;
- ``log.csv``: one row per epoch (see :data:`LOG_COLUMNS`), rewritten from the checkpoint;
- ``config.json``: the run's config (the preset with the run's seed and epoch count);
- ``params.npz``: the parameters in the float64 exchange format (docs/spec.md section 8), written when
  training stops.

Randomness comes from one ``numpy.random.Generator`` seeded with the run's seed, in this order:
parameter initialisation, then per epoch a permutation of the training images, then per batch
the corruption and the initial mask logits (``make_inputs``). Its state is saved in every
checkpoint, so a resumed run draws what the uninterrupted run would have drawn and the two agree
bit for bit. Validation draws from its own generator, seeded afresh every epoch from the run's
seed, so every epoch is validated on the same corruption and the training stream is untouched.
Each epoch takes ``n // B`` batches of a fresh permutation (a last partial batch is dropped).

A model with a classification head (``class_cost_x > 0``) trains semi-supervised (section 3.3):
each step also takes a batch of the labeled stream (``tagger_ref.experiments.streams``: a balanced subset of
``labeled_samples`` images, cycled in reshuffled passes drawn from the run's generator) and
differentiates the two-pass cost of ``maths.semi_supervised``. Per step the draws are: the
labeled stream's permutation when a pass begins, then the unlabeled batch's corruption and
initial mask logits, then the labeled batch's. The labeled stream's position is in the checkpoint.
Such a run validates the class cost (corrupted input) and the classification error (clean
input) of the last iteration too. ``init_from`` starts a run from another run's parameters
(:func:`transfer_params`).

Training runs on the active device (``backend.use_device``): parameters and Adam's moments are
moved there once (also on resume), each batch is copied there, and the draws are made on the
host by the run's generator and copied over, so CPU and GPU runs draw the same numbers and the
checkpoint's generator state is the whole story (docs/gpu.md, "Random draws"). Checkpoints,
params.npz and log.csv are written from NumPy copies (``to_numpy``).
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import time
import typing
import zipfile
import zlib

import numpy
from tqdm import tqdm

from .adam import adam_init, adam_update
from ..device.backend import to_device, to_numpy
from ..config import from_dict
from ..errors import CheckpointError, DataError, OutputError, TrainingError
from .evaluation import ami_scores, denoising_costs, evaluate_classifier
from ..files.fileio import load_npz, save_npz, write_json, write_text
from ..maths.gradients import cost_and_grad
from ..maths.ops import FAST
from .manifest import optional
from ..files.inputs import make_inputs, make_semi_supervised_inputs
from ..files.params import init_params, param_shapes, save_params
from .streams import LabeledStream, labeled_subset, steps_per_epoch

CHECKPOINT = "checkpoint.npz"
LOG = "log.csv"
CONFIG = "config.json"
PARAMS = "params.npz"
INIT_FROM = "init_from.json"
# log.csv: epochs and steps completed; the epoch's mean training cost (the objective total_cost);
# the validation denoising cost averaged over the T iterations and that of the last iteration;
# wall-clock and CPU seconds (this process, all threads) of training so far: the only columns
# that differ between identical runs.
LOG_COLUMNS = ("epoch", "step", "train_cost", "valid_cost", "valid_cost_last", "seconds", "cpu_seconds")
# A classifying run adds, before the clocks, the validation class cost (last iteration, corrupted
# input) and classification error in percent (last iteration, clean input), and the classification
# error of labeled training images scored the same way (the labeled subset; when every image is
# labeled, the first as many training images as validation has): beside the validation error it
# shows overfitting to the few labels. Runs started before that column was added keep their columns.
CLASS_COLUMNS = ("valid_class_cost", "valid_class_error", "train_class_error")
# A run that scores its grouping (valid_ami_images > 0) adds, before the clocks, the mean and the
# median over images of the AMI at the last training iteration on the first valid_ami_images clean
# validation images, scored as evaluation scores it (evaluation.ami_scores).
AMI_COLUMNS = ("valid_ami", "valid_ami_median")
VALID_STREAM = 1      # validation generator: default_rng([seed, VALID_STREAM])
VALID_AMI_STREAM = 2  # the AMI's initial mask logits: default_rng([seed, VALID_AMI_STREAM]), afresh every epoch
TRAIN_CLASS_STREAM = 3  # train_class_error's draws: default_rng([seed, TRAIN_CLASS_STREAM]), afresh each epoch
# Images the AMI is scored on by default: 200 cost 0.7 s on shapes-hour (1.5 % of its 47 s epoch
# with two threads) and 1.8 s on the paper's Shapes model (under 1 %): docs/training.md.
VALID_AMI_IMAGES = 200
KEPT_DIR = "epochs"   # --keep-every: epochs/params-epoch-<E>.npz, the parameters after epoch E


@dataclasses.dataclass
class TrainState:
    """Where a run stands: what a checkpoint holds besides the config and the data's identity."""
    params: dict                 # name -> array of the config's dtype
    adam: dict                   # adam_init / adam_update state
    rng: numpy.random.Generator  # the run's generator, after every draw made so far
    epoch: int = 0               # epochs completed
    step: int = 0                # training steps (batches) completed
    batch: int = 0               # batches completed in the current epoch (0 between epochs)
    order: numpy.ndarray = dataclasses.field(default_factory=lambda: numpy.zeros(0, numpy.int64))  # current epoch's permutation
    cost_sum: float = 0.0        # sum of the training costs of the current epoch's batches
    log: dict = dataclasses.field(default_factory=lambda: {c: [] for c in LOG_COLUMNS})  # column -> values per epoch
    seconds: float = 0.0         # wall-clock seconds spent training, over all sessions
    cpu_seconds: float = 0.0     # CPU seconds spent training (process time), over all sessions
    labeled: typing.Optional[LabeledStream] = None  # semi-supervised runs: the labeled stream
    valid_ami_images: int = 0    # validation images whose AMI each epoch scores (0: none, no AMI columns)


def log_columns(config, valid_ami_images=0):
    """The columns of log.csv (and of the checkpoint's log) of a run of ``config``, in order."""
    extra = (CLASS_COLUMNS if config.class_cost_x > 0 else ()) + (AMI_COLUMNS if valid_ami_images else ())
    return LOG_COLUMNS[:5] + extra + LOG_COLUMNS[5:]


def kept_params_path(run_dir, epoch):
    """Where ``--keep-every`` keeps the parameters after ``epoch``."""
    return os.path.join(run_dir, KEPT_DIR, f"params-epoch-{epoch:04d}.npz")


def kept_epochs(run_dir):
    """The epochs whose parameters a run folder keeps, ascending."""
    folder = os.path.join(run_dir, KEPT_DIR)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(int(n[len("params-epoch-"):-len(".npz")]) for n in names
                  if n.startswith("params-epoch-") and n.endswith(".npz") and n[13:-4].isdigit())


def new_state(config, train_y=None, valid_ami_images=0):
    """A fresh run: the generator seeded with config.seed, parameters initialised from it (section 3);
    for a classifying run the labeled stream over ``train_y`` (n, objects); the AMI columns when
    ``valid_ami_images`` > 0."""
    rng = numpy.random.default_rng(config.seed)
    params = init_params(config, rng)
    labeled = None
    if config.class_cost_x > 0:
        labeled = LabeledStream(labeled_subset(train_y, config.labeled_samples, config.n_classes, config.seed))
    return TrainState(params=params, adam=adam_init(params), rng=rng,
                      log={c: [] for c in log_columns(config, valid_ami_images)}, labeled=labeled,
                      valid_ami_images=valid_ami_images)


def data_identity(features, targets=None):
    """A short record of a training set (size and a hash of its values, and of the class targets
    when training uses them): a run resumes only on the same data."""
    a = numpy.ascontiguousarray(features, dtype=numpy.float32)
    identity = {"images": int(a.shape[0]), "inputs": int(a.shape[1]), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
    if targets is not None:
        identity["targets_sha256"] = hashlib.sha256(numpy.ascontiguousarray(targets, dtype=numpy.int64)).hexdigest()
    return identity


def check_targets(targets, features, config, source):
    """Raise DataError unless a classifying run's ``targets`` are (n, objects_per_sample) labels in 0..C-1."""
    if targets is None:
        raise DataError(f"{source}: the model classifies (class_cost_x > 0) but the data has no class targets "
                        f"(a TextureMNIST file is needed)")
    t = numpy.asarray(targets)
    if t.ndim != 2 or len(t) != len(features):
        raise DataError(f"{source}: targets have shape {t.shape}, expected ({len(features)}, objects)")
    if t.shape[1] != config.objects_per_sample:
        raise DataError(f"{source}: images have {t.shape[1]} digit(s), the config's objects_per_sample is "
                        f"{config.objects_per_sample} (TextureMNIST1 or 2 for another model?)")
    if len(t) and (t.min() < 0 or t.max() >= config.n_classes):
        raise DataError(f"{source}: targets outside 0..{config.n_classes - 1}")


def check_data(features, config, source):
    """Raise DataError unless ``features`` is (n, N) with the config's N, finite, and in {0, 1} for a binary model."""
    a = numpy.asarray(features)
    if a.ndim != 2:
        raise DataError(f"{source}: features have shape {a.shape}, expected (images, inputs)")
    if a.shape[1] != config.n_inputs:
        raise DataError(f"{source}: images have {a.shape[1]} inputs, but the config expects "
                        f"N = {config.n_inputs}: a data file of another dataset or size?")
    if len(a) == 0:
        raise DataError(f"{source}: no images")
    if not numpy.all(numpy.isfinite(a)):
        raise DataError(f"{source}: features contain NaN or infinite values")
    if config.input_type == "binary" and not numpy.all((a == 0) | (a == 1)):
        raise DataError(f"{source}: features are not binary, but the config's model is binary "
                        f"(a data file of another dataset?)")


def load_split(path, split, config):
    """One split of a dataset file (tagger_ref.files.datasets) checked against ``config``: its input
    type and N must be the model's. Returns the Dataset (``.features`` (n, N), ``.mask`` (n, G, N))."""
    from ..files.datasets import load_dataset
    data = load_dataset(path, split)
    if data.input_type != config.input_type:
        raise DataError(f"data file {path} holds {data.name} ({data.input_type} inputs), but the config's "
                        f"model is {config.input_type}")
    check_data(data.features, config, f"data file {path}, split {split!r}")
    return data


# ---------------------------------------------------------------------------------------------
# checkpoints

def save_checkpoint(path, state, config, data_id):
    """Write one `.npz`: ``param/<name>``, ``adam/m/<name>``, ``adam/v/<name>``, ``adam/t``, the
    counters ``epoch``, ``step``, ``batch``, the epoch's ``order`` and ``cost_sum``, the log as
    ``log/<column>`` arrays, a semi-supervised run's labeled stream (``labeled/index``,
    ``labeled/order``, ``labeled/position``), ``seconds``, ``cpu_seconds``, ``valid_ami_images``, and JSON
    strings ``rng_json`` (the generator's ``bit_generator.state``), ``config_json``, ``data_json`` and
    ``log_columns_json`` (the log's columns in order). Atomic (fileio.save_npz)."""
    arrays = {f"param/{k}": to_numpy(v) for k, v in state.params.items()}
    arrays.update({f"adam/m/{k}": to_numpy(v) for k, v in state.adam["m"].items()})
    arrays.update({f"adam/v/{k}": to_numpy(v) for k, v in state.adam["v"].items()})
    arrays.update({f"log/{c}": numpy.asarray(values, dtype=numpy.float64) for c, values in state.log.items()})
    if state.labeled is not None:
        arrays.update({f"labeled/{k}": v for k, v in state.labeled.arrays().items()})
    arrays.update({
        "adam/t": numpy.int64(state.adam["t"]), "epoch": numpy.int64(state.epoch), "step": numpy.int64(state.step),
        "batch": numpy.int64(state.batch), "order": numpy.asarray(state.order, dtype=numpy.int64),
        "cost_sum": numpy.float64(state.cost_sum), "seconds": numpy.float64(state.seconds),
        "cpu_seconds": numpy.float64(state.cpu_seconds), "valid_ami_images": numpy.int64(state.valid_ami_images),
        "log_columns_json": numpy.str_(json.dumps(list(state.log))),
        "rng_json": numpy.str_(json.dumps(state.rng.bit_generator.state)),
        "config_json": numpy.str_(json.dumps(config.to_dict())),
        "data_json": numpy.str_(json.dumps(data_id)),
    })
    save_npz(path, arrays)


def load_checkpoint(path):
    """Read a checkpoint. Returns ``(state, config, data_id)``; CheckpointError if it is unreadable or incomplete."""
    raw = load_npz(path, CheckpointError, what="checkpoint")
    try:
        config = from_dict(json.loads(str(raw["config_json"])), source=f"the config stored in checkpoint {path}")
        names = list(param_shapes(config))
        # checkpoints written before the AMI columns existed hold neither key
        ami_images = int(raw["valid_ami_images"]) if "valid_ami_images" in raw else 0
        columns = (json.loads(str(raw["log_columns_json"])) if "log_columns_json" in raw
                   else list(log_columns(config)))
        rng_state = json.loads(str(raw["rng_json"]))
        rng = numpy.random.Generator(getattr(numpy.random, rng_state["bit_generator"])())
        rng.bit_generator.state = rng_state
        state = TrainState(
            params={k: raw[f"param/{k}"] for k in names},
            adam={"t": int(raw["adam/t"]), "m": {k: raw[f"adam/m/{k}"] for k in names},
                  "v": {k: raw[f"adam/v/{k}"] for k in names}},
            rng=rng, epoch=int(raw["epoch"]), step=int(raw["step"]), batch=int(raw["batch"]),
            order=raw["order"], cost_sum=float(raw["cost_sum"]),
            log={c: raw[f"log/{c}"].tolist() for c in columns}, seconds=float(raw["seconds"]),
            cpu_seconds=float(raw["cpu_seconds"]), valid_ami_images=ami_images)
        if config.class_cost_x > 0:
            state.labeled = LabeledStream.from_arrays({k: raw[f"labeled/{k}"] for k in ("index", "order", "position")})
        data_id = json.loads(str(raw["data_json"]))
    except KeyError as e:
        raise CheckpointError(f"checkpoint {path} lacks {e.args[0]!r}: not a tagger-ref training checkpoint") from None
    except (ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be read: {e}") from None
    check_state_arrays(state, param_shapes(config), path)
    return state, config, data_id


def check_state_arrays(state, shapes, path):
    """CheckpointError unless every parameter and both of Adam's moments of it have the config's
    shape (``shapes``: name -> shape), a real dtype and finite values: a damaged checkpoint is
    refused when it is read, before anything is written or computed from it."""
    problems = []
    for name, shape in shapes.items():
        for what, a in (("parameter", state.params[name]), ("Adam's m of", state.adam["m"][name]),
                        ("Adam's v of", state.adam["v"][name])):
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


def load_run(run_dir, read_checkpoint=None):
    """(config, params) of the latest checkpoint in a run folder, read by ``read_checkpoint``
    (default ``load_checkpoint``; the baselines pass theirs)."""
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise CheckpointError(f"{run_dir} holds no {CHECKPOINT}: not a training run folder, or training never started")
    state, config, _ = (read_checkpoint or load_checkpoint)(path)
    return config, state.params


def log_csv(log):
    """The text of log.csv from the log columns (a dict in the order of ``log_columns``)."""
    formats = {"epoch": "{:.0f}", "step": "{:.0f}", "seconds": "{:.1f}", "cpu_seconds": "{:.1f}",
               "valid_class_error": "{:.2f}", "train_class_error": "{:.2f}"}
    lines = [",".join(log)]
    for row in zip(*log.values()):
        lines.append(",".join(formats.get(c, "{:.6f}").format(v) for c, v in zip(log, row)))
    return "\n".join(lines) + "\n"


def _same_config(a, b):
    """Configs equal in every field but the epoch count (which --epochs may change on resume)."""
    return a.replace(num_epochs=0) == b.replace(num_epochs=0)


def load_init_source(path):
    """The parameters to start from (``--init-from``): the latest checkpoint of a run folder, or a
    parameter ``.npz``. Returns {name: array}."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return load_run(path)[1]
    return load_npz(path, CheckpointError, what="--init-from parameter file")


def plan_transfer(source, config):
    """Which parameters a new run of ``config`` takes from ``source`` ({name: array}).

    Returns {"copied": names in both with equal shapes, "new": the model's names missing from
    ``source`` (they keep their initial values), "dropped": names of ``source`` the model does
    not have (e.g. the old top's softmax scale ``f_2_c`` when the Ladder grows)}. A name in both
    with another shape is a CheckpointError naming it.
    """
    shapes = param_shapes(config)
    wrong = [f"{k} has shape {numpy.shape(source[k])} there, {tuple(shape)} in this model"
             for k, shape in shapes.items() if k in source and numpy.shape(source[k]) != tuple(shape)]
    if wrong:
        raise CheckpointError("--init-from: parameters of the same name and another shape: " + "; ".join(wrong))
    return {"copied": [k for k in shapes if k in source], "new": [k for k in shapes if k not in source],
            "dropped": [k for k in source if k not in shapes]}


def transfer_params(params, source, plan):
    """``params`` with the entries ``plan["copied"]`` replaced by ``source``'s (in params' dtype)."""
    out = dict(params)
    for k in plan["copied"]:
        out[k] = numpy.asarray(source[k], dtype=params[k].dtype).copy()
    return out


def prepare_run(run_dir, config, data_id, resume, train_y=None, init_from=None, valid_ami_images=0):
    """Create or reopen a run folder. Returns ``(state, config)``.

    A fresh run refuses a folder that already holds a checkpoint; ``resume`` needs one whose
    config (all fields but num_epochs; ``config`` None accepts the stored one) and training
    data match. ``init_from`` = (source parameters, plan of ``plan_transfer``): a fresh run
    starts from them, with Adam's state fresh. ``valid_ami_images`` is a fresh run's (a resumed
    run keeps the checkpoint's).
    """
    path = os.path.join(run_dir, CHECKPOINT)
    if resume:
        if not os.path.isfile(path):
            raise CheckpointError(f"--resume: {run_dir} holds no {CHECKPOINT} to continue from")
        state, stored, stored_data = load_checkpoint(path)
        if config is not None and not _same_config(config, stored):
            diff = [f"{k}: {v!r} in the checkpoint, {getattr(config, k)!r} now"
                    for k, v in stored.to_dict().items() if k != "num_epochs" and v != config.to_dict()[k]]
            raise CheckpointError(f"--resume with a different config than the checkpoint in {run_dir} ({'; '.join(diff)})")
        if stored_data != data_id:
            raise CheckpointError(f"--resume with other training data than the run in {run_dir} was trained on "
                                  f"(checkpoint: {stored_data['images']} images, sha256 {stored_data['sha256'][:12]}; "
                                  f"now: {data_id['images']} images, sha256 {data_id['sha256'][:12]})")
        config = stored.replace(num_epochs=config.num_epochs) if config is not None else stored
        return state, config
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise OutputError(f"cannot use {run_dir} as a run folder: it is a file")
    if os.path.isfile(path):
        raise CheckpointError(f"{run_dir} already holds a training checkpoint: pass --resume to continue it, "
                              f"or choose another folder")
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create run folder {run_dir}: {e.strerror}") from None
    if not os.access(run_dir, os.W_OK):
        raise OutputError(f"cannot write to run folder {run_dir}")
    state = new_state(config, train_y, valid_ami_images)
    if init_from is not None:
        state.params = transfer_params(state.params, *init_from)
        state.adam = adam_init(state.params)
    return state, config


def nothing_to_do(state, config, run_dir, echo=None):
    """Whether a resumed run has already done ``config.num_epochs`` epochs: then nothing is trained
    and nothing is written (config.json, the checkpoint and the log stay as they are; params.npz is
    written only if a kill left none). Fewer epochs than the run has done is a CheckpointError:
    training cannot be undone, and config.json must not claim fewer epochs than the checkpoint holds."""
    if state.epoch > config.num_epochs:
        raise CheckpointError(f"--resume --epochs {config.num_epochs}: the run in {run_dir} has done {state.epoch} "
                              f"epochs already, and training cannot be undone (--epochs counts all epochs: "
                              f"{state.epoch} does nothing, more trains on)")
    if state.epoch < config.num_epochs:
        return False
    if not os.path.isfile(os.path.join(run_dir, PARAMS)):
        save_params(os.path.join(run_dir, PARAMS), state.params)
    if echo:
        echo(f"nothing to do: the run in {run_dir} has done its {state.epoch} epochs; nothing was changed "
             f"(raise --epochs to train on)")
    return True


# ---------------------------------------------------------------------------------------------
# the loop

@contextlib.contextmanager
def stop_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """While active, SIGINT and SIGTERM only record their name; yields a function returning the
    first one received (or None), which the training loop polls after every step. A second
    signal aborts at once (KeyboardInterrupt); the last complete checkpoint stays in place."""
    received = []

    def handler(signum, frame):
        received.append(signal.Signals(signum).name)
        if len(received) > 1:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield lambda: received[0] if received else None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _check_finite(cost, grads, state, checkpoint_path):
    """Raise TrainingError naming the step if the cost or a gradient is not finite."""
    bad = None
    if not numpy.isfinite(cost):
        bad = f"training cost {float(cost)}"
    else:
        nonfinite = [k for k, g in grads.items() if not numpy.all(numpy.isfinite(g))]
        if nonfinite:
            bad = f"gradient of {', '.join(nonfinite)}"
    if bad:
        raise TrainingError(f"non-finite {bad} at step {state.step + 1} (epoch {state.epoch + 1}, batch "
                            f"{state.batch + 1}); training stopped, the last good checkpoint {checkpoint_path} "
                            f"(step {_checkpoint_step(checkpoint_path)}) is kept")


def _stored_ami_images(path):
    """valid_ami_images of a checkpoint (None if unreadable: load_checkpoint then says why)."""
    try:
        with numpy.load(path) as f:
            return int(f["valid_ami_images"]) if "valid_ami_images" in f.files else 0
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError):
        return None


def _checkpoint_step(path):
    try:
        with numpy.load(path) as f:
            return int(f["step"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, zlib.error, EOFError):
        return "unknown"



def batch_cost_and_grad(params, config, x, rng, labeled_x=None, labeled_y=None):
    """The cost and gradients of one training batch: the step that every Tagger training takes
    (``train``, ``benchmarks/step_time.py``, the device checks), followed by ``adam_update``.

    x (B, N): clean images; their corruption and initial mask logits are drawn from ``rng``
    (``files.inputs.make_inputs``). Semi-supervised, ``labeled_x`` (B, N) and their targets
    ``labeled_y`` are drawn for after them (``make_semi_supervised_inputs``). Fast path (``ops=FAST``).
    """
    if labeled_x is None:
        inputs = make_inputs(config, x, rng)
    else:
        inputs = make_semi_supervised_inputs(config, x, labeled_x, labeled_y, rng)
    return cost_and_grad(params, config, inputs, ops=FAST)   # maths/fused.py's derivatives


def run_epochs(state, config, run_dir, data_id, n_images, step, validate, max_seconds=None, max_cpu_seconds=None,
               stop_requested=None, progress=False, echo=None, after_epoch=None):
    """The epoch loop of every training (Tagger's and the baselines'), until ``config.num_epochs``.

    Each epoch draws a permutation of the ``n_images`` training images from ``state.rng`` and
    takes ``n // B`` batches of it; ``step(rows)`` returns the cost and gradients of one batch
    (drawing whatever else it needs from ``state.rng``), and Adam updates ``state.params``. After
    a complete epoch ``validate()`` returns (validation columns of the log, their words for the
    epoch line). The checkpoint and log.csv are written after every epoch and when training stops
    early (``max_seconds`` of wall clock or ``max_cpu_seconds`` of this process in this session,
    or ``stop_requested()`` returning a name); ``state`` is updated in place. ``after_epoch()``, if
    given, is called after each complete epoch's log row, before that epoch's checkpoint.
    Returns the status: "done", "time limit" or the signal's name.
    """
    B = config.batch_size
    n_batches = steps_per_epoch(n_images, B)
    checkpoint_path = os.path.join(run_dir, CHECKPOINT)
    started, cpu_started = time.monotonic(), time.process_time()
    seconds_before, cpu_before = state.seconds, state.cpu_seconds

    def clocks():
        """(wall, CPU) seconds of training, over all sessions."""
        return seconds_before + time.monotonic() - started, cpu_before + time.process_time() - cpu_started

    status = "done"
    bar = tqdm(total=config.num_epochs * n_batches, initial=min(state.step, config.num_epochs * n_batches),
               unit="step", disable=not progress, dynamic_ncols=True, mininterval=1.0)
    try:
        while state.epoch < config.num_epochs and status == "done":
            if state.batch == 0:
                state.order = state.rng.permutation(n_images)
                state.cost_sum = 0.0
            bar.set_description(f"epoch {state.epoch + 1}/{config.num_epochs}")
            while state.batch < n_batches:
                cost, grads = step(state.order[state.batch * B:(state.batch + 1) * B])
                _check_finite(cost, grads, state, checkpoint_path)
                state.params, state.adam = adam_update(state.params, grads, state.adam, config.lr)
                state.step += 1
                state.batch += 1
                state.cost_sum += float(to_numpy(cost))
                bar.update(1)
                bar.set_postfix(cost=f"{state.cost_sum / state.batch:.4f}", refresh=False)
                stop = stop_requested() if stop_requested else None
                out_of_time = ((max_seconds is not None and time.monotonic() - started >= max_seconds) or
                               (max_cpu_seconds is not None and time.process_time() - cpu_started >= max_cpu_seconds))
                if stop or out_of_time:
                    status = stop or "time limit"
                    break
            state.seconds, state.cpu_seconds = clocks()
            if state.batch == n_batches:                                    # the epoch is complete
                row, text = validate()
                state.epoch += 1
                seconds, cpu_seconds = clocks()
                row.update(epoch=state.epoch, step=state.step, train_cost=state.cost_sum / n_batches, seconds=seconds,
                           cpu_seconds=cpu_seconds)
                for column in state.log:
                    state.log[column].append(row[column])
                state.batch, state.order, state.cost_sum = 0, numpy.zeros(0, numpy.int64), 0.0
                if echo:
                    echo(f"epoch {state.epoch}: train cost {row['train_cost']:.4f}, {text}, {seconds:.0f} s")
                if after_epoch:
                    after_epoch()
            save_checkpoint(checkpoint_path, state, config, data_id)
            write_text(os.path.join(run_dir, LOG), log_csv(state.log))
    finally:
        bar.close()
    return status

def train(config, train_x, valid_x, run_dir, resume=False, max_seconds=None, max_cpu_seconds=None, valid_images=None,
          stop_requested=None, progress=False, echo=None, train_y=None, valid_y=None, init_from=None,
          valid_mask=None, valid_ami_images=None, keep_every=None, manifest=None):
    """Train (or continue) the run in ``run_dir`` until ``config.num_epochs`` epochs are done.

    train_x (n, N) and valid_x (n_valid, N) are clean images. ``max_seconds`` stops training
    after the step that passes that many wall-clock seconds of this session, ``max_cpu_seconds``
    after the step that passes that many CPU seconds of this process (on a lightly shared
    machine about the work that fits that time on an idle one; not under heavy load, see
    docs/training.md); ``stop_requested()`` (e.g. from
    :func:`stop_signals`) returning a name stops it after the current step. Each writes a
    checkpoint first, so ``resume=True`` continues where it stopped. ``valid_images`` limits
    validation to the first that many images. ``progress`` shows a tqdm bar with the epoch's
    running cost; ``echo`` (e.g. ``tqdm.write``) receives one line per epoch.
    A classifying config (``class_cost_x > 0``) needs the class targets ``train_y`` (n, objects)
    and ``valid_y`` and trains semi-supervised (module doc). ``init_from`` (a run folder or a
    parameter file) starts a new run from its parameters (:func:`plan_transfer`); what was copied,
    left new and dropped is written to ``init_from.json`` in the run folder.
    With the validation images' ground-truth masks ``valid_mask`` (n_valid, G, N), every epoch also
    scores the AMI (``AMI_COLUMNS``) on the first ``valid_ami_images`` of them (default
    ``VALID_AMI_IMAGES``, at most all; 0: no AMI columns); a resumed run keeps the number it started
    with. ``keep_every`` E keeps the parameters after every E-th epoch (``kept_params_path``).
    ``manifest`` (a ``manifest.Segment``) is entered once the run folder is ready and completed
    with the status and steps however training ends.
    Runs on the active device (``backend.use_device``); the returned and saved values are NumPy.
    Steps and validation take the fast path (``ops=FAST``; docs/training.md, "Fast path"). The
    command line also keeps freed memory in the process (``memory.keep_freed_memory``), which saves
    up to a fifth of a CPU step; from Python, call it yourself if you want that (it is process-wide).
    Returns ``{"status": "done" | "time limit" | <signal name>, "epoch", "step", "config"}``.
    """
    check_data(train_x, config, "training data")
    check_data(valid_x, config, "validation data")
    classify = config.class_cost_x > 0
    if classify:
        check_targets(train_y, train_x, config, "training data")
        check_targets(valid_y, valid_x, config, "validation data")
    B = config.batch_size
    if len(train_x) < B:
        raise DataError(f"training data has {len(train_x)} images, fewer than one batch of {B}")
    if classify and not resume:                  # the labeled subset's errors before the run folder is made
        n_labeled = len(labeled_subset(train_y, config.labeled_samples, config.n_classes, config.seed))
        if n_labeled < B:
            raise DataError(f"labeled_samples = {config.labeled_samples}: fewer labeled images than one batch of {B}")
    transfer = None
    if init_from is not None:
        if resume:
            raise CheckpointError("--init-from starts a new run; it cannot be combined with --resume")
        source = load_init_source(init_from)
        transfer = (source, plan_transfer(source, config))
    if keep_every is not None and keep_every < 1:
        raise TrainingError(f"keep_every must be at least 1, got {keep_every}")
    if valid_ami_images is not None and valid_ami_images < 0:
        raise DataError(f"valid_ami_images must be at least 0, got {valid_ami_images}")
    ami_images = 0 if valid_mask is None else min(len(valid_x), VALID_AMI_IMAGES if valid_ami_images is None
                                                  else valid_ami_images)
    if valid_mask is not None and numpy.shape(valid_mask)[::2] != (len(valid_x), config.n_inputs):
        raise DataError(f"validation masks have shape {numpy.shape(valid_mask)}, expected "
                        f"({len(valid_x)}, masks, {config.n_inputs})")
    if resume:
        stored_ami = _stored_ami_images(os.path.join(run_dir, CHECKPOINT))
        if valid_ami_images is not None and stored_ami is not None and ami_images != stored_ami:
            raise CheckpointError(f"--resume: the run in {run_dir} scores the AMI on {stored_ami} validation "
                                  f"image(s), not {ami_images}; leave --valid-ami-images out to keep it")
    data_id = data_identity(train_x, train_y if classify else None)
    state, config = prepare_run(run_dir, config, data_id, resume, train_y, transfer, ami_images)
    if state.valid_ami_images and valid_mask is None:
        raise DataError(f"the run in {run_dir} scores the AMI of validation images, but no validation masks were given")
    if resume and nothing_to_do(state, config, run_dir, echo):
        return {"status": "done", "epoch": state.epoch, "step": state.step, "config": config}
    if manifest is not None:
        manifest.steps_fn = lambda: state.step
    with optional(manifest):
        checkpoint_path = os.path.join(run_dir, CHECKPOINT)
        write_json(os.path.join(run_dir, CONFIG), config.to_dict())
        if transfer is not None:
            plan = transfer[1]
            write_json(os.path.join(run_dir, INIT_FROM), dict(source=os.fspath(init_from), **plan))
            if echo:
                echo(f"parameters from {init_from}: {len(plan['copied'])} copied; left at their initial values: "
                     f"{', '.join(plan['new']) or 'none'}; dropped: {', '.join(plan['dropped']) or 'none'}")
        if not resume:
            save_checkpoint(checkpoint_path, state, config, data_id)           # step 0: resumable from the start
        # parameters and Adam's moments live on the active device for the whole run (no-op on the CPU)
        state.params = to_device(state.params)
        state.adam = {"t": state.adam["t"], "m": to_device(state.adam["m"]), "v": to_device(state.adam["v"])}
        ami_x = numpy.asarray(valid_x)[:state.valid_ami_images]
        ami_mask = None if valid_mask is None else numpy.asarray(valid_mask)[:state.valid_ami_images]
        valid_x = numpy.asarray(valid_x)[:valid_images]
        train_x = numpy.asarray(train_x, dtype=config.dtype)
        if classify:
            valid_y, train_y = numpy.asarray(valid_y)[:valid_images], numpy.asarray(train_y)
            scored = (state.labeled.index if state.labeled is not None       # train_class_error's images
                      else numpy.arange(min(len(train_x), len(valid_x))))

        def step(rows):
            """One batch's cost and gradients: the unlabeled ``rows``, and a labeled batch when semi-supervised."""
            if state.labeled is None:
                return batch_cost_and_grad(state.params, config, train_x[rows], state.rng)
            labeled = state.labeled.next_rows(state.rng, B)                 # semi-supervised: two batches
            return batch_cost_and_grad(state.params, config, train_x[rows], state.rng, train_x[labeled], train_y[labeled])

        def validate():
            """The epoch's validation columns and their words for the epoch line."""
            valid_rng = numpy.random.default_rng([config.seed, VALID_STREAM])
            if classify:
                scores = evaluate_classifier(state.params, config, valid_x, valid_y, valid_rng, config.n_iterations)
                valid = scores["denoising_cost"]
                row = {"valid_class_cost": float(scores["class_cost"][-1]),
                       "valid_class_error": float(scores["class_error"][-1])}
                if "train_class_error" in state.log:
                    train_rng = numpy.random.default_rng([config.seed, TRAIN_CLASS_STREAM])
                    row["train_class_error"] = float(evaluate_classifier(
                        state.params, config, train_x[scored], train_y[scored], train_rng,
                        config.n_iterations)["class_error"][-1])
            else:
                valid = denoising_costs(state.params, config, valid_x, valid_rng, config.n_iterations)
                row = {}
            row.update(valid_cost=float(valid.mean()), valid_cost_last=float(valid[-1]))
            text = f"validation cost {row['valid_cost']:.4f} (last iteration {row['valid_cost_last']:.4f})"
            if classify:
                text += f", validation class cost {row['valid_class_cost']:.4f}, error {row['valid_class_error']:.2f} %"
                if "train_class_error" in row:
                    text += f" (labeled training images {row['train_class_error']:.2f} %)"
            if state.valid_ami_images:
                ami_rng = numpy.random.default_rng([config.seed, VALID_AMI_STREAM])
                ami = ami_scores(state.params, config, ami_x, ami_mask, ami_rng, config.n_iterations)[-1]  # last iteration
                row.update(valid_ami=float(numpy.mean(ami)), valid_ami_median=float(numpy.median(ami)))
                text += f", AMI {row['valid_ami']:.3f} (median {row['valid_ami_median']:.3f})"
            return row, text

        def keep():
            """--keep-every: the parameters after this epoch, in the exchange format."""
            if keep_every and state.epoch % keep_every == 0:
                os.makedirs(os.path.join(run_dir, KEPT_DIR), exist_ok=True)
                save_params(kept_params_path(run_dir, state.epoch), state.params)

        status = run_epochs(state, config, run_dir, data_id, len(train_x), step, validate, max_seconds=max_seconds,
                            max_cpu_seconds=max_cpu_seconds, stop_requested=stop_requested, progress=progress, echo=echo,
                            after_epoch=keep)
        save_params(os.path.join(run_dir, PARAMS), state.params)
        if manifest is not None:
            manifest.status = status
    return {"status": status, "epoch": state.epoch, "step": state.step, "config": config}
