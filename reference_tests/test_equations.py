"""Each equation function against an independently written expression or autograd's derivative."""

import autograd.numpy as anp
import numpy
import pytest
import scipy.special
import scipy.stats
from autograd import elementwise_grad
from autograd.scipy.stats import norm as anorm

from tagger_ref.maths import classification, combinator, costs, functions, heads, likelihood, modelling_error
from tagger_ref.maths.corruption import bitflip, corrupt, initial_masks

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


RNG = numpy.random.default_rng(1234)
K, B, N = 3, 4, 5


def random_z_m():
    z = RNG.uniform(0.02, 0.98, (K, B, N))
    m = scipy.special.softmax(RNG.standard_normal((K, B, N)) * 2, axis=0)
    return z, m


def test_elementary_functions():
    a = RNG.standard_normal((6, 7)) * 30
    numpy.testing.assert_allclose(functions.sigmoid(a), scipy.special.expit(a), rtol=1e-13, atol=1e-300)
    numpy.testing.assert_allclose(functions.softmax(a, 0), scipy.special.softmax(a, axis=0), rtol=1e-12)
    numpy.testing.assert_allclose(functions.logsumexp(a, 1), scipy.special.logsumexp(a, axis=1), rtol=1e-13)
    numpy.testing.assert_allclose(
        functions.pos(a), numpy.where(a > 0, a + numpy.sqrt(a * a + 1), 1 / (numpy.sqrt(a * a + 1) - a)), rtol=1e-12
    )
    numpy.testing.assert_allclose(functions.clip_eps(numpy.array([0.0, 1.0]), 1e-4), [1e-4, 1 - 1e-4])
    assert functions.relu(numpy.array([-2.0, 0.0, 3.0])).tolist() == [0.0, 0.0, 3.0]
    p, t = RNG.uniform(0.01, 0.99, 10), RNG.integers(0, 2, 10)
    numpy.testing.assert_allclose(functions.bce(p, t), -scipy.stats.bernoulli.logpmf(t, p), rtol=1e-13)


def test_normalize_batch_and_layer():
    a = RNG.standard_normal((12, 7)) * 3 + 1
    by_rows = (a - a.mean(0)) / numpy.sqrt(a.var(0) + 1e-10)
    by_features = (a - a.mean(1, keepdims=True)) / numpy.sqrt(a.var(1, keepdims=True) + 1e-10)
    numpy.testing.assert_allclose(functions.normalize(a, "batch"), by_rows, rtol=1e-13)
    numpy.testing.assert_allclose(functions.normalize(a, "layer"), by_features, rtol=1e-13)
    # a constant column is centred to exactly zero, not NaN (the 1e-10 floor)
    c = numpy.ones((5, 2))
    assert numpy.all(functions.normalize(c, "batch") == 0)


def test_normalisation_names_are_one_table():
    """The config accepts exactly the normalisations the maths knows, and both paths refuse any other
    name with an error naming the known ones (no name silently means layer norm)."""
    from tagger_ref.config import NORMS
    from tagger_ref.errors import ConfigError
    from tagger_ref.maths import fused

    assert tuple(functions.NORM_AXES) == NORMS
    a = numpy.arange(6.0).reshape(3, 2)
    for normalize in (functions.normalize, fused.normalize):
        with pytest.raises(ConfigError, match="unknown normalisation 'group': the known ones are batch, layer"):
            normalize(a, "group")


def test_bitflip_is_xor_and_corruption_rates():
    x = RNG.integers(0, 2, (1000, 50)).astype(float)
    r = RNG.integers(0, 2, (1000, 50)).astype(float)
    assert numpy.array_equal(bitflip(x, r), numpy.logical_xor(x, r).astype(float))
    xt = corrupt(x, "binary", 0.2, numpy.random.default_rng(0))
    assert abs(numpy.mean(xt != x) - 0.2) < 0.005
    xc = corrupt(x, "continuous", 0.2, numpy.random.default_rng(0))
    assert abs(numpy.std(xc - x) - 0.2) < 0.002


