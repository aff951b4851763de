"""The one array namespace of the maths, chosen here.

Every maths module does ``from .backend import np``: autograd's wrapped NumPy, so that autograd
can differentiate everything. The arrays themselves are NumPy arrays on the CPU; CuPy arrays on
a GPU flow through the same functions, because NumPy dispatches its functions and ufuncs on
foreign arrays (``__array_function__`` / ``__array_ufunc__``). Only ``asarray`` (moving data to
the active device) and ``to_numpy`` (back, at the edges: files, logs, AMI) depend on the device.
"""
import numpy as _numpy
import autograd.numpy as np  # noqa: F401  (re-exported: the namespace of all maths modules)
from autograd.tracer import getval  # noqa: F401  (the raw value behind a traced array)

_DEVICE = "cpu"


def device():
    """The active device: "cpu" (NumPy) or "gpu" (CuPy)."""
    return _DEVICE


def array_module():
    """The module that creates arrays on the active device (numpy or cupy)."""
    if _DEVICE == "gpu":
        import cupy
        return cupy
    return _numpy


def asarray(a, dtype=None):
    """``a`` as an array of the active device (a no-op for arrays already there)."""
    return array_module().asarray(a, dtype=dtype)


def to_numpy(a):
    """A NumPy array from any array of any device (for files, logs and evaluation)."""
    a = getval(a)
    if hasattr(a, "get") and not isinstance(a, _numpy.ndarray):
        return a.get()
    return _numpy.asarray(a)
