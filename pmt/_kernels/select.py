"""Registry cutoffs by weighted selection: the desil without ranks, in linear expected time.

When nobody asks for ranks and shares below, the desil of every household
follow from the ``n - 1`` registry cutoffs of its scope
(``desil = 1 + #{k : welfare > c_k}``, which is the registry rule exactly:
see ``docs/desil.md``). The cutoffs need no full sort:

1. one pass buckets the households by welfare, with the sort's monotone
   bucket map, and adds up each (bucket, scope)'s households and weight;
2. from the prefix sums of the bucket weights, the bucket that holds each
   cutoff is known: the last non-empty bucket whose first household ``S``
   still has ``n*S < k*T``;
3. a second pass copies out only the households of those buckets, which are
   sorted and walked up like the full walk to find each cutoff; with
   registry desil wanted, the same pass gives every other household its
   desil from its bucket (no cutoff of its scopes lies in it, and bucket
   order is welfare order), and the households copied out get theirs by
   comparison once the cutoffs are known;
4. with reference or given cutoffs instead, a last pass compares each
   household's welfare with its scopes' cutoffs.

This is exact only when every partial sum of the weights is exact in
float64 — whole-number weights with a total below ``2**53`` (household size,
or one per household) — since then the sum up to any household does not
depend on the order of addition. The caller checks that from what
:func:`tally` returns and otherwise takes the full path.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ._jit import (
    f8,
    f8_2d,
    f8_2d_in,
    f8_in,
    float64,
    i1,
    i1_in,
    i4_in,
    i8,
    i8_in,
    int64,
    kernel,
    ranges,
    run,
    u1_in,
)
from .desil import TASK, count_above
from .sort import _RECORDS, _bucket, _put, sort_range, sort_record

_GROUPS_IN = (u1_in, i4_in)
#: the tallies of all chunks together stay under this many bytes
_TALLY_BYTES = 1 << 26
_MAX_CHUNKS = 8
#: households per bucket on average: small, so that the buckets holding cutoffs are small
PER_BUCKET = 1024
#: at most this many (bucket, group) slots, so that a chunk's tally stays in cache
_MAX_SLOTS = 1 << 17


@kernel(
    *[(f8_in, f8_in, g, float64, float64, int64, int64, int64, int64, i8, f8) for g in _GROUPS_IN]
)
def _tally(welfare, weight, group, lo, scale, n_buckets, n_groups, a, b, count, wsum):  # type: ignore[no-untyped-def]
    """Households and weight of ``a:b`` per (bucket, group) slot; returns the non-whole weights."""
    odd = 0
    for i in range(a, b):
        k = 0 if n_buckets == 1 else _bucket(welfare[i], lo, scale, n_buckets)
        s = k * n_groups + group[i]
        w = weight[i]
        count[s] += 1
        wsum[s] += w
        if w != np.floor(w):
            odd += 1
    return odd


@kernel(
    *[
        (f8_in, f8_in, g, float64, float64, *(int64,) * 4, i8, rec, i1_in, i1_in, i1, i1)
        for g in _GROUPS_IN
        for rec in _RECORDS
    ]
)
def _gather(
    welfare,
    weight,
    group,
    lo,
    scale,
    n_buckets,
    n_groups,
    a,
    b,
    pos,
    rec,
    bucket_desil,
    slot_desil,
    desil_nat,
    desil_grp,
):  # type: ignore[no-untyped-def]
    """Households of ``a:b`` in a wanted slot (``pos >= 0``) to its next positions.

    Into sort records (:data:`pmt._kernels.sort.SORT_RECORD`): welfare,
    weight, input position and group. When ``bucket_desil`` has an entry per
    bucket, every other household's desil is placed here: its bucket (its
    slot, for the group) holds none of its scopes' cutoffs, so they are the
    bucket's (``bucket_desil``, ``slot_desil``); without it, nothing else is
    written.
    """
    place = bucket_desil.shape[0] > 0
    for i in range(a, b):
        k = 0 if n_buckets == 1 else _bucket(welfare[i], lo, scale, n_buckets)
        s = k * n_groups + group[i]
        q = pos[s]
        if q >= 0:
            _put(rec, q, welfare[i], weight[i], i, group[i])
            pos[s] = q + 1
        elif place:
            desil_nat[i] = bucket_desil[k]
            desil_grp[i] = slot_desil[s]


@kernel(*[(rec, f8_2d_in, f8_2d_in, int64, i1, i1) for rec in _RECORDS])
def _place_gathered(rec, cut_nat, cut_grp, m, desil_nat, desil_grp):  # type: ignore[no-untyped-def]
    """The desil of the gathered households, against their scopes' cutoffs."""
    for t in range(rec.shape[0]):
        w = rec[t].key
        i = rec[t].idx
        desil_nat[i] = 1 + count_above(w, cut_nat, 0, m)
        desil_grp[i] = 1 + count_above(w, cut_grp, np.int64(rec[t].g), m)


