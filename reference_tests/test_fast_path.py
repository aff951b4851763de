"""The fast path (maths/fused.py, ``ops.FAST``): sigmoid, normalize and the combinator as autograd primitives with
hand-written derivatives, against the plain formulas differentiated by autograd (written out again here) and scipy."""

import autograd.numpy as anp
import numpy
import pytest
import scipy.special
from autograd import elementwise_grad, grad, make_vjp

from tagger_ref.maths import fused
from tagger_ref.maths.functions import NORM_AXES
from tagger_ref.maths.gradients import cost_and_grad
from tagger_ref.maths.ops import FAST, REFERENCE, Ops
from tagger_ref.oracle import golden

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


def normalize_by_autograd(a, norm):
    """The plain formula (a - mean) / sqrt(var + 1e-10), which autograd differentiates step by step."""
    axis = NORM_AXES[norm]  # which axis is which: test_equations checks the table by hand
    centred = a - anp.sum(a, axis=axis, keepdims=True) / a.shape[axis]
    var = anp.sum(centred * centred, axis=axis, keepdims=True) / a.shape[axis]
    return centred / anp.sqrt(var + 1e-10)


@pytest.mark.parametrize("norm", list(NORM_AXES))
@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-11), ("float32", 2e-4)])
def test_normalize_derivative_equals_autograds_chain(norm, dtype, rtol):
    rng = numpy.random.default_rng(1)
    a = (rng.standard_normal((12, 7)) * 3 + 1).astype(dtype)
    a[:, 2] = 0.5  # a constant column: the 1e-10 floor decides the scale
    a[4] = -2.0  # and a constant row (layer norm's case)
    g = rng.standard_normal(a.shape).astype(dtype)
    vjp, y = make_vjp(lambda t: fused.normalize(t, norm))(a)
    vjp_ref, y_ref = make_vjp(lambda t: normalize_by_autograd(t, norm))(a.astype("float64"))
    numpy.testing.assert_allclose(y, y_ref, rtol=rtol, atol=rtol)
    da, da_ref = vjp(g), vjp_ref(g.astype("float64"))
    scale = numpy.abs(da_ref).max()
    numpy.testing.assert_allclose(da, da_ref, rtol=rtol, atol=rtol * scale)
    assert y.dtype == da.dtype == numpy.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_values_and_derivative_in_both_tails(dtype):
    a = numpy.array([-800, -100, -30, -3, -1e-8, 0, 1e-8, 2, 30, 100, 800], dtype=dtype)
    g = fused.sigmoid(a)
    d = elementwise_grad(fused.sigmoid)(a)
    ref = scipy.special.expit(a.astype("float64"))
    ref_d = ref * scipy.special.expit(-a.astype("float64"))  # g'(a) = g(a) g(-a)
    tiny = numpy.finfo(dtype).tiny
    rtol = 1e-15 if dtype == "float64" else 1e-6
    keep = ref > tiny  # where the reference is a normal number
    numpy.testing.assert_allclose(g[keep], ref[keep], rtol=rtol)
    keep = ref_d > tiny
    numpy.testing.assert_allclose(d[keep], ref_d[keep], rtol=4 * rtol)
    assert numpy.all(numpy.isfinite(g)) and numpy.all(numpy.isfinite(d))
    assert g.dtype == d.dtype == numpy.dtype(dtype)


def test_sigmoid_of_scalars():
    assert fused.sigmoid(0.0) == 0.5
    assert fused.sigmoid(numpy.float32(-100.0)) == pytest.approx(scipy.special.expit(-100.0), rel=1e-6)


