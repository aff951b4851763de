"""Training of the baselines of Table 2 (FC MLP, FC Ladder, ConvNet), with the conventions of
``training`` (docs/baselines.md, "Training").

A run folder holds ``checkpoint.npz`` (``checkpoint.save_checkpoint``'s layout, the one of Tagger's
runs, written at the start, after every epoch and when training stops early), ``log.csv``,
``config.json`` (with the field ``baseline``, by which ``tagger-ref evaluate`` tells a baseline run)
and ``params.npz``.

Every step takes the next batch of the labeled stream (``streams.LabeledStream`` over
``labeled_samples`` balanced images, or all), and for the Ladder also the next batch of the
unlabeled stream (a fresh permutation of the whole training split per epoch). An epoch is
``n // B`` steps for every method, one pass of the unlabeled stream, so that "epochs" mean the same
number of steps for all rows of Table 2. One ``numpy.random.Generator`` seeded by the run's seed
draws, in this order: the initial parameters, then per epoch the unlabeled permutation (drawn for
the MLP and ConvNet too, so every method's stream is the same), then per step the labeled stream's
permutation when a pass begins and the Ladder's noise (``baselines.step_inputs``). Its state is in
every checkpoint, so a resumed run equals an uninterrupted one bit for bit.

After every epoch the clean network is validated on the 'valid' split: class cost and error in
percent (the top-2 error for two digits), in batches of B. Steps, validation and ``evaluate`` take
the fast path (``ops=FAST``), as Tagger's training and evaluation do (docs/training.md, "Fast path").
"""

import functools
import json
import os
import zipfile
import zlib

import numpy
from autograd import value_and_grad

from ..baselines import models as baselines
from ..baselines.config import from_dict
from ..errors import DataError
from ..maths.classification import class_cost_log, class_targets
from ..maths.functions import log_softmax, softmax
from ..maths.ops import FAST
from . import optimizers
from .checkpoint import CHECKPOINT, RunKind, TrainState, data_identity, read_checkpoint, train_in_folder
from .checkpoint import load_run as load_run_of_kind
from .evaluation import batch_slices, class_error
from .loop import run_epochs
from .streams import LabeledStream, labeled_subset
from .training import check_data, check_targets

# log.csv: as a Tagger run's, with the clean network's validation class cost and error (%).
LOG_COLUMNS = ("epoch", "step", "train_cost", "valid_class_cost", "valid_class_error", "seconds", "cpu_seconds")


def is_baseline_config(d):
    """Whether a config dict (config.json, a checkpoint's) is a baseline's: it has the field ``baseline``."""
    return isinstance(d, dict) and "baseline" in d


