"""The golden cases shipped with the package: their catalogue, and how to list, load and export them.

Each case is a folder ``tagger_ref/golden/<name>/`` with ``config.json``, ``params.npz``,
``inputs.npz`` and ``trace.npz`` (docs/spec.md section 8), all made from the case's seed by
``make_case``: parameters are the initial values of section 3 perturbed (at the exact initial
values a binary model's Ladder output is zero, which hides most of the computation), inputs come
from ``make_inputs`` over random clean data, and the trace is ``compute_trace`` (the reference
path). The maintainer script ``maintainer/make_golden.py`` writes them; the test suite
regenerates them in a temporary folder and requires them to match the shipped files to 1e-12.

To check another implementation: export a case, run your code on its config, params and inputs,
write your trace, and ``tagger-ref compare trace.npz your_trace.npz``.
"""
import dataclasses
import os
import shutil
import typing

import numpy

from .config import TaggerConfig, load_config
from .errors import OutputError, TaggerError
from .fileio import atomic_path
from .inputs import load_inputs, make_inputs, make_semi_supervised_inputs, prepare_inputs
from .params import load_params, prepare_params
from .random_case import random_params
from .trace import compute_trace, load_trace

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
FILES = ("config.json", "params.npz", "inputs.npz", "trace.npz")


@dataclasses.dataclass(frozen=True)
class GoldenCase:
    description: str
    config: TaggerConfig
    seed: int                                  # numpy.random.Generator seed for params, data and inputs
    n_classes_in_y: typing.Optional[int] = None  # classification: draw y from 0..C-1
    labeled_batch: typing.Optional[int] = None   # semi-supervised step: a labeled batch of this size beside x


def _cfg(input_type, n_inputs, n_groups, batch, n_iterations, ladder, **changes):
    continuous = input_type == "continuous"
    return TaggerConfig(input_type=input_type, n_inputs=n_inputs, n_groups=n_groups, n_iterations=n_iterations,
                        encoder_proj=ladder, batch_size=batch, input_noise=0.2, z_init=0.5 if continuous else 0.26,
                        num_epochs=1, seed=0, **changes)


# The shipped cases, in the order `tagger-ref golden list` shows them.
CASES = {
    "binary-batch-original": GoldenCase(
        "binary inputs, batch norm, the original code's semantics (the Shapes model, small)",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6)), seed=101),
    "binary-layer-original": GoldenCase(
        "binary inputs, layer norm (Tagger*), original semantics",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6), norm="layer"), seed=102),
    "binary-batch-paper": GoldenCase(
        "binary inputs, batch norm, the paper's semantics (E1: delta_z without (1-2 beta); E5: cost summed)",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6), semantics="paper"), seed=103),
    "continuous-batch-original": GoldenCase(
        "continuous inputs, batch norm, original semantics (the TextureMNIST pretraining model, small)",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5)), seed=104),
    "continuous-layer-paper": GoldenCase(
        "continuous inputs, layer norm, the paper's semantics (E2 via the exact (28), E3 variance v + sigma^2, E5 sum)",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5), norm="layer", semantics="paper"), seed=105),
    "continuous-batch-paper-eq29": GoldenCase(
        "continuous inputs, batch norm, the paper's semantics with E2 via (29) / Alg. 1",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5), semantics="paper-eq29"), seed=106),
    "deep-binary": GoldenCase(
        "binary inputs, a five-layer Ladder, T = 2",
        _cfg("binary", 8, 2, 3, 2, (10, 9, 8, 7, 6)), seed=107),
    "two-layer-continuous": GoldenCase(
        "continuous inputs, the smallest Ladder (L = 2), K = 4",
        _cfg("continuous", 8, 4, 3, 3, (7, 5)), seed=108),
    "k1-binary": GoldenCase(
        "binary inputs, a single group (K = 1: masks are all ones, L(m) is one)",
        _cfg("binary", 8, 1, 5, 2, (8, 6, 5)), seed=109),
    "classify": GoldenCase(
        "continuous inputs, classification: top layer 10 classes + 'no class', class_cost_x 0.1, two digits per image",
        _cfg("continuous", 10, 3, 5, 3, (12, 9, 11), class_cost_x=0.1, objects_per_sample=2), seed=110,
        n_classes_in_y=10),
    "semi-supervised": GoldenCase(
        "a semi-supervised step (section 3.3): an unlabeled batch of 4 and a labeled batch of 3, two digits per image, "
        "class_cost_x 0.1; the labeled pass's keys prefixed labeled_",
        _cfg("continuous", 10, 3, 4, 3, (12, 9, 11), class_cost_x=0.1, objects_per_sample=2), seed=111,
        n_classes_in_y=10, labeled_batch=3),
}


