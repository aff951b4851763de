"""The modelling error delta_z, eq. (4) and A.5: (21)-(31). Arrays over groups are (K, B, N)."""

from ..device.backend import np
from .functions import log_or_minus_inf, softmax
from .likelihood import binary_xi, continuous_group_nll, continuous_ztilde


def mixture_denominator(xi, x_tilde):
    """xi - 1 + x_tilde, the denominator of (30)-(31): sum_h z_tilde_h m_h up to its sign (xi or xi - 1).

    Evaluated as xi - (1 - x_tilde): for x_tilde in {0, 1} the bracket is exact, so the result is
    xi - 1 or xi correctly rounded, where (xi - 1) + x_tilde would lose a small xi
    (docs/numerics.md, "The binary denominator"). Its magnitude is at least beta for z in [0, 1].
    """
    return xi - (1.0 - x_tilde)


def delta_z_binary(z, m, x_tilde, beta):
    """Exact derivative (30)-(31) of log sum_h z_tilde_h m_h with respect to z_k (original code, E1).

    xi = sum_h xi_h m_h with xi_h from (17); delta_z_k = (1 - 2 beta) m_k / (xi - 1 + x_tilde),
    valid for x_tilde in {0, 1}. Uses the unclipped xi (the likelihood L(m) uses the clipped one).
    The denominator is evaluated as xi - (1 - x_tilde) (``mixture_denominator``).
    """
    xi = np.sum(binary_xi(z, beta) * m, axis=0)  # (B, N)
    return (1.0 - 2.0 * beta) * m / mixture_denominator(xi, x_tilde)  # (K, B, N)


def delta_z_binary_paper(z, m, x_tilde, beta):
    """The paper's closing line of A.5 (errata E1): m_k / (sum_h xi_h m_h - 1 + x_tilde), without the
    factor (1 - 2 beta)."""
    xi = np.sum(binary_xi(z, beta) * m, axis=0)  # (B, N)
    return m / mixture_denominator(xi, x_tilde)  # (K, B, N)


def delta_z_continuous(z, m, x_tilde):
    """delta_z_k = m_k (x_tilde - z_k), eq. (4) (original code, errata E2)."""
    return m * (x_tilde - z)


def delta_z_continuous_eq28(z, m, x_tilde, s2, log_m=None):
    """Eq. (28): (x_tilde - z_k) / (sigma^2 + v) * z_tilde_k m_k / sum_h z_tilde_h m_h, exact.

    The posterior weights are softmax_K(log z_tilde_k + log m_k), in the log domain so that small
    densities do not underflow. log_m: log m from the mask logits (``log_softmax``, as the model
    passes it); without it, the safe log ``log_or_minus_inf(m)`` (docs/numerics.md, "Safe log").
    """
    if log_m is None:
        log_m = log_or_minus_inf(m)
    weights = softmax(-continuous_group_nll(z, x_tilde, s2) + log_m, axis=0)  # (K, B, N)
    return (x_tilde - z) / s2 * weights


def delta_z_continuous_eq29(z, m, x_tilde, s2):
    """Eq. (29) and Alg. 1/2: (x_tilde - z_k) m_k z_tilde_k, with z_tilde_k = N(x_tilde; z_k, s2)."""
    return (x_tilde - z) * m * continuous_ztilde(z, x_tilde, s2)
