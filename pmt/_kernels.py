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
def group_segments(order, cell, cell_group, n_groups):  # type: ignore[no-untyped-def]
    """Stable counting sort of ``order`` by group; returns (sorted order, segment starts)."""
    n = order.shape[0]
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(n):
        starts[cell_group[cell[order[i]]] + 1] += 1
    for g in range(n_groups):
        starts[g + 1] += starts[g]
    pos = starts[:-1].copy()
    out = np.empty(n, dtype=order.dtype)
    for i in range(n):
        j = order[i]
        g = cell_group[cell[j]]
        out[pos[g]] = j
        pos[g] += 1
    return out, starts


@jit()
def _run_end(welfare, order, j, b):  # type: ignore[no-untyped-def]
    w = welfare[order[j]]
    r = j + 1
    while r < b and welfare[order[r]] == w:
        r += 1
    return r


@jit()
def _run_sum(weight, order, j, r):  # type: ignore[no-untyped-def]
    if r - j == 1:
        return weight[order[j]]
    vals = np.empty(r - j, dtype=np.float64)
    for t in range(j, r):
        vals[t - j] = weight[order[t]]
    vals.sort()
    s = 0.0
    for t in range(r - j):
        s += vals[t]
    return s


@jit(parallel=True)
def ranked_pass(welfare, weight, order, starts, n_classes, desil, rank, share, cutoffs,
                registry_desil):  # type: ignore[no-untyped-def]
    """Rank, share below, registry desil and cutoffs within each group segment.

    ``order[starts[g]:starts[g+1]]`` lists group ``g``'s households by
    ascending welfare. For household ``i`` with strictly-poorer weight ``S``
    and group total ``T``: ``rank = 1 + #strictly poorer households``,
    ``share = S / T``, and (if ``registry_desil``) ``desil = 1 + #{k in
    1..n-1 : n*S >= k*T}``. ``cutoffs[g, k-1]`` is the smallest welfare whose
    weight at or below it, ``C``, satisfies ``n*C >= k*T``. Outputs are written
    in place; ``desil`` is left alone when ``registry_desil`` is False.
    """
    n_groups = starts.shape[0] - 1
    for g in prange(n_groups):
        a = starts[g]
        b = starts[g + 1]
        total = 0.0
        j = a
        while j < b:
            r = _run_end(welfare, order, j, b)
            total += _run_sum(weight, order, j, r)
            j = r
        below = 0.0
        k_desil = 1
        k_cut = 1
        j = a
        while j < b:
            r = _run_end(welfare, order, j, b)
            run = _run_sum(weight, order, j, r)
            while k_desil <= n_classes - 1 and n_classes * below >= k_desil * total:
                k_desil += 1
            at_or_below = below + run
            while k_cut <= n_classes - 1 and n_classes * at_or_below >= k_cut * total:
                cutoffs[g, k_cut - 1] = welfare[order[j]]
                k_cut += 1
            sh = below / total
            for t in range(j, r):
                i = order[t]
                rank[i] = j - a + 1
                share[i] = sh
                if registry_desil:
                    desil[i] = k_desil
            below = at_or_below
            j = r


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
