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
points of every wing, each imported when first used.
"""

import importlib

# The public names and the module of each, imported on first use (PEP 562's module __getattr__):
# ``import tagger_ref.commands.cli`` then costs no autograd, scipy or scikit-learn, so that
# ``tagger-ref --help`` starts at once (reference_tests/test_cli.py checks it).
_EXPORTS = {
    "config": ("PRESETS", "TaggerConfig", "load_config"),
    "errors": ("ConfigError", "DataError", "InputError", "OutputError", "ParamFileError", "TaggerError", "TraceError"),
    "files.inputs": ("load_inputs", "prepare_inputs", "save_inputs"),
    "files.params": ("load_params", "prepare_params", "save_params"),
    "maths.corruption": ("make_inputs", "make_semi_supervised_inputs"),
    "maths.gradients": ("cost_and_grad", "step_cost"),
    "maths.init": ("count_params", "init_params", "param_shapes", "perturb_params"),
    "maths.model": ("denoising_and_class_cost", "forward"),
    "maths.semi_supervised": ("semi_supervised_forward",),
    "oracle.random_case": ("random_params",),
    "oracle.trace": ("compute_trace", "load_trace", "save_trace"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"