def combinator_by_autograd(zl, u, a, continuous):
    """The combinator's formula from plain autograd operations (expit written as 1 / (1 + exp(-x)))."""
    sig = lambda x: 1.0 / (1.0 + anp.exp(-x))  # noqa: E731
    mu = a[0] * sig(a[1] * u + a[2]) + a[3] * u + a[4]
    vg = a[5] * sig(a[6] * u + a[7]) + a[8] * u + a[9]
    if continuous:
        vg = sig(vg)
    return (zl - mu) * vg + mu


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-11), ("float32", 1e-4)])
def test_combinator_derivative_equals_autograds_chain(continuous, dtype, rtol):
    from tagger_ref.maths.fused import combinator

    rng = numpy.random.default_rng(3)
    rows, H = 9, 5
    zl, u, g = (rng.standard_normal((rows, H)).astype(dtype) for _ in range(3))
    a = [rng.standard_normal(H).astype(dtype) for _ in range(10)]

    def flat(f):  # a function of one tuple (zl, u, a1..a10), so that make_vjp gives all twelve cotangents
        return lambda args: f(args[0], args[1], list(args[2:]), continuous)

    vjp, y = make_vjp(flat(combinator))(tuple([zl, u] + a))
    vjp_ref, y_ref = make_vjp(flat(combinator_by_autograd))(tuple(x.astype("float64") for x in [zl, u] + a))
    numpy.testing.assert_allclose(y, y_ref, rtol=rtol, atol=rtol)
    for got, ref, name in zip(vjp(g), vjp_ref(g.astype("float64")), ["zl", "u"] + [f"a{j}" for j in range(1, 11)]):
        numpy.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * numpy.abs(ref).max(), err_msg=name)
        assert got.dtype == numpy.dtype(dtype), name


def hessian_vector_product(f, x, v):
    """d/de grad(f)(x + e v) at e = 0, by autograd through autograd: a second-order derivative."""
    return grad(lambda y: anp.sum(grad(f)(y) * v))(x)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_normalize_second_derivative_equals_autograds_chain(norm):
    # The primitive's derivative reuses the scale computed from the values; differentiated again,
    # it must trace the scale instead (a constant scale gives another Hessian).
    rng = numpy.random.default_rng(5)
    a, w, v = (rng.standard_normal((6, 4)) for _ in range(3))
    cost = lambda f: lambda t: anp.sum(anp.sin(f(t, norm)) * w)  # noqa: E731  (a nonlinear cost)
    got = hessian_vector_product(cost(fused.normalize), a, v)
    ref = hessian_vector_product(cost(normalize_by_autograd), a, v)
    numpy.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * numpy.abs(ref).max())


@pytest.mark.parametrize("continuous", [False, True])
def test_combinator_second_derivative_equals_autograds_chain(continuous):
    from tagger_ref.maths.fused import combinator

    rng = numpy.random.default_rng(6)
    rows, H = 7, 3
    args = [rng.standard_normal((rows, H)) for _ in range(2)] + [rng.standard_normal(H) for _ in range(10)]
    w = rng.standard_normal((rows, H))
    v = [rng.standard_normal(x.shape) for x in args]

    def cost(f):  # nonlinear in zhat, a function of the flat vector of all twelve arguments
        sizes = numpy.cumsum([x.size for x in args])[:-1]

        def c(flat):
            parts = [anp.reshape(p, x.shape) for p, x in zip(anp.split(flat, sizes), args)]
            return anp.sum(anp.sin(f(parts[0], parts[1], parts[2:], continuous)) * w)

        return c

    x = numpy.concatenate([a.ravel() for a in args])
    flat_v = numpy.concatenate([a.ravel() for a in v])
    got = hessian_vector_product(cost(combinator), x, flat_v)
    ref = hessian_vector_product(cost(combinator_by_autograd), x, flat_v)
    numpy.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * numpy.abs(ref).max())


# ---------------------------------------------------------------- the two paths of the whole model


@pytest.mark.parametrize("name", golden.list_cases())
def test_fast_and_reference_paths_agree_on_every_golden_case(name):
    """Cost and every gradient, float64: the fast path within 1e-12 of the key's largest magnitude
    of the reference path (autograd through the plain formulas); 1e-11 on the edge-* cases, where
    saturated masks leave gradients such as grad_c2 as small residues of cancelling terms."""
    config, params, inputs, _ = golden.load_case(name)
    cost, grads = cost_and_grad(params, config, inputs)  # the default: the reference path
    ref_cost, ref_grads = cost_and_grad(params, config, inputs, ops=REFERENCE)
    assert ref_cost == cost and all(numpy.array_equal(ref_grads[k], grads[k]) for k in grads)
    fast_cost, fast_grads = cost_and_grad(params, config, inputs, ops=FAST)
    assert abs(fast_cost - cost) <= 1e-12 * abs(cost)
    assert fast_grads.keys() == grads.keys()
    bound = 1e-11 if name.startswith("edge-") else 1e-12
    for key in grads:
        scale = numpy.abs(grads[key]).max()
        assert numpy.abs(fast_grads[key] - grads[key]).max() <= bound * max(scale, 1e-300), key


