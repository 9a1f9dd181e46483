"""Column checks for the encoder's fast paths, and small factorisation.

Each check reads one column in one pass and returns how many rows break its
rule; the encoder takes the result when that count is 0 and otherwise falls
back to its slower numpy path, which finds and reports the offending rows.
Values of any numeric dtype are first converted to float64 (exactly as a cast
in the kernel would), so each check compiles once.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ._jit import (
    b1,
    b1_in,
    boolean,
    f8,
    f8_in,
    float64,
    i1_in,
    i2_in,
    i4,
    i4_in,
    i8_in,
    int64,
    kernel,
    ranges,
    run,
    u1,
    u1_in,
)

#: rows per task: a check takes about 0.2 ms per million values, less than handing
#: tasks to the pool's threads costs, so a chunk of a file (1 M rows) is checked in one
#: call on the calling thread (the other core is decoding the next chunk meanwhile):
#: encoding and scoring six chunks took 0.74-0.76 s of CPU in tasks of 0.26 M rows,
#: 0.52-0.75 s in one task per column (docs/performance.md)
TASK = 1 << 22


@kernel((f8_in, u1_in, int64, u1))
def _codes(values, lut, lo, out):  # type: ignore[no-untyped-def]
    size = lut.shape[0]
    bad = 0
    for i in range(values.shape[0]):
        x = values[i]
        c = 255
        if x == np.floor(x):
            k = x - lo
            if k >= 0 and k < size:
                c = lut[np.int64(k)]
        if c == 255:
            bad += 1
            out[i] = 0
        else:
            out[i] = c
    return bad


#: integer dtypes :func:`_int_codes` and :func:`_int_numbers` read as they are (others are
#: converted to float64 first)
_INT_CODES = (np.int8, np.int16, np.int32, np.int64, np.uint8)


@kernel(*[(t, u1_in, int64, u1) for t in (i1_in, i2_in, i4_in, i8_in, u1_in)])
def _int_codes(values, lut, lo, out):  # type: ignore[no-untyped-def]
    """:func:`_codes` for integer values (whole by type): no conversion, no rounding test.

    ``lut`` ends with one extra 255, where every value outside the table looks
    up: no branch per value (a negative difference is a huge unsigned one).
    """
    last = np.uint64(lut.shape[0] - 1)
    bad = 0
    for i in range(values.shape[0]):
        k = np.uint64(np.int64(values[i]) - lo)  # a wrapped difference is far outside too
        c = lut[min(k, last)]
        bad += c == 255
        out[i] = c
    if bad:
        for i in range(values.shape[0]):
            if out[i] == 255:
                out[i] = 0
    return bad


@kernel(*[(t, int64, int64, u1) for t in (i1_in, i2_in, i4_in, i8_in, u1_in)])
def _int_offset_codes(values, lo, size, out):  # type: ignore[no-untyped-def]
    """:func:`_int_codes` when the codes are ``lo .. lo + size - 1`` in order (index = value - lo).

    No table: a subtraction and one unsigned comparison, which the compiler
    vectorises.
    """
    bad = 0
    for i in range(values.shape[0]):
        k = np.int64(values[i]) - lo
        ok = np.uint64(k) < np.uint64(size)
        bad += not ok
        out[i] = np.uint8(k) if ok else np.uint8(0)
    return bad


def clean_codes(values: np.ndarray, lut: np.ndarray, lo: int, out: np.ndarray) -> int:
    """``out[i] = lut[values[i] - lo]`` (dense code index); returns the count of bad values.

    A value is bad when it is not an allowed code: NaN, not whole, outside the
    table, or ``lut == 255``. Integer columns of the usual widths are read as
    they are; any other numeric dtype is converted to float64 first.
    """
    n = values.shape[0]
    as_int = values.dtype.type in _INT_CODES and values.flags.c_contiguous

    # codes lo, lo + 1, ... in order (the usual case): the index is the value - lo
    offset = as_int and bool(np.array_equal(lut, np.arange(lut.shape[0])))
    if as_int:
        lut = np.append(lut, np.uint8(255))

    def task(a: int, b: int) -> int:
        if offset:
            return int(_int_offset_codes(values[a:b], int(lo), lut.shape[0] - 1, out[a:b]))
        if as_int:
            return int(_int_codes(values[a:b], lut, int(lo), out[a:b]))
        x = np.empty(b - a, dtype=np.float64)
        np.copyto(x, values[a:b], casting="unsafe")
        return int(_codes(x, lut, int(lo), out[a:b]))

    return sum(run([partial(task, a, b) for a, b in ranges(n, -(-n // TASK))]))


@kernel((f8, float64, float64, boolean, i8_in))
def _numbers(out, lo, hi, whole, cap):  # type: ignore[no-untyped-def]
    """Check ``out`` in place (0 where bad); returns the count of bad values.

    The loops run from 0 over whole arrays (the caller passes a task's slices):
    an index the compiler knows is not negative needs no wrap-around test, and
    the loop vectorises (an int16 column of 1 M values: 2.29 ms indexed ``a:b``
    of the full arrays, 0.21 ms so, docs/performance.md).
    """
    use_cap = cap.shape[0] > 0
    bad = 0
    for i in range(out.shape[0]):  # no branch per value (whole, use_cap hold for the loop)
        x = out[i]
        ok = (x - x == 0.0) & (x >= lo) & (x <= hi)
        if whole:
            ok = ok & (x == np.floor(x))
        if use_cap:
            ok = ok & (x <= cap[i])
        out[i] = x if ok else 0.0
        bad += not ok
    return bad


@kernel(*[(t, f8, float64, float64, i8_in) for t in (i1_in, i2_in, i4_in, i8_in, u1_in)])
def _int_numbers(values, out, lo, hi, cap):  # type: ignore[no-untyped-def]
    """:func:`_numbers` for integer values, converted as it goes (whole and finite by type)."""
    use_cap = cap.shape[0] > 0
    bad = 0
    for i in range(values.shape[0]):  # no branch per value (use_cap holds for the loop)
        x = np.float64(values[i])
        ok = (x >= lo) & (x <= hi)
        if use_cap:
            ok = ok & (x <= cap[i])
        out[i] = x if ok else 0.0
        bad += not ok
    return bad


def clean_numbers(
    values: np.ndarray, lo: float, hi: float, whole: bool, cap: np.ndarray, out: np.ndarray
) -> int:
    """``out[i] = float(values[i])``; returns the count of bad values (0 in ``out``).

    A value is bad when it is NaN or infinite, outside ``[lo, hi]``, not whole
    (if ``whole``), or above ``cap[i]`` (if ``cap`` has one entry per value).
    Integer columns of the usual widths are converted and checked in one pass.
    """
    n = values.shape[0]
    cap = np.ascontiguousarray(cap, dtype=np.int64)
    if cap.shape[0] != n:
        cap = np.zeros(0, dtype=np.int64)
    as_int = values.dtype.type in _INT_CODES and values.flags.c_contiguous

    def task(a: int, b: int) -> int:
        part = cap[a:b] if cap.shape[0] else cap
        if as_int:
            return int(_int_numbers(values[a:b], out[a:b], float(lo), float(hi), part))
        np.copyto(out[a:b], values[a:b], casting="unsafe")
        return int(_numbers(out[a:b], float(lo), float(hi), bool(whole), part))

    return sum(run([partial(task, a, b) for a, b in ranges(n, -(-n // TASK))]))


@kernel((i8_in, b1_in, b1, i4, i4))
def _factorize_small(key, ok, seen, lut, out):  # type: ignore[no-untyped-def]
    """:func:`factorize_small` into ``seen`` (False), ``lut`` and ``out``."""
    n = key.shape[0]
    for i in range(n):
        if ok[i]:
            seen[key[i]] = True
    m = 0
    for k in range(seen.shape[0]):
        lut[k] = -1
        if seen[k]:
            lut[k] = m
            m += 1
    for i in range(n):
        out[i] = lut[key[i]] if ok[i] else 0


def factorize_small(key: np.ndarray, ok: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense index of small non-negative integer keys (``key < size``) where ``ok``.

    Returns (index (n,) int32 — 0 where not ok, present keys ascending (int64)).
    The arrays are made here, not in the kernel: a kernel that allocates
    compiles numpy's allocation code too, on a first call.
    """
    seen = np.zeros(size, dtype=np.bool_)
    out = np.empty(key.shape[0], dtype=np.int32)
    _factorize_small(key, ok, seen, np.empty(size, dtype=np.int32), out)
    return out, np.flatnonzero(seen).astype(np.int64)


@kernel((i8_in, i8_in))
def sorted_overlap(a, b):  # type: ignore[no-untyped-def]
    """Whether two ascending int64 arrays share a value (one merge walk)."""
    i = 0
    j = 0
    while i < a.shape[0] and j < b.shape[0]:
        if a[i] < b[j]:
            i += 1
        elif a[i] > b[j]:
            j += 1
        else:
            return True
    return False
