"""Parallel kernels under concurrent calls: one guard, whatever numba threading layer runs them.

pmt's own kernels do not run on numba's threading layer (they release the
GIL and :mod:`pmt._kernels` spreads a call's work over a pool of Python
threads), so concurrent calls and forks are safe on every layer. This module
keeps that true for any kernel compiled with numba's ``parallel=True``, which
would run on the layer numba picks when the process first runs one (``tbb``,
then ``omp``, then ``workqueue``, unless ``NUMBA_THREADING_LAYER`` says
otherwise):

- ``tbb`` is thread-safe and fork-safe;
- ``omp`` is thread-safe; GNU OpenMP (Linux) is not fork-safe;
- ``workqueue`` is fork-safe but not thread-safe: two Python threads inside
  parallel regions at once abort the process ("Concurrent access has been
  detected").

pmt's modules reach the kernels only through :data:`kernels`, which runs each
``parallel=True`` kernel under one process-wide lock when the layer is
``workqueue`` (or not known yet: numba names the layer only once it has
started) and without a lock otherwise; every other kernel passes through
untouched.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from . import _kernels

__all__ = ["guarded", "kernels", "needs_lock", "threading_layer"]

_LOCK = threading.Lock()
_LAYER: list[str] = []  # the layer, once numba has loaded one


def _new_lock_in_child() -> None:
    # a fork while another thread held the lock would leave the child's copy held forever
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def threading_layer() -> str | None:
    """The numba threading layer of this process, or None before its first parallel region."""
    if not _LAYER:
        import numba

        try:
            _LAYER.append(str(numba.threading_layer()))
        except ValueError:  # "Threading layer is not initialized."
            return None
    return _LAYER[0]


def needs_lock() -> bool:
    """Whether parallel kernels must take turns: the layer is ``workqueue``, or not known yet."""
    return threading_layer() in (None, "workqueue")


def guarded(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``kernel`` (a numba ``parallel=True`` dispatcher) behind the process-wide lock when needed.

    The lock is taken only while :func:`needs_lock` holds, so on ``tbb`` and
    ``omp`` concurrent calls run concurrently.
    """

    @functools.wraps(kernel)
    def call(*args: Any) -> Any:
        if needs_lock():
            with _LOCK:
                return kernel(*args)
        return kernel(*args)

    call.__wrapped__ = kernel  # type: ignore[attr-defined]
    return call


def _is_parallel(value: Any) -> bool:
    """Whether ``value`` is a numba ``parallel=True`` dispatcher, or a kernel wrapping one."""
    for obj in (value, getattr(value, "dispatcher", None)):
        options = getattr(obj, "targetoptions", None)
        if isinstance(options, dict) and options.get("parallel"):
            return True
    return False


class _Kernels:
    """:mod:`pmt._kernels` with each parallel kernel wrapped by :func:`guarded`.

    Other names (serial kernels, constants such as ``RECORD``) pass through
    unchanged. The module's own globals are untouched, so kernels that call
    each other inside numba still see the dispatchers.
    """

    def __getattr__(self, name: str) -> Any:
        value = getattr(_kernels, name)
        if _is_parallel(value):
            value = guarded(value)
        setattr(self, name, value)  # looked up once
        return value

    def __dir__(self) -> list[str]:
        return dir(_kernels)


#: What pmt's modules call kernels through: ``from ._threads import kernels as K``.
kernels: Any = _Kernels()