def test_xi_eq17_and_ztilde_eq18_against_bce():
    z, _ = random_z_m()
    beta = 0.2
    xt = RNG.integers(0, 2, (B, N)).astype(float)
    xi = likelihood.binary_xi(z, beta)
    # (12)-(16): sum over x of q(x_tilde = 1 | x) q(x | g_k)
    numpy.testing.assert_allclose(xi, (1 - beta) * z + beta * (1 - z), rtol=1e-14)
    # (18) equals exp(-bce(xi, x_tilde)) (the Bernoulli likelihood of x_tilde)
    numpy.testing.assert_allclose(likelihood.binary_ztilde(z, xt, beta), numpy.exp(-functions.bce(xi, xt)), rtol=1e-13)


def test_group_likelihood_eq5_sums_to_one_and_is_a_ratio():
    z, _ = random_z_m()
    xt = RNG.integers(0, 2, (B, N)).astype(float)
    L = likelihood.group_likelihood_binary(z, xt, 0.2)
    numpy.testing.assert_allclose(L.sum(0), 1.0, rtol=1e-14)
    zeta = functions.clip_eps(likelihood.binary_xi(z, 0.2), 1e-4)
    ratio = scipy.stats.bernoulli.pmf(xt, zeta)
    numpy.testing.assert_allclose(L, ratio / ratio.sum(0), rtol=1e-12)
    xc, zc, s2 = RNG.random((B, N)), RNG.standard_normal((K, B, N)), 0.3
    Lc = likelihood.group_likelihood_continuous(zc, xc, s2)
    dens = scipy.stats.norm.pdf(xc, zc, numpy.sqrt(s2))
    numpy.testing.assert_allclose(Lc, dens / dens.sum(0), rtol=1e-12)
    numpy.testing.assert_allclose(likelihood.continuous_ztilde(zc, xc, s2), dens, rtol=1e-12)


def test_binary_delta_z_is_derivative_of_log_likelihood_E1():
    z, m = random_z_m()
    beta = 0.2
    xt = RNG.integers(0, 2, (B, N)).astype(float)

    def log_q(z):  # log sum_k q(x_tilde | g_k) m_k, with q a Bernoulli of parameter (1-2 beta) z + beta
        p1 = (1 - 2 * beta) * z + beta
        return anp.sum(anp.log(anp.sum(anp.where(xt == 1, p1, 1 - p1) * m, axis=0)))

    auto = elementwise_grad(log_q)(z)
    numpy.testing.assert_allclose(modelling_error.delta_z_binary(z, m, xt, beta), auto, rtol=1e-12)
    # the paper's closing line drops the factor (1 - 2 beta) (E1)
    numpy.testing.assert_allclose(
        modelling_error.delta_z_binary_paper(z, m, xt, beta), auto / (1 - 2 * beta), rtol=1e-12
    )


def test_continuous_delta_z_eq28_is_derivative_eq4_and_eq29():
    zc, m = random_z_m()
    zc = zc * 2 - 0.5
    xt, s2 = RNG.random((B, N)), 0.25

    def log_q(z):  # log sum_k N(x_tilde; z_k, v + sigma^2) m_k
        return anp.sum(anp.log(anp.sum(anorm.pdf(xt, z, anp.sqrt(s2)) * m, axis=0)))

    numpy.testing.assert_allclose(
        modelling_error.delta_z_continuous_eq28(zc, m, xt, s2), elementwise_grad(log_q)(zc), rtol=1e-11
    )
    numpy.testing.assert_allclose(modelling_error.delta_z_continuous(zc, m, xt), m * xt - m * zc, rtol=1e-13)
    numpy.testing.assert_allclose(
        modelling_error.delta_z_continuous_eq29(zc, m, xt, s2),
        (xt - zc) * m * scipy.stats.norm.pdf(xt, zc, numpy.sqrt(s2)),
        rtol=1e-12,
    )


