"""Elementary functions of the spec's section 1, each with the numerical trick it needs named."""
import numpy as _numpy
from autograd.extend import defvjp, primitive

from .backend import np, getval, isbox

# The variance floor inside every normalisation: normalize(a) = (a - mean) / sqrt(var + 1e-10).
NORM_EPS = 1e-10


def mean(a, axis=None, keepdims=False):
    """The arithmetic mean over ``axis`` (all elements when None), written sum(a) / n, n a Python int.

    Bit for bit np.mean, which is the same sum divided by the count (in float32 too: the division
    rounds once, as float32 / float32 or as float64 then float32, which agree). Written out so
    that its gradient keeps a's dtype: autograd's derivative of np.mean divides by the count as a
    NumPy int64 scalar, and under NumPy 2's promotion rules float32 / int64 is float64, so every
    float32 cotangent behind a mean became float64 (cast back only at a matmul or at the
    parameter dict, which hid it).
    """
    n = a.size if axis is None else a.shape[axis]
    return np.sum(a, axis=axis, keepdims=keepdims) / n


@primitive
def sigmoid(a):
    """Logistic sigmoid g(a) = 1 / (1 + exp(-a)), computed as written.

    Both tails keep full relative accuracy: for a >> 0, exp(-a) is tiny and 1 + exp(-a) rounds
    correctly; for a << 0, exp(-a) is large but exact to rounding, and so is its reciprocal.
    Where exp(-a) overflows (a < -709 in float64, a < -88.7 in float32) the result is 0, the true
    value being below the smallest normal number; the overflow is expected and not reported.

    An autograd primitive with the derivative g'(a) = g(a) g(-a), g(-a) computed the same way,
    so the derivative keeps full relative accuracy too (g(a) (1 - g(a)) loses it where g(a) is
    near 1). A primitive for speed: built from differentiable pieces as exp(-logaddexp(0, -a)),
    its forward and backward passes took about a sixth of a training step of the Shapes model;
    this takes a small fraction of that.
    """
    with _numpy.errstate(over="ignore"):                          # exp(-a) = inf gives g = 0
        return 1.0 / (1.0 + np.exp(-a))


def _sigmoid_vjp(g_a, a):
    def vjp(cotangent):
        return cotangent * g_a * sigmoid(-a)                       # g'(a) = g(a) g(-a)
    return vjp


defvjp(sigmoid, _sigmoid_vjp)


def relu(a):
    """f(a) = max(a, 0), written as a * (a > 0) so that its gradient keeps a's dtype."""
    return a * (a > 0)


def softmax(a, axis):
    """exp(a - max) / sum exp(a - max) along ``axis``.

    Subtracting the maximum avoids overflow; the shift is taken as a constant for
    differentiation (``getval``), which is exact because softmax is shift-invariant.
    """
    e = np.exp(a - getval(a).max(axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def logsumexp(a, axis):
    """log sum exp(a) along ``axis``, shifted by the (constant) maximum for stability."""
    shift = getval(a).max(axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - shift), axis=axis)) + np.squeeze(shift, axis=axis)


def log_softmax(a, axis):
    """log softmax(a) = a - logsumexp(a) along ``axis``: log m straight from the logits, finite
    for finite logits, and a gradient that never divides by m (log(softmax(a)) divides by m,
    which overflows where m is tiny but not 0, e.g. a float32 subnormal)."""
    return a - np.expand_dims(logsumexp(a, axis), axis)


def log_or_minus_inf(m):
    """log m for m >= 0 (-inf at m == 0) with a finite gradient everywhere: a "safe log".

    Plain log(m) has the same values, but its gradient 1/m is inf at m = 0, and the zero
    cotangent that arrives there (a softmax gives a -inf entry the weight 0) makes 0 * inf = NaN.
    Here the log is taken of m + [m == 0] (exactly m where m > 0, 1 where m == 0), and -inf is added
    where m == 0 as a constant, so the gradient is 1/m where m > 0 and the cotangent itself (0)
    where m == 0. That is exact for the model's gradients: m = softmax(logits) underflows to 0 only
    where dm_k/dlogit_j = m_k (delta_kj - m_j) = 0 as well. (Not np.where around the log: autograd's
    derivative of np.where fills with float64 zeros, which would turn float32 gradients float64.)
    For a subnormal m the gradient 1/m still overflows: where the logits are at hand, take
    ``log_softmax`` of them instead (the model does).
    """
    dead = getval(m) == 0                                                   # a constant mask
    minus_inf_where_dead = np.where(dead, -np.inf, 0.0).astype(getval(m).dtype)
    return np.log(m + dead) + minus_inf_where_dead


def clip_eps(p, eps):
    """Soft clip p * (1 - 2 eps) + eps: maps [0, 1] into [eps, 1 - eps], differentiable everywhere."""
    return p * (1.0 - 2.0 * eps) + eps


def bce(p, t):
    """Binary cross-entropy -(t log p + (1 - t) log(1 - p)), elementwise."""
    return -(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))


def pos(a):
    """exp(asinh(a)): a smooth positive function (a + sqrt(a^2 + 1)), used for v_eff (errata E4)."""
    return np.exp(np.arcsinh(a))


def _centred_and_scale(a, axis):
    """a - mean(a) and s = sqrt(var(a) + 1e-10) over ``axis`` (the variance floor keeps s > 0)."""
    centred = a - mean(a, axis=axis, keepdims=True)
    return centred, np.sqrt(mean(centred * centred, axis=axis, keepdims=True) + NORM_EPS)


def normalize(a, norm="batch"):
    """y = (a - mean) / sqrt(var + 1e-10), over rows (``norm="batch"``) or features (``"layer"``).

    ``a`` has shape (rows, features), rows being the K*B group-and-batch rows jointly.
    The variance is the biased one. Batch norm is the original code's; layer norm (Tagger*)
    is this reference's definition (spec section 4).

    Differentiated by the primitive ``_normalized`` with the usual closed-form derivative, in
    about half the time of autograd's chain through the means and the square root (the
    normalisations are a large share of a step's elementwise work): da = (g - mean(g) - y mean(g y)) / s,
    with s = sqrt(var + 1e-10) and the means over the axis; exact, the floor included
    (s^2 = mean(c^2) + 1e-10 gives ds/dc = c / (n s)). The centred values and s are computed here
    once, from the values, and handed to the primitive, whose derivative reuses s.
    reference_tests/test_primitives.py checks value and derivative against autograd's chain.
    """
    centred, scale = _centred_and_scale(getval(a), 0 if norm == "batch" else -1)
    return _normalized(a, norm=norm, centred=centred, scale=scale)


@primitive
def _normalized(a, norm, centred, scale):
    """normalize(a) = centred / scale, given ``centred, scale = _centred_and_scale(a, axis)``."""
    return centred / scale


def _normalized_vjp(y, a, norm, centred, scale):
    axis = 0 if norm == "batch" else -1
    if isbox(a):
        # A derivative that is itself differentiated (a second order): s must be traced, not the
        # constant computed from the values.
        _, scale = _centred_and_scale(a, axis)

    def vjp(g):
        return (g - mean(g, axis=axis, keepdims=True) - y * mean(g * y, axis=axis, keepdims=True)) / scale
    return vjp


defvjp(_normalized, _normalized_vjp)
