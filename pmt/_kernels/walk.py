"""The walks up the sorted households: rank, weight strictly poorer and totals.

Cumulative person weights are summed in welfare order; within a run of equal
welfare the run's weights are summed in ascending order of weight, so the
sums — and hence desil, rank and share below — do not depend on row order or
on how the sort broke ties. The walks expect households sorted as
:func:`pmt._kernels.sort.sort_welfare` leaves them: by welfare, then weight.
"""

from __future__ import annotations

import numpy as np
from numba import types

from ._jit import f8, i4, i8, kernel, run, u1

_GROUPS = (u1, i4)  # uint8 up to 255 groups, else int32
#: the fields of the sort's records (:data:`pmt._kernels.sort.SORT_RECORD`), as strided views
_VIEWS = (types.Array(types.float64, 1, "A"), types.Array(types.int32, 1, "A"))


@kernel(
    *[(f8, f8, g, i4, f8, f8, f8, i8) for g in _GROUPS],
    (_VIEWS[0], _VIEWS[0], _VIEWS[1], i4, f8, f8, f8, i8),
)
def _walk(key, sw, sg, rank, below, acc, run_sum, cnt):  # type: ignore[no-untyped-def]
    """:func:`walk` into ``acc`` (the totals).

    ``acc``, ``run_sum`` and ``cnt`` start at zero (one entry per group); with
    one group, ``sg`` is not read (every household is in group 0).
    """
    n = key.shape[0]
    one = acc.shape[0] == 1
    t = 0
    while t < n:
        if t + 1 < n and key[t + 1] == key[t]:
            # A run of equal welfare: every member gets its group's rank and weight
            # from before the run; then each group adds its members' weights, summed
            # from zero in the run's order, which the sort made ascending weight.
            r = t + 1
            while r < n and key[r] == key[t]:
                r += 1
            for u in range(t, r):
                g = 0 if one else sg[u]
                rank[u] = cnt[g] + 1
                below[u] = acc[g]
            for u in range(t, r):
                g = 0 if one else sg[u]
                run_sum[g] += sw[u]
                cnt[g] += 1
            for u in range(t, r):  # a group's later members add zero
                g = 0 if one else sg[u]
                acc[g] = acc[g] + run_sum[g]
                run_sum[g] = 0.0
            t = r
            continue
        g = 0 if one else sg[t]
        c = cnt[g]
        rank[t] = c + 1
        below[t] = acc[g]
        acc[g] += sw[t]
        cnt[g] = c + 1
        t += 1


def walk(
    key: np.ndarray,
    sw: np.ndarray,
    sg: np.ndarray,
    n_groups: int,
    rank: np.ndarray,
    below: np.ndarray,
) -> np.ndarray:
    """One walk up the sorted households, within each group ``sg``.

    At sorted position ``t``: ``rank[t] = 1 + #strictly poorer in its group`` and
    ``below[t]`` = their weight, summed run by run in welfare order (a tie run's
    weights in ascending order), as are the totals. Returns the group totals
    (G,). The registry cutoffs follow from ``below`` and the totals
    (:func:`pmt._kernels.desil.finish_scopes` finds them).
    """
    acc = np.zeros(n_groups, dtype=np.float64)
    _walk(key, sw, sg, rank, below, acc, np.zeros(n_groups), np.zeros(n_groups, dtype=np.int64))
    return acc


def scope_passes(
    rec: np.ndarray,
    n_groups: int,
    rank_nat: np.ndarray,
    below_nat: np.ndarray,
    rank_grp: np.ndarray,
    below_grp: np.ndarray,
    order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The national and the grouped walk over sorted records, on two threads.

    ``rec`` holds the households as :func:`pmt._kernels.sort.sort_welfare`
    leaves them. The records' input positions are copied into ``order`` too,
    in two halves, one after each walk (so that ``rec`` may be overwritten
    afterwards). Returns (national total (1,), group totals (G,)).
    """
    key, sw, sg, idx = rec["key"], rec["sw"], rec["g"], rec["idx"]
    half = rec.shape[0] // 2

    def national() -> np.ndarray:
        out = walk(key, sw, sg, 1, rank_nat, below_nat)
        np.copyto(order[:half], idx[:half])
        return out

    def grouped() -> np.ndarray:
        out = walk(key, sw, sg, n_groups, rank_grp, below_grp)
        np.copyto(order[half:], idx[half:])
        return out

    tot_nat, tot_grp = run([national, grouped])
    return tot_nat, tot_grp
