"""Keep freed memory in the process, so that NumPy's large temporaries reuse warm pages.

``keep_freed_memory`` sets two of glibc's ``mallopt`` parameters for the whole process: blocks up
to 32 MiB come from the heap (``M_MMAP_THRESHOLD``) and up to 1 GiB of free memory at the top of
the heap is kept (``M_TRIM_THRESHOLD``). A training step's multi-megabyte temporaries then stop
landing on fresh pages, each first touch a page fault (docs/numerics.md, "The allocator"); results
do not change. The ``tagger-ref`` command line calls it at start; being process-wide, it is left
to other programs to call. Elsewhere than glibc (macOS, Windows, musl) it does nothing.
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
