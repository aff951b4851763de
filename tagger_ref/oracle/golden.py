"""The golden cases shipped with the package: their catalogue, and how to list, load and export them.

Each case is a folder ``tagger_ref/oracle/golden/<name>/`` with ``config.json``, ``params.npz``,
``inputs.npz`` and ``trace.npz`` (docs/spec.md section 8), all made from the case's seed by
``make_case``: parameters are the initial values of section 3 perturbed (at the exact initial
values a binary model's Ladder output is zero, which hides most of the computation), inputs come
from ``make_inputs`` over random clean data, and the trace is ``compute_trace`` (the reference
path). The cases named ``edge-*`` then push the point to one of the numerical edges of
docs/numerics.md (``GoldenCase.scale``, ``set``, ``shift``, ``m0_scale``), so that an implementation
skipping one of its tricks fails them; each description says which. The maintainer script
``maintainer/make_golden.py`` writes them; the test suite
regenerates them in a temporary folder and requires them to match the shipped files to 1e-12.

To check another implementation: export a case, run your code on its config, params and inputs,
write your trace, and ``tagger-ref compare trace.npz your_trace.npz``.
"""

import contextlib
import dataclasses
import os
import shutil
import typing

import numpy

from ..config import TaggerConfig, load_config
from ..errors import OutputError, TaggerError
from ..files.fileio import atomic_path
from ..files.inputs import load_inputs, prepare_inputs
from ..files.params import load_params, prepare_params
from ..maths.corruption import make_inputs, make_semi_supervised_inputs
from .random_case import random_params
from .trace import compute_trace, load_trace

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
FILES = ("config.json", "params.npz", "inputs.npz", "trace.npz")


@dataclasses.dataclass(frozen=True)
class GoldenCase:
    description: str
    config: TaggerConfig
    seed: int  # numpy.random.Generator seed for params, data and inputs
    n_classes_in_y: typing.Optional[int] = None  # classification: draw y from 0..C-1
    labeled_batch: typing.Optional[int] = None  # semi-supervised step: a labeled batch of this size beside x
    # An edge case pushes the drawn point to a numerical edge (docs/numerics.md) after every draw:
    # scale: (parameter name, factor) pairs multiplied in; set: (parameter name, value) pairs; shift:
    # (parameter name, amount) pairs added, the amount a number or one per element;
    # m0_scale multiplies the initial mask logits (of both batches of a semi-supervised step).
    scale: typing.Tuple[typing.Tuple[str, float], ...] = ()
    set: typing.Tuple[typing.Tuple[str, float], ...] = ()
    shift: typing.Tuple[typing.Tuple[str, float], ...] = ()
    m0_scale: float = 1.0


def _cfg(input_type, n_inputs, n_groups, batch, n_iterations, ladder, **changes):
    continuous = input_type == "continuous"
    fields = {"input_noise": 0.2, "z_init": 0.5 if continuous else 0.26, **changes}
    return TaggerConfig(
        input_type=input_type,
        n_inputs=n_inputs,
        n_groups=n_groups,
        n_iterations=n_iterations,
        encoder_proj=ladder,
        batch_size=batch,
        num_epochs=1,
        seed=0,
        **fields,
    )


# b1 + this (one per input of an N = 8 model): z logits near -800 on two inputs, where the sigmoid is
# exactly 0 and exp(-a) overflows; the other inputs keep ordinary logits. (Not +800: where z = 1 in every
# group the gradient with respect to m is a large uniform vector that the softmax cancels, leaving
# rounding noise of 1e-11 of the gradients' scale, which no two implementations share.)
SATURATING_SHIFT = (0.0, -800.0, 0.0, 0.0, -800.0, 0.0, 0.0, 0.0)

