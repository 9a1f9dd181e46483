"""The walks up the sorted households: rank, weight strictly poorer, totals and cutoffs.

Cumulative person weights are summed in welfare order; within a run of equal
welfare the run's weights are summed in ascending order of weight, so the
sums — and hence desil, rank and share below — do not depend on row order or
on how the sort broke ties.
"""

from __future__ import annotations

import numpy as np

from ._jit import boolean, f8, helper, i4, int64, kernel, run, u1
from .sort import argsort

_GROUPS = (u1, i4)  # uint8 up to 255 groups, else int32


@helper
def _run_sum(weight, j, r):  # type: ignore[no-untyped-def]
    """Sum of ``weight[j:r]`` in ascending order of weight (canonical for a tie run)."""
    if r - j == 1:
        return weight[j]
    o = argsort(weight, j, r)
    s = 0.0
    for t in range(r - j):
        s += weight[j + o[t]]
    return s


@kernel((f8, f8, i4, f8))
def national_pass(key, sw, rank, below):  # type: ignore[no-untyped-def]
    """One walk up the sorted households of one scope.

    At sorted position ``t``: ``rank[t] = 1 + #strictly poorer`` and ``below[t]``
    = their weight, summed run by run in welfare order (a tie run's weights in
    ascending order). Returns the total, summed the same way.
    """
    n = key.shape[0]
    acc = 0.0
    run_start = np.int64(0)  # not the literal 0: helpers would compile twice
    start_below = 0.0
    for t in range(n):
        if key[t] != key[run_start]:
            if t - run_start > 1:  # the run just closed: its canonical sum
                acc = start_below + _run_sum(sw, run_start, t)
            run_start = t
            start_below = acc
        rank[t] = run_start + 1
        below[t] = start_below
        acc += sw[t]
    if n - run_start > 1:
        acc = start_below + _run_sum(sw, run_start, n)
    return acc


@helper
def _tie_run(key, sw, sg, t, acc, cnt, rank, below):  # type: ignore[no-untyped-def]
    """A run of two or more equal welfare values from ``t`` in the grouped walk; returns its end.

    Every member gets its group's rank and weight from before the run; each
    group's members of the run then add their weights, in ascending order.
    """
    n = key.shape[0]
    r = t + 1
    while r < n and key[r] == key[t]:
        r += 1
    for u in range(t, r):
        g = sg[u]
        rank[u] = cnt[g] + 1
        below[u] = acc[g]
    m = r - t
    o = argsort(sw, t, r)  # ascending weight
    ws = np.empty(m, dtype=np.float64)
    gf = np.empty(m, dtype=np.float64)
    for u in range(m):
        ws[u] = sw[t + o[u]]
        gf[u] = sg[t + o[u]]
    o2 = argsort(gf, np.int64(0), m)  # stable: ascending weight within each group
    u = 0
    while u < m:
        g = sg[t + o[o2[u]]]
        v = u
        s = 0.0
        while v < m and gf[o2[v]] == gf[o2[u]]:
            s += ws[o2[v]]
            v += 1
        acc[g] = acc[g] + s
        cnt[g] += v - u
        u = v
    return r


@kernel(*[(f8, f8, g, int64, i4, f8) for g in _GROUPS])
def grouped_pass(key, sw, sg, n_groups, rank, below):  # type: ignore[no-untyped-def]
    """:func:`national_pass` within each group ``sg``, in one walk; returns the group totals."""
    n = key.shape[0]
    acc = np.zeros(n_groups, dtype=np.float64)
    cnt = np.zeros(n_groups, dtype=np.int64)
    t = np.int64(0)  # not the literal 0: helpers would compile twice
    while t < n:
        if t + 1 < n and key[t + 1] == key[t]:
            t = _tie_run(key, sw, sg, t, acc, cnt, rank, below)
            continue
        g = sg[t]
        c = cnt[g]
        rank[t] = c + 1
        below[t] = acc[g]
        acc[g] += sw[t]
        cnt[g] = c + 1
        t += 1
    return acc


@kernel(*[(f8, g, boolean, f8, f8, int64) for g in _GROUPS])
def cutoffs(key, sg, grouped, below, totals, n_classes):  # type: ignore[no-untyped-def]
    """Registry cutoffs of each scope from a finished walk.

    ``c[g, k-1]`` is the smallest welfare whose weight at or below it reaches
    ``k/n`` of the scope's total: the welfare of the last household before the
    first one whose strictly-poorer weight ``S`` has ``n*S >= k*T``.
    """
    n_groups = totals.shape[0]
    cut = np.empty((n_groups, n_classes - 1), dtype=np.float64)
    k_next = np.ones(n_groups, dtype=np.int64)
    last = np.empty(n_groups, dtype=np.float64)
    for g in range(n_groups):
        last[g] = np.nan
        for k in range(n_classes - 1):
            cut[g, k] = np.nan
    for t in range(key.shape[0]):
        g = sg[t] if grouped else 0
        ns = n_classes * below[t]
        while k_next[g] <= n_classes - 1 and ns >= k_next[g] * totals[g]:
            cut[g, k_next[g] - 1] = last[g]
            k_next[g] += 1
        last[g] = key[t]
    for g in range(n_groups):
        for k in range(k_next[g], n_classes):
            cut[g, k - 1] = last[g]
    return cut


def scope_passes(
    key: np.ndarray,
    sw: np.ndarray,
    sg: np.ndarray,
    n_groups: int,
    n_classes: int,
    rank_nat: np.ndarray,
    below_nat: np.ndarray,
    rank_grp: np.ndarray,
    below_grp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The national and the grouped walk, on two threads.

    Returns (national total (1,), group totals (G,), national cutoffs (1, n-1),
    group cutoffs (G, n-1)).
    """

    def national() -> tuple[np.ndarray, np.ndarray]:
        total = np.array([national_pass(key, sw, rank_nat, below_nat)])
        return total, cutoffs(key, sg, False, below_nat, total, n_classes)

    def grouped() -> tuple[np.ndarray, np.ndarray]:
        totals = grouped_pass(key, sw, sg, n_groups, rank_grp, below_grp)
        return totals, cutoffs(key, sg, True, below_grp, totals, n_classes)

    (tot_nat, cut_nat), (tot_grp, cut_grp) = run([national, grouped])
    return tot_nat, tot_grp, cut_nat, cut_grp
