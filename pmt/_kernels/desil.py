"""From the walks to each household's desil, rank and share below, in input order."""

from __future__ import annotations

from functools import partial

import numpy as np
from numba import types
from numba.np.numpy_support import from_dtype

from ._jit import (
    array,
    boolean,
    f8,
    f8_2d_in,
    f8_in,
    helper,
    i1,
    i1_in,
    i4,
    i4_in,
    i8,
    int64,
    kernel,
    ranges,
    run,
    u1_in,
)

RECORD = np.dtype(
    [("below_nat", "f8"), ("below_grp", "f8"), ("rank_nat", "i4"), ("rank_grp", "i4")]
)
_REC = types.Array(from_dtype(RECORD), 1, "C", aligned=False)
_GROUPS_IN = (u1_in, i4_in)
_INDEX_IN = (array(types.int32, readonly=True), array(types.int64, readonly=True))
#: households per task of the per-household kernels
TASK = 1 << 18


@kernel(*[(ix, i4_in, f8_in, i4_in, f8_in, _REC, int64, int64) for ix in _INDEX_IN])
def _scatter_records(idx, rank_nat, below_nat, rank_grp, below_grp, rec, a, b):  # type: ignore[no-untyped-def]
    for t in range(a, b):
        r = rec[idx[t]]
        r["below_nat"] = below_nat[t]
        r["below_grp"] = below_grp[t]
        r["rank_nat"] = rank_nat[t]
        r["rank_grp"] = rank_grp[t]


