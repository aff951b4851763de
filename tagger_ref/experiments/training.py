"""Training (section 3.1): Adam on the denoising cost, backpropagated through all T iterations.

The optimiser is the config's (``experiments.optimizers``; Adam, the paper's, by default).

A run lives in a folder (``experiments.checkpoint``: checkpoint.npz, log.csv, config.json,
params.npz); the epoch loop is ``experiments.loop.run_epochs``, shared with the baselines. This
module is Tagger's part: its data checks, its log columns, its step (:func:`batch_cost_and_grad`),
its validation, ``--init-from`` and :func:`train`.

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

Training runs on the active device (``backend.use_device``): parameters and the optimiser's state are
moved there once (also on resume), each batch is copied there, and the draws are made on the
host by the run's generator and copied over, so CPU and GPU runs draw the same numbers and the
checkpoint's generator state is the whole story (docs/gpu.md, "Random draws"). Checkpoints,
params.npz and log.csv are written from NumPy copies (``to_numpy``).
"""

import dataclasses
import os
import typing

import numpy

from ..config import from_dict
from ..device.backend import to_device
from ..errors import CheckpointError, ConfigError, DataError
from ..files.fileio import load_npz, write_json
from ..files.params import save_params, value_problem
from ..maths.corruption import make_inputs, make_semi_supervised_inputs
from ..maths.gradients import cost_and_grad
from ..maths.init import init_params, param_shapes
from ..maths.ops import FAST
from . import optimizers
from .checkpoint import (
    CHECKPOINT,
    RunKind,
    TrainState,
    data_identity,
    read_checkpoint,
    stored_ami_images,
    train_in_folder,
)
from .checkpoint import load_run as load_run_of_kind
from .evaluation import ami_scores, denoising_costs, evaluate_classifier
from .loop import run_epochs
from .streams import LabeledStream, labeled_subset

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
# shows overfitting to the few labels.
CLASS_COLUMNS = ("valid_class_cost", "valid_class_error", "train_class_error")
# A run that scores its grouping (valid_ami_images > 0) adds, before the clocks, the mean and the
# median over images of the AMI at the last training iteration on the first valid_ami_images clean
# validation images, scored as evaluation scores it (evaluation.ami_scores).
AMI_COLUMNS = ("valid_ami", "valid_ami_median")
VALID_STREAM = 1  # validation generator: default_rng([seed, VALID_STREAM])
VALID_AMI_STREAM = 2  # the AMI's initial mask logits: default_rng([seed, VALID_AMI_STREAM]), afresh every epoch
TRAIN_CLASS_STREAM = 3  # train_class_error's draws: default_rng([seed, TRAIN_CLASS_STREAM]), afresh each epoch
# Images the AMI is scored on by default; what they cost an epoch: docs/training.md, "Grouping over training".
VALID_AMI_IMAGES = 200
KEPT_DIR = "epochs"  # --keep-every: epochs/params-epoch-<E>.npz, the parameters after epoch E


def log_columns(config, valid_ami_images=0):
    """The columns of log.csv (and of the checkpoint's log) of a run of ``config``, in order."""
    extra = (CLASS_COLUMNS if config.class_cost_x > 0 else ()) + (AMI_COLUMNS if valid_ami_images else ())
    return LOG_COLUMNS[:5] + extra + LOG_COLUMNS[5:]


# Tagger's runs: a config of this package's TaggerConfig; a baseline's checkpoint fails to read as one.
TAGGER_RUN = RunKind(
    name="training",
    from_dict=from_dict,
    param_shapes=param_shapes,
    log_columns=log_columns,
    labeled=lambda config: config.class_cost_x > 0,
)


def load_checkpoint(path):
    """Read a Tagger run's checkpoint. Returns ``(state, config, data_id)``; CheckpointError if it
    is unreadable or incomplete (``checkpoint.read_checkpoint``)."""
    return read_checkpoint(path, TAGGER_RUN)


def load_run(run_dir):
    """(config, params) of the latest checkpoint of a Tagger run folder."""
    return load_run_of_kind(run_dir, TAGGER_RUN)


def kept_params_path(run_dir, epoch):
    """Where ``--keep-every`` keeps the parameters after ``epoch``."""
    return os.path.join(run_dir, KEPT_DIR, f"params-epoch-{epoch:04d}.npz")


