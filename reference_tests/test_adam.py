"""Adam against hand-computed steps and against its closed form over a gradient history."""

import numpy
import pytest

from tagger_ref.experiments.adam import BETA1, BETA2, EPS, adam_init, adam_update

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


def test_first_step_by_hand():
    # t = 1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2, so theta moves by lr g / (|g| + eps).
    params = {"w": numpy.array([1.0, -2.0, 0.5]), "c": numpy.array(3.0)}
    grads = {"w": numpy.array([0.5, -0.1, 0.0]), "c": numpy.array(-4.0)}
    new, state = adam_update(params, grads, adam_init(params), lr=0.1)
    numpy.testing.assert_allclose(
        new["w"], [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 0.1 / (0.1 + 1e-8), 0.5], rtol=0, atol=1e-15
    )
    numpy.testing.assert_allclose(new["c"], 3.0 + 0.1 * 4.0 / (4.0 + 1e-8), rtol=0, atol=1e-15)
    numpy.testing.assert_allclose(state["m"]["w"], [0.05, -0.01, 0.0], rtol=1e-15)
    numpy.testing.assert_allclose(state["v"]["w"], [0.00025, 0.00001, 0.0], rtol=1e-12)
    assert state["t"] == 1
    assert params["w"][0] == 1.0 and isinstance(new["c"], numpy.ndarray)  # inputs untouched, scalars stay arrays


def test_second_step_by_hand():
    # g1 = 1, g2 = -1 on a single weight w = 0, lr = 0.01:
    # m2 = 0.9*0.1 - 0.1 = -0.01, v2 = 0.999*0.001 + 0.001 = 0.001999,
    # m_hat = -0.01/0.19, v_hat = 0.001999/0.001999 = 1 -> step = 0.01 * (-0.01/0.19) / (1 + 1e-8).
    p = {"w": numpy.array(0.0)}
    p1, s1 = adam_update(p, {"w": numpy.array(1.0)}, adam_init(p), lr=0.01)
    p2, s2 = adam_update(p1, {"w": numpy.array(-1.0)}, s1, lr=0.01)
    assert p1["w"] == pytest.approx(-0.01 / (1 + 1e-8), rel=1e-14)
    assert p2["w"] == pytest.approx(p1["w"] - 0.01 * (-0.01 / 0.19) / (1.0 + 1e-8), rel=1e-12)


def test_matches_closed_form_over_a_history():
    """m_t = (1 - b1) sum_i b1^(t-i) g_i and v_t likewise: a differently written Adam."""
    rng = numpy.random.default_rng(0)
    history = rng.standard_normal((7, 5))
    lr = 0.003
    params = {"w": rng.standard_normal(5)}
    expected = params["w"].copy()
    state = adam_init(params)
    for t in range(1, len(history) + 1):
        params, state = adam_update(params, {"w": history[t - 1]}, state, lr)
        weights1 = (1 - BETA1) * BETA1 ** numpy.arange(t - 1, -1, -1)
        weights2 = (1 - BETA2) * BETA2 ** numpy.arange(t - 1, -1, -1)
        m_hat = weights1 @ history[:t] / (1 - BETA1**t)
        v_hat = weights2 @ history[:t] ** 2 / (1 - BETA2**t)
        expected = expected - lr * m_hat / (numpy.sqrt(v_hat) + EPS)
        numpy.testing.assert_allclose(params["w"], expected, rtol=1e-12, atol=1e-15)


def test_float32_stays_float32():
    params = {"w": numpy.ones(4, numpy.float32), "s": numpy.array(1.0, numpy.float32)}
    grads = {"w": numpy.full(4, 0.5, numpy.float32), "s": numpy.array(2.0, numpy.float32)}
    new, state = adam_update(params, grads, adam_init(params), lr=1e-3)
    for tree in (new, state["m"], state["v"]):
        assert {v.dtype for v in tree.values()} == {numpy.dtype(numpy.float32)}
