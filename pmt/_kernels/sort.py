"""Sorting welfare: a bucket sort in linear expected time, carrying weight and group.

Households are ordered by welfare and, among equal welfare, by weight: the
walks then sum a tie run's weights in ascending order without sorting it again.

Buckets are cut by a linear map of the value, ``int((x - lo) * scale)``, which
never decreases as ``x`` grows (IEEE subtraction, multiplication and
truncation are monotone), so bucket order is value order. The input is cut
into a fixed number of chunks (not one per thread), so the permutation does
not depend on the thread count; results would not depend on it anyway, since
ties are handled canonically (see :mod:`pmt._kernels`).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ._jit import (
    boolean,
    f8,
    f8_in,
    float64,
    helper,
    i4,
    i4_in,
    i8,
    i8_in,
    int64,
    kernel,
    run,
    u1,
    u1_in,
)

SORT_CHUNKS = 64
_SMALL = 24  # segments up to this size are insertion-sorted

# the group array is uint8 (up to 255 groups) or int32; the permutation int32 or int64
_GROUPS = ((u1_in, u1), (i4_in, i4))
_INDEX = (i4, i8)


@helper
def _bucket(x, lo, scale, n_buckets):  # type: ignore[no-untyped-def]
    """``int((x - lo) * scale)``, at most ``n_buckets - 1``: never decreases as ``x`` grows."""
    k = np.int64((x - lo) * scale)
    return n_buckets - 1 if k >= n_buckets else k


@helper
def _insertion(key, idx, sw, sg, a, b):  # type: ignore[no-untyped-def]
    for t in range(a + 1, b):
        k = key[t]
        v = idx[t]
        w = sw[t]
        g = sg[t]
        u = t - 1
        while u >= a and (key[u] > k or (key[u] == k and sw[u] > w)):
            key[u + 1] = key[u]
            idx[u + 1] = idx[u]
            sw[u + 1] = sw[u]
            sg[u + 1] = sg[u]
            u -= 1
        key[u + 1] = k
        idx[u + 1] = v
        sw[u + 1] = w
        sg[u + 1] = g


@helper
def _heapsort(key, idx, sw, sg, a, b):  # type: ignore[no-untyped-def]
    """Sort ``a:b`` by ``key`` then ``sw`` in place (segments bucketing cannot split).

    One loop builds the max-heap and then takes its top off, sifting down as it
    goes; written as one function, without helpers, so that it compiles fast.
    """
    start = (b - a) // 2
    end = b - a
    while end > 1:
        if start > 0:  # building the heap
            start -= 1
        else:  # the top (largest) to the end
            end -= 1
            p = a + end
            key[a], key[p] = key[p], key[a]
            idx[a], idx[p] = idx[p], idx[a]
            sw[a], sw[p] = sw[p], sw[a]
            sg[a], sg[p] = sg[p], sg[a]
        root = start
        while True:
            child = 2 * root + 1
            if child >= end:
                break
            c = a + child
            if child + 1 < end and (
                key[c] < key[c + 1] or (key[c] == key[c + 1] and sw[c] < sw[c + 1])
            ):
                child += 1
                c += 1
            r = a + root
            if not (key[r] < key[c] or (key[r] == key[c] and sw[r] < sw[c])):
                break
            key[r], key[c] = key[c], key[r]
            idx[r], idx[c] = idx[c], idx[r]
            sw[r], sw[c] = sw[c], sw[r]
            sg[r], sg[c] = sg[c], sg[r]
            root = child


@kernel(
    *[
        (f8_in, f8_in, g_in, float64, float64, int64, int64, int64, boolean, i8, f8, ix, f8, g)
        for g_in, g in _GROUPS
        for ix in _INDEX
    ]
)
def _scatter_buckets(
    welfare, weight, group, lo, scale, n_buckets, a, b, count_only, pos, key, idx, sw, sg
):  # type: ignore[no-untyped-def]
    """Households ``a:b`` to their buckets' next positions ``pos`` (advanced).

    With ``count_only``, only count the households of each bucket into ``pos``
    (one kernel for both passes: a first call compiles one).
    """
    if count_only:
        for i in range(a, b):
            pos[_bucket(welfare[i], lo, scale, n_buckets)] += 1
        return
    for i in range(a, b):
        k = _bucket(welfare[i], lo, scale, n_buckets)
        q = pos[k]
        key[q] = welfare[i]
        idx[q] = i
        sw[q] = weight[i]
        sg[q] = group[i]
        pos[k] = q + 1


@kernel(
    *[
        (f8, ix, f8, g, i8_in, int64, int64, f8, ix, f8, g, i8, i8, i8)
        for _, g in _GROUPS
        for ix in _INDEX
    ]
)
def _sort_buckets(key, idx, sw, sg, starts, k0, k1, tk, ti, tw, tg, stack_a, stack_b, count):  # type: ignore[no-untyped-def]
    """Sort buckets ``k0:k1`` (bucket ``k`` is ``starts[k]:starts[k + 1]``) by ``key`` then ``sw``.

    ``idx`` and ``sg`` move along. MSD bucketing, then insertion sort for small
    segments; heap sort where a segment does not split (a run of ties, or an
    extreme range). One function, not a kernel and a helper, to compile less.
    For a largest bucket of ``m`` households, ``tk``, ``ti``, ``tw``, ``tg`` hold
    ``m`` values, ``stack_a`` and ``stack_b`` ``m // (_SMALL + 1) + 1`` and
    ``count`` ``m // 2 + 1``.
    """
    for kk in range(k0, k1):
        a0 = starts[kk]
        b0 = starts[kk + 1]
        if b0 - a0 <= _SMALL:
            if b0 - a0 > 1:
                _insertion(key, idx, sw, sg, a0, b0)
            continue
        # segments waiting to be sorted: disjoint, each longer than _SMALL
        stack_a[0] = a0
        stack_b[0] = b0
        top = 1
        while top > 0:
            top -= 1
            a = stack_a[top]
            b = stack_b[top]
            size = b - a
            lo = key[a]
            hi = key[a]
            for t in range(a + 1, b):
                x = key[t]
                if x < lo:
                    lo = x
                elif x > hi:
                    hi = x
            if lo == hi:  # a run of ties: by weight
                _heapsort(key, idx, sw, sg, a, b)
                continue
            nb = size // 2
            scale = nb / (hi - lo)
            if not (scale > 0.0 and scale < np.inf):
                _heapsort(key, idx, sw, sg, a, b)
                continue
            for k in range(nb + 1):
                count[k] = 0
            for t in range(a, b):
                k = _bucket(key[t], lo, scale, nb)
                count[k + 1] += 1
            biggest = 0
            for k in range(nb):
                if count[k + 1] > biggest:
                    biggest = count[k + 1]
                count[k + 1] += count[k]
            if biggest == size:  # no progress (extreme range): compare instead
                _heapsort(key, idx, sw, sg, a, b)
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
                    stack_a[top] = a + s
                    stack_b[top] = a + e
                    top += 1
                elif e - s > 1:
                    _insertion(key, idx, sw, sg, a + s, a + e)
                s = e


def _sort_task(
    key: np.ndarray,
    idx: np.ndarray,
    sw: np.ndarray,
    sg: np.ndarray,
    starts: np.ndarray,
    k0: int,
    k1: int,
) -> None:
    """:func:`_sort_buckets` with scratch made here, sized for its largest bucket.

    The kernel allocates nothing, so a first call does not compile numpy's
    allocation code; a task's scratch lives only while it runs.
    """
    m = int(np.max(starts[k0 + 1 : k1 + 1] - starts[k0:k1]))
    _sort_buckets(
        key,
        idx,
        sw,
        sg,
        starts,
        k0,
        k1,
        np.empty(m),
        np.empty(m, dtype=idx.dtype),
        np.empty(m),
        np.empty(m, dtype=sg.dtype),
        np.empty(m // (_SMALL + 1) + 1, dtype=np.int64),
        np.empty(m // (_SMALL + 1) + 1, dtype=np.int64),
        np.empty(m // 2 + 1, dtype=np.int64),
    )


def sort_range(
    key: np.ndarray, idx: np.ndarray, sw: np.ndarray, sg: np.ndarray, a: int, b: int
) -> None:
    """Sort ``a:b`` in place by ``key``, then ``sw``, moving ``idx`` and ``sg`` along."""
    if b - a > 1:
        _sort_task(key, idx, sw, sg, np.array([a, b], dtype=np.int64), 0, 1)


def sort_welfare(
    welfare: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    n_buckets: int,
    key: np.ndarray,
    idx: np.ndarray,
    sw: np.ndarray,
    sg: np.ndarray,
) -> None:
    """Sort households by welfare and, among equal welfare, by weight, in place.

    The sorted welfare goes into ``key`` (ascending), the permutation into
    ``idx``, and the households' weights and groups into ``sw`` and ``sg``.
    ``key[t] = welfare[idx[t]]`` is non-decreasing, and ``sw`` non-decreasing
    within a run of equal ``key``; the order of equal (welfare, weight) pairs is
    unspecified. ``idx`` must hold indices up to ``n`` (int32 below 2**31).
    """
    n = welfare.shape[0]
    if n == 0:
        return
    lo = float(welfare.min())
    hi = float(welfare.max())
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        scale = n_buckets / (hi - lo) if hi > lo else 0.0
    if not (0.0 < scale < np.inf) or n_buckets < 2:
        # One bucket (small inputs, or a range the linear map cannot cut): numpy's
        # sort, which needs no compiling, so a first small call skips the kernel's
        # compile time. The order is the kernel's: by welfare, then weight.
        order = np.lexsort((weight, welfare))
        idx[:] = order
        np.take(welfare, order, out=key)
        np.take(weight, order, out=sw)
        np.take(group, order, out=sg)
        return
    step = -(-n // SORT_CHUNKS)
    chunks = [(a, min(n, a + step)) for a in range(0, n, step)]
    hist = np.zeros((len(chunks), n_buckets), dtype=np.int64)

    def scatter(count_only: bool, where: np.ndarray) -> None:
        """One pass over the chunks: count into ``where[c]``, or scatter from it."""
        run(
            [
                partial(
                    _scatter_buckets,
                    *(welfare, weight, group, lo, scale, n_buckets, a, b, count_only),
                    *(where[c], key, idx, sw, sg),
                )
                for c, (a, b) in enumerate(chunks)
            ]
        )

    scatter(True, hist)
    # bucket k of chunk c goes after bucket k of the chunks before it
    counts = hist.T.ravel()  # bucket-major
    pos = np.empty_like(counts)
    pos[0] = 0
    np.cumsum(counts[:-1], out=pos[1:])
    starts = np.append(pos[:: len(chunks)], n)
    scatter(False, np.ascontiguousarray(pos.reshape(n_buckets, len(chunks)).T))
    per = -(-n_buckets // SORT_CHUNKS)
    run(
        [
            partial(_sort_task, key, idx, sw, sg, starts, k, min(n_buckets, k + per))
            for k in range(0, n_buckets, per)
        ]
    )


def n_buckets(n: int) -> int:
    """First-level bucket count for :func:`sort_welfare`: about 16,384 households each.

    A bucket of that size fits in a core's cache while it is sorted.
    """
    return int(min(1 << 15, max(1, n // 16384)))
