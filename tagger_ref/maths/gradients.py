"""Exact gradients of the training cost by autograd, with respect to the whole parameter dict."""
from autograd import value_and_grad

from .model import total_cost

_cost_and_grad = value_and_grad(total_cost)


def cost_and_grad(params, config, inputs, n_iterations=None):
    """(total_cost, {name: d total_cost / d param}) by reverse-mode autodiff through all iterations."""
    return _cost_and_grad(params, config, inputs, n_iterations)