# The shipped cases, in the order `tagger-ref golden list` shows them.
CASES = {
    "binary-batch-original": GoldenCase(
        "binary inputs, batch norm, the original code's semantics (the Shapes model, small)",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6)),
        seed=101,
    ),
    "binary-layer-original": GoldenCase(
        "binary inputs, layer norm (Tagger*), original semantics",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6), norm="layer"),
        seed=102,
    ),
    "binary-batch-paper": GoldenCase(
        "binary inputs, batch norm, the paper's semantics (E1: delta_z without (1-2 beta); E5: cost summed)",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6), semantics="paper"),
        seed=103,
    ),
    "continuous-batch-original": GoldenCase(
        "continuous inputs, batch norm, original semantics (the TextureMNIST pretraining model, small)",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5)),
        seed=104,
    ),
    "continuous-layer-paper": GoldenCase(
        "continuous inputs, layer norm, the paper's semantics (E2 via the exact (28), E3 variance v + sigma^2, E5 sum)",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5), norm="layer", semantics="paper"),
        seed=105,
    ),
    "continuous-batch-paper-eq29": GoldenCase(
        "continuous inputs, batch norm, the paper's semantics with E2 via (29) / Alg. 1",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5), semantics="paper-eq29"),
        seed=106,
    ),
    "deep-binary": GoldenCase(
        "binary inputs, a five-layer Ladder, T = 2", _cfg("binary", 8, 2, 3, 2, (10, 9, 8, 7, 6)), seed=107
    ),
    "two-layer-continuous": GoldenCase(
        "continuous inputs, the smallest Ladder (L = 2), K = 4", _cfg("continuous", 8, 4, 3, 3, (7, 5)), seed=108
    ),
    "k1-binary": GoldenCase(
        "binary inputs, a single group (K = 1: masks are all ones, L(m) is one)",
        _cfg("binary", 8, 1, 5, 2, (8, 6, 5)),
        seed=109,
    ),
    "classify": GoldenCase(
        "continuous inputs, classification: top layer 10 classes + 'no class', class_cost_x 0.1, two digits per image",
        _cfg("continuous", 10, 3, 5, 3, (12, 9, 11), class_cost_x=0.1, objects_per_sample=2),
        seed=110,
        n_classes_in_y=10,
    ),
    "semi-supervised": GoldenCase(
        "a semi-supervised step (section 3.3): an unlabeled batch of 4 and a labeled batch of 3, two digits per image, "
        "class_cost_x 0.1; the labeled pass's keys prefixed labeled_",
        _cfg("continuous", 10, 3, 4, 3, (12, 9, 11), class_cost_x=0.1, objects_per_sample=2),
        seed=111,
        n_classes_in_y=10,
        labeled_batch=3,
    ),
    # Cases at the numerical edges (docs/numerics.md): each description says which trick it needs.
    "edge-class-saturated": GoldenCase(
        "classification with the top logits scaled 2000x (f_2_c): the class units of the top softmax underflow "
        "to 0, so P and its log must come from the logits (log domain); P as plain probabilities gives 0, an "
        "infinite class cost and NaN gradients",
        _cfg("continuous", 8, 3, 4, 2, (8, 7, 11), class_cost_x=0.1, objects_per_sample=2),
        seed=121,
        n_classes_in_y=10,
        scale=(("f_2_c", 2000.0),),
    ),
    "edge-semi-supervised-saturated": GoldenCase(
        "a semi-supervised step, binary inputs, layer norm, the paper's semantics, the labeled pass's top "
        "logits scaled 2000x: log-domain P again, E1 and the sum of E5 under the paper's semantics, and "
        "total_cost = the unlabeled pass's denoising cost + class_cost_x * the labeled class cost",
        _cfg("binary", 8, 3, 4, 2, (8, 7, 11), class_cost_x=0.1, objects_per_sample=2, norm="layer", semantics="paper"),
        seed=122,
        n_classes_in_y=10,
        labeled_batch=3,
        scale=(("f_2_c", 2000.0),),
    ),
    "edge-masks-zero": GoldenCase(
        "the exact (28) with masks underflowing to exactly 0 (m0_logits x1000, c2 x300), z far from x (c1 x30) "
        "and v = -3: log m must come from the mask logits (log(m) is -inf at m = 0 and its gradient NaN), the "
        "posterior weights of (28) and L(m) from log-densities (the densities underflow: a plain ratio is 0/0)",
        _cfg("continuous", 8, 3, 4, 3, (8, 7, 6), semantics="paper"),
        seed=134,
        scale=(("c1", 30.0), ("c2", 300.0)),
        set=(("v", -3.0),),
        m0_scale=1000.0,
    ),
    "edge-masks-zero-layer": GoldenCase(
        "as edge-masks-zero with layer norm (c2 x1000): log m from the logits, (28) and L(m) in the log domain",
        _cfg("continuous", 8, 3, 4, 3, (8, 7, 6), semantics="paper", norm="layer"),
        seed=144,
        scale=(("c1", 30.0), ("c2", 1000.0)),
        set=(("v", -3.0),),
        m0_scale=1000.0,
    ),
    "edge-v-negative-paper": GoldenCase(
        "continuous inputs, layer norm, the paper's semantics, v = -1e8 (v_eff = 5e-9): v_eff = exp(asinh v), "
        "not v + sqrt(v^2 + 1) (0 by cancellation); the cost's log-sum-exp must be shifted (its terms are "
        "about -1e8); the variance of L(m) and (28) is sigma^2 + v_eff",
        _cfg("continuous", 8, 3, 4, 2, (8, 7, 6), semantics="paper", norm="layer"),
        seed=133,
        set=(("v", -1e8),),
    ),
    "edge-v-negative": GoldenCase(
        "continuous inputs, original semantics, v = -1e8 (v_eff = 5e-9) and z far from x (c1 x30): "
        "v_eff = exp(asinh v), not v + sqrt(v^2 + 1); a shifted log-sum-exp in the cost; L(m) as a softmax "
        "of log-densities",
        _cfg("continuous", 8, 3, 4, 2, (8, 7, 6)),
        seed=125,
        scale=(("c1", 30.0),),
        set=(("v", -1e8),),
    ),
    "edge-v-large": GoldenCase(
        "continuous inputs, (29) (paper-eq29), v = 100 (v_eff = 200): under the paper's semantics the variance "
        "of L(m) and (29) is sigma^2 + v_eff (sigma^2 + v_eff^2 = 4e4 flattens it), and (29)'s density keeps "
        "its 1 / sqrt(2 pi s2)",
        _cfg("continuous", 8, 3, 4, 2, (8, 7, 6), semantics="paper-eq29"),
        seed=126,
        set=(("v", 100.0),),
    ),
    "edge-binary-saturated": GoldenCase(
        "binary inputs, layer norm, z logits near -800 on two of the eight inputs (b1 shifted): z is exactly 0 "
        "there, so the sigmoid must not overflow (1 / (1 + exp(-a)) has NaN gradients), z_in must be the "
        "logits themselves (logit(z) is -inf), and the soft clip keeps the cost finite where q = 0",
        _cfg("binary", 8, 3, 4, 3, (8, 7, 6), norm="layer"),
        seed=127,
        shift=(("b1", SATURATING_SHIFT),),
    ),
    "edge-binary-saturated-paper": GoldenCase(
        "as edge-binary-saturated under the paper's semantics (E1 without (1 - 2 beta), E5 sum)",
        _cfg("binary", 8, 3, 4, 2, (8, 7, 6), norm="layer", semantics="paper"),
        seed=132,
        shift=(("b1", SATURATING_SHIFT),),
    ),
    "edge-beta-tiny": GoldenCase(
        "binary inputs, the paper's semantics, beta = 1e-17 and z_init = 0: where x_tilde = 1, delta_z_0 "
        "divides by xi = beta, which (xi - 1) + x_tilde rounds to 0 (xi - (1 - x_tilde) is exact); z_in at "
        "iteration 0 is z_init itself (logit(0) = -inf)",
        _cfg("binary", 8, 3, 4, 2, (8, 7, 6), input_noise=1e-17, z_init=0.0, semantics="paper"),
        seed=128,
    ),
    "edge-beta-tiny-layer": GoldenCase(
        "binary inputs, layer norm, beta = 1e-12, z_init = 0 and z logits near -20 (b1 - 20): xi is about 1e-9 "
        "where x_tilde = 1 at every iteration, so the denominator of (30)-(31) must be xi - (1 - x_tilde); "
        "z_in at iteration 0 is z_init itself",
        _cfg("binary", 8, 3, 4, 3, (8, 7, 6), input_noise=1e-12, z_init=0.0, norm="layer"),
        seed=131,
        shift=(("b1", -20.0),),
    ),
    "edge-norm-floor": GoldenCase(
        "binary inputs, batch norm, W and z_u_W x1e-5: the variances inside those normalisations are 1e-12 to "
        "4e-11, below the floor, so it must be 1e-10 under the square root (not 1e-12, 1e-5 or added to the "
        "standard deviation) and the variance the biased one",
        _cfg("binary", 8, 3, 4, 2, (8, 7, 6)),
        seed=129,
        scale=(("W", 1e-5), ("z_u_W", 1e-5)),
    ),
    "edge-norm-floor-layer": GoldenCase(
        "continuous inputs, layer norm, W and m_u_W x1e-5: the floor of edge-norm-floor in the normalisations "
        "over each row's features",
        _cfg("continuous", 8, 3, 4, 2, (8, 7, 6), norm="layer"),
        seed=130,
        scale=(("W", 1e-5), ("m_u_W", 1e-5)),
    ),
}


