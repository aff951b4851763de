"""Parameters: names and shapes (docs/spec.md section 3), initialisation, checked files.

Names are the original code's, matrices are (in, out) and used as ``x @ W``, so a parameter
file in the authors' format loads without renaming.
"""

import math

import numpy

from ..device.backend import to_numpy
from ..errors import ParamFileError
from .fileio import load_npz, save_npz

COMBINATOR_ONES = ("a2", "a7")  # combinator parameters initialised to 1; the other eight start at 0


def param_shapes(config):
    """Ordered dict name -> shape of every parameter of ``config``'s model."""
    N, H = config.n_inputs, config.encoder_proj
    L = len(H)
    shapes = {
        "W": (4 * N, H[0]),
        "b": (H[0],),
        "z_u_W": (H[0], N),
        "c1": (N,),
        "b1": (N,),
        "m_u_W": (H[0], N),
        "c2": (),
    }
    if config.input_type == "continuous":
        shapes["v"] = ()
    for i in range(1, L):
        shapes[f"f_{i}_W"] = (H[i - 1], H[i])
        shapes[f"f_{i}_b"] = (H[i],)
    shapes[f"f_{L - 1}_c"] = (H[L - 1],)
    for i in range(L - 1):
        shapes[f"g_{i}_W"] = (H[i + 1], H[i])
    for i in range(L):
        for j in range(1, 11):
            shapes[f"g_{i}_a{j}"] = (H[i],)
    return shapes


def count_params(config):
    """Total number of scalar parameters."""
    return sum(math.prod(s) for s in param_shapes(config).values())


def init_params(config, rng):
    """The original code's initial values: matrices randn(in, out) / sqrt(in); c1, c2, v, f_top_c,
    a2 and a7 ones; everything else zeros. Random draws from ``rng``, in name order."""
    params = {}
    for name, shape in param_shapes(config).items():
        if name.endswith("W"):
            value = rng.standard_normal(shape) / numpy.sqrt(shape[0])
        elif name in ("c1", "c2", "v") or name.endswith("_c") or name.rsplit("_", 1)[-1] in COMBINATOR_ONES:
            value = numpy.ones(shape)
        else:
            value = numpy.zeros(shape)
        params[name] = value.astype(config.dtype)
    return params


def perturb_params(params, rng, scale=0.3):
    """Initial values plus scale * N(0, 1) on every vector and scalar (matrices get a relative
    perturbation): at the exact initial values a binary model's Ladder output is identically
    zero, so traces for comparing implementations use perturbed parameters (docs/spec.md section 4)."""
    out = {}
    for name, value in params.items():
        noise = rng.standard_normal(value.shape)
        if name.endswith("W"):
            out[name] = (value * (1.0 + scale * noise)).astype(value.dtype)
        else:
            out[name] = (value + scale * noise).astype(value.dtype)
    return out


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
