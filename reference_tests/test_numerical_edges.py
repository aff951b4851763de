"""Numerical edges, as hypothesis properties, in float64 and float32.

The edges (robustness issue): saturated logits (|z_logit| of 50 to 1000, mask logits and initial
mask logits up to 1e3), x_tilde exactly 0 and 1 (and outside [0, 1] after Gaussian noise), K=1,
very small and very large v (v from -1e6 to 1e6, v_eff = exp(asinh(v))), constant images (all
pixels equal, all images of the batch identical: zero variance inside the normalisations), a
batch of one, and a single row (B=1 with K=1) under batch norm. Besides: a saturated top softmax
(the classification head), a binary noise beta down to 1e-17 with z saturated at 0, and every
semantics; binary, continuous and classifying tiny presets, batch and layer norm.

The properties, for every such point: every array of the forward trace and every gradient is
finite; the trace and the gradients keep the config's dtype (float32 stays float32); m_i and
L_m_i lie in [0, 1] and sum to one over groups (class_probs over classes); and no NumPy
floating-point warning (divide by zero, overflow, invalid) is raised on the way, so no inf or NaN
appears even in an intermediate. Gradients with respect to one bare float32 array keep float32 (a
dict of parameters or a matmul casts the cotangent back, which hides a promotion inside).

One exception, a limit of the model's definition (docs/spec.md section 1) rather than of the
arithmetic: under batch norm, an iteration whose K*B network-input rows are all equal while the
images' targets differ has a true gradient of ~1e5 per normalisation
(indistinct_rows_with_distinct_targets); there only the forward properties and the gradients'
dtype are checked. test_random_edges_many (-m slow) draws 1500
points instead of 40.
"""

import math

import numpy
import pytest
import scipy.special
from autograd import grad
from conftest import case
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tagger_ref.config import SEMANTICS
from tagger_ref.maths import classification, functions, modelling_error
from tagger_ref.maths.gradients import cost_and_grad, step_cost
from tagger_ref.maths.model import forward

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW_SETTINGS = settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

PRESETS = {"binary": "tiny-binary", "continuous": "tiny-continuous", "classify": "tiny-classify"}
DTYPES = ("float64", "float32")
NORMS = tuple(functions.NORM_AXES)  # every normalisation the maths knows
IMAGES = ("random", "zeros", "ones", "constant", "identical", "all-rows-identical")


def sum_tolerance(dtype, K):
    """Rounding of a softmax's sum over K terms (groups or classes): a few ulps per term."""
    return 4 * K * float(numpy.finfo(dtype).eps)


def edge_point(
    input_type,
    dtype,
    norm,
    semantics,
    K,
    B,
    seed,
    image,
    clean,
    noise,
    z_scale,
    m_scale,
    m0_scale,
    v,
    top_scale=1.0,
    z_init=None,
):
    """(config, params, inputs) of the tiny preset with the edges applied.

    image: "random", "zeros", "ones", "constant" (every pixel of every image one value),
    "identical" (every image of the batch equal to the first) or "all-rows-identical" (identical
    images, class targets, and m0_logits equal over groups and pixels, so that all K*B rows of
    every layer are equal and every batch normalisation sees zero variance). clean: x_tilde = x exactly (binary
    evaluation; continuous values exactly 0 and 1 for "zeros"/"ones"), else x_tilde = corrupted x
    (continuous: x + sigma * eps, outside [0, 1]). noise: beta or sigma. z_scale multiplies c1 and
    b1 (|z_logit| about z_scale), m_scale sets c2 (the mask logits' scale), m0_scale multiplies
    m0_logits, top_scale multiplies f_{L-1}_c (the top softmax's logits), v sets the continuous
    variance parameter.
    """
    changes = dict(dtype=dtype, norm=norm, semantics=semantics, n_groups=K, input_noise=noise)
    if z_init is not None:
        changes["z_init"] = z_init
    config, params, inputs = case(PRESETS[input_type], seed, batch=B, **changes)
    rng = numpy.random.default_rng(seed)
    x = inputs["x"]
    if image == "zeros":
        x = numpy.zeros_like(x)
    elif image == "ones":
        x = numpy.ones_like(x)
    elif image == "constant":
        x = numpy.full_like(x, float(rng.integers(0, 2)) if input_type == "binary" else rng.random())
    elif image in ("identical", "all-rows-identical"):
        x = numpy.broadcast_to(x[:1], x.shape).copy()
    if clean:
        x_tilde = x.copy()
    elif input_type == "binary":
        flips = (rng.random(x.shape) < config.input_noise).astype(dtype)
        if image in ("identical", "all-rows-identical"):
            flips = numpy.broadcast_to(flips[:1], x.shape)
        x_tilde = x + flips * (1.0 - 2.0 * x)
    else:
        noise = rng.standard_normal(x.shape).astype(dtype)
        if image in ("identical", "all-rows-identical"):
            noise = numpy.broadcast_to(noise[:1], x.shape)
        x_tilde = x + config.input_noise * noise
    m0 = inputs["m0_logits"] * m0_scale
    if image == "all-rows-identical":
        m0 = numpy.full_like(m0, m0[0, 0, 0])
    inputs = dict(inputs, x=x.astype(dtype), x_tilde=x_tilde.astype(dtype), m0_logits=m0.astype(dtype))
    if image == "all-rows-identical" and "y" in inputs:  # the same image, the same digits
        inputs["y"] = numpy.broadcast_to(inputs["y"][:1], inputs["y"].shape).copy()
    params = dict(params)
    params["c1"] = (params["c1"] * z_scale).astype(dtype)
    params["b1"] = (params["b1"] * z_scale).astype(dtype)
    params["c2"] = numpy.asarray(m_scale, dtype=dtype)
    top = f"f_{len(config.encoder_proj) - 1}_c"
    params[top] = (params[top] * top_scale).astype(dtype)
    if input_type != "binary":
        params["v"] = numpy.asarray(v, dtype=dtype)
    return config, params, inputs


