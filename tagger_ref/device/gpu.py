"""Teaching autograd to carry device arrays (CuPy), so that the same maths runs on a GPU.

The maths modules call autograd's NumPy (``from .backend import np``). On arrays that are not
NumPy's, NumPy hands every function and ufunc to the array's own library through
``__array_function__`` / ``__array_ufunc__`` (NEP 18, NEP 13), so the forward pass of a CuPy
array runs in CuPy untouched. What autograd does *itself* needs telling:

1. ``ArrayBox.register(cls)``: autograd only traces values whose type it knows.
2. ``VSpace.register(cls, ...)``: the vector space of a value makes the zeros and ones of the
   backward pass (the seed gradient of the cost, the gradient of an unused input); autograd's
   ``ArrayVSpace`` makes NumPy arrays, so device arrays get one that makes device arrays.
3. Five gradient rules and one forward function of autograd build NumPy arrays, or call what
   CuPy does not accept, on the way. Each is replaced, for device arrays only, by the same rule
   written without them; NumPy arrays keep autograd's own rule, so CPU results do not change by
   a bit. The rules are those the model uses:

   | autograd function | what breaks on a device array | replaced by |
   |---|---|---|
   | ``sum``, ``mean`` gradient | ``repeat_to_match_shape`` adds ``numpy.zeros`` | device zeros (*) |
   | ``reshape`` gradient | passes ``order=None``, which CuPy's reshape rejects | no ``order`` |
   | ``power`` gradient | exponent ``where(y, y - 1, 1)`` is a NumPy 0-d array | a Python number |
   | ``ArrayBox.__getitem__`` gradient | ``untake`` uses ``numpy.add.at``, a ufunc method | ``A[idx] += g`` |
   | ``concatenate`` (forward) | ``.view(numpy.ndarray)`` on the result | the plain result |

   (*) The mean's count is a Python int, so a float32 gradient stays float32; autograd's NumPy
   rule divides by a NumPy int64, which NumPy 2 (NEP 50) promotes to float64.

   A rule decides by the type of its forward result, so a NumPy value never sees the new rules.
   Functions the model does not use keep autograd's rules; one that builds a NumPy array fails
   loudly on a GPU (CuPy refuses to mix host and device arrays), it never falls back silently.

It needs autograd 1.9 or later: ``_primitive_mean`` (the mean's gradient rule) and
``ArrayBox.__array_ufunc__`` (without it "device array (op) traced array" reaches CuPy's ufunc
with a box inside, which CuPy refuses) both arrived in 1.9.0. ``require_autograd`` checks that
before anything is changed.

``register_array_type(cls, xp)`` does all three for an array class and its array module (``cupy``).
The tests register a NumPy-backed stand-in (``reference_tests/fake_gpu.py``) through the same function and
check the model's forward pass and every gradient against plain NumPy, so the mechanism is
exercised on any CPU. ``load_cupy`` imports CuPy for ``backend.use_device("gpu")``.
"""

import importlib.metadata
import math
import re

import numpy
from autograd.core import primitive_vjps
from autograd.extend import SparseObject, VSpace, defvjp, defvjp_argnum, primitive, vspace
from autograd.numpy import numpy_wrapper as anp
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.numpy.numpy_vjps import grad_concatenate_args, unbroadcast_f
from autograd.numpy.numpy_vspaces import ArrayVSpace
from autograd.tracer import getval

from ..errors import DeviceError

# Registered device array classes -> their array module (cupy, or the CPU stand-in).
_MODULES = {}


def is_device_array(a):
    """True for an array of a registered device type (a CuPy array once the GPU is in use)."""
    return type(getval(a)) in _MODULES


def _module_of(a):
    return _MODULES[type(getval(a))]


class DeviceArrayVSpace(ArrayVSpace):
    """The vector space of a device array: zeros and ones are made by the array's own module."""

    def __init__(self, value, xp):
        self.shape = value.shape  # numpy.asarray(value), as ArrayVSpace does, would copy to the host
        self.dtype = value.dtype
        self.xp = xp

    def zeros(self):
        return self.xp.zeros(self.shape, dtype=self.dtype)

    def ones(self):
        return self.xp.ones(self.shape, dtype=self.dtype)

    def standard_basis(self):
        raise NotImplementedError("standard_basis of device arrays: not needed by tagger_ref")

    def randn(self):
        raise NotImplementedError("randn of device arrays: not needed by tagger_ref")


