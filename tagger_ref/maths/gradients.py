"""The cost that a training step differentiates, and its exact gradient by autograd with respect to
the whole parameter dict."""

from autograd import value_and_grad

from .model import denoising_and_class_cost
from .ops import REFERENCE
from .semi_supervised import is_semi_supervised, semi_supervised_cost


def step_cost(params, config, inputs, n_iterations=None, ops=REFERENCE):
    """The cost of a training step (trace key ``total_cost``): ``semi_supervised_cost`` when ``inputs``
    hold a labeled batch, else the one pass's ``denoising_and_class_cost``. ``cost_and_grad``
    differentiates this function, and the gradient tests difference it."""
    if is_semi_supervised(inputs):
        return semi_supervised_cost(params, config, inputs, n_iterations, ops)
    return denoising_and_class_cost(params, config, inputs, n_iterations, ops)


_cost_and_grad = value_and_grad(step_cost)


def cost_and_grad(params, config, inputs, n_iterations=None, ops=REFERENCE):
    """(step_cost, {name: d step_cost / d param}) by reverse-mode autodiff through all iterations.
    ``ops``: ``ops.REFERENCE`` (autograd through the plain formulas, the default) or ``ops.FAST``
    (the hand-written derivatives of ``fused``), as ``forward``'s."""
    return _cost_and_grad(params, config, inputs, n_iterations, ops)
