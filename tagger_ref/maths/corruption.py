"""Corruption of the input (A.2) and the random initial masks (8)-(9).

The random draws are made here, from a generator passed in, and then enter the forward pass as
plain inputs (``x_tilde``, ``m0_logits``), so that a trace is reproducible from files alone. The
generator is a ``numpy.random.Generator`` or one of the active device (``backend.device_rng``);
draws are moved to the device of the data they corrupt.
"""

import numpy

from ..device.backend import asarray, asarray_like, np
from .functions import softmax


def bitflip(x, r):
    """Bit-flip noise (A.2): x_tilde = x XOR r, written x + r (1 - 2x) for x, r in {0, 1}."""
    return x + r * (1.0 - 2.0 * x)


def corrupt(x, input_type, noise, rng):
    """x_tilde from clean x (B, N), an array: bit flips with probability beta, or x + sigma * eps (A.2)."""
    if input_type == "binary":
        r = asarray_like(rng.random(x.shape) < noise, x).astype(x.dtype)  # r ~ Bernoulli(beta), (B, N)
        return bitflip(x, r)
    return x + noise * asarray_like(rng.standard_normal(x.shape), x).astype(x.dtype)  # (B, N)


def draw_mask_logits(n_groups, batch, n_inputs, rng, dtype="float64"):
    """m'_{k,j} ~ N(0, 1), eq. (8); shape (K, B, N)."""
    return rng.standard_normal((n_groups, batch, n_inputs)).astype(dtype)


def initial_masks(m0_logits):
    """m_0 = softmax over groups of m', eq. (9); sums to one over k, eq. (7)."""
    return softmax(m0_logits, axis=0)  # (K, B, N)


def initial_z(x_tilde, n_groups, z_init):
    """z_0 = E[x], the data mean, for every group and input (A.4); shape (K, B, N), on x_tilde's device."""
    return np.full_like(x_tilde, z_init, shape=(n_groups,) + x_tilde.shape)


def make_inputs(config, x, rng, corrupted=True, n_groups=None, y=None):
    """Inputs for one pass over clean data x (B, N): x_tilde (corrupted, or x itself for
    evaluation) and m0_logits ~ N(0, 1) (8), both drawn from ``rng`` (corruption first).

    Everything is on the active device (``backend``). ``rng`` is a NumPy Generator (draws made on
    the host and copied: the same draws on every device) or ``backend.device_rng(rng)`` (drawn on
    the device)."""
    x = asarray(x, dtype=config.dtype)
    K = config.n_groups if n_groups is None else n_groups
    x_tilde = corrupt(x, config.input_type, config.input_noise, rng) if corrupted else x.copy()
    m0_logits = draw_mask_logits(K, x.shape[0], x.shape[1], rng, config.dtype)
    inputs = {"x": x, "x_tilde": x_tilde, "m0_logits": asarray_like(m0_logits, x)}
    if y is not None:
        inputs["y"] = asarray(y, dtype=numpy.int64).reshape(x.shape[0], -1)
    return inputs


def make_semi_supervised_inputs(config, x, labeled_x, y, rng, corrupted=True):
    """Inputs of a semi-supervised step: ``make_inputs`` of the unlabeled batch x (B, N), then of
    the labeled batch labeled_x (B_l, N) with targets y (B_l, objects), each its own draws from
    ``rng`` in that order; the labeled batch's keys prefixed ``labeled_``, ``y`` as it is."""
    inputs = make_inputs(config, x, rng, corrupted=corrupted)
    labeled = make_inputs(config, labeled_x, rng, corrupted=corrupted, y=y)
    inputs.update({f"labeled_{k}": labeled[k] for k in ("x", "x_tilde", "m0_logits")})
    inputs["y"] = labeled["y"]
    return inputs