# The oldest autograd whose tracing lets device arrays through (see the module's docstring).
AUTOGRAD_MIN = (1, 9)


def _version_tuple(text):
    """(1, 9) from "1.9.0" or "1.9rc1": the major and minor numbers; (0, 0) when there are none."""
    match = re.match(r"(\d+)(?:\.(\d+))?", text)
    return (int(match[1]), int(match[2] or 0)) if match else (0, 0)


def _autograd_version():
    try:
        return importlib.metadata.version("autograd")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def require_autograd():
    """Raise DeviceError in one line unless the installed autograd can carry device arrays.

    Decided by the version (at least ``AUTOGRAD_MIN``) and by the two features the device path
    uses, so that a copy of autograd without its metadata is judged by what it has.
    """
    version = _autograd_version()
    missing = [
        name
        for name, present in (
            ("ArrayBox.__array_ufunc__", "__array_ufunc__" in vars(ArrayBox)),
            ("_primitive_mean", hasattr(anp, "_primitive_mean")),
        )
        if not present
    ]
    too_old = version != "unknown" and _version_tuple(version) < AUTOGRAD_MIN
    if too_old or missing:
        need = ".".join(map(str, AUTOGRAD_MIN))
        lacks = f" (it lacks {', '.join(missing)})" if missing else ""
        raise DeviceError(
            f"--device gpu needs autograd >= {need}, but autograd {version} is installed{lacks}; "
            f"pip install 'autograd>={need}'"
        )


def register_array_type(cls, xp):
    """Let autograd trace and differentiate arrays of class ``cls`` whose module is ``xp``.

    ``xp`` must provide ``zeros(shape, dtype)`` and ``ones(shape, dtype)``; ``cls`` must implement
    ``__array_function__`` and ``__array_ufunc__`` (CuPy's ndarray does). Idempotent. Raises
    DeviceError, having changed nothing, when autograd is too old (``require_autograd``).
    """
    require_autograd()
    ArrayBox.register(cls)
    VSpace.register(cls, lambda value: DeviceArrayVSpace(value, xp))
    _MODULES[cls] = xp
    _install_device_rules()


# ----- the replaced gradient rules -----


def _reduced_axes(shape, axis):
    """The axes (non-negative) that a reduction over ``axis`` removed from an array of ``shape``."""
    if axis is None:
        return tuple(range(len(shape)))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(a % len(shape) for a in axes)


def _repeat_to_match_shape(g, shape, dtype, axis, xp):
    """autograd's repeat_to_match_shape with device zeros: g spread back over the reduced axes.

    Returns the repeated g (a fresh array of ``shape``) and the number of repetitions.
    """
    if shape == ():
        return g, 1
    axes = _reduced_axes(shape, axis)
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return anp.reshape(g, kept) + xp.zeros(shape, dtype=dtype), math.prod(shape[a] for a in axes)


def _grad_sum(ans, x, axis=None, keepdims=False, dtype=None, **kwargs):
    shape, x_dtype, xp = anp.shape(x), anp.result_type(x), _module_of(ans)
    return lambda g: _repeat_to_match_shape(g, shape, x_dtype, axis, xp)[0]


def _grad_mean(ans, x, axis=None, keepdims=False, **kwargs):
    """The gradient of a mean: spread back, divided by the count (a Python int: keeps float32)."""
    shape, x_dtype, xp = anp.shape(x), anp.result_type(x), _module_of(ans)

    def vjp(g):
        repeated, n = _repeat_to_match_shape(g, shape, x_dtype, axis, xp)
        return repeated / n

    return vjp


def _grad_reshape(ans, x, shape, order=None):
    x_shape = anp.shape(x)
    if order is None:
        return lambda g: anp.reshape(g, x_shape)
    return lambda g: anp.reshape(g, x_shape, order=order)


def _power_exponent_minus_one(y):
    """y - 1, or 1 where y == 0 (where y * x**(y-1) is 0 anyway), without making a NumPy array."""
    if is_device_array(y):
        return anp.where(y, y - 1, 1.0)
    return y - 1 if y != 0 else 1.0


