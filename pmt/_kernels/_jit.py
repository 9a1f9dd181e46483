"""The one place for numba options, explicit signatures and the thread pool.

Every kernel is compiled with the same options (cached on disk, the GIL
released, numpy's error model, no fastmath) for a closed list of argument
types, and only when a call first needs it: a process that only scores never
compiles the sort. Kernels that Python calls are :class:`Kernel` objects;
their helpers are plain :func:`helper` functions, typed by the kernel that
calls them, so each is compiled once.

Parallelism is ours, not numba's: a kernel works on a range of rows, and
:func:`run` spreads the ranges of a call over a pool of Python threads (the
kernels release the GIL). The ranges are fixed by the data alone, never by
the number of threads, so results never depend on it; no numba threading
layer is ever started, so concurrent calls from many threads are safe and
there is nothing to re-initialise after ``fork``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
from numba import njit, types

log = logging.getLogger("pmt.kernels")

_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": False,
}


def helper(func: Callable[..., Any]) -> Any:
    """A function called only from kernels: compiled with them, for their types."""
    return njit(**_OPTIONS)(func)


# --------------------------------------------------------------------------- argument types


def array(dtype: Any, ndim: int = 1, *, readonly: bool = False) -> types.Array:
    """A C-contiguous array type; ``readonly`` accepts writable arrays too."""
    return types.Array(dtype, ndim, "C", readonly=readonly)


f8 = array(types.float64)
i8 = array(types.int64)
i4 = array(types.int32)
i1 = array(types.int8)
u1 = array(types.uint8)
b1 = array(types.boolean)
f8_in = array(types.float64, readonly=True)
i1_in = array(types.int8, readonly=True)
i2_in = array(types.int16, readonly=True)
i8_in = array(types.int64, readonly=True)
i4_in = array(types.int32, readonly=True)
u1_in = array(types.uint8, readonly=True)
b1_in = array(types.boolean, readonly=True)
f8_2d = array(types.float64, 2)
f8_2d_in = array(types.float64, 2, readonly=True)
int64 = types.int64
float64 = types.float64
boolean = types.boolean


# --------------------------------------------------------------------------- kernels

_compile_listener: list[Callable[[str], None] | None] = [None]


def on_compile(listener: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Call ``listener(kernel name)`` before compiling a kernel that is not in the cache.

    One listener at a time (the command line's "compiling" line); returns the
    previous one, so that a caller can put it back. ``None`` removes it.
    """
    previous = _compile_listener[0]
    _compile_listener[0] = listener
    return previous


class Kernel:
    """A numba function with a closed list of signatures, each compiled on first use.

    Calling it with argument types that no signature accepts raises
    ``TypeError`` naming the kernel and the types, instead of compiling a new
    specialisation: the list in the source is all there is.
    """

    def __init__(self, func: Callable[..., Any], signatures: Sequence[tuple[Any, ...]]) -> None:
        self.py_func = func
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__
        self.signatures = tuple(tuple(s) for s in signatures)
        self.dispatcher = njit(**_OPTIONS)(func)
        self._lock = threading.Lock()
        self._ready = False

    def __repr__(self) -> str:
        return f"<pmt kernel {self.__name__}: {len(self.signatures)} signature(s)>"

    def __call__(self, *args: Any) -> Any:
        if not isinstance(self.dispatcher, numba.core.dispatcher.Dispatcher):
            return self.dispatcher(*args)  # NUMBA_DISABLE_JIT: plain Python
        if self._ready:
            try:
                return self.dispatcher(*args)
            except (TypeError, RuntimeError) as exc:
                # a new signature; or another thread's compile() re-disabled compiling
                # while this call was starting its own: take the locked path
                if "No matching definition" not in str(exc) and "compilation disabled" not in str(
                    exc
                ):
                    raise
        self._prepare(args)
        return self.dispatcher(*args)

    def _prepare(self, args: tuple[Any, ...]) -> None:
        got = tuple(numba.typeof(a) for a in args)
        ctx = self.dispatcher.typingctx
        for sig in self.signatures:
            if len(sig) == len(got) and all(
                g == s or ctx.can_convert(g, s) is not None for g, s in zip(got, sig, strict=True)
            ):
                self.compile(sig)
                return
        raise TypeError(
            f"pmt kernel {self.__name__}: no signature accepts arguments of types "
            f"({', '.join(map(str, got))}); the signatures are "
            + "; ".join("(" + ", ".join(map(str, s)) + ")" for s in self.signatures)
        )

    def cached(self, sig: tuple[Any, ...] | None = None) -> bool:
        """Whether ``sig`` (default: the first signature) is compiled or in the disk cache."""
        sig = self.signatures[0] if sig is None else sig
        disp = self.dispatcher
        if not isinstance(disp, numba.core.dispatcher.Dispatcher) or sig in disp.overloads:
            return True
        try:
            return disp._cache.load_overload(sig, disp.targetctx) is not None  # type: ignore[attr-defined]
        except Exception:  # a cache numba cannot read: it will compile
            return False

    def compile(self, sig: tuple[Any, ...] | None = None) -> None:
        """Compile ``sig`` (default: every signature), or load it from the disk cache."""
        disp = self.dispatcher
        if not isinstance(disp, numba.core.dispatcher.Dispatcher):
            return
        for s in self.signatures if sig is None else (sig,):
            if s in disp.overloads:
                continue
            with self._lock:
                if s in disp.overloads:
                    continue
                listener = _compile_listener[0]
                if listener is not None and not self.cached(s):
                    listener(self.__name__)
                log.debug("compiling or loading %s%s", self.__name__, s)
                disp.disable_compile(False)
                try:
                    disp.compile(s)
                finally:
                    disp.disable_compile(True)
                self._ready = True


