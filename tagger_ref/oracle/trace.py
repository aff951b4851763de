"""Trace files (docs/spec.md section 8): every intermediate of a forward pass and the gradients."""

import re

import numpy

from ..device.backend import to_device, to_numpy
from ..errors import TraceError
from ..files.fileio import load_npz, save_npz
from ..maths.gradients import cost_and_grad
from ..maths.model import forward
from ..maths.semi_supervised import is_semi_supervised, semi_supervised_forward

# forward's in-memory keys that the file format leaves out: the top logits ladder_top_logits_i (and
# labeled_ladder_top_logits_i), which evaluation reads (model.forward's docstring)
_IN_MEMORY_ONLY = re.compile(r"^(labeled_)?ladder_top_logits_\d+$")


def in_memory_only(key):
    """Whether a key of ``forward``'s trace is left out of the trace files (docs/spec.md section 8)."""
    return _IN_MEMORY_ONLY.match(key) is not None


def compute_trace(params, config, inputs, n_iterations=None):
    """The trace dict of docs/spec.md section 8: forward quantities and grad_<name> for every parameter,
    as float64 NumPy arrays. ``params`` and ``inputs`` should come from prepare_params/prepare_inputs;
    the computation runs on the active device (``backend.use_device``) in ``config.dtype``. Inputs
    with a labeled batch give the semi-supervised step's trace (``maths.semi_supervised``)."""
    params, inputs = to_device(params, config.dtype), to_device(inputs, config.dtype)
    run = semi_supervised_forward if is_semi_supervised(inputs) else forward
    trace = {k: to_numpy(v) for k, v in run(params, config, inputs, n_iterations).items() if not in_memory_only(k)}
    _, grads = cost_and_grad(params, config, inputs, n_iterations)
    for name, g in grads.items():
        trace[f"grad_{name}"] = to_numpy(g)
    return {k: numpy.asarray(v, dtype="float64") for k, v in trace.items()}


def save_trace(path, trace):
    """Write a trace `.npz` (float64) atomically."""
    save_npz(path, {k: numpy.asarray(v, dtype="float64") for k, v in trace.items()})


def load_trace(path):
    """Read a trace `.npz` into a dict."""
    return load_npz(path, TraceError, what="trace file")
