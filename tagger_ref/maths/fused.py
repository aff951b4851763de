"""The fast path: sigmoid, normalize and the Ladder's combinator as autograd primitives whose
derivatives are written out by hand, for training speed.

The reference path is the plain formulas in ``functions`` and ``combinator``, differentiated by
autograd step by step; ``trace``, ``gradcheck``, the golden cases and the maths tests use it.
These primitives reach the model only through ``ops.FAST``, which the caller hands to ``forward``
or ``cost_and_grad`` (training, validation, evaluation and the baselines do: docs/training.md).
Both paths give the same values up to rounding and the same gradients to 1e-12 in float64
(reference_tests/test_fast_path.py); how much time each saves is in docs/numerics.md and
``benchmarks/step_time.py``.
"""

import numpy as _numpy
from autograd.extend import defvjp, defvjp_argnums, primitive

from ..device.backend import getval, isbox, np
from . import functions

# ---------------------------------------------------------------- sigmoid


@primitive
def sigmoid(a):
    """g(a) = 1 / (1 + exp(-a)) as written; g'(a) = g(a) g(-a), accurate in both tails.

    Where exp(-a) overflows, g is 0 (the true value is below the smallest normal number).
    """
    with _numpy.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-a))


defvjp(sigmoid, lambda g_a, a: lambda cotangent: cotangent * g_a * sigmoid(-a))


# ---------------------------------------------------------------- normalize


def normalize(a, norm):
    """y = (a - mean) / s, s = sqrt(var + 1e-10); da = (g - mean(g) - y mean(g y)) / s.

    The centred values and s are computed once from the values and handed to the primitive,
    whose derivative reuses s. The axis is ``functions.norm_axis(norm)``, as the plain formula's.
    """
    axis = functions.norm_axis(norm)
    centred, scale = functions.centred_and_std(getval(a), axis)
    return _normalized(a, axis=axis, centred=centred, scale=scale)


@primitive
def _normalized(a, axis, centred, scale):
    return centred / scale


def _normalized_vjp(y, a, axis, centred, scale):
    if isbox(a):  # differentiated again (second order): trace s, not the constant
        _, scale = functions.centred_and_std(a, axis)

    def vjp(g):
        mean = functions.mean
        return (g - mean(g, axis=axis, keepdims=True) - y * mean(g * y, axis=axis, keepdims=True)) / scale

    return vjp


defvjp(_normalized, _normalized_vjp)


# ---------------------------------------------------------------- the combinator


def combinator_terms(u, a, continuous):
    """s1 = sigmoid(a2 u + a3), s2 = sigmoid(a7 u + a8), mu and vg of ``combinator.combinator``."""
    a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = a
    s1 = sigmoid(a2 * u + a3)
    s2 = sigmoid(a7 * u + a8)
    mu = a1 * s1 + a4 * u + a5
    vg = a6 * s2 + a9 * u + a10
    if continuous:
        vg = sigmoid(vg)
    return s1, s2, mu, vg


def combinator(zl, u, a, continuous):
    """zhat = (zl - mu) vg + mu (``combinator.combinator``), its derivative written out for all twelve
    arguments with the terms computed once from the values."""
    terms = combinator_terms(getval(u), [getval(a_j) for a_j in a], continuous)
    return _combine(zl, u, *a, continuous=continuous, terms=terms)


@primitive
def _combine(zl, u, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, continuous, terms):
    _, _, mu, vg = terms
    return (zl - mu) * vg + mu


def _combine_vjp(argnums, ans, args, kwargs):
    zl, u, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = args
    continuous = kwargs["continuous"]
    if any(isbox(x) for x in args):  # differentiated again (second order): trace the terms
        s1, s2, mu, vg = combinator_terms(u, args[2:], continuous)
    else:
        s1, s2, mu, vg = kwargs["terms"]

    def vjp(g):
        d_mu = g * (1.0 - vg)  # d zhat / d mu = 1 - vg
        d_vg = g * (zl - mu)  # d zhat / d vg = zl - mu
        if continuous:
            d_vg = d_vg * vg * (1.0 - vg)  # through the gating sigmoid (A.6)
        t1 = d_mu * a1 * s1 * (1.0 - s1)  # d / d(a2 u + a3)
        t2 = d_vg * a6 * s2 * (1.0 - s2)  # d / d(a7 u + a8)
        grads = {
            0: lambda: g * vg,
            1: lambda: t1 * a2 + d_mu * a4 + t2 * a7 + d_vg * a9,
            2: lambda: _column_dot(d_mu, s1),
            3: lambda: _column_dot(t1, u),
            4: lambda: np.sum(t1, axis=0),
            5: lambda: _column_dot(d_mu, u),
            6: lambda: np.sum(d_mu, axis=0),
            7: lambda: _column_dot(d_vg, s2),
            8: lambda: _column_dot(t2, u),
            9: lambda: np.sum(t2, axis=0),
            10: lambda: _column_dot(d_vg, u),
            11: lambda: np.sum(d_vg, axis=0),
        }
        return tuple(grads[i]() for i in argnums)

    return vjp


defvjp_argnums(_combine, _combine_vjp)


def _column_dot(x, y):
    """sum(x * y, axis=0) in one pass."""
    return np.einsum("ij,ij->j", x, y)