def test_the_tables_hold_the_plain_formulas_and_the_primitives():
    from tagger_ref.maths import combinator, functions

    assert REFERENCE == Ops(functions.sigmoid, functions.normalize, combinator.combinator)
    assert FAST == Ops(fused.sigmoid, fused.normalize, fused.combinator)


def test_the_paths_differ_in_how_they_are_differentiated():
    """The argument really swaps the derivative: autograd's graph of the reference path has no fused primitive,
    the fast path's has them (so the agreement above compares two computations, not one)."""
    config, params, inputs, _ = golden.load_case("continuous-batch-original")
    used = []
    originals = {f: getattr(fused, f) for f in ("_normalized", "_combine", "sigmoid")}
    for name, f in originals.items():

        def spy(*args, _f=f, _name=name, **kwargs):
            used.append(_name)
            return _f(*args, **kwargs)

        setattr(fused, name, spy)
    try:
        cost_and_grad(params, config, inputs)
        assert used == []
        cost_and_grad(params, config, inputs, ops=FAST)
        assert {"_normalized", "_combine", "sigmoid"} <= set(used)
    finally:
        for name, f in originals.items():
            setattr(fused, name, f)


def test_training_steps_and_validation_take_the_fast_path(tmp_path, monkeypatch):
    """training.train hands ops=FAST to its gradient and to every forward pass of its validation."""
    from tagger_ref.config import PRESETS
    from tagger_ref.experiments import evaluation, training

    steps, passes = [], []

    def recording(seen, real):
        def f(*args, ops=REFERENCE, **kwargs):
            seen.append(ops)
            return real(*args, ops=ops, **kwargs)

        return f

    monkeypatch.setattr(training, "cost_and_grad", recording(steps, training.cost_and_grad))
    monkeypatch.setattr(evaluation, "forward", recording(passes, evaluation.forward))
    config = PRESETS["tiny-binary"].replace(num_epochs=1)
    rng = numpy.random.default_rng(0)
    x = (rng.random((8, config.n_inputs)) < 0.3).astype(float)
    training.train(config, x, x[:4], str(tmp_path / "run"))
    assert steps and all(ops is FAST for ops in steps)
    assert passes and all(ops is FAST for ops in passes)


# The log of one epoch of each tiny float64 run below, as written by commit 95f684c, before the work
# on the step's speed (a regression record of that code, not of the code under test).
LOG_BEFORE_THE_SPEED_WORK = {
    "tiny-binary": {"train_cost": 0.710417, "valid_cost": 0.681928, "valid_cost_last": 0.667480},
    "tiny-continuous": {"train_cost": 0.688629, "valid_cost": 0.697343, "valid_cost_last": 0.691764},
    "tiny-classify": {
        "train_cost": 0.951047,
        "valid_cost": 0.696694,
        "valid_cost_last": 0.690292,
        "valid_class_cost": 2.403461,
        "valid_class_error": 91.67,
    },
}


@pytest.mark.parametrize("preset", sorted(LOG_BEFORE_THE_SPEED_WORK))
def test_training_log_is_unchanged_by_the_speed_work(tmp_path, preset):
    """One epoch (three steps) of a tiny float64 run gives the log the code before the speed work gave,
    within 1e-6 (the log's six decimals). Not the reference path: Adam divides each gradient
    component by its own magnitude, so components that are rounding residues of cancelling terms
    (about 1e-12 of their key's scale on either path) move parameters by different amounts; the
    reference path's log already differs by 1e-5 after these three steps."""
    import csv

    from tagger_ref.config import PRESETS
    from tagger_ref.experiments import training

    config = PRESETS[preset].replace(num_epochs=1, dtype="float64")
    rng = numpy.random.default_rng(3)
    x = rng.random((12, config.n_inputs))
    if config.input_type == "binary":
        x = (x < 0.3).astype(float)
    labels = {}
    if config.class_cost_x > 0:
        y = rng.integers(0, config.n_classes, (12, config.objects_per_sample))
        labels = {"train_y": y, "valid_y": y[:6]}
    training.train(config, x, x[:6], str(tmp_path / "run"), **labels)
    with open(tmp_path / "run" / "log.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert (int(row["epoch"]), int(row["step"])) == (1, 3)
    for column, before in LOG_BEFORE_THE_SPEED_WORK[preset].items():
        assert float(row[column]) == pytest.approx(before, abs=1.01e-6), column