@kernel(*[(rec, i8_in, i8_in, f8_in, f8_in, i8_in, i8_in, i8_in, int64, f8_2d) for rec in _RECORDS])
def _walk_ranges(rec, start, end, below, total, k_lo, k_hi, row, n_classes, cut):  # type: ignore[no-untyped-def]
    """Find the cutoffs ``k_lo[j] <= k < k_hi[j]`` of each sorted range ``start[j]:end[j]``.

    ``below[j]`` is the weight of the scope's households before the range,
    ``total[j]`` the scope's total; the cutoff ``c_k`` (into ``cut[row[j], k-1]``)
    is the welfare of the last household before the first one whose
    strictly-poorer weight ``S`` has ``n*S >= k*T`` (the full walk's rule).
    """
    for j in range(start.shape[0]):
        a = start[j]
        b = end[j]
        s = below[j]
        t_all = total[j]
        k = k_lo[j]
        prev = np.nan
        t = a
        while t < b and k < k_hi[j]:
            x = rec[t].key
            r = t + 1
            while r < b and rec[r].key == x:
                r += 1
            while k < k_hi[j] and n_classes * s >= k * t_all:
                cut[row[j], k - 1] = prev
                k += 1
            prev = x + 0.0  # -0.0 becomes 0.0, as in the full walk
            for u in range(t, r):
                s += rec[u].sw
            t = r
        while k < k_hi[j]:  # the first household after the range meets the rule
            cut[row[j], k - 1] = prev
            k += 1


@kernel(*[(f8_in, g, f8_2d_in, f8_2d_in, int64, i1, i1, int64, int64) for g in _GROUPS_IN])
def _desil_rows(welfare, group, cut_nat, cut_grp, m, desil_nat, desil_grp, a, b):  # type: ignore[no-untyped-def]
    for i in range(a, b):
        w = welfare[i]
        desil_nat[i] = 1 + count_above(w, cut_nat, 0, m)
        desil_grp[i] = 1 + count_above(w, cut_grp, group[i], m)


