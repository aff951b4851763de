"""The one array namespace of the maths, and the one switch that picks the device.

Every maths module does ``from .backend import np``: autograd's wrapped NumPy, so that autograd
can differentiate everything. The arrays are NumPy arrays on the CPU (the default) or CuPy arrays
on a GPU (``use_device("gpu")``); they flow through the same functions, because NumPy dispatches
its functions and ufuncs on foreign arrays (``__array_function__`` / ``__array_ufunc__``), and
``tagger_ref.device.gpu`` teaches autograd the rest. Inside the maths, a new array is made *like* an
array already there (``np.full_like``, NEP 35's ``like=``), so it lands on the same device.

Only the functions here depend on the active device: ``asarray`` and ``to_device`` (data in),
``device_rng`` (random draws on the device), ``to_numpy`` (results out, at the edges: files,
logs, AMI). A GPU is never used unless asked for: nothing here imports CuPy before
``use_device("gpu")``.
"""

import contextlib

import autograd.numpy as np  # noqa: F401  (re-exported: the namespace of all maths modules)
import numpy as _numpy
from autograd.builtins import container_untake
from autograd.extend import defvjp, primitive, vspace
from autograd.tracer import getval, isbox  # noqa: F401  (the raw value behind a traced array; is it traced)

from ..errors import DeviceError
from . import DEVICES


def entries(params):
    """The parameter dict through a view that makes autograd's bookkeeping cheap (for ``forward``).

    Plain NumPy for a dict of arrays. Under autograd, reading ``params[k]`` of a traced dict is a
    tape node whose derivative rebuilds the vector space of the whole dict (every entry's shape
    and dtype) each time; through this view each read is still its own node, but the space is
    built once and shared, which cuts autograd's bookkeeping of a step (measured in
    docs/training.md, Benchmark). Each read stays a node of its own, so that a use's gradient goes
    into the dict's gradient as soon as its iteration's backward pass is done (one node per key for
    the whole pass would hold every parameter's gradient until the end: one copy of the parameters
    more at the memory peak). The values and the gradient are the same.
    """
    if not isbox(params):
        return params
    return _Entries(params, vspace(getval(params)))


class _Entries:
    """``entries``' view: ``view[k]`` is ``params[k]`` as a tape node sharing one vector space."""

    def __init__(self, params, space):
        self._params, self._space = params, space

    def __getitem__(self, key):
        return _entry(self._params, key, self._space)


@primitive
def _entry(params, key, space):
    return params[key]


defvjp(_entry, lambda ans, params, key, space: lambda g: container_untake(g, key, space))

_DEVICE = "cpu"
_XP = _numpy


def device():
    """The active device: "cpu" (NumPy) or "gpu" (CuPy); a stand-in's name while one is active."""
    return _DEVICE


def array_module():
    """The module that creates arrays on the active device (numpy or cupy)."""
    return _XP


def use_device(name):
    """Make ``name`` ("cpu" or "gpu") the device of new arrays, for everything that follows.

    "gpu" imports CuPy and registers its arrays with autograd (``tagger_ref.device.gpu``); it raises
    DeviceError in one line when autograd is older than 1.9, CuPy is not installed or it sees no
    CUDA device. Arrays made
    before the switch stay where they are: move them with ``to_device``.
    """
    if name == "cpu":
        use_array_module("cpu", _numpy)
    elif name == "gpu":
        from .gpu import load_cupy

        use_array_module("gpu", load_cupy())
    else:
        raise DeviceError(f"unknown device {name!r}: expected one of {', '.join(DEVICES)}")


def use_array_module(name, xp):
    """Make ``xp`` the active array module under the device name ``name``.

    For stand-in devices (``reference_tests/fake_gpu.py`` checks the GPU plumbing on a CPU); ``xp`` must
    already be registered with ``tagger_ref.device.gpu.register_array_type`` unless it is NumPy.
    """
    global _DEVICE, _XP
    _DEVICE, _XP = name, xp


@contextlib.contextmanager
def on_device(name):
    """``with on_device("gpu"): ...`` runs the block on that device and restores the previous one."""
    previous = (_DEVICE, _XP)
    use_device(name)
    try:
        yield array_module()
    finally:
        use_array_module(*previous)


def asarray(a, dtype=None):
    """``a`` as an array of the active device (a no-op for arrays already there)."""
    return _XP.asarray(a, dtype=dtype)


def asarray_like(a, like):
    """``a`` as an array of the same kind and device as the array ``like`` (NEP 35), e.g. a
    random draw made on the host, moved to the device of the data it corrupts."""
    return _numpy.asarray(a, like=getval(like))


def to_device(arrays, dtype=None):
    """A dict of arrays (parameters or model inputs) on the active device.

    Floating arrays become ``dtype`` when it is given; integer arrays (class labels) keep theirs.
    """
    out = {}
    for name, a in arrays.items():
        kind = (a.dtype if hasattr(a, "dtype") else _numpy.asarray(a).dtype).kind
        out[name] = asarray(a, dtype=dtype if kind == "f" else None)
    return out


def device_rng(rng):
    """A random generator of the active device, seeded from the NumPy Generator ``rng``.

    On the CPU this is ``rng`` itself. On the GPU it is a CuPy generator whose seed is drawn from
    ``rng``, so that corruption and initial masks are drawn on the device: one seed still fixes a
    whole run, but the draws differ from the CPU's. Passing ``rng`` itself to ``make_inputs``
    draws on the host and copies the draws over: the same draws on every device, at the cost of
    the copy (see docs/gpu.md).
    """
    if _XP is _numpy:
        return rng
    return _XP.random.default_rng(int(rng.integers(2**63 - 1)))


def to_numpy(a):
    """A NumPy array from any array of any device (for files, logs and evaluation)."""
    a = getval(a)
    if hasattr(a, "get") and not isinstance(a, _numpy.ndarray):
        return a.get()
    return _numpy.asarray(a)


def synchronize():
    """Wait until the device has finished the work queued so far (for timing); no-op on the CPU."""
    if _DEVICE == "gpu":
        _XP.cuda.Device().synchronize()
