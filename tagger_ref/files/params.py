"""Parameter files: checked on reading, written in the float64 exchange format (docs/spec.md section 8).

The names, shapes and initial values are the maths' (``maths.init``, docs/spec.md section 3): a
file is checked against ``maths.init.param_shapes``.
"""

import numpy

from ..device.backend import to_numpy
from ..errors import ParamFileError
from ..maths.init import param_shapes
from .fileio import load_npz, save_npz


def value_problem(name, a, dtype):
    """What makes ``a`` unusable as the values of parameter ``name`` of a model computing in ``dtype``
    (a phrase, or None): not real numbers, non-finite values, or values beyond ``dtype``'s range,
    which would turn infinite when cast. The one check of a parameter's values, whether it comes by
    ``--params`` (:func:`check_params`) or by ``--init-from`` (``training.plan_transfer``)."""
    a = to_numpy(a)  # checked on the host
    if not numpy.issubdtype(a.dtype, numpy.floating) and not numpy.issubdtype(a.dtype, numpy.integer):
        return f"{name} has dtype {a.dtype}, expected a float"
    if not numpy.all(numpy.isfinite(a)):
        return f"{name} has {int(numpy.sum(~numpy.isfinite(a)))} non-finite value(s)"
    largest = float(numpy.max(numpy.abs(a))) if a.dtype.kind == "f" and a.size else 0.0
    if largest > float(numpy.finfo(dtype).max):
        return f"{name} has values beyond the range of {dtype} (largest magnitude {largest:.3g})"
    return None


def check_params(params, config, source="parameters"):
    """Raise ParamFileError listing every missing, extra, mis-shaped entry by name, and those whose
    values cannot be used (:func:`value_problem`)."""
    shapes = param_shapes(config)
    problems = []
    missing = [k for k in shapes if k not in params]
    extra = sorted(k for k in params if k not in shapes)
    if missing:
        problems.append("missing " + ", ".join(missing))
    if extra:
        problems.append("unexpected " + ", ".join(extra))
    for name, shape in shapes.items():
        if name not in params:
            continue
        a = to_numpy(params[name])  # checked on the host
        if a.shape != tuple(shape):
            problems.append(f"{name} has shape {a.shape}, expected {tuple(shape)}")
        elif value_problem(name, a, config.dtype):
            problems.append(value_problem(name, a, config.dtype))
    if problems:
        raise ParamFileError(
            f"{source} cannot be used with the config ({config.input_type}, N={config.n_inputs}, "
            f"Ladder {list(config.encoder_proj)}): " + "; ".join(problems)
        )


def prepare_params(params, config, source="parameters"):
    """Check ``params`` and return them as NumPy arrays of the config's dtype, from any device, in
    the order of docs/spec.md section 3."""
    check_params(params, config, source)
    return {k: numpy.asarray(to_numpy(params[k]), dtype=config.dtype) for k in param_shapes(config)}


def load_params(path, config):
    """Read and check a parameter `.npz`; returns arrays of the config's dtype."""
    raw = load_npz(path, ParamFileError, what="parameter file")
    return prepare_params(raw, config, source=f"parameter file {path}")


def save_params(path, params):
    """Write parameters as float64 `.npz` (the exchange format), atomically."""
    save_npz(path, {k: numpy.asarray(to_numpy(v), dtype="float64") for k, v in params.items()})
