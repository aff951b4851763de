"""Per-group likelihoods of the corrupted input and the group likelihood L(m), eq. (5).

Binary inputs: (11)-(18). Continuous inputs: (19)-(20). Arrays over groups are (K, B, N).
"""

import math

from ..device.backend import np
from .functions import bce, clip_eps, softmax

# Soft clip of probabilities before a log (original code): p (1 - 2e) + e with e = 1e-4.
PROB_CLIP = 1e-4


def binary_xi(z, beta):
    """xi_k = q(x_tilde = 1 | g_k) = z_k (1 - 2 beta) + beta, eq. (17) (z_k a probability, (11))."""
    return z * (1.0 - 2.0 * beta) + beta


def binary_ztilde(z, x_tilde, beta):
    """z_tilde_k = q(x_tilde | g_k) = x_tilde xi_k + (1 - x_tilde)(1 - xi_k), eq. (18)."""
    xi = binary_xi(z, beta)
    return x_tilde * xi + (1.0 - x_tilde) * (1.0 - xi)


def binary_group_nll(z, x_tilde, beta):
    """-log z_tilde_k as the original code computes it: bce(clip_eps(xi_k, 1e-4), x_tilde).

    Equals -log of (18) up to the soft clip, which keeps the log finite when xi reaches 0 or 1.
    """
    return bce(clip_eps(binary_xi(z, beta), PROB_CLIP), x_tilde)  # (K, B, N)


def group_likelihood_binary(z, x_tilde, beta):
    """L(m_k) = z_tilde_k / sum_h z_tilde_h, eq. (5) with (18), as softmax_K(-nll).

    Alg. 3 writes the numerator with xi_h (errata E8, a typo); this uses xi_k.
    """
    return softmax(-binary_group_nll(z, x_tilde, beta), axis=0)  # (K, B, N)


def continuous_total_variance(sigma, v_eff, semantics="original"):
    """Variance of x_tilde given g_k: v + sigma^2 by eq. (20).

    Original code (errata E3): sigma^2 + v_eff^2, while the cost uses v_eff itself as the
    variance. Paper: v + sigma^2 with v = v_eff the variance of (19).
    """
    if semantics == "original":
        return sigma**2 + v_eff**2
    return sigma**2 + v_eff


def continuous_group_nll(z, x_tilde, s2):
    """-log N(x_tilde; z_k, s2) without the constant log(2 pi)/2: 0.5 log s2 + (z - x_tilde)^2 / (2 s2), (19)-(20)."""
    return 0.5 * np.log(s2) + (z - x_tilde) ** 2 / (2.0 * s2)  # (K, B, N)


def continuous_ztilde(z, x_tilde, s2):
    """z_tilde_k = N(x_tilde; z_k, s2 I), the Gaussian density of (19)-(20) (with the minus sign, errata E9).

    sqrt(2 pi) is a Python float, so float32 stays float32 (docs/numerics.md).
    """
    return np.exp(-continuous_group_nll(z, x_tilde, s2)) / math.sqrt(2.0 * math.pi)


def group_likelihood_continuous(z, x_tilde, s2):
    """L(m_k) = z_tilde_k / sum_h z_tilde_h, eq. (5) with (20), as softmax_K(-nll)."""
    return softmax(-continuous_group_nll(z, x_tilde, s2), axis=0)  # (K, B, N)
