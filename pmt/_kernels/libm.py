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


#: the functions :func:`_apply` computes
_LOG, _LOG1P, _POWER, _EXP = 0, 1, 2, 3


@kernel((f8_in, f8, int64, float64, int64, int64))
def _apply(a, out, function, p, i, hi):  # type: ignore[no-untyped-def]
    """``out[k] = function(a[k])`` (``pow(a[k], p)``) from ``i`` to the first non-finite result."""
    while i < hi:
        x = a[i]
        if function == _LOG:
            y = math.log(x)
        elif function == _LOG1P:
            y = math.log1p(x)
        elif function == _POWER:
            y = math.pow(x, p)
        else:
            y = math.exp(x)
        out[i] = y
        i += 1
        if not y - y == 0.0:
            return i
    return i


def _each(function: int, a: np.ndarray, out: np.ndarray, p: float = 0.0) -> None:
    def task(lo: int, hi: int) -> None:
        i = lo
        while i < hi:
            i = int(_apply(a, out, function, p, i, hi))

    run([partial(task, lo, hi) for lo, hi in ranges(a.shape[0], -(-a.shape[0] // TASK))])


def log(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = log(a[i])`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_LOG, a, out)
    return out


def log1p(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = log1p(a[i])`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_LOG1P, a, out)
    return out


def power(a: np.ndarray, p: float, out: np.ndarray) -> np.ndarray:
    """``out[i] = pow(a[i], p)`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_POWER, a, out, float(p))
    return out


def exp(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = exp(a[i])`` (float64 in and out; ``out`` may be ``a``)."""
    _each(_EXP, a, out)
    return out


def of(function: Any, x: Any) -> np.ndarray:
    """``function`` (:func:`log`, :func:`exp`, ...) of an array of any shape, as a new array."""
    a = np.array(x, dtype=np.float64).ravel()  # a copy: computed in place
    return function(a, a).reshape(np.shape(x))  # type: ignore[no-any-return]
