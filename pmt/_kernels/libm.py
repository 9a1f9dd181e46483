"""Logarithms, powers and exponentials as the C library computes them, one value at a time.

numpy's ``np.log``, ``np.log1p`` and ``np.power`` pick their implementation
by processor: on a machine with AVX-512 they use vectorised routines whose
results differ from the C library's in the last bit for about 1 value in
7,000 (log) to 1 in 50 (log1p), so the same households would get different
welfare on two servers. These kernels call the C library's ``log``,
``log1p``, ``pow`` and ``exp`` (as Python's :mod:`math` does) for each
value, on every machine. :mod:`pmt.synth` draws with them too, so that a
seed gives the same households everywhere.

Each loop leaves at the first result that is not finite (the caller resumes
after it). Besides marking where a derived term left its domain, the second
exit keeps the loop scalar: a compiler that may vectorise maths calls (numba
with Intel's SVML) vectorises only loops with one exit, and SVML's results
are not the C library's either.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from ._jit import f8, f8_in, float64, int64, kernel, ranges, run

#: values per task
TASK = 1 << 18


@kernel((f8_in, f8, int64, int64))
def _log(a, out, i, hi):  # type: ignore[no-untyped-def]
    while i < hi:
        y = math.log(a[i])
        out[i] = y
        i += 1
        if not y - y == 0.0:
            return i
    return i


@kernel((f8_in, f8, int64, int64))
def _log1p(a, out, i, hi):  # type: ignore[no-untyped-def]
    while i < hi:
        y = math.log1p(a[i])
        out[i] = y
        i += 1
        if not y - y == 0.0:
            return i
    return i


@kernel((f8_in, float64, f8, int64, int64))
def _power(a, p, out, i, hi):  # type: ignore[no-untyped-def]
    while i < hi:
        y = math.pow(a[i], p)
        out[i] = y
        i += 1
        if not y - y == 0.0:
            return i
    return i


@kernel((f8_in, f8, int64, int64))
def _exp(a, out, i, hi):  # type: ignore[no-untyped-def]
    while i < hi:
        y = math.exp(a[i])
        out[i] = y
        i += 1
        if not y - y == 0.0:
            return i
    return i


def _each(step: object, a: np.ndarray, out: np.ndarray, *extra: float) -> None:
    def task(lo: int, hi: int) -> None:
        i = lo
        while i < hi:
            i = int(step(a, *extra, out, i, hi))  # type: ignore[operator]

    run([partial(task, lo, hi) for lo, hi in ranges(a.shape[0], -(-a.shape[0] // TASK))])


def log(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = log(a[i])`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_log, a, out)
    return out


def log1p(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = log1p(a[i])`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_log1p, a, out)
    return out


def power(a: np.ndarray, p: float, out: np.ndarray) -> np.ndarray:
    """``out[i] = pow(a[i], p)`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_power, a, out, float(p))
    return out


def exp(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = exp(a[i])`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_exp, a, out)
    return out


def of(function: Any, x: Any) -> np.ndarray:
    """``function`` (:func:`log`, :func:`exp`, ...) of an array of any shape, as a new array."""
    a = np.array(x, dtype=np.float64).ravel()  # a copy: computed in place
    return function(a, a).reshape(np.shape(x))  # type: ignore[no-any-return]
