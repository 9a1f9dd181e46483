"""New arrays that a call fills once and front to back, on small pages.

numpy asks Linux for transparent huge pages (2 MB) for every array of 4 MB
or more (``madvise(MADV_HUGEPAGE)``). On the virtual machine pmt is
measured on, the first touch of a huge page cost about five times as much
as that of the same memory in 4 KB pages: filling a new 1 GB array took
2.4-2.6 s with huge pages and 0.5 s without, each run after 8 s idle
(docs/performance.md, "Huge pages and row groups"). A call's results and
one-pass buffers are touched once, in order, so small pages cost them
little in the walk that follows; arrays read at random positions (the
sort's records) keep huge pages, where the processor's address cache
matters more.

:func:`empty` is ``np.empty`` with that advice withdrawn for the array's
pages (Linux; elsewhere, or if the call fails, plain ``np.empty``). It
changes how memory is backed, never what it holds.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from typing import Any

import numpy as np

__all__ = ["RANDOM_ACCESS", "buffer", "empty", "small_pages"]

_MADV_NOHUGEPAGE = 15  # <asm-generic/mman-common.h>
_SMALLEST = 1 << 22  # numpy advises huge pages from 4 MB up
_PAGE = mmap.PAGESIZE


def _madvise() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_ADVISE = _madvise()


def small_pages(a: np.ndarray) -> np.ndarray:
    """Ask for 4 KB pages under ``a``'s whole pages (before it is first written); returns ``a``.

    A hint: on failure (an old kernel, another system) the array is unchanged
    and as usable.
    """
    if _ADVISE is None or a.nbytes < _SMALLEST:
        return a
    start = a.__array_interface__["data"][0]
    lo = -(-start // _PAGE) * _PAGE
    hi = (start + a.nbytes) // _PAGE * _PAGE
    if hi > lo:
        _ADVISE(lo, hi - lo, _MADV_NOHUGEPAGE)
    return a


def empty(shape: Any, dtype: Any = np.float64) -> np.ndarray:
    """``np.empty(shape, dtype)`` on small pages (see the module's note)."""
    return small_pages(np.empty(shape, dtype=dtype))


#: the named buffers (:func:`buffer`) written and read at random positions: the sort's
#: records, then the result records. They keep numpy's huge pages, where the processor's
#: address cache matters; every other buffer is filled front to back, on small pages.
RANDOM_ACCESS = frozenset({"work"})


def buffer(name: str, shape: Any, dtype: Any = np.float64) -> np.ndarray:
    """A new array for the ranking's buffer ``name``.

    :func:`empty` (small pages), or ``np.empty`` for the buffers in :data:`RANDOM_ACCESS`.
    """
    if name in RANDOM_ACCESS:
        return np.empty(shape, dtype=dtype)
    return empty(shape, dtype)
