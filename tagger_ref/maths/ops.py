"""The three operations that have two implementations, as a table handed down the forward pass.

``REFERENCE``: the plain formulas of ``functions`` and ``combinator``, which autograd differentiates
step by step, as the paper reads. ``FAST``: the primitives of ``fused``, the same values with
hand-written derivatives, for training speed. The model's entry points (``forward``,
``denoising_and_class_cost``, ``semi_supervised_forward``, ``step_cost``, ``cost_and_grad``) take
``ops=`` and default to ``REFERENCE``; who passes ``FAST`` is written down in this package's
docstring and in docs/training.md ("Fast path").
"""

import dataclasses
import typing

from . import combinator, functions, fused


@dataclasses.dataclass(frozen=True)
class Ops:
    """The operations the forward pass takes from the caller, each with the signature of its plain formula."""

    sigmoid: typing.Callable  # g(a) = 1 / (1 + exp(-a)): the binary z head (11), the combinator
    normalize: typing.Callable  # (a, norm): (a - mean) / sqrt(var + 1e-10) over functions.NORM_AXES[norm]
    combinator: typing.Callable  # the Ladder's g(zl, u) (Rasmus et al. eq. 2, A.6)


REFERENCE = Ops(sigmoid=functions.sigmoid, normalize=functions.normalize, combinator=combinator.combinator)
FAST = Ops(sigmoid=fused.sigmoid, normalize=fused.normalize, combinator=fused.combinator)
