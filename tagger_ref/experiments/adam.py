"""Adam (Kingma and Ba, 2015), the optimiser of the paper (section 3.1), as a pure update; and Adam as
the authors' training library computed it (Blocks 0.2), which differs in where epsilon sits.

Parameters, gradients and the two moment estimates are dicts of named arrays; the state is
``{"t": steps taken, "m": {name: first moment}, "v": {name: second moment}}``. Every update
returns new dicts and leaves its arguments unchanged. Arithmetic stays in the parameters' dtype
(the constants are Python floats, which do not promote float32), and on the arrays' device:
NumPy's functions dispatch to CuPy arrays, whose results stay CuPy arrays.
"""

import numpy

# The usual defaults (Kingma and Ba, Algorithm 1); the learning rate comes from the config.
BETA1 = 0.9  # decay of the first moment estimate
BETA2 = 0.999  # decay of the second moment estimate
EPS = 1e-8  # added to sqrt(v_hat), so that a zero second moment does not divide by zero


def adam_init(params):
    """State before the first step: t = 0 and zero moments shaped like each parameter."""
    return {
        "t": 0,
        "m": {k: numpy.zeros_like(v) for k, v in params.items()},
        "v": {k: numpy.zeros_like(v) for k, v in params.items()},
    }


def adam_update(params, grads, state, lr, beta1=BETA1, beta2=BETA2, eps=EPS):
    """One Adam step (Kingma and Ba, Algorithm 1). Returns ``(new_params, new_state)``.

    t <- t + 1;  m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
    m_hat = m / (1 - beta1^t);  v_hat = v / (1 - beta2^t);
    theta <- theta - lr m_hat / (sqrt(v_hat) + eps).
    """
    t = state["t"] + 1
    correction1 = 1.0 - beta1**t  # bias corrections of the zero-initialised moments
    correction2 = 1.0 - beta2**t
    return _moment_step(
        params, grads, state, beta1, beta2, lambda m, v: lr * (m / correction1) / (numpy.sqrt(v / correction2) + eps)
    )


def adam_blocks_update(params, grads, state, lr, beta1=BETA1, beta2=BETA2, eps=EPS):
    """One step of Adam as Blocks 0.2 (``blocks.algorithms.Adam``, the authors' pinned version)
    computes it. Returns ``(new_params, new_state)``; the state is Adam's.

    The moments are Adam's (Blocks writes its betas as 1 - beta: 0.1 and 0.001). The bias
    corrections go into the learning rate, and epsilon is added to the square root of the
    *uncorrected* second moment:

    theta <- theta - lr sqrt(1 - beta2^t) / (1 - beta1^t) m / (sqrt(v) + eps),

    which is Adam with epsilon ``eps / sqrt(1 - beta2^t)`` (3.2e-7 at the first step, within 1 %
    of ``eps`` from step 4,000 on). Blocks also decays the first-moment weight by ``(1 - 1e-8)^(t-1)``;
    that factor is 1.0 in float32, where the authors trained, and is left out here.
    """
    t = state["t"] + 1
    rate = lr * (1.0 - beta2**t) ** 0.5 / (1.0 - beta1**t)
    return _moment_step(params, grads, state, beta1, beta2, lambda m, v: rate * m / (numpy.sqrt(v) + eps))


def _moment_step(params, grads, state, beta1, beta2, step):
    """The part both Adams share: t <- t + 1, the moments m and v updated with each gradient, and
    theta <- theta - step(m, v). Returns ``(new_params, new_state)``."""
    new_params, new_m, new_v = {}, {}, {}
    for name, theta in params.items():
        g = grads[name]
        m = beta1 * state["m"][name] + (1.0 - beta1) * g
        v = beta2 * state["v"][name] + (1.0 - beta2) * (g * g)
        new = theta - step(m, v)
        # host arrays: an array also for the scalar parameters (NumPy gives a scalar), in theta's dtype (NumPy
        # before 2 promotes a 0-d float32 times a Python float to float64); device arrays stay where they are
        host = (numpy.ndarray, numpy.generic, float)
        new_params[name], new_m[name], new_v[name] = (
            numpy.asarray(a, dtype=numpy.asarray(theta).dtype) if isinstance(a, host) else a for a in (new, m, v)
        )
    return new_params, {"t": state["t"] + 1, "m": new_m, "v": new_v}
