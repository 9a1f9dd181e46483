"""Scoring: the welfare of each household under its region's model."""

from __future__ import annotations

import threading
from functools import partial

import numpy as np

from ._jit import (
    boolean,
    f8,
    f8_in,
    helper,
    i1,
    i1_in,
    i4,
    i4_in,
    i8,
    i8_in,
    int64,
    kernel,
    ranges,
    run,
    u1,
    u1_in,
)

#: households per block: each block is summed one group of terms at a time, over the
#: whole block, so its columns are read in runs long enough for the prefetcher
#: (2,048 → 16,384 took 0.82 → 0.65 s at 30 M households, on two threads)
SCORE_BLOCK = 16384
#: rows per task: a multiple of SCORE_BLOCK, so a task's blocks are whole
SCORE_TASK = 8 * SCORE_BLOCK


#: the arrays both scoring kernels read, as :func:`score` passes them
_INPUTS = (u1_in, i8_in, i8_in, f8_in, f8_in, f8_in, f8_in, i4_in, i4_in, f8_in)


@helper
def _coefs(lookup, offsets, sizes, n_models, v):  # type: ignore[no-untyped-def]
    """Lookup variable ``v``'s coefficients, model-major (``sizes[v]`` per model)."""
    return lookup[n_models * offsets[v] : n_models * (offsets[v] + sizes[v])]


@helper
def _rows(flat, j, n, a, b):  # type: ignore[no-untyped-def]
    """Rows ``a:b`` of column ``j`` of an (n, ·) Fortran-order array, flattened."""
    return flat[j * n + a : j * n + b]


@kernel((*_INPUTS, f8, int64, int64, int64, i4, f8, f8))
def _score_rows(
    codes,
    offsets,
    sizes,
    lookup,
    numeric,
    beta_t,
    intercept,
    cell,
    cell_model,
    cell_shift,
    out,
    n_terms,
    a0,
    b0,
    m,
    acc,
    stats,
):  # type: ignore[no-untyped-def]
    """Welfare of households ``a0:b0`` into ``out`` (the arrays as :func:`score` flattens them).

    ``m`` (int32) and ``acc`` (``SCORE_BLOCK`` each) are scratch for one block's
    models and sums. ``stats`` (3,) gets the smallest and largest welfare and
    the number that are not finite (it starts at inf, -inf, 0).

    A household's terms are added in the fixed order, but three lookup
    variables (or four numeric terms) at a time: their sum stays in a register
    between them, instead of a load and a store of ``acc`` per term. Three,
    because a fourth variable's table, column and size no longer fit in the
    registers (measured at 30 M: 0.65 s for one at a time, 0.50 s by threes,
    0.61 s by fours). Each variable's coefficients and each column of the block
    are taken as slices, and indexed by unsigned numbers (never negative), so
    that the loops carry no bounds or wrap-around arithmetic.
    """
    n = cell.shape[0]
    n_models = intercept.shape[0]
    n_lookup = offsets.shape[0]
    lo = stats[0]
    hi = stats[1]
    bad = stats[2]
    for a in range(a0, b0, SCORE_BLOCK):
        b = min(b0, a + SCORE_BLOCK)
        width = b - a
        for k in range(width):
            mi = cell_model[cell[a + k]]
            m[k] = mi
            acc[k] = intercept[mi]
        v = 0
        while v + 3 <= n_lookup:
            s0, s1, s2 = sizes[v], sizes[v + 1], sizes[v + 2]
            t0 = _coefs(lookup, offsets, sizes, n_models, v)
            t1 = _coefs(lookup, offsets, sizes, n_models, v + 1)
            t2 = _coefs(lookup, offsets, sizes, n_models, v + 2)
            c0 = _rows(codes, v, n, a, b)
            c1 = _rows(codes, v + 1, n, a, b)
            c2 = _rows(codes, v + 2, n, a, b)
            for k in range(width):
                mk = m[k]
                x = acc[k]
                x += t0[np.uint64(mk * s0 + c0[k])]
                x += t1[np.uint64(mk * s1 + c1[k])]
                x += t2[np.uint64(mk * s2 + c2[k])]
                acc[k] = x
            v += 3
        for u in range(v, n_lookup):  # the one or two left
            size = sizes[u]
            table = _coefs(lookup, offsets, sizes, n_models, u)
            col = _rows(codes, u, n, a, b)
            for k in range(width):
                acc[k] += table[np.uint64(m[k] * size + col[k])]
        j = 0
        while j + 4 <= n_terms:
            e0 = beta_t[j * n_models : (j + 1) * n_models]
            e1 = beta_t[(j + 1) * n_models : (j + 2) * n_models]
            e2 = beta_t[(j + 2) * n_models : (j + 3) * n_models]
            e3 = beta_t[(j + 3) * n_models : (j + 4) * n_models]
            x0 = _rows(numeric, j, n, a, b)
            x1 = _rows(numeric, j + 1, n, a, b)
            x2 = _rows(numeric, j + 2, n, a, b)
            x3 = _rows(numeric, j + 3, n, a, b)
            for k in range(width):
                mk = np.uint64(m[k])
                x = acc[k]
                x += e0[mk] * x0[k]
                x += e1[mk] * x1[k]
                x += e2[mk] * x2[k]
                x += e3[mk] * x3[k]
                acc[k] = x
            j += 4
        for u in range(j, n_terms):  # up to three left
            beta = beta_t[u * n_models : (u + 1) * n_models]
            x = _rows(numeric, u, n, a, b)
            for k in range(width):
                acc[k] += beta[np.uint64(m[k])] * x[k]
        for k in range(width):
            y = acc[k] - cell_shift[cell[a + k]]
            out[a + k] = y
            if y < lo:  # false for NaN
                lo = y
            if y > hi:
                hi = y
            bad += not (y - y == 0.0)  # y - y is NaN for inf and NaN
    stats[0] = lo
    stats[1] = hi
    stats[2] = bad


