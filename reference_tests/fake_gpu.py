"""A stand-in for CuPy on the CPU: checks the GPU plumbing where there is no GPU.

``FakeGPUArray`` holds a NumPy array and is *not* one: like ``cupy.ndarray`` it reaches NumPy's
functions and ufuncs only through ``__array_function__`` / ``__array_ufunc__``, and it copies the
refusals of CuPy that autograd's own code can run into, so that code which works on it has no
hidden NumPy fallback:

- no implicit conversion to NumPy (``numpy.asarray(a)`` raises; ``a.get()`` copies to the host);
- no mixing with NumPy arrays in a ufunc or function, 0-d ones included (Python and NumPy
  scalars are fine); creating from one (``asarray``, NEP 35's ``like=``) is the transfer;
- ufunc methods other than a plain call (``numpy.add.at``, ``reduce``, ...) are not handled;
- ``view(dtype)`` takes only a dtype (CuPy has no object arrays), ``reshape`` no ``order=None``;
- results stay arrays: a reduction to one value is a 0-d array, not a NumPy scalar.

It is stricter than CuPy in one harmless way: a NumPy array is refused even where CuPy would
read it as a shape.

The module itself plays the part of ``cupy`` for ``tagger_ref.device.gpu.register_array_type``:
``zeros``, ``ones``, ``asarray`` and ``random.default_rng``; ``cupy_module()`` plays ``cupy`` as a
whole, for ``backend.use_device("gpu")``. Results are computed by NumPy, so
they equal NumPy's to the last bit, which lets the tests compare exactly.
"""

import types

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

# NumPy functions that move host data to the device (CuPy's asarray/array copy to the GPU).
_TRANSFERS = {numpy.asarray, numpy.array, numpy.asanyarray, numpy.ascontiguousarray}


class HostDeviceMixError(TypeError):
    """A NumPy array met a device array where CuPy would refuse it."""


class FakeGPUArray(NDArrayOperatorsMixin):
    """A NumPy array in disguise, behaving towards NumPy and autograd as a CuPy array does."""

    __slots__ = ("_data",)
    __array_priority__ = 100  # as cupy.ndarray

    def __init__(self, data):
        self._data = numpy.asarray(data)

    # -- attributes and conversions --
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    T = property(lambda self: FakeGPUArray(self._data.T))

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return f"FakeGPUArray({self._data!r})"

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed (a device array): use .get()")

    def get(self):
        """A NumPy copy on the host, as cupy.ndarray.get()."""
        return self._data.copy()

    def item(self):
        return self._data.item()

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __bool__(self):
        return bool(self._data)

    # -- methods that autograd or the maths call on raw arrays --
    def astype(self, dtype, copy=True):
        return FakeGPUArray(self._data.astype(dtype, copy=copy))

    def copy(self):
        return FakeGPUArray(self._data.copy())

    def reshape(self, *shape, order="C"):
        if order is None:  # CuPy's reshape normalises order with len(order)
            raise TypeError("object of type 'NoneType' has no len()")
        return FakeGPUArray(self._data.reshape(*shape, order=order))

    def view(self, dtype=None):
        if dtype is None:
            return FakeGPUArray(self._data.view())
        dtype = numpy.dtype(dtype)  # numpy.ndarray as a "dtype" is object, as in CuPy
        if dtype.kind == "O":
            raise TypeError(f"Unsupported dtype {dtype}")
        return FakeGPUArray(self._data.view(dtype))

    def max(self, axis=None, keepdims=False):
        return FakeGPUArray(self._data.max(axis=axis, keepdims=keepdims))

    def min(self, axis=None, keepdims=False):
        return FakeGPUArray(self._data.min(axis=axis, keepdims=keepdims))

    def sum(self, axis=None, dtype=None, keepdims=False):
        return FakeGPUArray(self._data.sum(axis=axis, dtype=dtype, keepdims=keepdims))

    def __getitem__(self, idx):
        return FakeGPUArray(self._data[_unwrap(idx)])  # basic indices give a view, as NumPy and CuPy

    def __setitem__(self, idx, value):
        _refuse_host_arrays((value,), "setitem")
        self._data[_unwrap(idx)] = _unwrap(value)

    # -- the dispatch protocols --
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out", ())
        if method != "__call__" or not all(_handled(x) for x in inputs + tuple(out)):
            return NotImplemented  # e.g. an autograd ArrayBox: it handles the call itself
        _refuse_host_arrays(inputs, ufunc.__name__)
        if out:
            kwargs["out"] = tuple(_unwrap(o) for o in out)
        result = ufunc(*_unwrap(inputs), **kwargs)
        return out[0] if len(out) == 1 else _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, (FakeGPUArray, numpy.ndarray)) for t in types):
            return NotImplemented
        if func not in _TRANSFERS:
            _refuse_host_arrays(args, func.__name__)
            _refuse_host_arrays(tuple(kwargs.values()), func.__name__)
        if func is numpy.reshape and kwargs.get("order", "C") is None:
            raise TypeError("object of type 'NoneType' has no len()")  # cupy.reshape hands order to the method
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))