def _log_or_zero(x):
    """log(x), with log(1) = 0 where x == 0 (autograd's replace_zero), without a NumPy array."""
    if is_device_array(x):
        return anp.log(anp.where(x, x, 1.0))
    return math.log(x) if x != 0 else 0.0


def _grad_power_base(ans, x, y):
    return unbroadcast_f(x, lambda g: g * y * x ** _power_exponent_minus_one(y))


def _grad_power_exponent(ans, x, y):
    return unbroadcast_f(y, lambda g: g * _log_or_zero(x) * ans)


_BASIC_INDEX_TYPES = (int, numpy.integer, slice, type(None), type(Ellipsis))


def _is_basic_index(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, _BASIC_INDEX_TYPES) for i in items)


@primitive
def untake_basic(x, idx, vs):
    """The gradient of A[idx] for a basic index: zeros of A's space with x added at idx.

    autograd's ``untake`` uses ``numpy.add.at`` (right for repeated fancy indices); a basic index
    (integers, slices, None, Ellipsis) never repeats an element, so ``A[idx] += x`` is exact.
    """

    def mut_add(A):
        A[idx] += x
        return A

    return SparseObject(vs, mut_add)


defvjp(untake_basic, lambda ans, x, idx, _: lambda g: g[idx])


def _grad_getitem(ans, A, idx):
    if not _is_basic_index(idx):
        raise NotImplementedError("the gradient of advanced (array) indexing is not supported on device arrays")
    return lambda g: untake_basic(g, idx, vspace(A))


_original_concatenate_args = anp.concatenate_args


@primitive
def concatenate_args(axis, *args):
    """autograd's concatenate_args, without its ``.view(numpy.ndarray)`` on device arrays."""
    if any(is_device_array(a) for a in args):
        return numpy.concatenate(args, axis)  # dispatched to the arrays' module
    return _original_concatenate_args.fun(axis, *args)


defvjp_argnum(concatenate_args, grad_concatenate_args)

_installed = False


def _use_for_device_arrays(fun, *vjpmakers):
    """Make ``vjpmakers`` (autograd ``defvjp`` style, one per argument) the gradient rules of
    ``fun`` when its result is a device array; other results keep autograd's rules."""
    original = primitive_vjps[fun]
    defvjp(fun, *vjpmakers)
    on_device = primitive_vjps[fun]

    def vjp_argnums(argnums, ans, args, kwargs):
        rule = on_device if is_device_array(ans) else original
        return rule(argnums, ans, args, kwargs)

    primitive_vjps[fun] = vjp_argnums


def _install_device_rules():
    global _installed
    if _installed:
        return
    _use_for_device_arrays(anp.sum, _grad_sum)
    _use_for_device_arrays(anp._primitive_mean, _grad_mean)
    _use_for_device_arrays(anp.reshape, _grad_reshape)
    _use_for_device_arrays(anp.power, _grad_power_base, _grad_power_exponent)
    _use_for_device_arrays(ArrayBox.__getitem__, _grad_getitem)
    # np.concatenate(list, axis) is a lambda that looks concatenate_args up in autograd's module.
    anp.concatenate_args = concatenate_args
    _installed = True


# ----- CuPy -----

INSTALL_HINT = "pip install 'tagger-ref[gpu]', or the CuPy wheel for your CUDA, e.g. pip install cupy-cuda12x"


def load_cupy():
    """Check autograd, import CuPy, check that it sees a CUDA device, register its arrays; return the module.

    Raises DeviceError with one line saying what is missing, before anything is changed.
    """
    require_autograd()
    try:
        import cupy
    except ImportError as e:
        raise DeviceError(
            f"--device gpu requested but CuPy is not installed ({_first_line(e)}); {INSTALL_HINT}"
        ) from None
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError when there is no driver or no device
        raise DeviceError(
            f"--device gpu requested but no CUDA device found ({type(e).__name__}: {_first_line(e)})"
        ) from None
    if n < 1:
        raise DeviceError("--device gpu requested but no CUDA device found (CuPy sees 0 devices)")
    for cls in {cupy.ndarray, type(cupy.empty(0))}:  # the same class, unless CuPy hands out a subclass
        register_array_type(cls, cupy)
    return cupy


def _first_line(error):
    """The first line of an error's message (CuPy's import errors run over many lines)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
