"""Elementary functions (docs/spec.md section 1), each with the numerical trick it needs named."""

from ..device.backend import getval, np
from ..errors import ConfigError

# The variance floor inside every normalisation: normalize(a) = (a - mean) / sqrt(var + 1e-10).
NORM_EPS = 1e-10
# The normalisations by name, each with the axis of a (rows, features) array that its mean and
# variance run over: batch norm over the K*B rows (the original code's Tagger), layer norm over the
# features (Tagger*, this reference's definition; docs/spec.md section 4). The one place that says
# which is which: the plain formula, the fast path (``fused``) and the tests read it here, and
# config.NORMS names the same keys (reference_tests/test_equations.py holds them equal).
NORM_AXES = {"batch": 0, "layer": -1}


def mean(a, axis=None, keepdims=False):
    """The arithmetic mean over ``axis`` (all elements when None), written sum(a) / n, n a Python int.

    Bit for bit np.mean; written out so that its gradient keeps a's dtype (autograd's derivative
    of np.mean divides by a NumPy int64, which makes float32 float64; docs/numerics.md).
    """
    n = a.size if axis is None else a.shape[axis]
    return np.sum(a, axis=axis, keepdims=keepdims) / n


def sigmoid(a):
    """Logistic sigmoid g(a) = 1 / (1 + exp(-a)), computed as exp(-logaddexp(0, -a)).

    logaddexp(0, -a) = log(1 + exp(-a)) never overflows, so g and autograd's derivative of this
    expression are finite in both tails (the formula as written gives 0 * inf = NaN in the
    derivative where exp(-a) overflows). Fast path: ``fused.sigmoid`` (``ops.FAST``).
    """
    return np.exp(-np.logaddexp(0.0, -a))


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

    log(m + [m == 0]) plus a constant -inf where m == 0: the gradient is 1/m where m > 0 and the
    (zero) cotangent where m == 0, instead of 0 * inf = NaN; exact for masks from a softmax. A
    subnormal m still overflows 1/m, so where the logits exist take ``log_softmax`` of them
    (docs/numerics.md, "Safe log").
    """
    dead = getval(m) == 0  # a constant mask
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


def norm_axis(norm):
    """The axis that normalisation ``norm`` averages over (``NORM_AXES``); an unknown name is a
    ConfigError naming the known ones, never silently another normalisation."""
    if norm not in NORM_AXES:
        raise ConfigError(f"unknown normalisation {norm!r}: the known ones are {', '.join(NORM_AXES)}")
    return NORM_AXES[norm]


def centred_and_std(a, axis):
    """(a - mean(a), s) over ``axis``, s = sqrt(var(a) + 1e-10): the two parts of ``normalize``.

    var is the biased variance mean((a - mean)^2); the floor ``NORM_EPS`` keeps s > 0 where ``a``
    is constant along ``axis``. Shared so that ``normalize``, ``fused.normalize`` (whose derivative
    reuses s) and the FC Ladder baseline's batch statistics have one variance floor.
    """
    centred = a - mean(a, axis=axis, keepdims=True)
    return centred, np.sqrt(mean(centred * centred, axis=axis, keepdims=True) + NORM_EPS)


def normalize(a, norm):
    """y = (a - mean) / sqrt(var + 1e-10), over rows (``norm="batch"``) or features (``"layer"``).

    ``a`` has shape (rows, features), rows being the K*B group-and-batch rows jointly; the
    variance is the biased one; the axis is ``NORM_AXES[norm]``. Batch norm is the original code's;
    layer norm (Tagger*) is this reference's definition (docs/spec.md section 4). Fast path:
    ``fused.normalize`` (``ops.FAST``).
    """
    centred, scale = centred_and_std(a, norm_axis(norm))
    return centred / scale