@kernel((*_INPUTS, f8, int64, int64))
def _score_terms(
    codes,
    offsets,
    sizes,
    lookup,
    numeric,
    beta_t,
    intercept,
    cell,
    cell_model,
    cell_shift,
    terms,
    a,
    b,
):  # type: ignore[no-untyped-def]
    """Each term households ``a:b`` add, into ``terms`` (n, 2 + V + C), in the order added."""
    n = cell.shape[0]
    n_models = intercept.shape[0]
    n_lookup = offsets.shape[0]
    n_numeric = beta_t.shape[0] // n_models
    width = 2 + n_lookup + n_numeric
    for i in range(a, b):
        mi = cell_model[cell[i]]
        row = terms[i * width : (i + 1) * width]
        row[0] = intercept[mi]
        for v in range(n_lookup):
            row[1 + v] = lookup[n_models * offsets[v] + mi * sizes[v] + codes[v * n + i]]
        for j in range(n_numeric):
            row[1 + n_lookup + j] = beta_t[j * n_models + mi] * numeric[j * n + i]
        row[width - 1] = -cell_shift[cell[i]]


_local = threading.local()


def _score_task(
    args: tuple[np.ndarray, ...], out: np.ndarray, n_terms: int, a: int, b: int, stats: np.ndarray
) -> None:
    """:func:`_score_rows` with this thread's block scratch (kept for the thread's life)."""
    scratch = getattr(_local, "block", None)
    if scratch is None:
        scratch = np.empty(SCORE_BLOCK, dtype=np.int32), np.empty(SCORE_BLOCK, dtype=np.float64)
        _local.block = scratch
    _score_rows(*args, out, n_terms, a, b, *scratch, stats)


