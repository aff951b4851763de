"""The optimisers a run can train with, chosen by the config's ``optimizer`` field (docs/maintaining.md).

An optimiser is two pure functions over dicts of named arrays, as in autograd's
``misc/optimizers.py``: ``init(params) -> state`` and ``update(params, grads, state, lr) ->
(params, state)``. Its state is a dict of per-parameter ``slots`` ({name: array} each, shaped like
the parameter) and integer ``counters``; that convention is all the checkpoint, the device move and
the damage check need, so they are written once here for every optimiser. In a checkpoint the
state is ``<optimizer>/<slot>/<name>`` arrays and ``<optimizer>/<counter>`` integers (Adam's:
``adam/m/<name>``, ``adam/v/<name>``, ``adam/t``).
"""

import dataclasses
import typing

import numpy

from ..device.backend import to_device, to_numpy
from ..errors import ConfigError
from . import adam


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """One optimiser: its name in configs and checkpoints, its two functions and its state's layout."""

    name: str  # the config's ``optimizer`` and the checkpoint's key prefix
    label: str  # in messages ("Adam's m of W")
    init: typing.Callable  # params -> state
    update: typing.Callable  # (params, grads, state, lr) -> (new params, new state)
    slots: typing.Tuple[str, ...] = ()  # per-parameter arrays of the state
    counters: typing.Tuple[str, ...] = ()  # integers of the state

    def arrays(self, state):
        """The state as a checkpoint's NumPy arrays, by key."""
        out = {f"{self.name}/{s}/{k}": to_numpy(v) for s in self.slots for k, v in state[s].items()}
        out.update({f"{self.name}/{c}": numpy.int64(state[c]) for c in self.counters})
        return out

    def from_arrays(self, raw, names):
        """The state from a checkpoint's arrays ``raw`` for the parameters ``names`` (KeyError if one is missing)."""
        state = {c: int(raw[f"{self.name}/{c}"]) for c in self.counters}
        state.update({s: {k: raw[f"{self.name}/{s}/{k}"] for k in names} for s in self.slots})
        return state

    def per_parameter(self, state, name):
        """(what, array) of each slot of parameter ``name``, for the checkpoint's damage check."""
        return [(f"{self.label}'s {s} of", state[s][name]) for s in self.slots]

    def to_device(self, state):
        """The state with its slots on the active device (no-op on the CPU)."""
        return dict(state, **{s: to_device(state[s]) for s in self.slots})


ADAM = Optimizer(
    name="adam", label="Adam", init=adam.adam_init, update=adam.adam_update, slots=("m", "v"), counters=("t",)
)

# Adam as the authors' Blocks 0.2 computed it: the same state, epsilon beside the uncorrected sqrt(v)
ADAM_BLOCKS = Optimizer(
    name="adam-blocks",
    label="Adam (Blocks)",
    init=adam.adam_init,
    update=adam.adam_blocks_update,
    slots=("m", "v"),
    counters=("t",),
)

# name -> Optimizer; the names a config accepts are config.OPTIMIZERS (test_optimizers checks they agree)
OPTIMIZERS = {o.name: o for o in (ADAM, ADAM_BLOCKS)}


def get(name):
    """The optimiser of that name; ConfigError if there is none."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ConfigError(f"unknown optimizer {name!r}: known are {', '.join(OPTIMIZERS)}") from None