KERNELS: dict[str, Kernel] = {}


def kernel(*signatures: tuple[Any, ...]) -> Callable[[Callable[..., Any]], Kernel]:
    """Declare a kernel with its signatures (argument types, the return type inferred)."""

    def wrap(func: Callable[..., Any]) -> Kernel:
        if func.__name__ in KERNELS:  # one name, one kernel: warmup compiles them by name
            raise RuntimeError(f"two pmt kernels are named {func.__name__!r}")
        k = Kernel(func, signatures)
        KERNELS[func.__name__] = k
        return k

    return wrap


# --------------------------------------------------------------------------- threads

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:  # a forked child has none of the parent's threads
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _max_threads() -> int:
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def threads() -> int:
    """How many threads a call may use.

    ``numba.set_num_threads(k)`` (if the calling thread has called it) or else
    the ``NUMBA_NUM_THREADS`` environment variable (default: the number of CPUs).
    """
    from numba.np.ufunc import parallel

    if parallel._is_initialized:
        return int(numba.get_num_threads())
    return int(_max_threads())


def run(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``tasks`` on up to :func:`threads` threads; their results, in task order."""
    width = min(threads(), len(tasks))
    if width <= 1:
        return [t() for t in tasks]
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, _max_threads()), thread_name_prefix="pmt")
        pool = _pool
    # ``width`` lanes, each running its share of the tasks in order
    lanes = [list(range(k, len(tasks), width)) for k in range(width)]
    out: list[Any] = [None] * len(tasks)
    running = _Lanes()

    def lane(ids: list[int]) -> None:
        if running.enter():
            try:
                for i in ids:
                    out[i] = tasks[i]()
            finally:
                running.leave()

    try:
        for f in [pool.submit(lane, ids) for ids in lanes]:
            f.result()
    finally:  # an error or an interrupt: no lane goes on writing behind the caller's back
        running.stop()
    return out


class _Lanes:
    """The lanes of one :func:`run` call that are running; ``stop`` waits for them.

    On an error in one lane, or an interrupt of the caller (which can land
    while the pool starts a thread, before the caller holds that lane's
    future), lanes not yet started never start and running ones are waited
    for, so that no kernel writes into the caller's arrays (a
    :class:`pmt.Ranker`'s workspace, say) after :func:`run` has returned or
    raised.
    """

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._active = 0
        self._stopped = False

    def enter(self) -> bool:
        with self._cv:
            if self._stopped:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._cv:
            self._active -= 1
            self._cv.notify_all()

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.wait_for(lambda: self._active == 0)


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into ``parts`` ranges of ceil(n / parts) (the last shorter; none empty)."""
    if n <= 0:
        return []
    step = -(-n // parts)
    return [(a, min(n, a + step)) for a in range(0, n, step)]
