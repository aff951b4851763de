"""tagger_ref: the reference implementation of Tagger (Greff et al., NIPS 2016) in NumPy and autograd.

The maths is in small modules named after the paper's quantities (likelihood, modelling_error,
ladder, heads, costs, classification, model); files and checks in params, inputs, trace; the
command line in cli. See README.md for a table from equation numbers to functions.
"""
from .config import PRESETS, TaggerConfig, load_config
from .errors import (ConfigError, DataError, InputError, OutputError, ParamFileError, TaggerError,
                     TraceError)
from .gradients import cost_and_grad
from .inputs import load_inputs, make_inputs, prepare_inputs, save_inputs
from .model import forward, total_cost
from .params import count_params, init_params, load_params, param_shapes, prepare_params, save_params
from .trace import compute_trace, load_trace, save_trace

__version__ = "0.1.0"