def desil_from_cutoffs(
    welfare: np.ndarray,
    group: np.ndarray,
    cut_nat: np.ndarray,
    cut_grp: np.ndarray,
    desil_nat: np.ndarray,
    desil_grp: np.ndarray,
) -> None:
    """``desil = 1 + #{k : welfare > c_k}`` against the national and each group's cutoffs."""
    n = welfare.shape[0]
    m = cut_nat.shape[1]
    args = (welfare, group, cut_nat, cut_grp, m, desil_nat, desil_grp)
    run([partial(_desil_rows, *args, a, b) for a, b in ranges(n, -(-n // TASK))])


class Tally:
    """What the first pass found: the bucket map, and households and weight per slot.

    ``count`` and ``wsum`` are (chunks, n_buckets * n_groups), slot ``b * G + g``;
    ``odd`` counts the weights that are not whole numbers.
    """

    def __init__(
        self,
        lo: float,
        scale: float,
        n_buckets: int,
        n_groups: int,
        chunks: list[tuple[int, int]],
        count: np.ndarray,
        wsum: np.ndarray,
        odd: int,
    ) -> None:
        self.lo, self.scale, self.n_buckets, self.n_groups = lo, scale, n_buckets, n_groups
        self.chunks, self.count, self.wsum, self.odd = chunks, count, wsum, odd


def tally(
    welfare: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    bounds: tuple[float, float] | None = None,
) -> Tally:
    """First pass: bucket the households by welfare, count them and add up their weight.

    ``bounds``, if given, must be welfare's smallest and largest values (found
    here otherwise).
    """
    n = welfare.shape[0]
    nb = int(max(1, min(n // PER_BUCKET, _MAX_SLOTS // max(1, n_groups))))
    lo, hi = 0.0, 0.0
    if n:
        lo, hi = (float(welfare.min()), float(welfare.max())) if bounds is None else bounds
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        scale = nb / (hi - lo) if hi > lo else 0.0
    if not (0.0 < scale < np.inf) or nb < 2:
        nb, scale = 1, 0.0
    slots = nb * n_groups
    parts = max(1, min(_MAX_CHUNKS, -(-n // (1 << 17)), _TALLY_BYTES // (16 * slots)))
    chunks = ranges(n, parts)
    count = np.zeros((max(1, len(chunks)), slots), dtype=np.int64)
    wsum = np.zeros((max(1, len(chunks)), slots), dtype=np.float64)
    odd = run(
        [
            partial(
                _tally, welfare, weight, group, lo, scale, nb, n_groups, a, b, count[c], wsum[c]
            )
            for c, (a, b) in enumerate(chunks)
        ]
    )
    return Tally(lo, scale, nb, n_groups, chunks, count, wsum, int(sum(odd)))


def _cutoff_buckets(
    count: np.ndarray, wsum: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each scope's cutoffs lie, from (scopes, buckets) tallies.

    Returns (bucket of each cutoff (S, n-1), weight before each bucket (S, B),
    totals (S,)).

    The bucket of ``c_k`` is the last non-empty bucket whose first household
    (strictly-poorer weight = the weight of the buckets before it) has
    ``n*S < k*T``. Exact for whole-number weights below ``2**53``.
    """
    below = np.zeros_like(wsum)
    np.cumsum(wsum[:, :-1], axis=1, out=below[:, 1:])
    total = below[:, -1] + wsum[:, -1]
    nb = count.shape[1]
    where = np.full((count.shape[0], n_classes - 1), -1, dtype=np.int64)
    filled = count > 0
    for k in range(1, n_classes):
        ok = filled & (n_classes * below < float(k) * total[:, None])  # (S, B)
        last = nb - 1 - np.argmax(ok[:, ::-1], axis=1)
        where[:, k - 1] = np.where(ok.any(axis=1), last, -1)
    return where, below, total


def select_cutoffs(
    welfare: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    t: Tally,
    n_classes: int,
    desil: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Registry cutoffs from a whole-number :class:`Tally`: (national (1, n-1), groups (G, n-1)).

    A scope with no household gets NaN cutoffs (as the full walk gives).
    With ``desil`` (national and group (n,) int8 arrays), each household's
    registry desil goes there too, ``1 + #{k : welfare > c_k}``: from its
    bucket where no cutoff of its scopes lies in it (bucket order is welfare
    order), else by comparing, once the cutoffs are known. No pass of its own.
    """
    nb, n_groups = t.n_buckets, t.n_groups
    count = t.count.sum(axis=0).reshape(nb, n_groups)
    wsum = t.wsum.sum(axis=0).reshape(nb, n_groups)  # exact: whole numbers
    # scopes: the groups, then the nation
    s_count = np.vstack([count.T, count.sum(axis=1)[None, :]])
    s_wsum = np.vstack([wsum.T, wsum.sum(axis=1)[None, :]])
    where, below, total = _cutoff_buckets(s_count, s_wsum, n_classes)
    wanted = np.zeros((nb, n_groups), dtype=bool)
    for g in range(n_groups):
        wanted[where[g][where[g] >= 0], g] = True
    wanted[where[n_groups][where[n_groups] >= 0], :] = True
    wanted_flat = wanted.ravel()
    sizes = np.where(wanted_flat, count.ravel(), 0)
    first = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=first[1:])
    # chunk c's households of slot s go after those of the chunks before it
    pos = first[:-1][None, :] + np.cumsum(t.count, axis=0) - t.count
    pos = np.ascontiguousarray(np.where(wanted_flat[None, :], pos, -1))
    m = int(first[-1])
    rec = np.empty(m, dtype=sort_record(welfare.shape[0]))  # positions up to n
    none = np.zeros(0, dtype=np.int8)
    bucket_desil, slot_desil, (d_nat, d_grp) = none, none, (none, none) if desil is None else desil
    if desil is not None:
        # desil of a bucket holding no cutoff: 1 + the cutoffs in buckets below it
        b_idx = np.arange(nb)
        bucket_desil = _desil_by_bucket(where[n_groups], b_idx)
        slot_desil = np.ascontiguousarray(
            np.stack([_desil_by_bucket(where[g], b_idx) for g in range(n_groups)], axis=1).ravel()
        )
    run(
        [
            partial(
                _gather,
                *(welfare, weight, group, t.lo, t.scale, nb, n_groups, a, b, pos[c], rec),
                *(bucket_desil, slot_desil, d_nat, d_grp),
            )
            for c, (a, b) in enumerate(t.chunks)
        ]
    )
    # one walk per (scope, bucket) holding cutoffs: the groups first (their ranges
    # lie inside the national bucket's, which is sorted after them)
    jobs: list[tuple[int, int, float, float, int, int, int]] = []
    for s in range(n_groups + 1):
        ks = where[s]
        for b in np.unique(ks[ks >= 0]).tolist():
            sel = np.flatnonzero(ks == b)
            if s < n_groups:
                a0, b0 = int(first[b * n_groups + s]), int(first[b * n_groups + s + 1])
            else:
                a0, b0 = int(first[b * n_groups]), int(first[(b + 1) * n_groups])
            jobs.append(
                (a0, b0, float(below[s, b]), float(total[s]), int(sel[0]) + 1, int(sel[-1]) + 2, s)
            )
    cut = np.full((n_groups + 1, n_classes - 1), np.nan)
    if jobs:
        # a job's range is sorted just before its walk: a province's range lies inside
        # its bucket's national range, which is sorted (and walked) after it
        for a0, b0, s_below, s_total, k_lo, k_hi, row in jobs:
            sort_range(rec, a0, b0)
            _walk_ranges(
                rec,
                np.array([a0], dtype=np.int64),
                np.array([b0], dtype=np.int64),
                np.array([s_below]),
                np.array([s_total]),
                np.array([k_lo], dtype=np.int64),
                np.array([k_hi], dtype=np.int64),
                np.array([row], dtype=np.int64),
                n_classes,
                cut,
            )
    cut_nat, cut_grp = np.ascontiguousarray(cut[n_groups:]), np.ascontiguousarray(cut[:n_groups])
    if desil is not None:
        _place_gathered(rec, cut_nat, cut_grp, n_classes - 1, d_nat, d_grp)
    return cut_nat, cut_grp


def _desil_by_bucket(where: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """``1 + #{k : where[k] < b}`` for each bucket ``b`` (cutoffs of an empty scope: -1, none)."""
    cut_buckets = np.sort(where[where >= 0])
    return (1 + np.searchsorted(cut_buckets, buckets, side="left")).astype(np.int8)


def scope_totals(t: Tally) -> tuple[float, np.ndarray, np.ndarray]:
    """(national total, group totals (G,), group household counts (G,)) of a whole-number tally."""
    count = t.count.sum(axis=0).reshape(t.n_buckets, t.n_groups).sum(axis=0)
    wsum = t.wsum.sum(axis=0).reshape(t.n_buckets, t.n_groups).sum(axis=0)
    return float(wsum.sum()), wsum, count
