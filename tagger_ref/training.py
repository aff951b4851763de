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

import numpy
from tqdm import tqdm

from .adam import adam_init, adam_update
from .backend import to_device, to_numpy
from .config import from_dict
from .errors import CheckpointError, DataError, OutputError, TrainingError
from .evaluation import denoising_costs
from .fileio import load_npz, save_npz, write_json, write_text
from .maths.fused import fast_derivatives
from .maths.gradients import cost_and_grad
from .inputs import make_inputs
from .params import init_params, param_shapes, save_params

CHECKPOINT = "checkpoint.npz"
LOG = "log.csv"
CONFIG = "config.json"
PARAMS = "params.npz"
# log.csv: epochs and steps completed; the epoch's mean training cost (the objective total_cost);
# the validation denoising cost averaged over the T iterations and that of the last iteration;
# wall-clock and CPU seconds (this process, all threads) of training so far: the only columns
# that differ between identical runs.
LOG_COLUMNS = ("epoch", "step", "train_cost", "valid_cost", "valid_cost_last", "seconds", "cpu_seconds")
VALID_STREAM = 1  # validation generator: default_rng([seed, VALID_STREAM])


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


def new_state(config):
    """A fresh run: the generator seeded with config.seed, parameters initialised from it (section 3)."""
    rng = numpy.random.default_rng(config.seed)
    params = init_params(config, rng)
    return TrainState(params=params, adam=adam_init(params), rng=rng)


def data_identity(features):
    """A short record of a training set (size and a hash of its values): a run resumes only on the same data."""
    a = numpy.ascontiguousarray(features, dtype=numpy.float32)
    return {"images": int(a.shape[0]), "inputs": int(a.shape[1]), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}


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
    """One split of a dataset file (tagger_ref.datasets) checked against ``config``: its input
    type and N must be the model's. Returns the Dataset (``.features`` (n, N), ``.mask`` (n, G, N))."""
    from .datasets import load_dataset
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
    ``log/<column>`` arrays, ``seconds`` and ``cpu_seconds``, and JSON strings ``rng_json`` (the generator's
    ``bit_generator.state``), ``config_json`` and ``data_json``. Atomic (fileio.save_npz)."""
    arrays = {f"param/{k}": to_numpy(v) for k, v in state.params.items()}
    arrays.update({f"adam/m/{k}": to_numpy(v) for k, v in state.adam["m"].items()})
    arrays.update({f"adam/v/{k}": to_numpy(v) for k, v in state.adam["v"].items()})
    arrays.update({f"log/{c}": numpy.asarray(state.log[c], dtype=numpy.float64) for c in LOG_COLUMNS})
    arrays.update({
        "adam/t": numpy.int64(state.adam["t"]), "epoch": numpy.int64(state.epoch), "step": numpy.int64(state.step),
        "batch": numpy.int64(state.batch), "order": numpy.asarray(state.order, dtype=numpy.int64),
        "cost_sum": numpy.float64(state.cost_sum), "seconds": numpy.float64(state.seconds),
        "cpu_seconds": numpy.float64(state.cpu_seconds),
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
        rng_state = json.loads(str(raw["rng_json"]))
        rng = numpy.random.Generator(getattr(numpy.random, rng_state["bit_generator"])())
        rng.bit_generator.state = rng_state
        state = TrainState(
            params={k: raw[f"param/{k}"] for k in names},
            adam={"t": int(raw["adam/t"]), "m": {k: raw[f"adam/m/{k}"] for k in names},
                  "v": {k: raw[f"adam/v/{k}"] for k in names}},
            rng=rng, epoch=int(raw["epoch"]), step=int(raw["step"]), batch=int(raw["batch"]),
            order=raw["order"], cost_sum=float(raw["cost_sum"]),
            log={c: raw[f"log/{c}"].tolist() for c in LOG_COLUMNS}, seconds=float(raw["seconds"]),
            cpu_seconds=float(raw["cpu_seconds"]))
        data_id = json.loads(str(raw["data_json"]))
    except KeyError as e:
        raise CheckpointError(f"checkpoint {path} lacks {e.args[0]!r}: not a tagger-ref training checkpoint") from None
    except (ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be read: {e}") from None
    return state, config, data_id


def load_run(run_dir):
    """(config, params) of the latest checkpoint in a run folder."""
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise CheckpointError(f"{run_dir} holds no {CHECKPOINT}: not a training run folder, or training never started")
    state, config, _ = load_checkpoint(path)
    return config, state.params


def log_csv(log):
    """The text of log.csv from the log columns."""
    lines = [",".join(LOG_COLUMNS)]
    for row in zip(*(log[c] for c in LOG_COLUMNS)):
        epoch, step, train, valid, valid_last, seconds, cpu_seconds = row
        lines.append(f"{int(epoch)},{int(step)},{train:.6f},{valid:.6f},{valid_last:.6f},{seconds:.1f},{cpu_seconds:.1f}")
    return "\n".join(lines) + "\n"


def _same_config(a, b):
    """Configs equal in every field but the epoch count (which --epochs may change on resume)."""
    return a.replace(num_epochs=0) == b.replace(num_epochs=0)


def prepare_run(run_dir, config, data_id, resume):
    """Create or reopen a run folder. Returns ``(state, config)``.

    A fresh run refuses a folder that already holds a checkpoint; ``resume`` needs one whose
    config (all fields but num_epochs; ``config`` None accepts the stored one) and training
    data match.
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
    return new_state(config), config


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


