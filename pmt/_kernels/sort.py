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

from ._jit import f8, f8_in, float64, helper, i4, i4_in, i8, i8_in, int64, kernel, run, u1, u1_in

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
def _before(x, y, i, j):  # type: ignore[no-untyped-def]
    """Whether position ``i`` goes strictly before ``j``: by ``x``, then by ``y``."""
    return x[i] < x[j] or (x[i] == x[j] and y[i] < y[j])


@helper
def argsort(x, y, a, b):  # type: ignore[no-untyped-def]
    """Stable order of ``a:b`` by ``x``, then ``y`` (offsets from ``a``).

    Insertion-sorted runs of 16, then merges.
    """
    m = b - a
    src = np.empty(m, dtype=np.int64)
    dst = np.empty(m, dtype=np.int64)
    for i in range(m):
        src[i] = i
    run_len = 16
    for s in range(0, m, run_len):
        e = min(m, s + run_len)
        for i in range(s + 1, e):
            v = src[i]
            j = i - 1
            while j >= s and _before(x, y, a + v, a + src[j]):
                src[j + 1] = src[j]
                j -= 1
            src[j + 1] = v
    width = run_len
    while width < m:
        for s in range(0, m, 2 * width):
            mid = min(m, s + width)
            e = min(m, s + 2 * width)
            i = s
            j = mid
            k = s
            while i < mid and j < e:
                if _before(x, y, a + src[j], a + src[i]):  # strictly: equal pairs keep their order
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < e:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    return src


@helper
def _comparison_sort(key, idx, sw, sg, a, b):  # type: ignore[no-untyped-def]
    o = argsort(key, sw, a, b)
    m = b - a
    tk = np.empty(m, dtype=np.float64)
    ti = np.empty(m, dtype=np.int64)
    tw = np.empty(m, dtype=np.float64)
    tg = np.empty(m, dtype=np.int64)
    for t in range(m):
        tk[t] = key[a + o[t]]
        ti[t] = idx[a + o[t]]
        tw[t] = sw[a + o[t]]
        tg[t] = sg[a + o[t]]
    for t in range(m):
        key[a + t] = tk[t]
        idx[a + t] = ti[t]
        sw[a + t] = tw[t]
        sg[a + t] = tg[t]


@helper
def _sort_segment(key, idx, sw, sg, a0, b0):  # type: ignore[no-untyped-def]
    """Sort ``a0:b0`` by ``key`` then ``sw``, moving ``idx`` and ``sg`` along.

    MSD bucketing, then insertion sort for small segments.
    """
    if b0 - a0 <= _SMALL:
        _insertion(key, idx, sw, sg, a0, b0)
        return
    tk = np.empty(b0 - a0, dtype=key.dtype)
    ti = np.empty(b0 - a0, dtype=idx.dtype)
    tw = np.empty(b0 - a0, dtype=sw.dtype)
    tg = np.empty(b0 - a0, dtype=sg.dtype)
    # segments waiting to be sorted: disjoint, each longer than _SMALL
    stack_a = np.empty((b0 - a0) // (_SMALL + 1) + 1, dtype=np.int64)
    stack_b = np.empty(stack_a.shape[0], dtype=np.int64)
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
            _comparison_sort(key, idx, sw, sg, a, b)
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
                stack_a[top] = a + s
                stack_b[top] = a + e
                top += 1
            elif e - s > 1:
                _insertion(key, idx, sw, sg, a + s, a + e)
            s = e


@kernel((f8_in, float64, float64, int64, int64, int64, i8))
def _count_buckets(welfare, lo, scale, n_buckets, a, b, hist):  # type: ignore[no-untyped-def]
    """Households of ``welfare[a:b]`` in each bucket, into ``hist``."""
    for i in range(a, b):
        hist[_bucket(welfare[i], lo, scale, n_buckets)] += 1


@kernel(
    *[
        (f8_in, f8_in, g_in, float64, float64, int64, int64, int64, i8, f8, ix, f8, g)
        for g_in, g in _GROUPS
        for ix in _INDEX
    ]
)
def _scatter_buckets(welfare, weight, group, lo, scale, n_buckets, a, b, pos, key, idx, sw, sg):  # type: ignore[no-untyped-def]
    """Households ``a:b`` to their buckets' next positions ``pos`` (advanced)."""
    for i in range(a, b):
        k = _bucket(welfare[i], lo, scale, n_buckets)
        q = pos[k]
        key[q] = welfare[i]
        idx[q] = i
        sw[q] = weight[i]
        sg[q] = group[i]
        pos[k] = q + 1


@kernel(*[(f8, ix, f8, g, i8_in, int64, int64) for _, g in _GROUPS for ix in _INDEX])
def _sort_buckets(key, idx, sw, sg, starts, k0, k1):  # type: ignore[no-untyped-def]
    """Sort buckets ``k0:k1`` (bucket ``k`` is ``key[starts[k]:starts[k + 1]]``)."""
    for k in range(k0, k1):
        _sort_segment(key, idx, sw, sg, starts[k], starts[k + 1])


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
    run(
        [
            partial(_count_buckets, welfare, lo, scale, n_buckets, a, b, hist[c])
            for c, (a, b) in enumerate(chunks)
        ]
    )
    # bucket k of chunk c goes after bucket k of the chunks before it
    counts = hist.T.ravel()  # bucket-major
    pos = np.empty_like(counts)
    pos[0] = 0
    np.cumsum(counts[:-1], out=pos[1:])
    starts = np.append(pos[:: len(chunks)], n)
    pos = np.ascontiguousarray(pos.reshape(n_buckets, len(chunks)).T)
    run(
        [
            partial(
                _scatter_buckets,
                welfare,
                weight,
                group,
                lo,
                scale,
                n_buckets,
                a,
                b,
                pos[c],
                key,
                idx,
                sw,
                sg,
            )
            for c, (a, b) in enumerate(chunks)
        ]
    )
    per = -(-n_buckets // SORT_CHUNKS)
    run(
        [
            partial(_sort_buckets, key, idx, sw, sg, starts, k, min(n_buckets, k + per))
            for k in range(0, n_buckets, per)
        ]
    )


def n_buckets(n: int) -> int:
    """First-level bucket count for :func:`sort_welfare`: about 16,384 households each.

    A bucket of that size fits in a core's cache while it is sorted.
    """
    return int(min(1 << 15, max(1, n // 16384)))