def indistinct_rows_with_distinct_targets(config, inputs, trace):
    """True where batch norm meets normalize's variance floor (docs/spec.md section 1) with different
    targets per row.

    In an iteration whose network input has all K*B rows equal (h_i, the first layer, as the
    network sees x_tilde, z, m, L_m and delta_z), every batch normalisation of that iteration has
    zero variance and a derivative of 1e5 times the centring. If the images' targets differ (clean
    x, or the class labels y), the cotangents of the rows differ, and the gradient grows by 1e5 per
    normalisation on the way back: inf or NaN even in float64. That is the true derivative of the
    function as defined (normalize with sqrt(var + 1e-10)), not rounding; it takes a batch whose
    corrupted images coincide with K=1 (or equal initial masks over groups), or a delta_z that
    underflows for every image (K=1, (29) with v_eff^2 ~ 1e-13). See
    test_identical_rows_with_different_targets_meet_the_variance_floor. Identical targets, or
    layer norm (no coupling of rows), keep the gradient finite and are checked in full.
    """
    if config.norm != "batch" or inputs["x"].shape[0] == 1:
        return False
    targets = [inputs["x"]] + ([inputs["y"]] if "y" in inputs else [])
    if all(numpy.all(t == t[:1]) for t in targets):
        return False
    for key, h in trace.items():
        if key.startswith("h_"):
            rows = h.reshape(-1, h.shape[-1])
            if numpy.all(rows == rows[:1]):
                return True
    return False


def check_point(config, params, inputs):
    """The properties of the module docstring; returns the trace for extra checks."""
    dtype = numpy.dtype(config.dtype)
    with numpy.errstate(divide="raise", over="raise", invalid="raise"):
        trace = forward(params, config, inputs)
    bad = [k for k, a in trace.items() if not numpy.all(numpy.isfinite(a))]
    assert not bad, f"non-finite trace entries: {bad}"
    floor = indistinct_rows_with_distinct_targets(config, inputs, trace)
    with numpy.errstate(**({"all": "ignore"} if floor else dict(divide="raise", over="raise", invalid="raise"))):
        cost, grads = cost_and_grad(params, config, inputs)
    if not floor:
        bad = [k for k, g in grads.items() if not numpy.all(numpy.isfinite(g))]
        assert not bad, f"non-finite gradients: {bad}"
    bad = [f"{k}: {numpy.asarray(a).dtype}" for k, a in trace.items() if numpy.asarray(a).dtype != dtype]
    assert not bad, f"trace entries not of the config's dtype {dtype}: {bad}"
    bad = [f"{k}: {numpy.asarray(g).dtype}" for k, g in grads.items() if numpy.asarray(g).dtype != dtype]
    assert not bad, f"gradients not of the config's dtype {dtype}: {bad}"
    assert numpy.asarray(cost).dtype == dtype
    K = inputs["m0_logits"].shape[0]
    tol = sum_tolerance(dtype, K)
    for key, a in trace.items():
        if key.startswith(("m_", "L_m_")):
            assert a.min() >= 0 and a.max() <= 1, key
            err = numpy.max(numpy.abs(numpy.sum(a, axis=0, dtype="float64") - 1.0))
            assert err <= tol, f"{key} sums to one only within {err:.3g} (tolerance {tol:.3g})"
    if "class_probs" in trace:
        p = trace["class_probs"]
        assert p.min() >= 0 and p.max() <= 1
        err = numpy.max(numpy.abs(numpy.sum(p, axis=-1, dtype="float64") - 1.0))
        assert err <= sum_tolerance(dtype, p.shape[-1]), f"class_probs sum to one only within {err:.3g}"
    return trace


