"""The semi-supervised training cost of section 3.3: an unlabeled and a labeled pass (docs/spec.md section 4).

    total = C_denoising(unlabeled pass) + class_cost_x * C_class(labeled pass, last iteration)

Each pass is a whole ``forward`` on its own batch, with its own batch statistics and its own draws
(x_tilde, m0_logits); the labeled pass's denoising cost and the unlabeled pass's class output are
not used. The inputs of a step are one dict: the unlabeled batch under ``x``, ``x_tilde``,
``m0_logits`` and the labeled batch under ``labeled_x``, ``labeled_x_tilde``,
``labeled_m0_logits`` and ``y`` (the batches may differ in size).
"""

from .model import forward
from .ops import REFERENCE

LABELED_PREFIX = "labeled_"
# Keys of the labeled pass's trace that the semi-supervised trace does not carry under the prefix:
# its class output is the step's (unprefixed), its total cost is not used.
_NOT_PREFIXED = ("class_probs", "class_cost", "total_cost")


def is_semi_supervised(inputs):
    """Whether ``inputs`` hold a labeled batch beside the unlabeled one."""
    return "labeled_x" in inputs


def split_inputs(inputs):
    """(unlabeled inputs, labeled inputs): the two passes' input dicts, each as ``forward`` takes it."""
    unlabeled = {k: inputs[k] for k in ("x", "x_tilde", "m0_logits")}
    labeled = {
        "x": inputs["labeled_x"],
        "x_tilde": inputs["labeled_x_tilde"],
        "m0_logits": inputs["labeled_m0_logits"],
        "y": inputs["y"],
    }
    return unlabeled, labeled


def semi_supervised_forward(params, config, inputs, n_iterations=None, ops=REFERENCE):
    """Both passes and the total cost, as one trace dict.

    The unlabeled pass under the usual keys, the labeled pass's iteration keys prefixed
    ``labeled_``, ``class_probs`` and ``class_cost`` of the labeled pass's last iteration,
    ``denoising_cost`` (the unlabeled pass's cost over iterations, eq. (1)) and
    ``total_cost = denoising_cost + class_cost_x * class_cost``. ``ops``: as ``forward``'s.
    """
    unlabeled, labeled = split_inputs(inputs)
    trace = forward(params, config, unlabeled, n_iterations, ops=ops)  # no y: the denoising cost alone
    labeled_trace = forward(params, config, labeled, n_iterations, ops=ops)
    trace["denoising_cost"] = trace.pop("total_cost")
    trace.update({LABELED_PREFIX + k: v for k, v in labeled_trace.items() if k not in _NOT_PREFIXED})
    trace["class_probs"] = labeled_trace["class_probs"]
    trace["class_cost"] = labeled_trace["class_cost"]
    trace["total_cost"] = trace["denoising_cost"] + config.class_cost_x * trace["class_cost"]
    return trace


def semi_supervised_cost(params, config, inputs, n_iterations=None, ops=REFERENCE):
    """The unlabeled pass's denoising cost plus class_cost_x times the labeled pass's class cost
    (``semi_supervised_forward``'s key ``total_cost``)."""
    return semi_supervised_forward(params, config, inputs, n_iterations, ops)["total_cost"]
