"""The evaluation of a run folder (``tagger-ref evaluate``, and each seed of ``tagger-ref sweep``).

:func:`evaluate_run` loads the run (its latest checkpoint, or the parameters kept after an epoch),
scores a split of a dataset file and writes beside the run:

- a Tagger model without a class head: ``table1.csv`` (the paper's Table 1: per iteration 1..T the
  denoising cost on corrupted input, the AMI mean and median over images on clean input);
- a Tagger model with a class head: ``table2.csv`` (Table 2: class_error in percent on clean input,
  class_cost and denoising_cost on corrupted input, ami) and ``table2.predictions.npz`` (class_probs
  (T, n, C), labels);
- a baseline run (``tagger-ref baseline``): ``table2.csv`` with one row, iteration 1, and
  ``table2.predictions.npz`` with class_probs (1, n, C);

and ``<table>.provenance.json`` naming what was scored. What belongs to one table is named after it
(:func:`predictions_path`, :func:`provenance_path`), so tables written into one folder keep their own.
No output may be one of the files evaluation reads (the data file, the run's files):
``fileio.check_outputs`` refuses it before anything is computed. The CSV formats are ``files.tables``'; the
numbers are ``experiments.evaluation``'s and ``experiments.baseline_training``'s. What a user is
told (the split, K and T, the table, where it went) goes line by line to ``echo``, as training's
epoch lines do; with ``progress``, also a line every few seconds while the images are scored.
"""

import dataclasses
import os
import time
import typing

import numpy

from ..config import check_seed
from ..device.backend import to_device, use_device
from ..errors import CheckpointError, ConfigError, DataError
from ..files.datasets import dataset_splits
from ..files.fileio import check_outputs, save_npz, write_json, write_text
from ..files.params import load_params
from ..files.tables import table1_csv, table2_csv
from .baseline_training import evaluate as evaluate_baseline
from .baseline_training import is_baseline_config, stored_config_dict
from .baseline_training import load_run as load_baseline_run
from .checkpoint import CHECKPOINT, CONFIG, LOG, PARAMS
from .evaluation import chance_error, degenerate_images, evaluate, evaluate_classifier, table1_rows, table2_rows
from .manifest import MANIFEST, Segment, data_fingerprint, manifest_reference
from .memory import check_model_fits
from .training import check_targets, kept_epochs, kept_params_path, load_run, load_split