def make_case(case):
    """(config, params, inputs, trace) of one golden case, all from its seed."""
    cfg = case.config
    rng = numpy.random.default_rng(case.seed)
    params = prepare_params(random_params(cfg, rng), cfg)
    B, N = cfg.batch_size, cfg.n_inputs
    binary = cfg.input_type == "binary"
    if binary:
        x = (rng.random((B, N)) < 0.3).astype("float64")  # sparse on-pixels, like Shapes
    else:
        x = rng.random((B, N))  # intensities in [0, 1), like TextureMNIST
    if case.labeled_batch is not None:  # labeled images and their digits
        labeled_x = rng.random((case.labeled_batch, N))
        if binary:
            labeled_x = (labeled_x < 0.3).astype("float64")
        y = rng.integers(0, case.n_classes_in_y, size=(case.labeled_batch, cfg.objects_per_sample))
        inputs = make_semi_supervised_inputs(cfg, x, labeled_x, y, rng)
    else:
        y = None
        if case.n_classes_in_y is not None:
            y = rng.integers(0, case.n_classes_in_y, size=(B, cfg.objects_per_sample))
        inputs = make_inputs(cfg, x, rng, corrupted=True, y=y)
    params, inputs = _to_the_edge(case, params, inputs)
    params, inputs = prepare_params(params, cfg), prepare_inputs(inputs, cfg)
    return cfg, params, inputs, compute_trace(params, cfg, inputs)


