"""Exact gradients of the training cost by autograd, with respect to the whole parameter dict."""

from autograd import value_and_grad

from .ops import REFERENCE
from .semi_supervised import training_cost

_cost_and_grad = value_and_grad(training_cost)


def cost_and_grad(params, config, inputs, n_iterations=None, ops=REFERENCE):
    """(total_cost, {name: d total_cost / d param}) by reverse-mode autodiff through all iterations;
    the semi-supervised total (``semi_supervised``) when ``inputs`` hold a labeled batch.
    ``ops``: ``ops.REFERENCE`` (autograd through the plain formulas, the default) or ``ops.FAST``
    (the hand-written derivatives of ``fused``), as ``forward``'s."""
    return _cost_and_grad(params, config, inputs, n_iterations, ops)