def _handled(x):
    return isinstance(x, (FakeGPUArray, numpy.ndarray, numpy.generic, int, float, complex, bool))


def _refuse_host_arrays(items, where):
    for x in items:
        if isinstance(x, numpy.ndarray):
            raise HostDeviceMixError(
                f"{where}: a NumPy array {x.shape} met a device array (CuPy refuses implicit host-to-device conversion)"
            )
        if isinstance(x, (list, tuple)):
            _refuse_host_arrays(x, where)


def _unwrap(x):
    if isinstance(x, FakeGPUArray):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, (numpy.ndarray, numpy.generic)):
        return FakeGPUArray(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_wrap(v) for v in x)
    return x


# ----- the module's part: what tagger_ref asks of cupy -----


def zeros(shape, dtype=float):
    return FakeGPUArray(numpy.zeros(shape, dtype=dtype))


def ones(shape, dtype=float):
    return FakeGPUArray(numpy.ones(shape, dtype=dtype))


def asarray(a, dtype=None):
    """The array on the (fake) device: a copy of host data, or ``a`` itself if already there."""
    if isinstance(a, FakeGPUArray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    return FakeGPUArray(numpy.array(a, dtype=dtype))


class FakeGenerator:
    """A device random generator (as cupy.random.Generator): draws arrive as device arrays."""

    def __init__(self, seed):
        self._rng = numpy.random.default_rng(seed)

    def random(self, size=None, dtype=numpy.float64):
        return FakeGPUArray(self._rng.random(size, dtype=dtype))

    def standard_normal(self, size=None, dtype=numpy.float64):
        return FakeGPUArray(self._rng.standard_normal(size, dtype=dtype))


random = types.SimpleNamespace(default_rng=FakeGenerator)


def register():
    """Register FakeGPUArray with autograd, as tagger_ref.device.gpu.load_cupy registers cupy.ndarray."""
    import sys

    from tagger_ref.device.gpu import register_array_type

    register_array_type(FakeGPUArray, sys.modules[__name__])


def cupy_module(device_count=1):
    """A module that answers what tagger_ref asks of ``cupy``, backed by this stand-in: put it in
    ``sys.modules["cupy"]`` and ``use_device("gpu")`` / ``--device gpu`` run on it, through the
    same code as on a GPU. ``device_count`` 0 plays a machine without a GPU."""
    device = types.SimpleNamespace(id=0, synchronize=lambda: None)
    runtime = types.SimpleNamespace(getDeviceCount=lambda: device_count)
    return types.SimpleNamespace(
        __name__="cupy (reference_tests/fake_gpu.py stand-in)",
        ndarray=FakeGPUArray,
        empty=zeros,
        zeros=zeros,
        ones=ones,
        asarray=asarray,
        random=random,
        cuda=types.SimpleNamespace(runtime=runtime, Device=lambda: device),
    )