# ---------------------------------------------------------------------------------------------
# The whole model, edges combined at random.


@st.composite
def edge_points(draw, input_type=None, dtype=None, norm=None):
    input_type = input_type or draw(st.sampled_from(sorted(PRESETS)))
    dtype = dtype or draw(st.sampled_from(DTYPES))
    norm = norm or draw(st.sampled_from(NORMS))
    semantics = draw(st.sampled_from(SEMANTICS if input_type != "binary" else SEMANTICS[:2]))
    log_scale = st.sampled_from([0.0, 1.7, 2.0, 3.0]) | st.floats(0.0, 3.0)  # 10^(...): 1 to 1e3
    return dict(
        input_type=input_type,
        dtype=dtype,
        norm=norm,
        semantics=semantics,
        K=draw(st.integers(1, 3)),
        B=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**16)),
        image=draw(st.sampled_from(IMAGES)),
        clean=draw(st.booleans()),
        noise=(
            draw(st.sampled_from([0.2, 1e-3, 1e-6, 0.45]) | st.floats(1e-6, 0.49))
            if input_type == "binary"
            else draw(st.sampled_from([0.0, 0.2, 2.0]) | st.floats(0.0, 3.0))
        ),
        z_scale=draw(st.sampled_from([-1.0, 1.0])) * 10 ** draw(log_scale),
        m_scale=draw(st.sampled_from([-1.0, 1.0])) * 10 ** draw(log_scale),
        m0_scale=10 ** draw(log_scale),
        top_scale=draw(st.sampled_from([-1.0, 1.0])) * 10 ** draw(log_scale),
        v=draw(st.sampled_from([-1e6, -1e3, 0.0, 1.0, 1e3, 1e6]) | st.floats(-1e6, 1e6)),
        z_init=(
            draw(st.sampled_from([None, 0.0, 1.0]))
            if input_type == "binary"
            else draw(st.sampled_from([None, -3.0, 5.0]))
        ),
    )


def _named(**kw):
    """An explicit example: the tiny preset's defaults with the named edges changed."""
    base = dict(
        input_type="binary",
        dtype="float64",
        norm="batch",
        semantics="original",
        K=3,
        B=4,
        seed=0,
        image="random",
        clean=False,
        noise=0.2,
        z_scale=1.0,
        m_scale=1.0,
        m0_scale=1.0,
        v=1.0,
        top_scale=1.0,
        z_init=None,
    )
    base.update(kw)
    return base


# Every edge of the issue, always run (both dtypes, both norms, all three presets), besides the random draws.
NAMED = []
for _t in ("binary", "continuous", "classify"):
    for _d in DTYPES:
        for _n in NORMS:
            NAMED += [
                _named(input_type=_t, dtype=_d, norm=_n, z_scale=1e3, m_scale=1e3, m0_scale=1e3, top_scale=1e3),
                _named(input_type=_t, dtype=_d, norm=_n, z_scale=-50.0, m_scale=-50.0),
                _named(input_type=_t, dtype=_d, norm=_n, image="zeros", clean=True),
                _named(input_type=_t, dtype=_d, norm=_n, image="ones", clean=True),
                _named(input_type=_t, dtype=_d, norm=_n, K=1),
                _named(input_type=_t, dtype=_d, norm=_n, B=1),
                _named(input_type=_t, dtype=_d, norm=_n, B=1, K=1),
                _named(input_type=_t, dtype=_d, norm=_n, image="constant", clean=True),
                _named(input_type=_t, dtype=_d, norm=_n, image="all-rows-identical", clean=True),
                _named(input_type=_t, dtype=_d, norm=_n, image="all-rows-identical", K=1, clean=True),
            ]
        NAMED += [
            _named(input_type="continuous", dtype=_d, v=-1e6),
            _named(input_type="continuous", dtype=_d, v=1e6),
            _named(input_type="continuous", dtype=_d, v=-1e6, noise=0.0),
            _named(input_type="continuous", dtype=_d, image="ones", noise=2.0),
            _named(
                input_type="binary",
                dtype=_d,
                noise=1e-17 if _d == "float64" else 1e-12,
                image="ones",
                clean=True,
                z_init=0.0,
            ),
            _named(input_type="binary", dtype=_d, noise=1e-6, image="ones", z_scale=-1e3),
            _named(input_type="continuous", dtype=_d, semantics="paper", m_scale=1e3, m0_scale=1e3),
            _named(input_type="continuous", dtype=_d, semantics="paper-eq29", m_scale=1e3),
            _named(input_type="binary", dtype=_d, semantics="paper", z_scale=1e3, z_init=0.0),
        ]