PREDICTIONS = ".predictions.npz"  # a classifier's predictions: beside table NAME.csv, NAME.predictions.npz
TABLE1_ITERATIONS = 5  # T of the paper's Table 1 when none is asked for
GPU_DTYPE = "float32"  # the dtype on the GPU when none is asked for (tagger-ref evaluate --device gpu)
PROGRESS_SECONDS = 5.0  # at most one progress line this often


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What to score a run on, besides the run and the data file (``tagger-ref evaluate``'s options);
    plain values, so a sweep's seeds carry it to other processes."""

    split: str = "test"  # split of the dataset file
    iterations: typing.Optional[int] = None  # T; None: 5 (Table 1), or a classifier's training T (Table 2)
    groups: typing.Optional[int] = None  # K; None: the config's n_groups
    seed: int = 0  # seed of the corruption and the initial masks
    epoch: typing.Optional[int] = None  # the parameters kept after this epoch; None: the latest checkpoint
    device: str = "cpu"  # "cpu" or "gpu" (a baseline: the CPU only)
    dtype: typing.Optional[str] = None  # None: the config's on the CPU, GPU_DTYPE on the GPU


def check_evaluation(evaluation, config=None, data=None):
    """ConfigError (DataError for the split) in one line for an :class:`Evaluation` that cannot run,
    before anything is computed or written: a negative seed or epoch, T or K below 1; with the
    run's ``config``, T and K that cannot fit in memory; with the dataset file ``data``, a split it
    does not hold. ``tagger-ref sweep`` checks its --evaluate-args so before any seed trains."""
    check_seed(evaluation.seed, "--seed")
    if evaluation.epoch is not None and evaluation.epoch < 0:
        raise ConfigError(f"--epoch must be at least 0, got {evaluation.epoch}")
    if evaluation.iterations is not None:
        check_iterations_groups(evaluation.iterations, evaluation.groups)
    elif evaluation.groups is not None:
        check_iterations_groups(1, evaluation.groups)
    if config is not None:
        T = evaluation.iterations or (config.n_iterations if config.class_cost_x > 0 else TABLE1_ITERATIONS)
        check_model_fits(config, config.batch_size, T, evaluation.groups, param_copies=1)
    if data is not None:
        splits = dataset_splits(data)
        if evaluation.split not in splits:
            raise DataError(f"--split: data file {data} has no split {evaluation.split!r} (has: {', '.join(splits)})")


def check_iterations_groups(iterations, groups):
    if iterations < 1:
        raise ConfigError(f"--iterations must be at least 1, got {iterations}")
    if groups is not None and groups < 1:
        raise ConfigError(f"--groups must be at least 1, got {groups}")


def load_evaluated(run_dir, epoch):
    """(config, params) of the run's latest checkpoint, or of the parameters kept after ``epoch``."""
    config, params = load_run(run_dir)
    if epoch is None:
        return config, params
    path = kept_params_path(run_dir, epoch)
    if not os.path.isfile(path):
        kept = kept_epochs(run_dir)
        raise CheckpointError(
            f"--epoch {epoch}: {run_dir} keeps no parameters of that epoch (kept: "
            f"{', '.join(map(str, kept)) if kept else 'none; train with --keep-every'})"
        )
    return config, load_params(path, config)


def default_table(run_dir, classify, epoch=None):
    """Where a run's table goes unless told: RUN_DIR/table1.csv, or table2.csv for a classifier;
    table1-epoch-E.csv for the parameters kept after epoch E."""
    name = "table2" if classify else "table1"
    return os.path.join(run_dir, name + ("" if epoch is None else f"-epoch-{epoch}") + ".csv")


def provenance_path(out):
    """The record beside a table that names what it scored."""
    return out + ".provenance.json"


def write_provenance(out, run_dir, data, evaluation, iterations):
    """<table>.provenance.json: the scored run's manifest (manifest.manifest_reference, its path
    relative to the table's folder), the epoch (None: the latest checkpoint), the split, seed,
    iterations, groups and the data file's fingerprint."""
    write_json(
        provenance_path(out),
        {
            "run": manifest_reference(run_dir, os.path.dirname(os.path.abspath(out))),
            "epoch": evaluation.epoch,
            "split": evaluation.split,
            "seed": evaluation.seed,
            "iterations": iterations,
            "groups": evaluation.groups,
            "data": data_fingerprint(data),
        },
    )


def predictions_path(out):
    """The predictions beside a classifier's table ``out``, named after it: ``a.csv`` -> ``a.predictions.npz``."""
    return os.path.splitext(out)[0] + PREDICTIONS


def check_evaluation_outputs(run_dir, data, out, classify, epoch=None):
    """The one check of what an evaluation writes (the table, its provenance and a classifier's
    predictions) before anything is computed: writable, and none of them a file it reads or the
    run keeps (``fileio.check_outputs``)."""
    outputs = [out, provenance_path(out)] + ([predictions_path(out)] if classify else [])
    run_files = [os.path.join(run_dir, name) for name in (CHECKPOINT, CONFIG, LOG, PARAMS, MANIFEST)]
    kept = [kept_params_path(run_dir, epoch)] if epoch is not None else []
    check_outputs(outputs, [data] + run_files + kept)


def _echo_table(echo, text):
    for line in text.splitlines():
        echo(line)


def progress_lines(echo, every=PROGRESS_SECONDS, clock=time.monotonic):
    """A ``progress(what, done, total)`` for the evaluation passes that echoes a line such as
    "  AMI: 400/1000 images, 12 s" when ``every`` seconds have passed since the last one."""
    started = last = clock()

    def progress(what, done, total):
        nonlocal last
        now = clock()
        if now - last >= every:
            last = now
            echo(f"  {what}: {done}/{total} images, {now - started:.0f} s")

    return progress


def degenerate_note(count):
    """What the count of images with fewer than two scored true groups means for the AMI mean."""
    return (
        f"{count} image(s) have fewer than two scored true groups (sprites covering each other): "
        "the AMI is undefined there and, as in the authors' code, counts 1.0 when the model keeps the "
        "scored pixels in one group and 0.0 when it splits them (docs/spec.md section 5)"
    )


def evaluate_run(run_dir, data, evaluation=Evaluation(), out=None, echo=None, progress=False):
    """Score the run in ``run_dir`` on ``evaluation.split`` of the dataset file ``data`` and write its
    table to ``out`` (default :func:`default_table`) with the provenance and, for a classifier,
    the predictions beside it (module doc). Appends an "evaluate" segment to the run's manifest.
    ``echo(line)``, if given, receives what ``tagger-ref evaluate`` prints; with ``progress``, also
    a line every few seconds while the images are scored (:func:`progress_lines`).

    Returns ``{"table": path, "rows": [table rows as dicts], "predictions": path or None}``.
    """
    check_evaluation(evaluation)
    echo = echo or (lambda line: None)
    if is_baseline_config(stored_config_dict(run_dir)):
        if evaluation.epoch is not None:
            raise ConfigError("--epoch: baseline runs keep no epochs")
        return _evaluate_baseline_run(run_dir, data, evaluation, out, echo)
    config, params = load_evaluated(run_dir, evaluation.epoch)
    classify = config.class_cost_x > 0
    iterations = evaluation.iterations
    if iterations is None:
        iterations = config.n_iterations if classify else TABLE1_ITERATIONS
    check_iterations_groups(iterations, evaluation.groups)
    use_device(evaluation.device)
    dtype = evaluation.dtype or (GPU_DTYPE if evaluation.device == "gpu" else config.dtype)
    config = config if dtype == config.dtype else config.replace(dtype=dtype)
    check_model_fits(config, config.batch_size, iterations, evaluation.groups, param_copies=1)
    params = to_device(params, config.dtype)  # the forward passes run on the device; AMI on the host
    out = out or default_table(run_dir, classify, evaluation.epoch)
    check_evaluation_outputs(run_dir, data, out, classify, evaluation.epoch)
    split = load_split(data, evaluation.split, config)
    report = progress_lines(echo) if progress else None
    with Segment(run_dir, "evaluate", data=data):
        if classify:
            return _table2(run_dir, data, evaluation, iterations, config, params, split, out, echo, report)
        return _table1(run_dir, data, evaluation, iterations, config, params, split, out, echo, report)


def _table1(run_dir, data, evaluation, iterations, config, params, split, out, echo, progress=None):
    """Table 1 rows (denoising cost, AMI mean and median per iteration) of a model without a class head."""
    result = evaluate(
        params,
        config,
        split.features,
        split.mask,
        numpy.random.default_rng(evaluation.seed),
        n_iterations=iterations,
        n_groups=evaluation.groups,
        progress=progress,
    )
    rows = table1_rows(result)
    text = table1_csv(rows)
    write_text(out, text)
    write_provenance(out, run_dir, data, evaluation, iterations)
    K = evaluation.groups or config.n_groups
    echo(
        f"{evaluation.split} split of {data}: {split.n_images} images, K = {K}, T = {iterations}; "
        + degenerate_note(degenerate_images(split.mask))
    )
    _echo_table(echo, text)
    echo(f"wrote {out}")
    return {"table": out, "rows": rows, "predictions": None}


def _check_class_targets(split, config, data, name):
    if split.targets is None:
        raise DataError(f"data file {data} has no class targets: a classifier is evaluated on TextureMNIST")
    check_targets(
        split.targets,
        split.features,
        config.replace(objects_per_sample=split.targets.shape[1]),
        f"data file {data}, split {name!r}",
    )


def _table2(run_dir, data, evaluation, iterations, config, params, split, out, echo, progress=None):
    """Table 2 rows for a model with a classification head, and its predictions beside the table."""
    _check_class_targets(split, config, data, evaluation.split)
    result = evaluate_classifier(
        params,
        config,
        split.features,
        split.targets,
        numpy.random.default_rng(evaluation.seed),
        iterations,
        mask=split.mask,
        n_groups=evaluation.groups,
        progress=progress,
    )
    rows = table2_rows(result)
    text = table2_csv(rows)
    predictions = predictions_path(out)
    save_npz(predictions, {"class_probs": result["class_probs"], "labels": numpy.asarray(split.targets, numpy.int64)})
    write_text(out, text)
    write_provenance(out, run_dir, data, evaluation, iterations)
    K = evaluation.groups or config.n_groups
    objects = split.targets.shape[1]
    echo(
        f"{evaluation.split} split of {data}: {split.n_images} images with {objects} digit(s), K = {K}, "
        f"T = {iterations}; class_error in percent on clean input{' (top-2 error)' if objects == 2 else ''}; "
        f"chance: {chance_error(1, config.n_classes):.0f} % for one digit, "
        f"{chance_error(2, config.n_classes):.0f} % for two"
    )
    _echo_table(echo, text)
    echo(f"wrote {out} and {predictions}")
    return {"table": out, "rows": rows, "predictions": predictions}


def _evaluate_baseline_run(run_dir, data, evaluation, out, echo):
    """Table 2's row of a baseline run (tagger-ref baseline): one row, iteration 1; class_error (%) and
    class_cost of the clean network, the Ladder's denoising_cost on corrupted input (empty for the
    others), ami empty; the predictions with class_probs (1, n, C) and labels, as a Tagger run's."""
    config, params = load_baseline_run(run_dir)
    if evaluation.iterations not in (None, 1) or evaluation.groups is not None:
        raise ConfigError("a baseline has no iterations or groups: --iterations and --groups do not apply")
    if evaluation.device != "cpu":
        raise ConfigError("baselines run on the CPU only")
    out = out or os.path.join(run_dir, "table2.csv")
    check_evaluation_outputs(run_dir, data, out, classify=True)
    split = load_split(data, evaluation.split, config)
    _check_class_targets(split, config, data, evaluation.split)
    with Segment(run_dir, "evaluate", data=data):
        return _baseline_table(run_dir, data, evaluation, config, params, split, out, echo)


def _baseline_table(run_dir, data, evaluation, config, params, split, out, echo):
    result = evaluate_baseline(
        params,
        config.replace(dtype=evaluation.dtype or config.dtype),
        split.features,
        split.targets,
        numpy.random.default_rng(evaluation.seed),
    )
    rows = [
        {
            "iteration": 1,
            "class_error": result["class_error"],
            "class_cost": result["class_cost"],
            "denoising_cost": result.get("denoising_cost"),
            "ami": None,
        }
    ]
    text = table2_csv(rows)
    predictions = predictions_path(out)
    save_npz(
        predictions, {"class_probs": result["class_probs"][None], "labels": numpy.asarray(split.targets, numpy.int64)}
    )
    write_text(out, text)
    write_provenance(out, run_dir, data, evaluation, evaluation.iterations)
    objects = split.targets.shape[1]
    echo(
        f"{evaluation.split} split of {data}: {split.n_images} images with {objects} digit(s); {config.method}; "
        f"class_error in percent on clean input{' (top-2 error)' if objects == 2 else ''}; "
        f"chance: {chance_error(objects, config.n_classes):.0f} %"
    )
    _echo_table(echo, text)
    echo(f"wrote {out} and {predictions}")
    return {"table": out, "rows": rows, "predictions": predictions}
