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


SCORE_BLOCK = 2048


@jit(parallel=True)
def score(
    codes, offsets, sizes, lookup, numeric, beta_t, intercept, cell, cell_model, cell_shift, terms
):  # type: ignore[no-untyped-def]
    """Welfare of every household.

    Parameters
    ----------
    codes : (n, V) uint8, Fortran order: dense code index of each lookup variable
    offsets : (V,) int64, first lookup term of each variable
    sizes : (V,) int64, number of codes of each variable
    lookup : (M * L,) float64, lookup coefficients by variable, then model, then code:
        variable ``v``'s coefficient of code ``k`` in model ``m`` is at
        ``M * offsets[v] + m * sizes[v] + k`` (see :func:`lookup_by_variable`)
    numeric : (n, C) float64, Fortran order: numeric terms
    beta_t : (C, M) float64, numeric coefficients, one row per term
    intercept : (M,) float64
    cell : (n,) int32, region cell of each household
    cell_model : (K,) int32, model row of each cell
    cell_shift : (K,) float64, subtracted from the prediction (log poverty line, or 0)
    terms : (n, 2 + V + C) float64, or (0, 0) to skip
        If it has a row per household, each household's contributions are
        written there too, in the order they are added: the intercept, each
        lookup variable, each numeric term, then minus the log poverty line
        (what :func:`pmt.explain` shows). Welfare is the same either way.

    Households go in blocks; within a block one variable at a time, so the
    coefficients in use (one variable's, all models) stay in cache. Each
    household's terms are still added in one fixed order (module docstring).

    Returns
    -------
    welfare : (n,) float64
    """
    n = cell.shape[0]
    n_models = intercept.shape[0]
    n_lookup = offsets.shape[0]
    n_numeric = beta_t.shape[0]
    out = np.empty(n, dtype=np.float64)
    keep = terms.shape[0] == n and n > 0
    n_blocks = (n + SCORE_BLOCK - 1) // SCORE_BLOCK
    for blk in prange(n_blocks):
        a = blk * SCORE_BLOCK
        b = min(n, a + SCORE_BLOCK)
        m = np.empty(b - a, dtype=np.int64)
        acc = np.empty(b - a, dtype=np.float64)
        for i in range(a, b):
            mi = cell_model[cell[i]]
            m[i - a] = mi
            acc[i - a] = intercept[mi]
            if keep:
                terms[i, 0] = intercept[mi]
        for v in range(n_lookup):
            base = n_models * offsets[v]
            size = sizes[v]
            for i in range(a, b):
                c = lookup[base + m[i - a] * size + codes[i, v]]
                acc[i - a] += c
                if keep:
                    terms[i, 1 + v] = c
        for j in range(n_numeric):
            for i in range(a, b):
                c = beta_t[j, m[i - a]] * numeric[i, j]
                acc[i - a] += c
                if keep:
                    terms[i, 1 + n_lookup + j] = c
        for i in range(a, b):
            out[i] = acc[i - a] - cell_shift[cell[i]]
            if keep:
                terms[i, 1 + n_lookup + n_numeric] = -cell_shift[cell[i]]
    return out