def score(
    codes: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    lookup: np.ndarray,
    numeric: np.ndarray,
    beta_t: np.ndarray,
    intercept: np.ndarray,
    cell: np.ndarray,
    cell_model: np.ndarray,
    cell_shift: np.ndarray,
    terms: np.ndarray,
    out: np.ndarray | None = None,
    bounds: np.ndarray | None = None,
) -> np.ndarray:
    """Welfare of every household.

    Parameters
    ----------
    codes : (n, V) uint8, Fortran order
        Dense code index of each lookup variable.
    offsets : (V,) int64
        First lookup term of each variable.
    sizes : (V,) int64
        Number of codes of each variable.
    lookup : (M * L,) float64
        Lookup coefficients by variable, then model, then code: variable
        ``v``'s coefficient of code ``k`` in model ``m`` is at
        ``M * offsets[v] + m * sizes[v] + k`` (see :func:`lookup_by_variable`).
    numeric : (n, C) float64, Fortran order
        Numeric terms.
    beta_t : (C, M) float64
        Numeric coefficients, one row per term.
    intercept : (M,) float64
        Intercept of each model.
    cell : (n,) int32
        Region cell of each household.
    cell_model : (K,) int32
        Model row of each cell.
    cell_shift : (K,) float64
        Subtracted from the prediction (log poverty line, or 0).
    terms : (n, 2 + V + C) float64, or (0, 0) to skip
        If it has a row per household, each household's contributions are
        written there too, in the order they are added: the intercept, each
        lookup variable, each numeric term, then minus the log poverty line
        (what :func:`pmt.explain` shows). Welfare is the same either way.
    out : (n,) float64, optional
        Where to write welfare (a buffer kept between calls); default a new array.
    bounds : (3,) float64, optional
        Gets the smallest and the largest welfare (NaN skipped), and how many
        are not finite (found while scoring: no pass of their own). With no
        household: inf, -inf, 0.

    Returns
    -------
    numpy.ndarray
        Welfare, (n,) float64.

    Notes
    -----
    Households go in blocks; within a block a few variables at a time, so the
    coefficients in use (theirs, all models) stay in cache. Each
    household's terms are still added in one fixed order: the intercept, the
    lookup terms in spec order, the numeric terms in spec order, minus the log
    poverty line.
    """
    n = cell.shape[0]
    if out is None:
        out = np.empty(n, dtype=np.float64)
    if bounds is not None:
        bounds[:] = np.inf, -np.inf, 0.0
    if n == 0:
        return out
    n_numeric = beta_t.shape[0]
    flat_codes = np.asfortranarray(codes, dtype=np.uint8).ravel(order="F")
    flat_numeric = np.asfortranarray(numeric, dtype=np.float64).ravel(order="F")
    flat_beta = np.ascontiguousarray(beta_t, dtype=np.float64).ravel()
    keep = terms.shape[0] == n
    flat_terms = terms.reshape(-1) if keep else np.zeros(0)
    if keep and not (terms.flags.c_contiguous and np.shares_memory(flat_terms, terms)):
        raise ValueError("score: terms must be a C-contiguous (n, 2 + V + C) float64 array")
    args = (
        flat_codes,
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(sizes, dtype=np.int64),
        np.ascontiguousarray(lookup, dtype=np.float64),
        flat_numeric,
        flat_beta,
        np.ascontiguousarray(intercept, dtype=np.float64),
        np.ascontiguousarray(cell, dtype=np.int32),
        np.ascontiguousarray(cell_model, dtype=np.int32),
        np.ascontiguousarray(cell_shift, dtype=np.float64),
    )
    tasks = ranges(n, -(-n // SCORE_TASK))
    stats = np.zeros((len(tasks), 3))
    stats[:, 0], stats[:, 1] = np.inf, -np.inf
    run([partial(_score_task, args, out, n_numeric, *ab, stats[t]) for t, ab in enumerate(tasks)])
    if bounds is not None:
        bounds[:] = np.min(stats[:, 0]), np.max(stats[:, 1]), stats[:, 2].sum()
    if keep:  # what pmt.explain shows: each term as the welfare above added it
        run([partial(_score_terms, *args, flat_terms, a, b) for a, b in tasks])
    return out


def lookup_by_variable(table: np.ndarray, offsets: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``table`` (M, L) rearranged for :func:`score`: each variable's block, model-major."""
    n_models = table.shape[0]
    out = np.empty(table.size, dtype=np.float64)
    for off, size in zip(offsets.tolist(), sizes.tolist(), strict=True):
        out[n_models * off : n_models * (off + size)] = table[:, off : off + size].ravel()
    return out


#: rows per task of :func:`gather_cells`
CELL_TASK = 1 << 20


@kernel((i4_in, i4_in, i1_in, u1_in, boolean, i4, i1, u1, i8, int64, int64))
def _gather_cells(
    cell, cell_model, cell_province, cell_group, with_model, model, province, group, counts, a, b
):  # type: ignore[no-untyped-def]
    for i in range(a, b):
        c = cell[i]
        if with_model:
            model[i] = cell_model[c]
        province[i] = cell_province[c]
        group[i] = cell_group[c]
        counts[c] += 1


def gather_cells(
    cell: np.ndarray,
    cell_model: np.ndarray,
    cell_province: np.ndarray,
    cell_group: np.ndarray,
    model: np.ndarray | None,
    province: np.ndarray,
    group: np.ndarray,
) -> np.ndarray:
    """Each household's model row, province and group, from its cell, in one pass.

    ``cell`` (n,) int32 indexes the per-cell tables ``cell_model`` (int32),
    ``cell_province`` (int8) and ``cell_group`` (uint8); the results go into
    ``model`` (int32; None to skip it), ``province`` (int8) and ``group``
    (uint8). Returns the households of each cell, (K,) int64.
    """
    n, k = cell.shape[0], cell_model.shape[0]
    tasks = ranges(n, -(-n // CELL_TASK))
    counts = np.zeros((max(1, len(tasks)), k), dtype=np.int64)
    skip = model is None
    out_model = np.zeros(0, dtype=np.int32) if model is None else model
    run(
        [
            partial(
                _gather_cells,
                *(cell, cell_model, cell_province, cell_group, not skip),
                *(out_model, province, group, counts[t], a, b),
            )
            for t, (a, b) in enumerate(tasks)
        ]
    )
    return counts.sum(axis=0)