def _to_the_edge(case, params, inputs):
    """The case's edits (``scale``, ``set``, ``shift``, ``m0_scale``) applied to copies of the drawn point."""
    params, inputs = dict(params), dict(inputs)
    for name, factor in case.scale:
        params[name] = params[name] * factor
    for name, value in case.set:
        params[name] = numpy.full_like(params[name], value)
    for name, amount in case.shift:
        params[name] = params[name] + numpy.asarray(amount, dtype=params[name].dtype)
    if case.m0_scale != 1.0:
        for key in ("m0_logits", "labeled_m0_logits"):
            if key in inputs:
                inputs[key] = inputs[key] * case.m0_scale
    return params, inputs


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
    return (
        config,
        load_params(os.path.join(folder, "params.npz"), config),
        load_inputs(os.path.join(folder, "inputs.npz"), config),
        load_trace(os.path.join(folder, "trace.npz")),
    )


def export_case(name, dest, force=False):
    """Copy the four files of case ``name`` into folder ``dest`` (:func:`export_cases`). Returns the written paths."""
    return export_cases([name], dest, force)[name][1]


def export_cases(names, dest, force=False, nested=False):
    """Copy the four files of every case of ``names`` into folder ``dest`` (``nested``: into
    ``dest/<name>/``); the folders are created if their parent exists. All or nothing: every target
    is checked before the first is written (an existing file is replaced only with ``force``), every
    file goes to a temporary name, and the files are renamed into place only once all are written;
    a failure (a full disk) removes the temporary files and the folders it made.
    Returns {name: (folder, written paths)}."""
    dest = os.fspath(dest)
    folders = {name: os.path.join(dest, name) if nested else dest for name in names}
    sources = {name: case_dir(name) for name in names}  # an unknown name fails before anything is written
    for folder in [dest] + list(folders.values()):
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise OutputError(f"cannot export to {folder}: it is a file, not a folder")
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise OutputError(f"cannot export to {dest}: folder {parent} does not exist")
    targets = {name: [os.path.join(folders[name], f) for f in FILES] for name in names}
    existing = [t for paths in targets.values() for t in paths if os.path.exists(t)]
    if existing and not force:
        shown = ", ".join(existing[:4]) + (f" and {len(existing) - 4} more" if len(existing) > 4 else "")
        raise OutputError(f"{shown} already exist(s); use --force to replace")
    made = [f for f in dict.fromkeys([dest] + list(folders.values())) if not os.path.isdir(f)]
    try:
        for folder in made:
            os.makedirs(folder, exist_ok=True)
        with contextlib.ExitStack() as stack:  # the renames happen as it closes, after every copy
            for name in names:
                for f, target in zip(FILES, targets[name]):
                    shutil.copyfile(os.path.join(sources[name], f), stack.enter_context(atomic_path(target)))
    except BaseException as e:
        for target in (t for paths in targets.values() for t in paths if t not in existing):
            with contextlib.suppress(OSError):  # a file renamed into place before a later one failed
                os.unlink(target)
        for folder in reversed(made):  # only those this export made
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        if isinstance(e, OSError):
            raise OutputError(f"cannot export to {dest}: {e.strerror or e}") from None
        raise
    return {name: (folders[name], targets[name]) for name in names}
