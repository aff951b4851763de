"""Gradient checks of the whole model against finite differences, and of the checker itself.

The differences are taken of ``gradients.step_cost``, the very function that ``cost_and_grad``
(and so training's step) differentiates."""

import numpy
import pytest
from conftest import case

from tagger_ref.maths.gradients import cost_and_grad, step_cost
from tagger_ref.oracle.gradcheck import check_gradient, judge
from tagger_ref.oracle.identities import identity_errors

VARIANTS = [
    ("tiny-binary", {}),
    ("tiny-continuous", {}),
    ("tiny-binary", {"norm": "layer"}),
    ("tiny-continuous", {"norm": "layer", "semantics": "paper"}),
    ("tiny-binary", {"semantics": "paper"}),
    ("tiny-continuous", {"semantics": "paper-eq29"}),
    ("tiny-classify", {}),
]


@pytest.mark.parametrize("preset,changes", VARIANTS)
def test_whole_model_gradient_elementwise(preset, changes):
    config, params, inputs = case(preset, seed=11, **changes)
    _, grads = cost_and_grad(params, config, inputs)
    checks = check_gradient(
        lambda p: step_cost(p, config, inputs),
        params,
        grads,
        numpy.random.default_rng(0),
        elementwise=True,
        directions=1,
    )
    failures = [c for c in checks if c.status == "FAIL"]
    assert not failures, failures[:5]
    assert len(checks) > 500


def test_float32_gradients_against_float64_differences():
    config, params, inputs = case("tiny-continuous", seed=2, dtype="float32")
    _, grads = cost_and_grad(params, config, inputs)
    assert all(g.dtype == numpy.float32 for g in grads.values())
    c64 = config.replace(dtype="float64")
    i64 = {k: v.astype("float64") for k, v in inputs.items()}
    checks = check_gradient(lambda p: step_cost(p, c64, i64), params, grads, numpy.random.default_rng(0), directions=3)
    assert not [c for c in checks if c.status == "FAIL"]


def test_checker_catches_a_wrong_gradient():
    config, params, inputs = case("tiny-binary", seed=1)
    _, grads = cost_and_grad(params, config, inputs)
    wrong = dict(grads, b1=grads["b1"] * 1.001)  # 0.1 % off
    checks = check_gradient(
        lambda p: step_cost(p, config, inputs),
        params,
        wrong,
        numpy.random.default_rng(0),
        elementwise=True,
        names=["b1", "c1"],
    )
    assert all(c.status == "FAIL" for c in checks if c.name == "b1" and abs(c.analytic) > 1e-6)
    assert all(c.status == "ok" for c in checks if c.name == "c1")


def test_small_gradients_judged_by_resolution_not_failed():
    # f(t) = 1 + 1e-9 t: a tiny derivative next to a large value; exact analytic value passes,
    # a value off by 100 % fails.
    f = lambda t: 1.0 + 1e-9 * t  # noqa: E731
    assert judge("x", (), 1e-9, f, "float64").status == "ok"
    assert judge("x", (), 5e-9, f, "float64").status == "FAIL"


def test_kink_is_reported_not_failed():
    # relu at 3e-6 with step 1e-5: the kink lies inside the central difference's stencil; the
    # analytic derivative at t = 0 is 1 (the right side), which the forward difference confirms.
    f = lambda t: max(t + 3e-6, 0.0)  # noqa: E731
    assert judge("relu", (), 1.0, f, "float64").status == "kink"
    assert judge("relu", (), 0.3, f, "float64").status == "FAIL"


def test_derivative_identities():
    for name, (err, *_rest) in identity_errors(numpy.random.default_rng(7)).items():
        assert err < 1e-10, name


def test_second_order_directional_derivative():
    from tagger_ref.oracle.gradcheck import check_second_order

    for preset in ("tiny-binary", "tiny-continuous"):
        config, params, inputs = case(preset, seed=12)
        c = check_second_order(lambda p: step_cost(p, config, inputs), params, numpy.random.default_rng(1))
        assert c.status == "ok", c
        assert abs(c.analytic) > 1e-6  # a real curvature was compared, not zero against zero