def stored_config_dict(run_dir):
    """The config dict in RUN_DIR's checkpoint, or None when there is no readable checkpoint."""
    try:
        with numpy.load(os.path.join(run_dir, CHECKPOINT), allow_pickle=False) as f:
            return json.loads(str(f["config_json"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        return None  # the checkpoint's reader then says what is wrong with it


def new_state(config, train_y):
    """A fresh run: the generator seeded with config.seed, parameters initialised from it, the labeled stream."""
    rng = numpy.random.default_rng(config.seed)
    params = baselines.init_params(config, rng)
    labeled = LabeledStream(labeled_subset(train_y, config.labeled_samples, config.n_classes, config.seed))
    opt_state = optimizers.get(config.optimizer).init(params)
    return TrainState(params=params, opt_state=opt_state, rng=rng, log={c: [] for c in LOG_COLUMNS}, labeled=labeled)


def _not_a_baseline(stored):
    return None if is_baseline_config(stored) else "is a Tagger run's (tagger-ref train), not a baseline's"


# The baselines' runs: a checkpoint of the same layout as Tagger's, the labeled stream always kept.
BASELINE_RUN = RunKind(
    name="baseline",
    from_dict=from_dict,
    param_shapes=baselines.param_shapes,
    log_columns=lambda config: LOG_COLUMNS,
    labeled=lambda config: True,
    refuse=_not_a_baseline,
)


def load_checkpoint(path):
    """Read a baseline checkpoint. Returns ``(state, config, data_id)``; CheckpointError if unreadable."""
    return read_checkpoint(path, BASELINE_RUN)


def load_run(run_dir):
    """(config, params) of the latest checkpoint of a baseline run folder."""
    return load_run_of_kind(run_dir, BASELINE_RUN)


def evaluate(params, config, features, targets, rng=None, batch_size=None):
    """The clean network on every image, in batches of B (batch statistics per batch, as Tagger's evaluation).

    Returns {"class_probs" (n, C), "class_cost" (batch-size-weighted mean of the batch means),
    "class_error" (percent; the top-2 error for two digits)} and, for the Ladder with ``rng``,
    "denoising_cost" on corrupted input (noise drawn from ``rng`` batch by batch).
    """
    features = numpy.asarray(features, config.dtype)
    targets = numpy.asarray(targets).reshape(len(features), -1)
    n, B = len(features), batch_size or config.batch_size
    probs, cost, denoising = numpy.zeros((n, config.n_classes)), 0.0, 0.0
    for rows in batch_slices(n, B):
        logits = baselines.logits(params, config, features[rows], ops=FAST)
        t = class_targets(targets[rows], config.n_classes, config.dtype)
        cost += (rows.stop - rows.start) * float(class_cost_log(log_softmax(logits, axis=-1), t))
        probs[rows] = softmax(logits, axis=-1)
        if config.baseline == "ladder" and rng is not None:
            c_d = baselines.denoising_cost(params, config, features[rows], rng, ops=FAST)
            denoising += (rows.stop - rows.start) * float(c_d)
    result = {"class_probs": probs, "class_cost": cost / n, "class_error": 100.0 * class_error(probs, targets)}
    if config.baseline == "ladder" and rng is not None:
        result["denoising_cost"] = denoising / n
    return result


def train(
    config,
    train_x,
    valid_x,
    train_y,
    valid_y,
    run_dir,
    resume=False,
    max_seconds=None,
    valid_images=None,
    stop_requested=None,
    progress=False,
    echo=None,
    manifest=None,
):
    """Train (or continue) the baseline run in ``run_dir`` until ``config.num_epochs`` epochs are done.

    As ``training.train``: ``max_seconds`` stops after the step that passes that many seconds,
    ``stop_requested()`` returning a name after the current step, each with a checkpoint first;
    ``manifest`` (a ``manifest.Segment``) records the segment once the run folder is ready.
    Returns ``{"status": "done" | "time limit" | <signal name>, "epoch", "step", "config"}``.
    """
    for x, y, what in ((train_x, train_y, "training data"), (valid_x, valid_y, "validation data")):
        check_data(x, config, what)
        check_targets(y, x, config, what)
    B = config.batch_size
    if len(train_x) < B:
        raise DataError(f"training data has {len(train_x)} images, fewer than one batch of {B}")
    if not resume and len(labeled_subset(train_y, config.labeled_samples, config.n_classes, config.seed)) < B:
        raise DataError(f"labeled_samples = {config.labeled_samples}: fewer labeled images than one batch of {B}")
    data_id = data_identity(train_x, train_y)
    train_x, train_y = numpy.asarray(train_x, config.dtype), numpy.asarray(train_y)
    valid_x, valid_y = numpy.asarray(valid_x)[:valid_images], numpy.asarray(valid_y)[:valid_images]

    def body(state, config):
        """The epochs: a labeled batch a step (and the Ladder's unlabeled rows), the clean network validated."""
        return run_epochs(
            state,
            config,
            run_dir,
            data_id,
            len(train_x),
            lambda unlabeled: baseline_step(state, config, train_x, train_y, unlabeled),
            lambda: validate(state.params, config, valid_x, valid_y),
            max_seconds=max_seconds,
            stop_requested=stop_requested,
            progress=progress,
            echo=echo,
        )

    fresh = functools.partial(new_state, config, train_y)
    return train_in_folder(run_dir, config, data_id, resume, BASELINE_RUN, fresh, body, manifest, echo)


def baseline_step(state, config, train_x, train_y, unlabeled):
    """One step's cost and gradients: the next labeled batch (and, for the Ladder, the ``unlabeled``
    rows with their noise), drawn from ``state.rng``."""
    labeled = state.labeled.next_rows(state.rng, config.batch_size)
    inputs = baselines.step_inputs(config, train_x[labeled], train_y[labeled], train_x[unlabeled], state.rng)
    return value_and_grad(baselines.step_cost)(state.params, config, inputs, ops=FAST)


def validate(params, config, valid_x, valid_y):
    """The clean network's class cost and error on the validation images, and their words."""
    scores = evaluate(params, config, valid_x, valid_y)
    row = {"valid_class_cost": scores["class_cost"], "valid_class_error": scores["class_error"]}
    return row, f"validation class cost {row['valid_class_cost']:.4f}, error {row['valid_class_error']:.2f} %"