def lookup_by_variable(table: np.ndarray, offsets: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``table`` (M, L) rearranged for :func:`score`: each variable's block, model-major."""
    n_models = table.shape[0]
    out = np.empty(table.size, dtype=np.float64)
    for off, size in zip(offsets.tolist(), sizes.tolist(), strict=True):
        out[n_models * off : n_models * (off + size)] = table[:, off : off + size].ravel()
    return out


# --------------------------------------------------------------------------- sorting
# A parallel bucket sort of welfare, in linear expected time. Buckets are cut by a
# linear map of the value, ``int((x - lo) * scale)``, which never decreases as ``x``
# grows (IEEE subtraction, multiplication and truncation are monotone), so bucket
# order is value order. The input is cut into a fixed number of chunks (not one per
# thread), so the permutation does not depend on the thread count; results do not
# depend on it anyway, since ties are handled canonically (module docstring).

SORT_CHUNKS = 64
_SMALL = 24  # segments up to this size are insertion-sorted


@jit()
def _bucket(x, lo, scale, n_buckets):  # type: ignore[no-untyped-def]
    """``int((x - lo) * scale)``, at most ``n_buckets - 1``: never decreases as ``x`` grows."""
    k = np.int64((x - lo) * scale)
    return n_buckets - 1 if k >= n_buckets else k


@jit()
def _insertion(key, idx, sw, sg, a, b):  # type: ignore[no-untyped-def]
    for t in range(a + 1, b):
        k = key[t]
        v = idx[t]
        w = sw[t]
        g = sg[t]
        u = t - 1
        while u >= a and key[u] > k:
            key[u + 1] = key[u]
            idx[u + 1] = idx[u]
            sw[u + 1] = sw[u]
            sg[u + 1] = sg[u]
            u -= 1
        key[u + 1] = k
        idx[u + 1] = v
        sw[u + 1] = w
        sg[u + 1] = g


@jit()
def _comparison_sort(key, idx, sw, sg, a, b):  # type: ignore[no-untyped-def]
    o = np.argsort(key[a:b], kind="mergesort")
    k = key[a:b][o]
    v = idx[a:b][o]
    w = sw[a:b][o]
    g = sg[a:b][o]
    key[a:b] = k
    idx[a:b] = v
    sw[a:b] = w
    sg[a:b] = g


@jit()
def _sort_segment(key, idx, sw, sg, a0, b0):  # type: ignore[no-untyped-def]
    """Sort ``key[a0:b0]`` ascending, moving ``idx``, ``sw`` and ``sg`` along.

    MSD bucketing, then insertion sort for small segments.
    """
    if b0 - a0 <= _SMALL:
        _insertion(key, idx, sw, sg, a0, b0)
        return
    tk = np.empty(b0 - a0, dtype=key.dtype)
    ti = np.empty(b0 - a0, dtype=idx.dtype)
    tw = np.empty(b0 - a0, dtype=sw.dtype)
    tg = np.empty(b0 - a0, dtype=sg.dtype)
    stack = [(a0, b0)]
    while len(stack) > 0:
        a, b = stack.pop()
        size = b - a
        if size <= _SMALL:
            _insertion(key, idx, sw, sg, a, b)
            continue
        lo = key[a]
        hi = key[a]
        for t in range(a + 1, b):
            x = key[t]
            if x < lo:
                lo = x
            elif x > hi:
                hi = x
        if lo == hi:  # a run of ties: any order will do
            continue
        nb = size // 2
        scale = nb / (hi - lo)
        if not (scale > 0.0 and scale < np.inf):
            _comparison_sort(key, idx, sw, sg, a, b)
            continue
        count = np.zeros(nb + 1, dtype=np.int64)
        for t in range(a, b):
            k = _bucket(key[t], lo, scale, nb)
            count[k + 1] += 1
        biggest = 0
        for k in range(nb):
            if count[k + 1] > biggest:
                biggest = count[k + 1]
            count[k + 1] += count[k]
        if biggest == size:  # no progress (extreme range): compare instead
            _comparison_sort(key, idx, sw, sg, a, b)
            continue
        for t in range(a, b):
            k = _bucket(key[t], lo, scale, nb)
            q = count[k]
            tk[q] = key[t]
            ti[q] = idx[t]
            tw[q] = sw[t]
            tg[q] = sg[t]
            count[k] = q + 1
        for t in range(size):
            key[a + t] = tk[t]
            idx[a + t] = ti[t]
            sw[a + t] = tw[t]
            sg[a + t] = tg[t]
        if biggest <= _SMALL:  # every sub-bucket is small: one insertion pass sorts them all
            _insertion(key, idx, sw, sg, a, b)
            continue
        # count[k] is now the end of sub-bucket k
        s = 0
        for k in range(nb):
            e = count[k]
            if e - s > _SMALL:
                stack.append((a + s, a + e))
            elif e - s > 1:
                _insertion(key, idx, sw, sg, a + s, a + e)
            s = e


@jit(parallel=True)
def sort_welfare(welfare, weight, group, n_buckets, key, idx, sw, sg):  # type: ignore[no-untyped-def]
    """Sort households by welfare, in place.

    The sorted welfare goes into ``key`` (ascending), the permutation into
    ``idx``, and the households' weights and groups into ``sw`` and ``sg``.
    ``key[t] = welfare[idx[t]]`` is non-decreasing; the order of equal values is
    unspecified. ``idx`` must hold indices up to ``n`` (int32 below 2**31).
    """
    n = welfare.shape[0]
    if n == 0:
        return
    n_chunks = SORT_CHUNKS
    step = (n + n_chunks - 1) // n_chunks
    los = np.empty(n_chunks, dtype=np.float64)
    his = np.empty(n_chunks, dtype=np.float64)
    for c in prange(n_chunks):
        a = min(n, c * step)
        b = min(n, a + step)
        cl = welfare[0]
        ch = welfare[0]
        for i in range(a, b):
            x = welfare[i]
            cl = min(cl, x)
            ch = max(ch, x)
        los[c] = cl
        his[c] = ch
    lo = los.min()
    hi = his.max()
    scale = n_buckets / (hi - lo) if hi > lo else 0.0
    if not (scale > 0.0 and scale < np.inf) or n_buckets < 2:
        for i in prange(n):
            key[i] = welfare[i]
            idx[i] = i
            sw[i] = weight[i]
            sg[i] = group[i]
        _sort_segment(key, idx, sw, sg, 0, n)
        return
    hist = np.zeros((n_chunks, n_buckets), dtype=np.int64)
    for c in prange(n_chunks):
        a = min(n, c * step)
        b = min(n, a + step)
        for i in range(a, b):
            k = _bucket(welfare[i], lo, scale, n_buckets)
            hist[c, k] += 1
    starts = np.zeros(n_buckets + 1, dtype=np.int64)
    for k in range(n_buckets):
        run = starts[k]
        for c in range(n_chunks):
            h = hist[c, k]
            hist[c, k] = run
            run += h
        starts[k + 1] = run
    for c in prange(n_chunks):
        a = min(n, c * step)
        b = min(n, a + step)
        for i in range(a, b):
            k = _bucket(welfare[i], lo, scale, n_buckets)
            q = hist[c, k]
            key[q] = welfare[i]
            idx[q] = i
            sw[q] = weight[i]
            sg[q] = group[i]
            hist[c, k] = q + 1
    for k in prange(n_buckets):
        _sort_segment(key, idx, sw, sg, starts[k], starts[k + 1])


def n_buckets(n: int) -> int:
    """First-level bucket count for :func:`sort_welfare`: about 16,384 households each.

    A bucket of that size fits in a core's cache while it is sorted.
    """
    return int(min(1 << 15, max(1, n // 16384)))


# --------------------------------------------------------------------------- ranking passes


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


@jit()
def _national_pass(key, sw, rank, below):  # type: ignore[no-untyped-def]
    """One walk up the sorted households of one scope.

    At sorted position ``t``: ``rank[t] = 1 + #strictly poorer`` and ``below[t]``
    = their weight, summed run by run in welfare order (a tie run's weights in
    ascending order). Returns the total, summed the same way.
    """
    n = key.shape[0]
    acc = 0.0
    run_start = 0
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


@jit()
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
    o = np.argsort(sw[t:r], kind="mergesort")
    gs = sg[t:r][o]
    o2 = np.argsort(gs, kind="mergesort")  # stable: ascending weight within each group
    ws = sw[t:r][o][o2]
    gs = gs[o2]
    u = 0
    m = r - t
    while u < m:
        g = gs[u]
        v = u
        s = 0.0
        while v < m and gs[v] == g:
            s += ws[v]
            v += 1
        acc[g] = acc[g] + s
        cnt[g] += v - u
        u = v
    return r


@jit()
def _grouped_pass(key, sw, sg, n_groups, rank, below):  # type: ignore[no-untyped-def]
    """:func:`_national_pass` within each group ``sg``, in one walk; returns the group totals."""
    n = key.shape[0]
    acc = np.zeros(n_groups, dtype=np.float64)
    cnt = np.zeros(n_groups, dtype=np.int64)
    t = 0
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


@jit()
def _cutoffs(key, sg, grouped, below, totals, n_classes):  # type: ignore[no-untyped-def]
    """Registry cutoffs of each scope from a finished walk.

    ``c[g, k-1]`` is the smallest welfare whose weight at or below it reaches
    ``k/n`` of the scope's total: the welfare of the last household before the
    first one whose strictly-poorer weight ``S`` has ``n*S >= k*T``.
    """
    n_groups = totals.shape[0]
    cut = np.full((n_groups, n_classes - 1), np.nan)
    k_next = np.ones(n_groups, dtype=np.int64)
    last = np.full(n_groups, np.nan)
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


@jit(parallel=True)
def scope_passes(key, sw, sg, n_groups, n_classes, rank_nat, below_nat, rank_grp, below_grp):  # type: ignore[no-untyped-def]
    """The national and the grouped walk, one per thread.

    Returns (national total (1,), group totals (G,), national cutoffs (1, n-1),
    group cutoffs (G, n-1)).
    """
    tot_nat = np.zeros(1, dtype=np.float64)
    tot_grp = np.zeros(n_groups, dtype=np.float64)
    cut_nat = np.full((1, n_classes - 1), np.nan)
    cut_grp = np.full((n_groups, n_classes - 1), np.nan)
    for task in prange(2):
        if task == 0:
            tot_nat[0] = _national_pass(key, sw, rank_nat, below_nat)
            cut_nat[:, :] = _cutoffs(key, sg, False, below_nat, tot_nat, n_classes)
        else:
            tot_grp[:] = _grouped_pass(key, sw, sg, n_groups, rank_grp, below_grp)
            cut_grp[:, :] = _cutoffs(key, sg, True, below_grp, tot_grp, n_classes)
    return tot_nat, tot_grp, cut_nat, cut_grp


RECORD = np.dtype(
    [("below_nat", "f8"), ("below_grp", "f8"), ("rank_nat", "i4"), ("rank_grp", "i4")]
)


@jit(parallel=True)
def scatter_records(idx, rank_nat, below_nat, rank_grp, below_grp, rec):  # type: ignore[no-untyped-def]
    """Put the sorted-order results back in input order, in ``rec``.

    ``rec[idx[t]] = (below_nat[t], below_grp[t], rank_nat[t], rank_grp[t])``:
    one 24-byte write per household.
    """
    for t in prange(idx.shape[0]):
        r = rec[idx[t]]
        r["below_nat"] = below_nat[t]
        r["below_grp"] = below_grp[t]
        r["rank_nat"] = rank_nat[t]
        r["rank_grp"] = rank_grp[t]


@jit()
def _thresholds(totals, n_classes):  # type: ignore[no-untyped-def]
    """``k*T`` for k in 1..n-1, per scope: registry desil is ``1 + #{k : n*S >= k*T}``."""
    out = np.empty((totals.shape[0], n_classes - 1))
    for g in range(totals.shape[0]):
        for k in range(1, n_classes):
            out[g, k - 1] = k * totals[g]
    return out


@jit(parallel=True)
def finish_scopes(
    welfare,
    group,
    rec,
    tot_nat,
    tot_grp,
    n_classes,
    ref_nat,
    ref_grp,
    use_ref_nat,
    use_ref_grp,
    desil_nat,
    desil_grp,
    rank_nat,
    rank_grp,
    share_nat,
    share_grp,
):  # type: ignore[no-untyped-def]
    """Desil, rank and share below of every household in input order, both scopes.

    From the strictly-poorer weight ``S`` and scope total ``T``: registry desil
    ``1 + #{k in 1..n-1 : n*S >= k*T}``, or with a reference table ``1 + #{k :
    welfare > ref[g, k]}``; share below ``S / T``. The counts are sums of
    comparisons, not branches: ``S`` arrives in random order. (Written out for each
    scope: a helper taking the tables as arguments was not inlined and cost 4x here.)
    """
    n = welfare.shape[0]
    m = n_classes - 1
    thr_nat = _thresholds(tot_nat, n_classes)
    thr_grp = _thresholds(tot_grp, n_classes)
    t_nat = tot_nat[0]
    for i in prange(n):
        g = group[i]
        w = welfare[i]
        r = rec[i]
        s = r["below_nat"]
        ns = n_classes * s
        d = 1
        if use_ref_nat:
            for k in range(m):
                d += w > ref_nat[0, k]
        else:
            for k in range(m):
                d += ns >= thr_nat[0, k]
        desil_nat[i] = d
        share_nat[i] = s / t_nat
        rank_nat[i] = r["rank_nat"]
        s = r["below_grp"]
        ns = n_classes * s
        d = 1
        if use_ref_grp:
            for k in range(m):
                d += w > ref_grp[g, k]
        else:
            for k in range(m):
                d += ns >= thr_grp[g, k]
        desil_grp[i] = d
        share_grp[i] = s / tot_grp[g]
        rank_grp[i] = r["rank_grp"]


# --------------------------------------------------------------------------- encoding fast paths
# Each checks one column in one pass and returns how many rows break its rule; the
# encoder takes the result when that count is 0 and otherwise falls back to its
# slower numpy path, which finds and reports the offending rows.


@jit(parallel=True)
def clean_codes(values, lut, lo, out):  # type: ignore[no-untyped-def]
    """``out[i] = lut[values[i] - lo]`` (dense code index); returns the count of bad values.

    A value is bad when it is not an allowed code: NaN, not whole, outside the
    table, or ``lut == 255``.
    """
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
    """``out[i] = float(values[i])``; returns the count of bad values.

    A value is bad when it is NaN or infinite, outside ``[lo, hi]``, not whole
    (if ``whole``), or above ``cap[i]`` (if ``cap`` has one entry per value).
    """
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


@jit(parallel=True)
def desil_tally(desil_nat, desil_prv, province, weight, n_classes):  # type: ignore[no-untyped-def]
    """Households and summed weight per desil, by scope.

    Returns (hh_nat (n,), people_nat (n,), hh_prv (100, n), people_prv (100, n),
    people_prv_nat (100, n)): national desil; (province code, provincial desil);
    and people by (province code, national desil). Partial sums over a fixed set
    of chunks are added in chunk order, so the result does not depend on the
    thread count.
    """
    n = desil_nat.shape[0]
    n_chunks = SORT_CHUNKS
    step = (n + n_chunks - 1) // n_chunks
    hh = np.zeros((n_chunks, 101, n_classes), dtype=np.int64)
    people = np.zeros((n_chunks, 101, n_classes), dtype=np.float64)
    cross = np.zeros((n_chunks, 100, n_classes), dtype=np.float64)
    for c in prange(n_chunks):
        a = min(n, c * step)
        b = min(n, a + step)
        for i in range(a, b):
            w = weight[i]
            p = province[i]
            d = desil_nat[i] - 1
            hh[c, 100, d] += 1
            people[c, 100, d] += w
            cross[c, p, d] += w
            d = desil_prv[i] - 1
            hh[c, p, d] += 1
            people[c, p, d] += w
    hh_all = np.zeros((101, n_classes), dtype=np.int64)
    people_all = np.zeros((101, n_classes), dtype=np.float64)
    cross_all = np.zeros((100, n_classes), dtype=np.float64)
    for c in range(n_chunks):
        hh_all += hh[c]
        people_all += people[c]
        cross_all += cross[c]
    return (
        hh_all[100].copy(),
        people_all[100].copy(),
        hh_all[:100].copy(),
        people_all[:100].copy(),
        cross_all,
    )