def kept_epochs(run_dir):
    """The epochs whose parameters a run folder keeps, ascending."""
    folder = os.path.join(run_dir, KEPT_DIR)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(
        int(n[len("params-epoch-") : -len(".npz")])
        for n in names
        if n.startswith("params-epoch-") and n.endswith(".npz") and n[13:-4].isdigit()
    )


def new_state(config, train_y=None, valid_ami_images=0):
    """A fresh run: the generator seeded with config.seed, parameters initialised from it (section 3);
    for a classifying run the labeled stream over ``train_y`` (n, objects); the AMI columns when
    ``valid_ami_images`` > 0."""
    rng = numpy.random.default_rng(config.seed)
    params = init_params(config, rng)
    labeled = None
    if config.class_cost_x > 0:
        labeled = LabeledStream(labeled_subset(train_y, config.labeled_samples, config.n_classes, config.seed))
    return TrainState(
        params=params,
        opt_state=optimizers.get(config.optimizer).init(params),
        rng=rng,
        log={c: [] for c in log_columns(config, valid_ami_images)},
        labeled=labeled,
        valid_ami_images=valid_ami_images,
    )


def check_targets(targets, features, config, source):
    """Raise DataError unless a classifying run's ``targets`` are (n, objects_per_sample) labels in 0..C-1."""
    if targets is None:
        raise DataError(
            f"{source}: the model classifies (class_cost_x > 0) but the data has no class targets "
            f"(a TextureMNIST file is needed)"
        )
    t = numpy.asarray(targets)
    if t.ndim != 2 or len(t) != len(features):
        raise DataError(f"{source}: targets have shape {t.shape}, expected ({len(features)}, objects)")
    if t.shape[1] != config.objects_per_sample:
        raise DataError(
            f"{source}: images have {t.shape[1]} digit(s), the config's objects_per_sample is "
            f"{config.objects_per_sample} (TextureMNIST1 or 2 for another model?)"
        )
    if len(t) and (t.min() < 0 or t.max() >= config.n_classes):
        raise DataError(f"{source}: targets outside 0..{config.n_classes - 1}")


def check_data(features, config, source):
    """Raise DataError unless ``features`` is (n, N) with the config's N, finite, and in {0, 1} for a binary model."""
    a = numpy.asarray(features)
    if a.ndim != 2:
        raise DataError(f"{source}: features have shape {a.shape}, expected (images, inputs)")
    if a.shape[1] != config.n_inputs:
        raise DataError(
            f"{source}: images have {a.shape[1]} inputs, but the config expects "
            f"N = {config.n_inputs}: a data file of another dataset or size?"
        )
    if len(a) == 0:
        raise DataError(f"{source}: no images")
    if not numpy.all(numpy.isfinite(a)):
        raise DataError(f"{source}: features contain NaN or infinite values")
    if config.input_type == "binary" and not numpy.all((a == 0) | (a == 1)):
        raise DataError(
            f"{source}: features are not binary, but the config's model is binary (a data file of another dataset?)"
        )


def load_split(path, split, config):
    """One split of a dataset file (tagger_ref.files.datasets) checked against ``config``: its input
    type and N must be the model's. Returns the Dataset (``.features`` (n, N), ``.mask`` (n, G, N))."""
    from ..files.datasets import load_dataset

    data = load_dataset(path, split)
    if data.input_type != config.input_type:
        raise DataError(
            f"data file {path} holds {data.name} ({data.input_type} inputs), but the config's "
            f"model is {config.input_type}"
        )
    check_data(data.features, config, f"data file {path}, split {split!r}")
    return data


