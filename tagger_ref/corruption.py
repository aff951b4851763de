"""Corruption of the input (A.2) and the random initial masks (8)-(9).

The random draws are made here, from a ``numpy.random.Generator`` passed in, and then enter the
forward pass as plain inputs (``x_tilde``, ``m0_logits``), so that a trace is reproducible from
files alone.
"""
import numpy

from .backend import np
from .functions import softmax


def bitflip(x, r):
    """Bit-flip noise (A.2): x_tilde = x XOR r, written x + r (1 - 2x) for x, r in {0, 1}."""
    return x + r * (1.0 - 2.0 * x)


def corrupt(x, input_type, noise, rng):
    """x_tilde from clean x (B, N): bit flips with probability beta, or x + sigma * eps (A.2)."""
    x = numpy.asarray(x)
    if input_type == "binary":
        r = (rng.random(x.shape) < noise).astype(x.dtype)            # r ~ Bernoulli(beta), (B, N)
        return bitflip(x, r)
    return x + noise * rng.standard_normal(x.shape).astype(x.dtype)  # (B, N)


def draw_mask_logits(n_groups, batch, n_inputs, rng, dtype="float64"):
    """m'_{k,j} ~ N(0, 1), eq. (8); shape (K, B, N)."""
    return rng.standard_normal((n_groups, batch, n_inputs)).astype(dtype)


def initial_masks(m0_logits):
    """m_0 = softmax over groups of m', eq. (9); sums to one over k, eq. (7)."""
    return softmax(m0_logits, axis=0)  # (K, B, N)


def initial_z(x_tilde, n_groups, z_init):
    """z_0 = E[x], the data mean, for every group and input (A.4); shape (K, B, N)."""
    return np.zeros((n_groups,) + x_tilde.shape, dtype=x_tilde.dtype) + z_init
