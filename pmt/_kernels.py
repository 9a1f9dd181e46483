"""Numba kernels: scoring, ranking, desil and cutoffs over plain arrays.

Nothing here imports pandas, pydantic or any other part of pmt. Kernels
report (they return flags or counts); the Python layer raises.

Determinism. A household's welfare is summed in one fixed order (intercept,
lookup terms in spec order, numeric terms in spec order, minus the log
poverty line), so identical households under one model tie bit for bit.
Cumulative person weights are summed in welfare order; within a run of equal
welfare the run's weights are summed in ascending order of weight, so the
sums — and hence desil, rank and share below — do not depend on row order or
on how the sort broke ties. No fastmath anywhere: reordering a sum could move
a household across a cutoff.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


def jit(*, parallel: bool = False):  # type: ignore[no-untyped-def]
    """The one place for numba options: cached, numpy error model, no fastmath."""
    return njit(cache=True, nogil=True, parallel=parallel, error_model="numpy", fastmath=False)


@jit(parallel=True)
def score(codes, offsets, table, numeric, beta, intercept, cell, cell_model, cell_shift):  # type: ignore[no-untyped-def]
    """Welfare of every household.

    Parameters
    ----------
    codes : (n, V) uint8, dense code index of each lookup variable
    offsets : (V,) int64, first column of each variable in ``table``
    table : (M, L) float64, lookup coefficients per model
    numeric : (n, C) float64, numeric terms
    beta : (M, C) float64, numeric coefficients per model
    intercept : (M,) float64
    cell : (n,) int32, region cell of each household
    cell_model : (K,) int32, model row of each cell
    cell_shift : (K,) float64, subtracted from the prediction (log poverty line, or 0)

    Returns
    -------
    welfare : (n,) float64
    """
    n = cell.shape[0]
    n_lookup = offsets.shape[0]
    n_numeric = beta.shape[1]
    out = np.empty(n, dtype=np.float64)
    for i in prange(n):
        c = cell[i]
        m = cell_model[c]
        acc = intercept[m]
        for v in range(n_lookup):
            acc += table[m, offsets[v] + codes[i, v]]
        for j in range(n_numeric):
            acc += beta[m, j] * numeric[i, j]
        out[i] = acc - cell_shift[c]
    return out


@jit()
def group_segments(order, group, n_groups):  # type: ignore[no-untyped-def]
    """Stable counting sort of ``order`` by ``group[order]``.

    Returns (sorted order, segment starts): ``out[starts[g]:starts[g+1]]`` lists
    group ``g``'s households in the order they had in ``order``.
    """
    n = order.shape[0]
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(n):
        starts[group[i] + 1] += 1
    for g in range(n_groups):
        starts[g + 1] += starts[g]
    pos = starts[:-1].copy()
    out = np.empty(n, dtype=order.dtype)
    for i in range(n):
        j = order[i]
        g = group[j]
        out[pos[g]] = j
        pos[g] += 1
    return out, starts


@jit()
def _run_sum(weight, j, r):  # type: ignore[no-untyped-def]
    """Sum of ``weight[j:r]`` in ascending order of weight (canonical for a tie run)."""
    if r - j == 1:
        return weight[j]
    vals = np.sort(weight[j:r])
    s = 0.0
    for t in range(r - j):
        s += vals[t]
    return s


@jit(parallel=True)
def sorted_pass(welfare, weight, starts, n_classes, desil, rank, share, cutoffs,
                registry_desil):  # type: ignore[no-untyped-def]
    """Rank, share below, registry desil and cutoffs of households sorted by group, welfare.

    ``welfare[starts[g]:starts[g+1]]`` is group ``g``, ascending; ``weight`` is
    aligned with it. For household ``i`` with strictly-poorer weight ``S`` and
    group total ``T``: ``rank = 1 + #strictly poorer households``, ``share = S /
    T``, and (if ``registry_desil``) ``desil = 1 + #{k in 1..n-1 : n*S >= k*T}``.
    ``cutoffs[g, k-1]`` is the smallest welfare whose weight at or below it,
    ``C``, satisfies ``n*C >= k*T``. Outputs, aligned with the inputs, are written
    in place; ``desil`` is left alone when ``registry_desil`` is False.
    """
    n_groups = starts.shape[0] - 1
    for g in prange(n_groups):
        a = starts[g]
        b = starts[g + 1]
        total = 0.0
        j = a
        while j < b:
            r = j + 1
            while r < b and welfare[r] == welfare[j]:
                r += 1
            total += _run_sum(weight, j, r)
            j = r
        below = 0.0
        k_desil = 1
        k_cut = 1
        j = a
        while j < b:
            r = j + 1
            while r < b and welfare[r] == welfare[j]:
                r += 1
            run = _run_sum(weight, j, r)
            while k_desil <= n_classes - 1 and n_classes * below >= k_desil * total:
                k_desil += 1
            at_or_below = below + run
            while k_cut <= n_classes - 1 and n_classes * at_or_below >= k_cut * total:
                cutoffs[g, k_cut - 1] = welfare[j]
                k_cut += 1
            sh = below / total
            for t in range(j, r):
                rank[t] = j - a + 1
                share[t] = sh
                if registry_desil:
                    desil[t] = k_desil
            below = at_or_below
            j = r


@jit(parallel=True)
def scatter(order, desil, rank, share, desil_out, rank_out, share_out):  # type: ignore[no-untyped-def]
    """``x_out[order[t]] = x[t]`` for the three outputs (``order`` is a permutation)."""
    for t in prange(order.shape[0]):
        i = order[t]
        desil_out[i] = desil[t]
        rank_out[i] = rank[t]
        share_out[i] = share[t]


@jit(parallel=True)
def desil_from_cutoffs(welfare, cell, cell_group, cutoffs, desil):  # type: ignore[no-untyped-def]
    """``desil = 1 + #{k : welfare > cutoffs[group, k]}`` for every household, in place."""
    n = welfare.shape[0]
    m = cutoffs.shape[1]
    for i in prange(n):
        g = cell_group[cell[i]]
        w = welfare[i]
        d = 1
        for k in range(m):
            if w > cutoffs[g, k]:
                d += 1
        desil[i] = d