def test_total_variance_E3():
    assert likelihood.continuous_total_variance(0.2, 1.5, "original") == pytest.approx(0.04 + 2.25)
    assert likelihood.continuous_total_variance(0.2, 1.5, "paper") == pytest.approx(0.04 + 1.5)


def test_masks_eq3_eq7_eq9():
    logits = RNG.standard_normal((K, B, N)) * 40
    for m in (initial_masks(logits), heads.m_head(logits)):
        numpy.testing.assert_allclose(m.sum(0), 1.0, rtol=1e-14)
        assert numpy.all(m >= 0)
        numpy.testing.assert_allclose(m, scipy.special.softmax(logits, axis=0), rtol=1e-12, atol=1e-300)


def test_binary_cost_eq2():
    z, m = random_z_m()
    x = RNG.integers(0, 2, (B, N)).astype(float)
    q1 = numpy.einsum("kbn,kbn->bn", m, z) * (1 - 2e-4) + 1e-4  # (2), soft-clipped (E5)
    expected = -numpy.mean(numpy.log(numpy.where(x == 1, q1, 1 - q1)))
    assert costs.cost_binary(z, m, x) == pytest.approx(expected, rel=1e-13)


def test_continuous_cost_eq6():
    z, m = random_z_m()
    x, v = RNG.random((B, N)), 0.7
    # -log sum_k N(x; z_k, v) (m_k + 1e-5), without the constant log(2 pi)/2 (E5)
    dens = scipy.stats.norm.pdf(x, z, numpy.sqrt(v)) * numpy.sqrt(2 * numpy.pi)
    expected = numpy.mean(-numpy.log(numpy.sum(dens * (m + 1e-5), axis=0)))
    assert costs.cost_continuous(z, m, x, v) == pytest.approx(expected, rel=1e-13)


def test_cost_over_iterations_eq1_E5():
    c = [numpy.float64(0.5), numpy.float64(0.25), numpy.float64(0.125)]
    assert costs.denoising_cost_over_iterations(c, "original") == pytest.approx(0.875 / 3)
    assert costs.denoising_cost_over_iterations(c, "paper") == pytest.approx(0.875)


def test_combinator_hand_computed():
    zl, u = numpy.array([2.0]), numpy.array([0.5])
    a = [numpy.array([v]) for v in (1.0, 2.0, 0.0, 0.5, 0.1, 1.0, 1.0, 0.0, 0.0, 0.2)]
    s1 = 1 / (1 + numpy.exp(-1.0))  # sigmoid(a2 u + a3) = sigmoid(1)
    mu = s1 + 0.25 + 0.1
    vg = 1 / (1 + numpy.exp(-0.5)) + 0.2  # a6 sigmoid(a7 u + a8) + a10
    assert combinator.combinator(zl, u, a, False)[0] == pytest.approx((2 - mu) * vg + mu, rel=1e-14)
    vgs = 1 / (1 + numpy.exp(-vg))  # sigmoid on the gating variable (A.6, continuous)
    assert combinator.combinator(zl, u, a, True)[0] == pytest.approx((2 - mu) * vgs + mu, rel=1e-14)


def test_class_probabilities_and_cost_hand_computed():
    # K=2 groups, B=1, C=2 classes (+ "no class"): rows are (group 0, group 1)
    top = numpy.array([[0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])
    P = classification.class_probabilities(top, 2, 2)
    numpy.testing.assert_allclose(P, [[0.7, 0.3]], rtol=1e-14)  # (0.6+0.1, 0.2+0.1) / 1.0
    t = classification.class_targets(numpy.array([[0, 1]]), 2)
    numpy.testing.assert_allclose(t, [[0.5, 0.5]])
    assert classification.class_cost_log(numpy.log(P), t) == pytest.approx(
        -(0.5 * numpy.log(0.7) + 0.5 * numpy.log(0.3))
    )
