"""Model inputs (docs/spec.md section 8): x, x_tilde, m0_logits and optional class targets y; checked files.

The draws that make them are the maths' (``maths.corruption.make_inputs``); this module reads and checks them.

A semi-supervised step's inputs add a labeled batch: ``labeled_x``, ``labeled_x_tilde``,
``labeled_m0_logits`` and its targets ``y`` (``maths.semi_supervised``); without the
``labeled_*`` keys, ``y`` belongs to the one batch ``x``.
"""

import numpy

from ..device.backend import to_numpy
from ..errors import InputError
from .fileio import load_npz, save_npz

INPUT_KEYS = ("x", "x_tilde", "m0_logits", "y", "labeled_x", "labeled_x_tilde", "labeled_m0_logits")
LABELED = ("labeled_x", "labeled_x_tilde", "labeled_m0_logits")


def check_inputs(inputs, config, source="inputs"):
    """Raise InputError naming every problem: missing or extra keys, shapes, non-finite values,
    non-binary values for a binary model, class targets out of range."""
    problems = []
    for key in ("x", "x_tilde", "m0_logits"):
        if key not in inputs:
            problems.append(f"missing {key}")
    extra = sorted(k for k in inputs if k not in INPUT_KEYS)
    if extra:
        problems.append("unexpected " + ", ".join(extra))
    semi = any(k in inputs for k in LABELED)
    if semi:
        problems += [
            f"missing {k} (a labeled batch needs all of {', '.join(LABELED)} and y)"
            for k in LABELED + ("y",)
            if k not in inputs
        ]
        if config.class_cost_x <= 0:
            problems.append("a labeled batch needs a classification head (class_cost_x > 0)")
    if problems:
        raise InputError(f"{source}: " + "; ".join(problems))
    _check_batch(inputs, config, "", problems)
    if semi:
        _check_batch(inputs, config, "labeled_", problems)
        K, K_l = (to_numpy(inputs[k]).shape[0] for k in ("m0_logits", "labeled_m0_logits"))
        if K != K_l and not problems:
            problems.append(f"labeled_m0_logits has {K_l} groups, m0_logits {K}")
    if "y" in inputs:
        x = to_numpy(inputs["labeled_x" if semi else "x"])
        y = to_numpy(inputs["y"])
        B = x.shape[0] if x.ndim == 2 else None
        if not numpy.issubdtype(y.dtype, numpy.integer):
            problems.append(f"y has dtype {y.dtype}, expected integer class labels")
        elif y.ndim != 2 or y.shape[0] != B:
            problems.append(f"y has shape {y.shape}, expected ({'labeled ' if semi else ''}B={B}, objects)")
        elif config.class_cost_x > 0 and y.size and (y.min() < 0 or y.max() >= config.n_classes):
            problems.append(f"y has labels outside 0..{config.n_classes - 1}")
    if problems:
        raise InputError(f"{source}: " + "; ".join(problems))


def _check_batch(inputs, config, prefix, problems):
    """Append the problems of one batch's x, x_tilde, m0_logits (keys with ``prefix``) to ``problems``."""
    x, xt, m0 = (to_numpy(inputs[prefix + k]) for k in ("x", "x_tilde", "m0_logits"))  # checked on the host
    N = config.n_inputs
    if x.ndim != 2 or x.shape[1] != N:
        problems.append(f"{prefix}x has shape {x.shape}, expected (B, {N})")
    elif x.shape[0] < 1:
        problems.append(f"{prefix}x has shape {x.shape}: a batch of no images (B must be at least 1)")
    if xt.shape != x.shape:
        problems.append(f"{prefix}x_tilde has shape {xt.shape}, expected that of {prefix}x {x.shape}")
    if m0.ndim != 3 or m0.shape[1:] != x.shape or m0.shape[0] < 1:
        problems.append(f"{prefix}m0_logits has shape {m0.shape}, expected (K, {', '.join(map(str, x.shape))})")
    for key, a in ((prefix + "x", x), (prefix + "x_tilde", xt), (prefix + "m0_logits", m0)):
        if not numpy.issubdtype(a.dtype, numpy.number) or numpy.issubdtype(a.dtype, numpy.complexfloating):
            problems.append(f"{key} has dtype {a.dtype}, expected real numbers")
        elif not numpy.all(numpy.isfinite(a)):
            problems.append(f"{key} has {int(numpy.sum(~numpy.isfinite(a)))} NaN or infinite value(s)")
        elif config.input_type == "binary" and not key.endswith("m0_logits") and not numpy.all((a == 0) | (a == 1)):
            problems.append(f"{key} has values other than 0 and 1, but the model is binary")


def prepare_inputs(inputs, config, source="inputs"):
    """Check ``inputs`` and return them as NumPy arrays of the config's dtype (y as int64), from any device."""
    check_inputs(inputs, config, source)
    out = {
        k: numpy.asarray(to_numpy(inputs[k]), dtype=config.dtype)
        for k in ("x", "x_tilde", "m0_logits") + LABELED
        if k in inputs
    }
    if "y" in inputs:
        out["y"] = numpy.asarray(to_numpy(inputs["y"]), dtype=numpy.int64)
    return out


def load_inputs(path, config, n_groups=None):
    """Read and check an inputs `.npz`; its m0_logits must have ``n_groups`` groups (default: the config's K)."""
    source = f"inputs file {path}"
    inputs = prepare_inputs(load_npz(path, InputError, what="inputs file"), config, source=source)
    K = config.n_groups if n_groups is None else n_groups
    if inputs["m0_logits"].shape[0] != K:
        raise InputError(
            f"{source}: m0_logits has {inputs['m0_logits'].shape[0]} groups, but the config has n_groups = {K}"
        )
    return inputs


def save_inputs(path, inputs):
    """Write inputs (float64, y as int64) atomically."""
    save_npz(path, {k: numpy.asarray(to_numpy(v), dtype="int64" if k == "y" else "float64") for k, v in inputs.items()})
