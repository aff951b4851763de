"""The derivative identities of docs/spec.md section 4 (step 2), checked against autograd.

E1: the binary delta_z of the original code, (30)-(31), is exactly d/dz_k log sum_h z_tilde_h m_h
with z_tilde from (18). (28): the paper's continuous delta_z is exactly d/dz_k log sum_h
N(x_tilde; z_h, v + sigma^2) m_h. These hold for any z, m, x_tilde of the right kind.
"""

import numpy
from autograd import elementwise_grad

from ..device.backend import np
from ..maths.likelihood import binary_ztilde, continuous_ztilde
from ..maths.modelling_error import delta_z_binary, delta_z_continuous_eq28


def log_q_tilde_binary(z, m, x_tilde, beta):
    """log sum_k z_tilde_k m_k with z_tilde from (18): the log-likelihood of the corrupted input."""
    return np.sum(np.log(np.sum(binary_ztilde(z, x_tilde, beta) * m, axis=0)))


def log_q_tilde_continuous(z, m, x_tilde, s2):
    """log sum_k N(x_tilde; z_k, s2) m_k, (20), directly from the densities."""
    return np.sum(np.log(np.sum(continuous_ztilde(z, x_tilde, s2) * m, axis=0)))


def identity_errors(rng, K=3, B=4, N=5, beta=0.2, s2=0.3):
    """Max relative error of each identity at a random point: {name: (error, analytic, autograd)}."""
    z = rng.random((K, B, N))
    logits = rng.standard_normal((K, B, N))
    m = numpy.exp(logits) / numpy.exp(logits).sum(axis=0)
    out = {}
    x_bin = (rng.random((B, N)) < 0.5).astype(float)
    formula = delta_z_binary(z, m, x_bin, beta)
    auto = elementwise_grad(log_q_tilde_binary)(z, m, x_bin, beta)
    out["E1 binary delta_z (30)-(31) = d log q(x_tilde)/dz"] = formula, auto
    x_cont = rng.random((B, N))
    zc = rng.standard_normal((K, B, N)) * 0.5 + 0.5
    formula = delta_z_continuous_eq28(zc, m, x_cont, s2)
    auto = elementwise_grad(log_q_tilde_continuous)(zc, m, x_cont, s2)
    out["(28) continuous delta_z = d log q(x_tilde)/dz"] = formula, auto
    result = {}
    for name, (a, b) in out.items():
        err = numpy.abs(a - b) / numpy.maximum(numpy.abs(b), 1e-300)
        i = numpy.unravel_index(numpy.argmax(err), err.shape)
        result[name] = (float(err[i]), float(a[i]), float(b[i]), i)
    return result
