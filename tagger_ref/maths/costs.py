"""Denoising costs: the mixture prediction q(x), eqs. (2) and (6), and the cost over iterations (1)."""

from ..device.backend import np
from .functions import bce, clip_eps, logsumexp, mean
from .likelihood import PROB_CLIP

# Added inside log m in the continuous cost (original code), so that log m stays finite.
LOG_M_EPS = 1e-5


def mixture_binary(z, m):
    """q(x_j = 1) = sum_k m_{k,j} z_{k,j}, eq. (2) with (11). (B, N)."""
    return np.sum(m * z, axis=0)


def cost_binary(z, m, x):
    """Binary denoising cost -log q(x), batch mean of the per-input mean: bce(clip_eps(q, 1e-4), x) (E5)."""
    return mean(bce(clip_eps(mixture_binary(z, m), PROB_CLIP), x))


def mixture_log_terms_continuous(z, m, x, v_eff):
    """log N(x; z_k, v) m_k up to the constant -log(2 pi)/2, for the mixture (6), as the original code:
    -0.5 (log v + (x - z_k)^2 / v) + log(m_k + 1e-5) with v = v_eff (errata E4, E5). (K, B, N)."""
    return -0.5 * (np.log(v_eff) + (x - z) ** 2 / v_eff) + np.log(m + LOG_M_EPS)


def cost_continuous(z, m, x, v_eff):
    """Continuous denoising cost -log q(x), eq. (6), via log-sum-exp over groups; batch and input mean."""
    return mean(-logsumexp(mixture_log_terms_continuous(z, m, x, v_eff), axis=0))


def denoising_cost_over_iterations(costs, semantics="original"):
    """C over the iterations' denoising costs cost_1..cost_T, eq. (1): the paper sums them; the
    original code takes their mean (errata E5)."""
    total = costs[0]
    for c in costs[1:]:
        total = total + c
    return total if semantics != "original" else total / len(costs)