def load_init_source(path):
    """The parameters to start from (``--init-from``): the latest checkpoint of a run folder, or a
    parameter ``.npz``. Returns {name: array}."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return load_run(path)[1]
    return load_npz(path, CheckpointError, what="--init-from parameter file")


def plan_transfer(source, config, where="--init-from"):
    """Which parameters a new run of ``config`` takes from ``source`` ({name: array}).

    Returns {"copied": names in both with equal shapes, "new": the model's names missing from
    ``source`` (they keep their initial values), "dropped": names of ``source`` the model does
    not have (e.g. the old top's softmax scale ``f_2_c`` when the Ladder grows)}. A name in both
    with another shape, or with values that ``--params`` would refuse (``params.value_problem``:
    not real numbers, non-finite, beyond the config's dtype), is a CheckpointError naming it and
    ``where`` the parameters came from.
    """
    shapes = param_shapes(config)
    wrong = [
        f"{k} has shape {numpy.shape(source[k])} there, {tuple(shape)} in this model"
        for k, shape in shapes.items()
        if k in source and numpy.shape(source[k]) != tuple(shape)
    ]
    if wrong:
        raise CheckpointError(f"{where}: parameters of the same name and another shape: " + "; ".join(wrong))
    problems = [value_problem(k, source[k], config.dtype) for k in shapes if k in source]
    bad = [problem for problem in problems if problem]
    if bad:
        raise CheckpointError(f"{where}: parameters that cannot be used: " + "; ".join(bad))
    return {
        "copied": [k for k in shapes if k in source],
        "new": [k for k in shapes if k not in source],
        "dropped": [k for k in source if k not in shapes],
    }


def transfer_params(params, source, plan):
    """``params`` with the entries ``plan["copied"]`` replaced by ``source``'s (in params' dtype)."""
    out = dict(params)
    for k in plan["copied"]:
        out[k] = numpy.asarray(source[k], dtype=params[k].dtype).copy()
    return out


def batch_cost_and_grad(params, config, x, rng, labeled_x=None, labeled_y=None):
    """The cost and gradients of one training batch: the step that every Tagger training takes
    (``train``, ``benchmarks/step_time.py``, the device checks), followed by the optimiser's update.

    x (B, N): clean images; their corruption and initial mask logits are drawn from ``rng``
    (``maths.corruption.make_inputs``). Semi-supervised, ``labeled_x`` (B, N) and their targets
    ``labeled_y`` are drawn for after them (``make_semi_supervised_inputs``). Fast path (``ops=FAST``).
    """
    if labeled_x is None:
        inputs = make_inputs(config, x, rng)
    else:
        inputs = make_semi_supervised_inputs(config, x, labeled_x, labeled_y, rng)
    return cost_and_grad(params, config, inputs, ops=FAST)  # maths/fused.py's derivatives


def train(
    config,
    train_x,
    valid_x,
    run_dir,
    resume=False,
    max_seconds=None,
    max_cpu_seconds=None,
    valid_images=None,
    stop_requested=None,
    progress=False,
    echo=None,
    train_y=None,
    valid_y=None,
    init_from=None,
    valid_mask=None,
    valid_ami_images=None,
    keep_every=None,
    manifest=None,
):
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
    command line also keeps freed memory in the process (``memory.keep_freed_memory``), which makes
    a CPU step faster (docs/numerics.md); from Python, call it yourself if you want that (it is
    process-wide).
    Returns ``{"status": "done" | "time limit" | <signal name>, "epoch", "step", "config"}``.
    """
    transfer, ami_images = check_arguments(
        config,
        train_x,
        valid_x,
        train_y,
        valid_y,
        run_dir,
        resume,
        init_from,
        valid_mask,
        valid_images,
        valid_ami_images,
        keep_every,
    )
    classify = config.class_cost_x > 0
    data_id = data_identity(train_x, train_y if classify else None)

    def fresh_state():
        state = new_state(config, train_y, ami_images)
        if transfer is not None:
            state.params = transfer_params(state.params, *transfer)
            state.opt_state = optimizers.get(config.optimizer).init(state.params)
        return state

    def check(state):
        if state.valid_ami_images and valid_mask is None:
            raise DataError(
                f"the run in {run_dir} scores the AMI of validation images, but no validation masks were given"
            )

    def body(state, config):
        if transfer is not None:
            record_transfer(run_dir, init_from, transfer[1], echo)
        # parameters and the optimiser's state live on the active device for the whole run (no-op on the CPU)
        state.params = to_device(state.params)
        state.opt_state = optimizers.get(config.optimizer).to_device(state.opt_state)
        data = EpochData.of(state, config, train_x, valid_x, train_y, valid_y, valid_mask, valid_images)
        return run_epochs(
            state,
            config,
            run_dir,
            data_id,
            len(data.train_x),
            lambda rows: tagger_step(state, config, data, rows),
            lambda: validate(state, config, data),
            max_seconds=max_seconds,
            max_cpu_seconds=max_cpu_seconds,
            stop_requested=stop_requested,
            progress=progress,
            echo=echo,
            after_epoch=lambda: keep_params(state, run_dir, keep_every),
        )

    return train_in_folder(run_dir, config, data_id, resume, TAGGER_RUN, fresh_state, body, manifest, echo, check)


def check_arguments(
    config,
    train_x,
    valid_x,
    train_y,
    valid_y,
    run_dir,
    resume,
    init_from,
    valid_mask,
    valid_images,
    valid_ami_images,
    keep_every,
):
    """Every check of :func:`train`'s arguments, before anything is written: the data (DataError),
    ``--init-from`` (CheckpointError), the ranges (ConfigError, as the command line's). Returns
    ``(transfer, ami_images)``: the parameters to start from and their plan (or None), and the
    validation images whose AMI each epoch scores."""
    check_data(train_x, config, "training data")
    check_data(valid_x, config, "validation data")
    classify = config.class_cost_x > 0
    if classify:
        check_targets(train_y, train_x, config, "training data")
        check_targets(valid_y, valid_x, config, "validation data")
    B = config.batch_size
    if len(train_x) < B:
        raise DataError(f"training data has {len(train_x)} images, fewer than one batch of {B}")
    if classify and not resume:  # the labeled subset's errors before the run folder is made
        n_labeled = len(labeled_subset(train_y, config.labeled_samples, config.n_classes, config.seed))
        if n_labeled < B:
            raise DataError(f"labeled_samples = {config.labeled_samples}: fewer labeled images than one batch of {B}")
    transfer = None
    if init_from is not None:
        if resume:
            raise CheckpointError("--init-from starts a new run; it cannot be combined with --resume")
        source = load_init_source(init_from)
        transfer = (source, plan_transfer(source, config, f"--init-from {os.fspath(init_from)}"))
    if keep_every is not None and keep_every < 1:
        raise ConfigError(f"keep_every must be at least 1, got {keep_every}")
    if valid_ami_images is not None and valid_ami_images < 0:
        raise ConfigError(f"valid_ami_images must be at least 0, got {valid_ami_images}")
    for name, value in (("valid_images", valid_images), ("valid_ami_images", valid_ami_images)):
        if value is not None and value > len(valid_x):  # asked for more than there is: said, not cut silently
            raise ConfigError(f"{name} = {value}, but the validation data holds {len(valid_x)} images")
    ami_images = (
        0
        if valid_mask is None
        else min(len(valid_x), VALID_AMI_IMAGES if valid_ami_images is None else valid_ami_images)
    )
    if valid_mask is not None and numpy.shape(valid_mask)[::2] != (len(valid_x), config.n_inputs):
        raise DataError(
            f"validation masks have shape {numpy.shape(valid_mask)}, expected "
            f"({len(valid_x)}, masks, {config.n_inputs})"
        )
    if resume:
        stored_ami = stored_ami_images(os.path.join(run_dir, CHECKPOINT))
        if valid_ami_images is not None and stored_ami is not None and ami_images != stored_ami:
            raise CheckpointError(
                f"--resume: the run in {run_dir} scores the AMI on {stored_ami} validation "
                f"image(s), not {ami_images}; leave --valid-ami-images out to keep it"
            )
    return transfer, ami_images


def record_transfer(run_dir, init_from, plan, echo=None):
    """``--init-from``: what was copied, left new and dropped, in init_from.json and in words."""
    write_json(os.path.join(run_dir, INIT_FROM), dict(source=os.fspath(init_from), **plan))
    if echo:
        echo(
            f"parameters from {init_from}: {len(plan['copied'])} copied; left at their initial values: "
            f"{', '.join(plan['new']) or 'none'}; dropped: {', '.join(plan['dropped']) or 'none'}"
        )


@dataclasses.dataclass(frozen=True)
class EpochData:
    """The arrays an epoch reads: training images (and targets), the validation images scored, and
    for a classifying run the labeled training images whose error the log shows (``scored``)."""

    train_x: numpy.ndarray  # (n, N) in the config's dtype
    valid_x: numpy.ndarray  # (n_valid, N), the first valid_images
    ami_x: numpy.ndarray  # (valid_ami_images, N)
    ami_mask: typing.Optional[numpy.ndarray] = None  # (valid_ami_images, G, N)
    train_y: typing.Optional[numpy.ndarray] = None  # (n, objects): classifying runs
    valid_y: typing.Optional[numpy.ndarray] = None
    scored: typing.Optional[numpy.ndarray] = None  # rows of train_x for train_class_error

    @classmethod
    def of(cls, state, config, train_x, valid_x, train_y, valid_y, valid_mask, valid_images):
        """The arrays of :func:`train`'s arguments, cut to the images validation scores."""
        ami_x = numpy.asarray(valid_x)[: state.valid_ami_images]
        ami_mask = None if valid_mask is None else numpy.asarray(valid_mask)[: state.valid_ami_images]
        valid_x = numpy.asarray(valid_x)[:valid_images]
        train_x = numpy.asarray(train_x, dtype=config.dtype)
        if config.class_cost_x <= 0:
            return cls(train_x, valid_x, ami_x, ami_mask)
        valid_y, train_y = numpy.asarray(valid_y)[:valid_images], numpy.asarray(train_y)
        # train_class_error's images: the labeled subset, or as many training images as validation has
        scored = state.labeled.index if state.labeled is not None else numpy.arange(min(len(train_x), len(valid_x)))
        return cls(train_x, valid_x, ami_x, ami_mask, train_y, valid_y, scored)


def tagger_step(state, config, data, rows):
    """One batch's cost and gradients: the unlabeled ``rows``, and a labeled batch when semi-supervised."""
    if state.labeled is None:
        return batch_cost_and_grad(state.params, config, data.train_x[rows], state.rng)
    labeled = state.labeled.next_rows(state.rng, config.batch_size)  # semi-supervised: two batches
    return batch_cost_and_grad(
        state.params, config, data.train_x[rows], state.rng, data.train_x[labeled], data.train_y[labeled]
    )


def validate(state, config, data):
    """The epoch's validation columns of the log and their words for the epoch line: the denoising
    cost (all iterations and the last), for a classifying run the class cost and error (and
    train_class_error), and the AMI when the run scores it; each from its own generator, seeded
    afresh every epoch."""
    valid_rng = numpy.random.default_rng([config.seed, VALID_STREAM])
    row = {}
    if config.class_cost_x > 0:
        scores = evaluate_classifier(state.params, config, data.valid_x, data.valid_y, valid_rng, config.n_iterations)
        valid = scores["denoising_cost"]
        row = {
            "valid_class_cost": float(scores["class_cost"][-1]),
            "valid_class_error": float(scores["class_error"][-1]),
        }
        if "train_class_error" in state.log:
            train_rng = numpy.random.default_rng([config.seed, TRAIN_CLASS_STREAM])
            x, y = data.train_x[data.scored], data.train_y[data.scored]
            scores = evaluate_classifier(state.params, config, x, y, train_rng, config.n_iterations)
            row["train_class_error"] = float(scores["class_error"][-1])
    else:
        valid = denoising_costs(state.params, config, data.valid_x, valid_rng, config.n_iterations)
    row.update(valid_cost=float(valid.mean()), valid_cost_last=float(valid[-1]))
    text = f"validation cost {row['valid_cost']:.4f} (last iteration {row['valid_cost_last']:.4f})"
    if config.class_cost_x > 0:
        text += f", validation class cost {row['valid_class_cost']:.4f}, error {row['valid_class_error']:.2f} %"
        if "train_class_error" in row:
            text += f" (labeled training images {row['train_class_error']:.2f} %)"
    if state.valid_ami_images:
        ami_rng = numpy.random.default_rng([config.seed, VALID_AMI_STREAM])
        ami = ami_scores(state.params, config, data.ami_x, data.ami_mask, ami_rng, config.n_iterations)[-1]  # last T
        row.update(valid_ami=float(numpy.mean(ami)), valid_ami_median=float(numpy.median(ami)))
        text += f", AMI {row['valid_ami']:.3f} (median {row['valid_ami_median']:.3f})"
    return row, text


def keep_params(state, run_dir, keep_every):
    """--keep-every: the parameters after this epoch, in the exchange format."""
    if keep_every and state.epoch % keep_every == 0:
        os.makedirs(os.path.join(run_dir, KEPT_DIR), exist_ok=True)
        save_params(kept_params_path(run_dir, state.epoch), state.params)
