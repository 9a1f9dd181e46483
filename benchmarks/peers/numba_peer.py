"""numba, written straightforwardly: what a competent person writes in an afternoon.

An ``@njit(parallel=True)`` prange gather-dot for welfare, ``np.argsort``,
one sequential ``@njit`` pass over the sorted order that keeps the national
and per-province running count and weight (a household equal to the
previous one of its scope takes that one's rank and ``S``), then a prange
pass for desil and share. Arrays in input order. Compute only.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit, prange

from peers.common import N_CLASSES, Coefs, outputs

WHAT = {
    "compute": "straightforward numba: an `@njit(parallel=True)` prange gather-dot for "
               "welfare, `np.argsort(welfare)`, one sequential `@njit` pass over the sorted "
               "order (national and per-province running count and weight, tie runs share "
               "rank and S), then a prange pass for desil and share; arrays in input order.",
}


def threads() -> str:
    return f"numba {numba.get_num_threads()}"


@njit(parallel=True, cache=True)
def _welfare(codes, offsets, table, numeric, beta, intercept, cell, cell_model,
             cell_shift):  # type: ignore[no-untyped-def]
    n = cell.shape[0]
    out = np.empty(n)
    for i in prange(n):
        c = cell[i]
        m = cell_model[c]
        acc = intercept[m]
        for v in range(offsets.shape[0]):
            acc += table[m, offsets[v] + codes[i, v]]
        for j in range(beta.shape[1]):
            acc += beta[m, j] * numeric[i, j]
        out[i] = acc - cell_shift[c]
    return out


def welfare(inp: Any, c: Coefs) -> np.ndarray:
    """Welfare of every household of the encoded inputs ``inp`` (parallel)."""
    return _welfare(inp.codes, c.offsets, c.table, inp.numeric, c.beta, c.intercept,
                    inp.cell, inp.cells["cell_model"], inp.cells["cell_shift"])


@njit(cache=True)
def _walk(order, welfare, weight, cell, cell_gidx, n_groups, rank_n, below_n, rank_p,
          below_p):  # type: ignore[no-untyped-def]
    """One walk over the households in welfare order: national and per-province running
    count and weight; a household equal to the previous one of its scope gets that one's
    rank and strictly-poorer weight. Returns the totals (national, per province)."""
    n_seen = np.zeros(n_groups, dtype=np.int64)
    cum = np.zeros(n_groups)
    last_w = np.zeros(n_groups)
    last_r = np.zeros(n_groups, dtype=np.int32)
    last_s = np.zeros(n_groups)
    cum_n = 0.0
    run_r = np.int32(0)
    run_s = 0.0
    prev = 0.0
    for t in range(order.shape[0]):
        i = order[t]
        w = welfare[i]
        p = weight[i]
        if t == 0 or w != prev:
            run_r = np.int32(t + 1)
            run_s = cum_n
            prev = w
        rank_n[i] = run_r
        below_n[i] = run_s
        cum_n += p
        g = cell_gidx[cell[i]]
        if n_seen[g] == 0 or w != last_w[g]:
            last_r[g] = n_seen[g] + 1
            last_s[g] = cum[g]
            last_w[g] = w
        rank_p[i] = last_r[g]
        below_p[i] = last_s[g]
        n_seen[g] += 1
        cum[g] += p
    return cum_n, cum


@njit(parallel=True, cache=True)
def _finish(below, total, cell, cell_gidx, n_classes, desil):  # type: ignore[no-untyped-def]
    """desil from S and T; S replaced by S / T in place. ``total`` is per group
    (one entry and an all-zero ``cell_gidx`` for the national scope)."""
    for i in prange(below.shape[0]):
        t = total[cell_gidx[cell[i]]]
        s = below[i]
        d = 1
        for k in range(1, n_classes):
            if n_classes * s >= k * t:
                d += 1
        desil[i] = d
        below[i] = s / t


def compute(inp: Any, c: Coefs, ws: Any) -> dict[str, np.ndarray]:
    w = welfare(inp, c)
    order = np.argsort(w)
    _, cell_gidx = np.unique(inp.cell_province(), return_inverse=True)
    cell_gidx = cell_gidx.astype(np.int32)
    n_groups = int(cell_gidx.max()) + 1
    n = inp.n
    rank_n = np.empty(n, dtype=np.int32)
    rank_p = np.empty(n, dtype=np.int32)
    share_n = np.empty(n)
    share_p = np.empty(n)
    tot_n, tot_p = _walk(order, w, inp.person_weight, inp.cell, cell_gidx, n_groups,
                         rank_n, share_n, rank_p, share_p)
    del order
    desil_n = np.empty(n, dtype=np.int8)
    desil_p = np.empty(n, dtype=np.int8)
    _finish(share_n, np.array([tot_n]), inp.cell, np.zeros_like(cell_gidx), N_CLASSES, desil_n)
    _finish(share_p, tot_p, inp.cell, cell_gidx, N_CLASSES, desil_p)
    return {"welfare": w, "desil_national": desil_n, "desil_provincial": desil_p,
            "rank_national": rank_n, "rank_provincial": rank_p,
            "share_below_national": share_n, "share_below_provincial": share_p}


compute_arrays = outputs