def scatter_records(
    idx: np.ndarray,
    rank_nat: np.ndarray,
    below_nat: np.ndarray,
    rank_grp: np.ndarray,
    below_grp: np.ndarray,
    rec: np.ndarray,
) -> None:
    """Put the sorted-order results back in input order, in ``rec``.

    ``rec[idx[t]] = (below_nat[t], below_grp[t], rank_nat[t], rank_grp[t])``:
    one 24-byte write per household.
    """
    n = idx.shape[0]
    run(
        [
            partial(_scatter_records, idx, rank_nat, below_nat, rank_grp, below_grp, rec, a, b)
            for a, b in ranges(n, -(-n // TASK))
        ]
    )


_REC_IN = types.Array(from_dtype(RECORD), 1, "C", readonly=True, aligned=False)


@helper
def count_above(w, ref, g, m):  # type: ignore[no-untyped-def]
    """``#{k < m : w > ref[g, k]}``: the reference rule's count (desil = 1 + it)."""
    d = 0
    for k in range(m):
        d += w > ref[g, k]
    return d


@kernel(
    *[
        (
            f8_in,
            g,
            _REC_IN,
            f8_in,
            f8_in,
            f8_2d_in,
            f8_2d_in,
            f8_2d_in,
            f8_2d_in,
            int64,
            boolean,
            boolean,
            i1,
            i1,
            i4,
            i4,
            f8,
            f8,
            f8,
            f8,
            int64,
            int64,
        )
        for g in _GROUPS_IN
    ]
)
def _finish_rows(
    welfare,
    group,
    rec,
    tot_nat,
    tot_grp,
    thr_nat,
    thr_grp,
    ref_nat,
    ref_grp,
    n_classes,
    use_ref_nat,
    use_ref_grp,
    desil_nat,
    desil_grp,
    rank_nat,
    rank_grp,
    share_nat,
    share_grp,
    top_nat,
    top_grp,
    a,
    b,
):  # type: ignore[no-untyped-def]
    """Households ``a:b`` of :func:`finish_scopes`.

    ``top_nat`` (n) and ``top_grp`` (G * n) get the largest welfare of each
    registry class (for the registry cutoffs).
    """
    m = n_classes - 1
    t_nat = tot_nat[0]
    # the task's slices, indexed from 0: no wrap-around test per access
    w_, g_, r_ = welfare[a:b], group[a:b], rec[a:b]
    dn, dg, rn, rg = desil_nat[a:b], desil_grp[a:b], rank_nat[a:b], rank_grp[a:b]
    sn, sg = share_nat[a:b], share_grp[a:b]
    for i in range(w_.shape[0]):
        g = g_[i]
        w = w_[i]
        r = r_[i]
        s = r["below_nat"]
        ns = n_classes * s
        d = 1  # the registry class
        for k in range(m):
            d += ns >= thr_nat[0, k]
        if w > top_nat[d - 1]:
            top_nat[d - 1] = w
        if use_ref_nat:
            d = 1 + count_above(w, ref_nat, np.int64(0), m)  # one type: one compile
        dn[i] = d
        sn[i] = s / t_nat
        rn[i] = r["rank_nat"]
        s = r["below_grp"]
        ns = n_classes * s
        d = 1
        for k in range(m):
            d += ns >= thr_grp[g, k]
        slot = g * n_classes + d - 1
        if w > top_grp[slot]:
            top_grp[slot] = w
        if use_ref_grp:
            d = 1 + count_above(w, ref_grp, np.int64(g), m)
        dg[i] = d
        sg[i] = s / tot_grp[g]
        rg[i] = r["rank_grp"]


def _thresholds(totals: np.ndarray, n_classes: int) -> np.ndarray:
    """``k*T`` for k in 1..n-1, per scope: registry desil is ``1 + #{k : n*S >= k*T}``."""
    k = np.arange(1, n_classes, dtype=np.float64)
    return np.ascontiguousarray(totals[:, None] * k[None, :])


def finish_scopes(
    welfare: np.ndarray,
    group: np.ndarray,
    rec: np.ndarray,
    tot_nat: np.ndarray,
    tot_grp: np.ndarray,
    n_classes: int,
    ref_nat: np.ndarray,
    ref_grp: np.ndarray,
    use_ref_nat: bool,
    use_ref_grp: bool,
    desil_nat: np.ndarray,
    desil_grp: np.ndarray,
    rank_nat: np.ndarray,
    rank_grp: np.ndarray,
    share_nat: np.ndarray,
    share_grp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Desil, rank and share below of every household in input order, both scopes.

    From the strictly-poorer weight ``S`` and scope total ``T``: registry desil
    ``1 + #{k in 1..n-1 : n*S >= k*T}``, or with a reference table ``1 + #{k :
    welfare > ref[g, k]}``; share below ``S / T``. The counts are sums of
    comparisons, not branches: ``S`` arrives in random order.

    Returns the registry cutoffs (national (1, n-1), groups (G, n-1)): ``c_k``
    is the largest welfare whose registry desil is at most ``k``. Since ``S``
    grows with welfare, those households come first in welfare order, and
    ``c_k`` is the welfare of the last household before the first one with
    ``n*S >= k*T``: the rule's cutoff (``docs/desil.md``). NaN for a scope
    with no such household (no households, or a total of 0).
    """
    n = welfare.shape[0]
    n_groups = tot_grp.shape[0]
    tasks = ranges(n, -(-n // TASK))
    top_nat = np.full((max(1, len(tasks)), n_classes), -np.inf)
    top_grp = np.full((max(1, len(tasks)), n_groups * n_classes), -np.inf)
    tot_nat = np.ascontiguousarray(tot_nat, dtype=np.float64)
    tot_grp = np.ascontiguousarray(tot_grp, dtype=np.float64)
    args = (
        welfare,
        group,
        rec,
        tot_nat,
        tot_grp,
        _thresholds(tot_nat, n_classes),
        _thresholds(tot_grp, n_classes),
        np.ascontiguousarray(ref_nat, dtype=np.float64).reshape(-1, n_classes - 1),
        np.ascontiguousarray(ref_grp, dtype=np.float64).reshape(-1, n_classes - 1),
        n_classes,
        bool(use_ref_nat),
        bool(use_ref_grp),
        desil_nat,
        desil_grp,
        rank_nat,
        rank_grp,
        share_nat,
        share_grp,
    )
    run(
        [
            partial(_finish_rows, *args, top_nat[t], top_grp[t], a, b)
            for t, (a, b) in enumerate(tasks)
        ]
    )
    return (
        _cutoffs(top_nat.max(axis=0).reshape(1, n_classes)),
        _cutoffs(top_grp.max(axis=0).reshape(n_groups, n_classes)),
    )


def _cutoffs(top: np.ndarray) -> np.ndarray:
    """(scopes, n-1) cutoffs from the largest welfare of each registry class (scopes, n).

    ``c_k`` = the largest of classes 1..k; NaN where they hold no household;
    -0.0 becomes 0.0 (equal welfare, one cutoff, whatever the row order).
    """
    upto = np.maximum.accumulate(top, axis=1)[:, :-1]
    return np.where(upto > -np.inf, upto + 0.0, np.nan)


@kernel((i1_in, i1_in, u1_in, f8_in, int64, int64, int64, i8, f8, f8))
def _tally_rows(desil_nat, desil_prv, province, weight, n_classes, a, b, hh, people, cross):  # type: ignore[no-untyped-def]
    """One chunk's households and weight, into its (flattened) tables."""
    for i in range(a, b):
        w = weight[i]
        p = province[i]
        d = desil_nat[i] - 1
        hh[100 * n_classes + d] += 1
        people[100 * n_classes + d] += w
        cross[p * n_classes + d] += w
        d = desil_prv[i] - 1
        hh[p * n_classes + d] += 1
        people[p * n_classes + d] += w


def desil_tally(
    desil_nat: np.ndarray,
    desil_prv: np.ndarray,
    province: np.ndarray,
    weight: np.ndarray,
    n_classes: int,
) -> tuple[np.ndarray, ...]:
    """Households and summed weight per desil, by scope.

    Returns (hh_nat (n,), people_nat (n,), hh_prv (100, n), people_prv (100, n),
    people_prv_nat (100, n)): national desil; (province code, provincial desil);
    and people by (province code, national desil). Partial sums over a fixed set
    of chunks are added in chunk order, so the result does not depend on the
    thread count.
    """
    from .sort import SORT_CHUNKS

    n = desil_nat.shape[0]
    step = -(-n // SORT_CHUNKS) if n else 1
    chunks = [(a, min(n, a + step)) for a in range(0, n, step)]
    hh = np.zeros((SORT_CHUNKS, 101 * n_classes), dtype=np.int64)
    people = np.zeros((SORT_CHUNKS, 101 * n_classes), dtype=np.float64)
    cross = np.zeros((SORT_CHUNKS, 100 * n_classes), dtype=np.float64)
    args = (
        np.ascontiguousarray(desil_nat, dtype=np.int8),
        np.ascontiguousarray(desil_prv, dtype=np.int8),
        np.ascontiguousarray(province, dtype=np.uint8),
        np.ascontiguousarray(weight, dtype=np.float64),
        n_classes,
    )
    run(
        [
            partial(_tally_rows, *args, a, b, hh[c], people[c], cross[c])
            for c, (a, b) in enumerate(chunks)
        ]
    )
    hh_all = np.zeros(101 * n_classes, dtype=np.int64)
    people_all = np.zeros(101 * n_classes, dtype=np.float64)
    cross_all = np.zeros(100 * n_classes, dtype=np.float64)
    for c in range(SORT_CHUNKS):
        hh_all += hh[c]
        people_all += people[c]
        cross_all += cross[c]
    hh_2d = hh_all.reshape(101, n_classes)
    people_2d = people_all.reshape(101, n_classes)
    return (
        hh_2d[100].copy(),
        people_2d[100].copy(),
        hh_2d[:100].copy(),
        people_2d[:100].copy(),
        cross_all.reshape(100, n_classes),
    )
