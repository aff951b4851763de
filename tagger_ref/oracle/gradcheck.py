"""Finite-difference checks of autograd's gradients and of the derivative identities of docs/spec.md section 4.

The numeric derivative along a direction d is Richardson's extrapolation of central differences,
(4 D(h/2) - D(h)) / 3 with D(h) = (f(p + h d) - f(p - h d)) / 2h, whose truncation error is
O(h^4) rather than O(h^2). A check passes when

    |analytic - numeric| <= rtol * max(|analytic|, |numeric|) + noise,

where noise = 10 * eps * (|f(p)| + 1) / h is the resolution of the difference quotient at this
step in this dtype (rounding of f, amplified by 1/h). Small gradients are therefore judged by
the accuracy the differences can actually deliver, not by a loosened rtol.

A float32 cost cannot resolve differences on these sharply curved functions (normalisation over
few rows makes second derivatives large), so a float32 gradient is compared with differences of
the float64 cost at the same point: the check then measures how far the float32 gradient is from
the true derivative, with the float32 tolerances below (rtol, plus atol times the rms of that
parameter's gradient for the rounding of a float32 backward pass).

A ReLU kink within one step of p makes the central difference meaningless there. When the
central check fails, the two one-sided differences (each Richardson-extrapolated to O(h^2))
disagree with each other (the function is not smooth inside the stencil), and the analytic value
matches one of them, the check is reported as a "kink", not a failure.
"""

import dataclasses

import numpy

# Per dtype of the analytic gradient: step h of the (float64) differences, rtol of the central
# (O(h^4)) check, rtol of the one-sided (O(h^2)) check, atol relative to the gradient's rms.
STEPS = {
    "float64": dict(h=1e-5, rtol=1e-6, rtol_one_sided=1e-4, atol_rms=0.0),
    "float32": dict(h=1e-5, rtol=1e-3, rtol_one_sided=1e-2, atol_rms=1e-3),
}


@dataclasses.dataclass
class Check:
    """One comparison of an analytic and a numeric derivative."""

    name: str  # parameter (or identity) checked
    index: tuple  # element index, or () for a random direction
    analytic: float
    numeric: float
    rel_error: float  # |a - n| / max(|a|, |n|, noise / rtol)
    status: str  # "ok", "kink" or "FAIL"


def _richardson(f, h):
    """Extrapolated central and one-sided derivatives of the scalar function f(t) at t = 0."""
    f0 = f(0.0)
    fp, fm, fp2, fm2 = f(h), f(-h), f(h / 2), f(-h / 2)
    central = (4 * (fp2 - fm2) / h - (fp - fm) / (2 * h)) / 3
    forward = 2 * (fp2 - f0) / (h / 2) - (fp - f0) / h
    backward = 2 * (f0 - fm2) / (h / 2) - (f0 - fm) / h
    return f0, central, forward, backward


def judge(name, index, analytic, f, dtype, atol=0.0):
    """Compare ``analytic`` with the numeric derivative of the float64 function f(t) at t = 0."""
    s = STEPS[dtype]
    h, rtol = s["h"], s["rtol"]
    f0, central, forward, backward = _richardson(f, h)
    noise = 10 * numpy.finfo("float64").eps * (abs(f0) + 1) / h + atol
    diff = abs(analytic - central)
    scale = max(abs(analytic), abs(central))
    rel = diff / max(scale, noise / rtol)
    status = "ok"
    if diff > rtol * scale + noise:
        # A kink: the two one-sided derivatives disagree (the function is not smooth within the
        # stencil), and the analytic value matches one of them.
        tol1 = s["rtol_one_sided"] * max(abs(forward), abs(backward)) + 4 * noise
        matches = any(abs(analytic - d) <= tol1 for d in (forward, backward))
        status = "kink" if abs(forward - backward) > 10 * tol1 and matches else "FAIL"
    return Check(name, index, float(analytic), float(central), float(rel), status)


def check_gradient(cost64, params, grads, rng, elementwise=False, directions=2, names=None):
    """Check ``grads`` (analytic, of the dtype of ``params``) against finite differences of the
    float64 scalar function ``cost64(params)`` at the same point.

    For each parameter: ``directions`` random unit directions, and with ``elementwise`` every
    element. Returns a list of Check.
    """
    checks = []
    params64 = {k: numpy.asarray(v, dtype="float64") for k, v in params.items()}
    for name in names or params:
        dtype = str(numpy.asarray(params[name]).dtype)
        base = params64[name]
        g = numpy.asarray(grads[name], dtype="float64")
        atol = STEPS[dtype]["atol_rms"] * float(numpy.sqrt(numpy.mean(g * g)))

        def along(d, name=name, base=base):
            def f(t):
                p = dict(params64)
                p[name] = base + t * d
                return float(cost64(p))

            return f

        for _ in range(directions):
            d = rng.standard_normal(base.shape)
            d = d / max(numpy.linalg.norm(d), 1e-300)
            checks.append(judge(name, (), float(numpy.sum(g * d)), along(d), dtype, atol))
        if elementwise:
            for idx in numpy.ndindex(base.shape):
                d = numpy.zeros(base.shape)
                d[idx] = 1.0
                checks.append(judge(name, idx, float(g[idx]), along(d), dtype, atol))
    return checks


def check_second_order(cost, params, rng, dtype="float64"):
    """Second-order check along one random direction d through all parameters at once.

    With phi(t) = cost(params + t d): autograd's phi''(0) (reverse over reverse mode) against the
    Richardson-extrapolated central difference of autograd's own first derivative phi'(t).
    Returns one Check named "second order".
    """
    from autograd import grad

    dirs = {k: rng.standard_normal(numpy.shape(v)) for k, v in params.items()}
    norm = numpy.sqrt(sum(float(numpy.sum(d * d)) for d in dirs.values()))
    dirs = {k: d / norm for k, d in dirs.items()}

    def phi(t):
        return cost({k: params[k] + t * dirs[k] for k in params})

    first = grad(phi)
    second = float(grad(first)(0.0))
    return judge("second order", (), second, lambda t: float(first(t)), dtype)