def _checkpoint_step(path):
    try:
        with numpy.load(path) as f:
            return int(f["step"])
    except (OSError, KeyError, ValueError):
        return "unknown"


def train(config, train_x, valid_x, run_dir, resume=False, max_seconds=None, max_cpu_seconds=None, valid_images=None,
          stop_requested=None, progress=False, echo=None):
    """Train (or continue) the run in ``run_dir`` until ``config.num_epochs`` epochs are done.

    train_x (n, N) and valid_x (n_valid, N) are clean images. ``max_seconds`` stops training
    after the step that passes that many wall-clock seconds of this session, ``max_cpu_seconds``
    after the step that passes that many CPU seconds of this process (on a shared machine, the
    work that fits that time on an idle one); ``stop_requested()`` (e.g. from
    :func:`stop_signals`) returning a name stops it after the current step. Each writes a
    checkpoint first, so ``resume=True`` continues where it stopped. ``valid_images`` limits
    validation to the first that many images. ``progress`` shows a tqdm bar with the epoch's
    running cost; ``echo`` (e.g. ``tqdm.write``) receives one line per epoch.
    Runs on the active device (``backend.use_device``); the returned and saved values are NumPy.
    Gradients take the fast path (``maths.fused``), the one place where it is switched on. The
    command line also keeps freed memory in the process (``memory.keep_freed_memory``), which saves
    up to a fifth of a CPU step; from Python, call it yourself if you want that (it is process-wide).
    Returns ``{"status": "done" | "time limit" | <signal name>, "epoch", "step", "config"}``.
    """
    check_data(train_x, config, "training data")
    check_data(valid_x, config, "validation data")
    B = config.batch_size
    if len(train_x) < B:
        raise DataError(f"training data has {len(train_x)} images, fewer than one batch of {B}")
    data_id = data_identity(train_x)
    state, config = prepare_run(run_dir, config, data_id, resume)
    checkpoint_path = os.path.join(run_dir, CHECKPOINT)
    write_json(os.path.join(run_dir, CONFIG), config.to_dict())
    if not resume:
        save_checkpoint(checkpoint_path, state, config, data_id)           # step 0: resumable from the start
    # parameters and Adam's moments live on the active device for the whole run (no-op on the CPU)
    state.params = to_device(state.params)
    state.adam = {"t": state.adam["t"], "m": to_device(state.adam["m"]), "v": to_device(state.adam["v"])}
    valid_x = numpy.asarray(valid_x)[:valid_images]
    train_x = numpy.asarray(train_x, dtype=config.dtype)
    n_batches = len(train_x) // B
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
                state.order = state.rng.permutation(len(train_x))
                state.cost_sum = 0.0
            bar.set_description(f"epoch {state.epoch + 1}/{config.num_epochs}")
            while state.batch < n_batches:
                rows = state.order[state.batch * B:(state.batch + 1) * B]
                inputs = make_inputs(config, train_x[rows], state.rng)
                with fast_derivatives():   # the hand-written derivatives of maths/fused.py
                    cost, grads = cost_and_grad(state.params, config, inputs)
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
                valid = denoising_costs(state.params, config, valid_x, numpy.random.default_rng([config.seed, VALID_STREAM]),
                                        config.n_iterations)
                state.epoch += 1
                row = (state.epoch, state.step, state.cost_sum / n_batches, float(valid.mean()), float(valid[-1]),
                       *clocks())
                for column, value in zip(LOG_COLUMNS, row):
                    state.log[column].append(value)
                state.batch, state.order, state.cost_sum = 0, numpy.zeros(0, numpy.int64), 0.0
                if echo:
                    echo(f"epoch {state.epoch}: train cost {row[2]:.4f}, validation cost {row[3]:.4f} "
                         f"(last iteration {row[4]:.4f}), {row[5]:.0f} s")
            save_checkpoint(checkpoint_path, state, config, data_id)
            write_text(os.path.join(run_dir, LOG), log_csv(state.log))
    finally:
        bar.close()
    save_params(os.path.join(run_dir, PARAMS), state.params)
    return {"status": status, "epoch": state.epoch, "step": state.step, "config": config}
