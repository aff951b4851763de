"""Keep freed memory in the process, so that NumPy's large temporaries reuse warm pages.

``keep_freed_memory`` sets two of glibc's ``mallopt`` parameters for the whole process: blocks up
to 32 MiB come from the heap (``M_MMAP_THRESHOLD``) and up to 1 GiB of free memory at the top of
the heap is kept (``M_TRIM_THRESHOLD``). A training step's multi-megabyte temporaries then stop
landing on fresh pages, each first touch a page fault (docs/numerics.md, "The allocator"); results
do not change. The ``tagger-ref`` command line calls it at start; being process-wide, it is left
to other programs to call. Elsewhere than glibc (macOS, Windows, musl) it does nothing.

``check_fits`` and ``check_model_fits`` refuse, in one line and before allocating, sizes that
cannot fit in this machine's physical memory (a Ladder layer of 10^8 units, 10^7 groups, a batch of
10^9 images): the estimates are lower bounds, so nothing that fits is refused.
"""

import ctypes
import ctypes.util
import math
import os
import sys

# glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2**30


def _glibc():
    """The C library if it is glibc (it has gnu_get_libc_version), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # AttributeError where the C library is not glibc
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory():
    """Ask glibc to keep freed blocks (see the module docstring). True where both settings took."""
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


# ---------------------------------------------------------------------------------------------
# refusing what cannot fit, before allocating it


def physical_memory():
    """Bytes of physical memory of this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def check_fits(nbytes, what):
    """ConfigError in one line when ``nbytes`` (a lower bound of what ``what`` allocates) exceed the
    machine's physical memory, so that absurd sizes are refused before any allocation."""
    from ..errors import ConfigError

    total = physical_memory()
    if total is not None and nbytes > total:
        raise ConfigError(
            f"{what} needs at least {_size(nbytes)} of memory, more than this machine's "
            f"{_size(total)}: use smaller sizes"
        )


def model_bytes(config, batch, n_iterations=None, n_groups=None, param_copies=4):
    """A lower bound of the memory of one training step (or forward pass) of ``config``'s model on
    ``batch`` images: the parameters ``param_copies`` times (training: values, gradients and Adam's
    two moments; a pass with gradients 2, a forward pass 1) and, for
    Tagger, the activations kept for backpropagation, T * K * B * (4 N + the Ladder's units);
    for a baseline those of one pass, B * its layer units (a ConvNet: channels * N)."""
    itemsize = 8 if config.dtype == "float64" else 4
    if hasattr(config, "baseline"):
        from ..baselines.models import param_shapes

        units = config.n_inputs * sum(config.hidden) if config.baseline == "convnet" else sum(config.sizes)
        activations = batch * units
    else:
        from ..maths.init import param_shapes

        T = config.n_iterations if n_iterations is None else n_iterations
        K = config.n_groups if n_groups is None else n_groups
        activations = T * K * batch * (4 * config.n_inputs + sum(config.encoder_proj))
    params = sum(math.prod(shape) for shape in param_shapes(config).values())
    return itemsize * (param_copies * params + activations)


def check_model_fits(config, batch, n_iterations=None, n_groups=None, param_copies=4, what=None):
    """``check_fits`` for ``model_bytes``: a model too large for this machine is one line, before allocating."""
    if hasattr(config, "baseline"):
        sizes = f"{config.baseline} baseline with layers {list(config.hidden)}, batch {batch}"
    else:
        T = config.n_iterations if n_iterations is None else n_iterations
        K = config.n_groups if n_groups is None else n_groups
        sizes = f"Tagger with layers {list(config.encoder_proj)}, batch {batch}, K = {K}, T = {T}"
    check_fits(model_bytes(config, batch, n_iterations, n_groups, param_copies), what or f"the model ({sizes})")
