"""Parameters: names and shapes (docs/spec.md section 3) and the original code's initial values.

Names are the original code's, matrices are (in, out) and used as ``x @ W``, so a parameter
file in the authors' format loads without renaming (``files.params`` reads and writes them).
"""

import math

import numpy

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
