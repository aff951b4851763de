"""Keep freed memory in the process, so that NumPy's large temporaries reuse warm pages.

A training step makes and drops hundreds of arrays of a few megabytes (the K*B x H activations,
their cotangents, the elementwise temporaries). With glibc's default settings, freed memory near
the top of the heap is handed back to the operating system and blocks beyond a (self-adjusting)
size are separate ``mmap`` regions returned on ``free``; every new array then lands on fresh
pages, and touching each 4 KiB page for the first time costs a page fault in which the kernel
zeroes it. On the paper's Shapes model (B=100, float64) that is about 74,000 faults, 290 MB of
fresh pages and a fifth of the step's time on two cores (``benchmarks/step_time.py`` prints both
settings).

``keep_freed_memory`` sets two of glibc's ``mallopt`` parameters for the whole process: blocks up
to 32 MiB come from the heap (``M_MMAP_THRESHOLD``, the largest value every 64-bit glibc accepts)
and up to 1 GiB of free memory at the top of the heap is kept (``M_TRIM_THRESHOLD``). The resident
memory then stays near the step's peak instead of going up and down every step; nothing else
changes, the numbers least of all. The ``tagger-ref`` command line calls it at start, and
``training.train`` when it starts; other programs using the Python API may call it themselves.
Elsewhere than glibc (macOS, Windows, musl) it does nothing and returns False.
"""
import ctypes
import ctypes.util
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
