"""Scoring: the welfare of each household under its region's model."""

from __future__ import annotations

from functools import partial

import numpy as np

from ._jit import (
    boolean,
    f8,
    f8_in,
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

SCORE_BLOCK = 2048
#: rows per task: a multiple of SCORE_BLOCK, so a task's blocks are whole
SCORE_TASK = 64 * SCORE_BLOCK


#: the arrays both scoring kernels read, as :func:`score` passes them
_INPUTS = (u1_in, i8_in, i8_in, f8_in, f8_in, f8_in, f8_in, i4_in, i4_in, f8_in)


@kernel((*_INPUTS, f8, int64, int64, int64, i4, f8))
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
):  # type: ignore[no-untyped-def]
    """Welfare of households ``a0:b0`` into ``out`` (the arrays as :func:`score` flattens them).

    ``m`` (int32) and ``acc`` (``SCORE_BLOCK`` each) are scratch for one block's
    models and sums. Each variable's coefficients and each column of the block
    are taken as slices, and indexed by unsigned numbers (never negative), so
    that the loops carry no bounds or wrap-around arithmetic.
    """
    n = cell.shape[0]
    n_models = intercept.shape[0]
    for a in range(a0, b0, SCORE_BLOCK):
        b = min(b0, a + SCORE_BLOCK)
        width = b - a
        for k in range(width):
            mi = cell_model[cell[a + k]]
            m[k] = mi
            acc[k] = intercept[mi]
        for v in range(offsets.shape[0]):
            size = sizes[v]
            table = lookup[n_models * offsets[v] : n_models * (offsets[v] + size)]
            col = codes[v * n + a : v * n + b]
            for k in range(width):
                acc[k] += table[np.uint64(m[k] * size + col[k])]
        for j in range(n_terms):
            beta = beta_t[j * n_models : (j + 1) * n_models]
            x = numeric[j * n + a : j * n + b]
            for k in range(width):
                acc[k] += beta[np.uint64(m[k])] * x[k]
        for k in range(width):
            out[a + k] = acc[k] - cell_shift[cell[a + k]]


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

    Returns
    -------
    numpy.ndarray
        Welfare, (n,) float64.

    Notes
    -----
    Households go in blocks; within a block one variable at a time, so the
    coefficients in use (one variable's, all models) stay in cache. Each
    household's terms are still added in one fixed order: the intercept, the
    lookup terms in spec order, the numeric terms in spec order, minus the log
    poverty line.
    """
    n = cell.shape[0]
    if out is None:
        out = np.empty(n, dtype=np.float64)
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
    m, acc = np.empty(SCORE_BLOCK, dtype=np.int32), np.empty(SCORE_BLOCK, dtype=np.float64)
    run([partial(_score_rows, *args, out, n_numeric, a, b, m.copy(), acc.copy()) for a, b in tasks])
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
