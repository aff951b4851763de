"""tagger_ref: the reference implementation of Tagger (Greff et al., NIPS 2016) in NumPy and autograd.

The paper is the subpackage ``tagger_ref.maths`` (its docstring gives the reading order). Around
it, the package is stacked in wings, from the bottom up; a module imports only from its own wing
or a lower one (reference_tests/test_layout.py):

- ``errors``, ``config``: exception types; the configuration dataclass and the paper's presets;
- ``device``: where the arrays live, NumPy or CuPy (backend, gpu);
- ``maths``: the paper as pure functions;
- ``files``: the checked .npz files, parameters, inputs, datasets, locks;
- ``baselines``: the FC MLP, FC Ladder and ConvNet of Table 2;
- ``oracle``: traces, compare, golden cases, gradient checks, derivative identities;
- ``experiments``: training, Adam, data streams, evaluation, sweeps, run records;
- ``report``: the paper's figures and tables drawn from runs;
- ``commands``: the ``tagger-ref`` command line.

docs/equations.md maps equation numbers to functions. This module re-exports the public entry
points of every wing.
"""

from .config import PRESETS, TaggerConfig, load_config
from .errors import ConfigError, DataError, InputError, OutputError, ParamFileError, TaggerError, TraceError
from .files.inputs import load_inputs, make_inputs, make_semi_supervised_inputs, prepare_inputs, save_inputs
from .files.params import (
    count_params,
    init_params,
    load_params,
    param_shapes,
    perturb_params,
    prepare_params,
    save_params,
)
from .maths.gradients import cost_and_grad, step_cost
from .maths.model import denoising_and_class_cost, forward
from .maths.semi_supervised import semi_supervised_forward
from .oracle.random_case import random_params
from .oracle.trace import compute_trace, load_trace, save_trace

__version__ = "0.1.0"
