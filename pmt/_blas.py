"""Run many small linear-algebra calls on one BLAS thread.

Recalibration solves thousands of small systems (one per region model and
fold, ``~130 x 130``). A multi-threaded OpenBLAS spends more time waking
threads than computing on such sizes — on a busy two-core machine a 130 x 130
solve took 10x longer with threads than without. :func:`single_threaded`
limits the OpenBLAS libraries loaded in the process (numpy's and scipy's) to
one thread for the duration of a block and restores them afterwards, as
``threadpoolctl`` does, without the dependency. Where no OpenBLAS is found
(another BLAS, another platform) it does nothing. Results do not depend on it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

__all__ = ["single_threaded"]

_NAMES = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


@lru_cache(maxsize=1)
def _controls() -> tuple[tuple[object, object], ...]:
    """(get, set) functions of every OpenBLAS loaded in this process."""
    try:
        import numpy  # noqa: F401  (loads numpy's BLAS)
        import scipy.linalg  # noqa: F401  (loads scipy's)

        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = sorted(
                {
                    line.split()[-1]
                    for line in f
                    if "openblas" in line.split()[-1].lower() and ".so" in line.split()[-1]
                }
            )
    except (OSError, ImportError):
        return ()
    out = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _NAMES:
            if hasattr(lib, get_name) and hasattr(lib, set_name):
                get, put = getattr(lib, get_name), getattr(lib, set_name)
                get.restype = ctypes.c_int
                put.argtypes = [ctypes.c_int]
                out.append((get, put))
                break
    return tuple(out)


@contextmanager
def single_threaded() -> Iterator[None]:
    """Limit OpenBLAS to one thread inside the block (restored on exit)."""
    controls = _controls()
    before = []
    for get, put in controls:
        try:
            before.append(int(get()))  # type: ignore[operator]
            put(1)  # type: ignore[operator]
        except Exception:  # pragma: no cover - a foreign BLAS build
            before.append(-1)
    try:
        yield
    finally:
        for (_, put), n in zip(controls, before, strict=True):
            if n > 0:
                put(n)  # type: ignore[operator]