def make_case(case):
    """(config, params, inputs, trace) of one golden case, all from its seed."""
    cfg = case.config
    rng = numpy.random.default_rng(case.seed)
    params = prepare_params(random_params(cfg, rng), cfg)
    B, N = cfg.batch_size, cfg.n_inputs
    if cfg.input_type == "binary":
        x = (rng.random((B, N)) < 0.3).astype("float64")       # sparse on-pixels, like Shapes
    else:
        x = rng.random((B, N))                                 # intensities in [0, 1), like TextureMNIST
    if case.labeled_batch is not None:                         # TextureMNIST-like labeled images and their digits
        labeled_x = rng.random((case.labeled_batch, N))
        y = rng.integers(0, case.n_classes_in_y, size=(case.labeled_batch, cfg.objects_per_sample))
        inputs = prepare_inputs(make_semi_supervised_inputs(cfg, x, labeled_x, y, rng), cfg)
        return cfg, params, inputs, compute_trace(params, cfg, inputs)
    y = None
    if case.n_classes_in_y is not None:
        y = rng.integers(0, case.n_classes_in_y, size=(B, cfg.objects_per_sample))
    inputs = prepare_inputs(make_inputs(cfg, x, rng, corrupted=True, y=y), cfg)
    return cfg, params, inputs, compute_trace(params, cfg, inputs)


def list_cases():
    """Names of the shipped cases, in the generator's order."""
    return [name for name in CASES if all(os.path.isfile(os.path.join(GOLDEN_DIR, name, f)) for f in FILES)]


def case_dir(name):
    """The folder of a shipped case; TaggerError naming the known cases for an unknown name."""
    if name not in list_cases():
        raise TaggerError(f"no golden case {name!r}; shipped cases: {', '.join(list_cases()) or 'none'}")
    return os.path.join(GOLDEN_DIR, name)


def describe(name):
    """One line about a case: what it covers."""
    return CASES[name].description


def load_case(name):
    """(config, params, inputs, trace) of a shipped case, read and checked like any user's files."""
    folder = case_dir(name)
    config = load_config(os.path.join(folder, "config.json"))
    return (config, load_params(os.path.join(folder, "params.npz"), config),
            load_inputs(os.path.join(folder, "inputs.npz"), config), load_trace(os.path.join(folder, "trace.npz")))


def export_case(name, dest, force=False):
    """Copy the four files of case ``name`` into folder ``dest`` (created if its parent exists).
    Existing files are replaced only with ``force``. Returns the written paths."""
    source = case_dir(name)
    dest = os.fspath(dest)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise OutputError(f"cannot export to {dest}: it is a file, not a folder")
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise OutputError(f"cannot export to {dest}: folder {parent} does not exist")
    targets = [os.path.join(dest, f) for f in FILES]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not force:
        raise OutputError(f"{', '.join(existing)} already exist(s); use --force to replace")
    try:
        os.makedirs(dest, exist_ok=True)
        for f, target in zip(FILES, targets):
            with atomic_path(target) as tmp:
                shutil.copyfile(os.path.join(source, f), tmp)
    except OSError as e:
        raise OutputError(f"cannot export to {dest}: {e.strerror or e}") from None
    return targets