@pytest.mark.parametrize(
    "point",
    NAMED,
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items() if v != _named()[k] or k in ("input_type", "dtype")),
)
def test_named_edge(point):
    check_point(*edge_point(**point))


@SETTINGS
@given(edge_points())
def test_random_edges(point):
    check_point(*edge_point(**point))


@pytest.mark.slow
@SLOW_SETTINGS
@given(edge_points())
def test_random_edges_many(point):
    check_point(*edge_point(**point))


# ---------------------------------------------------------------------------------------------
# The edges really are reached (so that the properties above are not vacuous).


@pytest.mark.parametrize("dtype", DTYPES)
def test_saturation_is_reached(dtype):
    config, params, inputs = edge_point(**_named(dtype=dtype, z_scale=1e3, m_scale=1e3))
    trace = check_point(config, params, inputs)
    z_logit = trace["z_logit_1"]
    assert numpy.abs(z_logit).max() >= 1e3 / 2
    assert numpy.any(trace["z_1"] == 0.0) and numpy.any(trace["z_1"] == 1.0)  # sigmoid saturated
    assert numpy.any(trace["m_1"] == 0.0) and numpy.any(trace["m_1"] == 1.0)  # softmax saturated


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("input_type", sorted(PRESETS))
def test_all_rows_identical_means_zero_variance_everywhere(dtype, input_type):
    # All K*B rows equal: every batch normalisation divides 0 by sqrt(0 + 1e-10), so h and zhat^0
    # are the same row repeated, and the masks stay uniform.
    config, params, inputs = edge_point(
        **_named(input_type=input_type, dtype=dtype, image="all-rows-identical", clean=True)
    )
    trace = check_point(config, params, inputs)
    for key in ("h_0", "zhat0_0", "m_1", "z_1"):
        a = trace[key].reshape(-1, trace[key].shape[-1])
        assert numpy.all(a == a[:1]), key
    numpy.testing.assert_array_equal(trace["m_1"], numpy.full_like(trace["m_1"], 1.0 / 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_v_reaches_extreme_variances(dtype):
    for v, lo, hi in ((-1e6, 0, 1e-6), (1e6, 1e6, 1e7)):
        config, params, inputs = edge_point(**_named(input_type="continuous", dtype=dtype, v=v))
        check_point(config, params, inputs)
        v_eff = functions.pos(params["v"])
        assert lo < v_eff < hi and numpy.asarray(v_eff).dtype == numpy.dtype(dtype)


# ---------------------------------------------------------------------------------------------
# The elementary functions at their edges (section 1), value, gradient and dtype.

LARGE = st.sampled_from([0.0, 50.0, -50.0, 1e3, -1e3, 1e4, -1e4]) | st.floats(-1e4, 1e4)


@SETTINGS
@given(st.lists(LARGE, min_size=1, max_size=6), st.sampled_from(DTYPES))
def test_sigmoid_saturates_without_overflow(values, dtype):
    a = numpy.asarray(values, dtype=dtype)
    with numpy.errstate(all="raise", under="ignore"):
        s = functions.sigmoid(a)
        g = grad(lambda t: numpy.sum(functions.sigmoid(t)))(a)
    assert s.dtype == a.dtype and g.dtype == a.dtype
    assert numpy.all((s >= 0) & (s <= 1)) and numpy.all(numpy.isfinite(g)) and numpy.all(g >= 0)


@SETTINGS
@given(st.lists(LARGE, min_size=1, max_size=5), st.sampled_from(DTYPES))
def test_softmax_and_logsumexp_over_groups_saturate(values, dtype):
    a = numpy.asarray(values, dtype=dtype)[:, None]  # (K, 1)
    w = numpy.random.default_rng(0).standard_normal(a.shape).astype(dtype)
    with numpy.errstate(all="raise", under="ignore"):
        p = functions.softmax(a, axis=0)
        lse = functions.logsumexp(a, axis=0)
        gp = grad(lambda t: numpy.sum(w * functions.softmax(t, axis=0)))(a)
        gl = grad(lambda t: numpy.sum(functions.logsumexp(t, axis=0)))(a)
    assert p.dtype == a.dtype and lse.dtype == a.dtype and gp.dtype == a.dtype and gl.dtype == a.dtype
    assert abs(float(numpy.sum(p, dtype="float64")) - 1.0) <= sum_tolerance(dtype, len(values))
    assert numpy.all(numpy.isfinite(lse)) and lse[0] >= a.max()
    assert numpy.all(numpy.isfinite(gp)) and numpy.all(numpy.isfinite(gl))


@SETTINGS
@given(st.sampled_from([-1e6, -1e3, -1.0, 0.0, 1.0, 1e3, 1e6]) | st.floats(-1e6, 1e6), st.sampled_from(DTYPES))
def test_pos_is_positive_and_smooth_over_v(v, dtype):
    a = numpy.asarray(v, dtype=dtype)
    with numpy.errstate(all="raise", under="ignore"):
        p = functions.pos(a)
        g = grad(functions.pos)(a)
    assert p.dtype == a.dtype and g.dtype == a.dtype
    assert 0 < p < numpy.inf and 0 < g < numpy.inf
    # pos(v) = v + sqrt(v^2 + 1) = 1 / (sqrt(v^2 + 1) - v), to the dtype's precision (exp(asinh(v))
    # loses about |asinh(v)| <= 15 ulps)
    v = float(a)
    exact = v + math.hypot(v, 1.0) if v >= 0 else 1.0 / (math.hypot(v, 1.0) - v)
    assert abs(float(p) - exact) <= 32 * float(numpy.finfo(dtype).eps) * exact


@SETTINGS
@given(
    st.integers(1, 5),
    st.integers(1, 4),
    st.sampled_from([0.0, 1.0, -7.5, 1e3]),
    st.sampled_from(NORMS),
    st.sampled_from(DTYPES),
)
def test_normalize_of_a_constant_is_zero_with_finite_gradient(rows, features, value, norm, dtype):
    a = numpy.full((rows, features), value, dtype=dtype)
    w = numpy.random.default_rng(rows).standard_normal(a.shape).astype(dtype)
    with numpy.errstate(all="raise", under="ignore"):
        out = functions.normalize(a, norm)
        g = grad(lambda t: numpy.sum(w * functions.normalize(t, norm)))(a)
    assert out.dtype == a.dtype and g.dtype == a.dtype
    numpy.testing.assert_array_equal(out, 0.0)
    # the gradient of a zero-variance normalisation is the centring divided by sqrt(1e-10)
    axis = functions.NORM_AXES[norm]
    expected = (w - w.mean(axis=axis, keepdims=True)) / math.sqrt(functions.NORM_EPS)
    assert numpy.all(numpy.isfinite(g))
    eps = float(numpy.finfo(dtype).eps)
    numpy.testing.assert_allclose(g, expected, rtol=0, atol=16 * eps * (numpy.abs(expected).max() + 1e5))


@pytest.mark.parametrize("dtype", DTYPES)
def test_saturated_top_softmax_gives_a_finite_class_cost(dtype):
    # top logits spread by ~1e3: class units of h^{L-1} are exactly 0, the class cost stays finite
    config, params, inputs = edge_point(**_named(input_type="classify", dtype=dtype, top_scale=1e3))
    inputs = dict(inputs, y=numpy.array([[0, 1], [2, 3], [4, 5], [6, 7]]))  # a target per image
    trace = check_point(config, params, inputs)
    assert numpy.any(trace["ladder_top_2"][..., : config.n_classes] == 0.0)
    assert 0 < trace["class_cost"] < numpy.inf


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_denominator_keeps_a_tiny_beta(dtype):
    # z = 0 (z_init = 0) and x_tilde = 1: xi = beta, and xi - 1 + x_tilde must be beta, not 0
    beta = 1e-17 if dtype == "float64" else 1e-12
    xi = numpy.asarray([beta, 0.3, 0.7], dtype=dtype)
    for x_tilde, expected in ((1.0, xi), (0.0, xi - numpy.asarray(1.0, dtype))):
        d = modelling_error.mixture_denominator(xi, numpy.asarray(x_tilde, dtype=dtype))
        assert d.dtype == xi.dtype
        numpy.testing.assert_array_equal(d, expected)


# ---------------------------------------------------------------------------------------------
# The numerical tricks against their plain formulas (the oracles), and their gradients' dtype.


@SETTINGS
@given(
    st.integers(1, 4),
    st.integers(1, 5),
    st.sampled_from([None, 0, 1, -1]),
    st.booleans(),
    st.sampled_from(DTYPES),
    st.integers(0, 2**16),
)
def test_mean_is_numpy_mean_bit_for_bit_with_a_gradient_of_its_dtype(rows, cols, axis, keepdims, dtype, seed):
    a = (numpy.random.default_rng(seed).standard_normal((rows, cols, 3)) * 1e3).astype(dtype)
    numpy.testing.assert_array_equal(functions.mean(a, axis, keepdims), numpy.mean(a, axis, keepdims=keepdims))
    g = grad(lambda t: numpy.sum(functions.mean(t, axis, keepdims)))(a)
    assert g.dtype == a.dtype


@SETTINGS
@given(
    st.lists(st.sampled_from([0.0, 1e-300, 1e-30, 0.25, 1.0]) | st.floats(0.0, 1.0), min_size=2, max_size=5),
    st.sampled_from(DTYPES),
)
def test_log_or_minus_inf_is_log_with_a_finite_gradient(values, dtype):
    m = numpy.asarray(values, dtype=dtype)
    assume(numpy.any(m > 0))
    # not for subnormal masks: there the cotangent of m itself, ~1/m, exceeds the dtype's range
    # (which is why the model takes log m from the logits, test_log_softmax_... below)
    assume(numpy.all((m == 0) | (m >= 1e4 * numpy.finfo(dtype).tiny)))
    with numpy.errstate(divide="ignore"):
        numpy.testing.assert_array_equal(functions.log_or_minus_inf(m), numpy.log(m))
    # the way (28) uses it: a softmax over the groups, where a zero mask gets the weight 0
    w = numpy.arange(1.0, len(values) + 1, dtype=dtype)
    with numpy.errstate(divide="raise", invalid="raise", over="raise", under="ignore"):
        g = grad(lambda t: numpy.sum(w * functions.softmax(functions.log_or_minus_inf(t), axis=0)))(m)
    assert g.dtype == m.dtype and numpy.all(numpy.isfinite(g))
    assert numpy.all(g[m == 0] == 0)


@SETTINGS
@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.sampled_from([1.0, 10.0, 100.0, 1e3]),
    st.sampled_from(DTYPES),
    st.integers(0, 2**16),
)
def test_class_log_probabilities_equal_the_direct_formula(K, B, scale, dtype, seed):
    C = 3
    logits = (numpy.random.default_rng(seed).standard_normal((K * B, C + 1)) * scale).astype(dtype)
    with numpy.errstate(divide="raise", invalid="raise", over="raise", under="ignore"):
        log_p = classification.class_log_probabilities(logits, K, C)
    assert log_p.dtype == logits.dtype and numpy.all(numpy.isfinite(log_p)) and numpy.all(log_p <= 0)
    top = scipy.special.softmax(logits.astype("float64"), axis=-1)
    with numpy.errstate(all="ignore"):
        direct = classification.class_probabilities(top, K, C)  # float64
    # the oracle holds where it has no 0 / 0, no log 0 and no subnormal class unit carrying P_c
    ok = (direct > 1e-250) & (top[:, :C].reshape(K, B, C).max(axis=0) >= 1e-290)
    # on the log scale: rounding of log P is relative to the size of the logits
    tol = (64 if dtype == "float64" else 8) * float(numpy.finfo(dtype).eps) * (1 + numpy.abs(logits).max())
    numpy.testing.assert_allclose(log_p[ok].astype("float64"), numpy.log(direct[ok]), rtol=0, atol=tol)


@SETTINGS
@given(st.lists(LARGE, min_size=1, max_size=5), st.sampled_from(DTYPES), st.integers(0, 2**16))
def test_log_softmax_is_log_of_softmax_and_gives_28_its_weights(values, dtype, seed):
    a = numpy.asarray(values, dtype=dtype)[:, None]  # (K, 1) mask logits
    with numpy.errstate(all="raise", under="ignore"):
        log_m = functions.log_softmax(a, axis=0)
        g = grad(
            lambda t: numpy.sum(
                numpy.arange(1.0, len(values) + 1, dtype=dtype)[:, None]
                * functions.softmax(functions.log_softmax(t, axis=0), axis=0)
            )
        )(a)
    assert log_m.dtype == a.dtype and g.dtype == a.dtype
    assert numpy.all(numpy.isfinite(log_m)) and numpy.all(numpy.isfinite(g))
    exact = scipy.special.log_softmax(a.astype("float64"), axis=0)
    tol = 8 * float(numpy.finfo(dtype).eps) * (1 + numpy.abs(a).max())
    numpy.testing.assert_allclose(log_m.astype("float64"), exact, rtol=0, atol=tol)
    # (28) with log m from the logits equals (28) with the log of the mask, where the mask is > 0
    # (to the rounding of the softmax's inputs: |logits| and the Gaussian exponents, here < 100)
    rng = numpy.random.default_rng(seed)
    z = rng.standard_normal((len(values), 2, 3)).astype(dtype)
    x_tilde = rng.standard_normal((2, 3)).astype(dtype)
    logits = numpy.broadcast_to(a[:, :, None], z.shape)
    m = functions.softmax(logits, axis=0)
    if numpy.all(m > 1e-30):
        numpy.testing.assert_allclose(
            modelling_error.delta_z_continuous_eq28(z, m, x_tilde, 0.3, functions.log_softmax(logits, axis=0)),
            modelling_error.delta_z_continuous_eq28(z, m, x_tilde, 0.3),
            rtol=16 * float(numpy.finfo(dtype).eps) * (100 + numpy.abs(a).max()),
            atol=1e-30,
        )


BARE_ARRAY_CASES = [
    ("binary", "original", "batch"),
    ("binary", "paper", "layer"),
    ("continuous", "original", "layer"),
    ("continuous", "paper", "batch"),
    ("continuous", "paper-eq29", "batch"),
    ("classify", "original", "batch"),
]


@pytest.mark.parametrize("input_type,semantics,norm", BARE_ARRAY_CASES)
def test_float32_gradient_of_a_bare_array_stays_float32(input_type, semantics, norm):
    # the dict of parameters casts each gradient back to its parameter's dtype; differentiating
    # with respect to one bare array shows what the backward pass itself computes in
    config, params, inputs = edge_point(
        **_named(input_type=input_type, semantics=semantics, norm=norm, dtype="float32", m_scale=30.0)
    )
    top = f"f_{len(config.encoder_proj) - 1}_c"
    for name in ["c1", "b1", "c2", "g_0_a1", "g_0_a9", top, "W"] + (["v"] if input_type != "binary" else []):
        g = grad(lambda a: step_cost(dict(params, **{name: a}), config, inputs))(params[name])
        assert g.dtype == numpy.float32, f"d cost / d {name} computed as {g.dtype}"


def test_identical_rows_with_different_targets_meet_the_variance_floor():
    # Not a property, a documented limit of the normalisation (docs/spec.md section 1: sqrt(var + 1e-10)),
    # see indistinct_rows_with_distinct_targets. All K*B rows equal in the forward pass: with the
    # same targets for every image the gradient is that of one image, with different class targets
    # it grows by 1e5 per batch normalisation (~1e57 here in float64, beyond float32's range).
    config, params, inputs = edge_point(**_named(input_type="classify", image="all-rows-identical", clean=True))
    same = dict(inputs, y=numpy.array([[1, 2]] * 4))
    different = dict(inputs, y=numpy.array([[0, 1], [2, 3], [4, 5], [6, 7]]))
    trace = check_point(config, params, same)
    assert not indistinct_rows_with_distinct_targets(config, same, trace)
    assert indistinct_rows_with_distinct_targets(config, different, trace)
    _, g_same = cost_and_grad(params, config, same)
    _, g_different = cost_and_grad(params, config, different)
    assert max(numpy.abs(g).max() for g in g_same.values()) < 1e3
    assert max(numpy.abs(g).max() for g in g_different.values()) > 1e30
