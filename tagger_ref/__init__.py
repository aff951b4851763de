"""tagger_ref: the reference implementation of Tagger (Greff et al., NIPS 2016) in NumPy and autograd.

The paper is the subpackage ``tagger_ref.maths`` (its docstring gives the reading order); beside
it are the tools: files (params, inputs, fileio), the oracle (trace, compare, golden, gradcheck),
reproduction (training, evaluation, figures, datasets), devices (backend, gpu) and the command
line (cli, commands). README.md maps equation numbers to functions.
"""
from .config import PRESETS, TaggerConfig, load_config
from .errors import ConfigError, DataError, InputError, OutputError, ParamFileError, TaggerError, TraceError
from .maths.gradients import cost_and_grad
from .files.inputs import load_inputs, make_inputs, make_semi_supervised_inputs, prepare_inputs, save_inputs
from .maths.model import forward, total_cost
from .maths.semi_supervised import semi_supervised_forward
from .files.params import count_params, init_params, load_params, param_shapes, perturb_params, prepare_params, save_params
from .oracle.random_case import random_params
from .oracle.trace import compute_trace, load_trace, save_trace

__version__ = "0.1.0"
