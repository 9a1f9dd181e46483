"""Shares of weight "poorer than" a household, all by pmt's one desil rule.

Every "poorer than" of the evaluation comes from :func:`pmt.assign_desil`
(the weight strictly poorer ``S``, the scope total ``T`` and the desil,
computed once in the ranking kernel; equal welfare is one tie, never split).
Nothing here sums weights up a sorted order itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from ..rank import assign_desil, reference_cutoffs

__all__ = ["canonical_order", "cdf_runs", "midrank", "poorest", "quantiles_by_bin", "thin"]


def canonical_order(*keys: np.ndarray | None) -> np.ndarray:
    """The positions of the households sorted by ``keys`` (the first key first; ``None`` skipped).

    Summing in this order makes every result independent of the input's row
    order, bit for bit: households equal in every key are interchangeable.
    Keys are 1-D arrays of one value per household, or 2-D arrays of rows of them.
    """
    cols: list[np.ndarray] = []
    for k in keys:
        if k is not None:
            cols.extend(np.atleast_2d(k))
    return np.lexsort(cols[::-1])


def cdf_runs(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal ``x`` (the rule's ties) and their weighted CDF, by :func:`pmt.assign_desil`.

    Returns ``(inv, below, upto)``: the run of each household (``np.unique``'s
    inverse), and per run (ascending ``x``) the share of ``w`` strictly below it
    (the rule's ``S / T``) and at or below it (the next run's share below; 1 for
    the last). NaN shares when ``w`` sums to 0.
    """
    _, first, inv = np.unique(x, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    if not w.sum() > 0:
        nan = np.full(first.size, np.nan)
        return inv, nan, nan
    below = assign_desil(x, w).share_below[first]
    return inv, below, np.append(below[1:], 1.0)


def poorest(x: np.ndarray, pw: np.ndarray, share: float) -> np.ndarray:
    """Households in the poorest ``share`` of weight ``pw`` by ``x``: pmt's desil rule.

    In the poorest share ``H`` means: the weight strictly poorer ``S`` is below
    ``H·T``; ties are never split. The test runs in :func:`pmt.assign_desil`:
    for ``H = k/10`` as ``desil <= k`` with 10 classes, exactly what
    ``pmt.rank(..., max_desil=k)`` makes eligible; for another fraction ``k/n``
    with ``n <= 100`` (0.25, …) as ``desil <= k`` with ``n`` classes; otherwise
    as ``share_below < H`` with the rule's share below.

    Parameters
    ----------
    x : (n_households,) float64
        Welfare (true or predicted).
    pw : (n_households,) float64
        Person weights.
    share : float
        ``H``, with 0 < H < 1.

    Returns
    -------
    (n_households,) bool
    """
    k10 = round(share * 10)
    if 1 <= k10 <= 9 and k10 / 10 == share:
        return assign_desil(x, pw, n=10).desil <= k10
    frac = Fraction(share).limit_denominator(100)
    if float(frac) == share and frac.denominator >= 2:
        return assign_desil(x, pw, n=frac.denominator).desil <= frac.numerator
    return assign_desil(x, pw).share_below < share


def midrank(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mid-rank as a share: the share strictly below plus half the tie's share.

    Spearman and the percentile bins need the middle of a tie, which desil do
    not: it is the mean of the rule's share below and share at or below
    (:func:`cdf_runs`), so ties are exactly the desil rule's ties.
    """
    inv, below, upto = cdf_runs(x, w)
    return (0.5 * (below + upto))[inv]


def quantiles_by_bin(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, bins: int, qs: Sequence[int]
) -> np.ndarray:
    """Per bin ``b`` (0..bins-1), the smallest ``x`` whose weighted CDF reaches ``q/100``.

    That is the reference-cutoff rule: :func:`pmt.reference_cutoffs` with 20
    classes gives ``c_k`` at ``k/20`` for every ``q`` in ``qs`` (multiples of 5).
    Bins without weight get NaN. Returns shape (bins, len(qs)).
    """
    out = np.full((bins, len(qs)), np.nan)
    people = np.bincount(b, weights=w, minlength=bins)
    keep = people[b] > 0
    if keep.any():
        cut = reference_cutoffs(x[keep], w[keep], groups=b[keep], n=20)
        cols = [q // 5 - 1 for q in qs]
        for g, c in cut.items():
            out[int(g)] = c[cols]
    return out


def thin(*arrays: np.ndarray, points: int = 1000) -> tuple[np.ndarray, ...]:
    """Keep at most ``points`` evenly spaced entries (first and last always kept)."""
    n = arrays[0].shape[0]
    if n <= points:
        return arrays
    keep = np.unique(np.linspace(0, n - 1, points).round().astype(np.int64))
    return tuple(a[keep] for a in arrays)