# --------------------------------------------------------------------------- encoding fast paths
# Each checks one column in one pass and returns how many rows break its rule; the
# encoder takes the result when that count is 0 and otherwise falls back to its
# slower numpy path, which finds and reports the offending rows.

@jit(parallel=True)
def clean_codes(values, lut, lo, out):  # type: ignore[no-untyped-def]
    """``out[i] = lut[values[i] - lo]`` (dense code index); returns the number of values
    that are not an allowed code (NaN, not whole, outside the table, or ``lut == 255``)."""
    size = lut.shape[0]
    bad = 0
    for i in prange(values.shape[0]):
        x = np.float64(values[i])
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


@jit(parallel=True)
def clean_numbers(values, lo, hi, whole, cap, out):  # type: ignore[no-untyped-def]
    """``out[i] = float(values[i])``; returns the number of values that are NaN or
    infinite, outside ``[lo, hi]``, not whole (if ``whole``), or above ``cap[i]``
    (if ``cap`` has one entry per value)."""
    n = values.shape[0]
    use_cap = cap.shape[0] == n
    bad = 0
    for i in prange(n):
        x = np.float64(values[i])
        ok = x - x == 0.0 and x >= lo and x <= hi
        if ok and whole:
            ok = x == np.floor(x)
        if ok and use_cap:
            ok = x <= cap[i]
        if ok:
            out[i] = x
        else:
            bad += 1
            out[i] = 0.0
    return bad


@jit()
def factorize_small(key, ok, size):  # type: ignore[no-untyped-def]
    """Dense index of small non-negative integer keys (``key < size``) where ``ok``.

    Returns (index (n,) int32 — 0 where not ok, present keys ascending).
    """
    seen = np.zeros(size, dtype=np.bool_)
    n = key.shape[0]
    for i in range(n):
        if ok[i]:
            seen[key[i]] = True
    lut = np.full(size, -1, dtype=np.int32)
    m = 0
    for k in range(size):
        if seen[k]:
            lut[k] = m
            m += 1
    present = np.empty(m, dtype=np.int64)
    for k in range(size):
        if seen[k]:
            present[lut[k]] = k
    out = np.zeros(n, dtype=np.int32)
    for i in range(n):
        if ok[i]:
            out[i] = lut[key[i]]
    return out, present
