"""Desil without ranks (pmt.desil_only, pmt.selection): bit for bit the full path.

The cutoffs come from weighted selection over welfare buckets; these tests
compare them and the desil with :func:`pmt.assign_desil` /
:func:`pmt.reference_cutoffs` (the full sort and walk) and, on small inputs,
with the rule's O(n^2) definition in ``tests/naive.py``. ``PER_BUCKET`` is
lowered so that small inputs already spread over many buckets.
"""

from __future__ import annotations

import itertools

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pmt
from pmt._kernels import select as KS
from pmt.errors import ArgumentError
from pmt.selection import desil_only


def _same(welfare, weight, groups=None, n=10, *, selected=True):
    got = desil_only(welfare, weight, groups=groups, n=n)
    full = pmt.assign_desil(welfare, weight, groups=groups, n=n)
    ref = pmt.reference_cutoffs(welfare, weight, groups=groups, n=n)
    assert got.selected is selected
    np.testing.assert_array_equal(got.desil, full.desil)
    assert got.desil.dtype == full.desil.dtype
    assert got.cutoffs.keys() == ref.keys()
    for label, cut in ref.items():  # equal values (a tie of -0.0 and 0.0 may give either)
        np.testing.assert_array_equal(got.cutoffs[label], cut, err_msg=str(label))
    return got


def test_exhaustive_small(monkeypatch):
    """Every welfare pattern over 3 values, with weights 0, 1 or 3, up to 3 households.

    One household per bucket, so the cutoffs are selected across buckets.
    """
    monkeypatch.setattr(KS, "PER_BUCKET", 1)
    values = (-1.0, 0.0, 2.5)
    cases = [
        (w, p, n)
        for size in range(1, 4)
        for w in itertools.product(values, repeat=size)
        for p in itertools.product((0.0, 1.0, 3.0), repeat=size)
        for n in ((3, 10) if size < 3 else (4,))
    ]
    for w, p, n in cases:
        if sum(p) == 0:
            continue
        got = desil_only(w, p, n=n)
        assert got.selected
        expect, _, _ = naive.desil(w, p, n=n)
        np.testing.assert_array_equal(got.desil, expect, err_msg=f"{w} {p} n={n}")


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(1, 300),
    distinct=st.integers(1, 40),
    max_weight=st.integers(1, 9),
    n_groups=st.integers(1, 4),
    n=st.sampled_from([2, 4, 10, 50]),
    seed=st.integers(0, 2**32 - 1),
)
def test_heavy_ties_match_full_path(size, distinct, max_weight, n_groups, n, seed):
    rng = np.random.default_rng(seed)
    default = KS.PER_BUCKET
    KS.PER_BUCKET = int(rng.choice([2, 7, 1024]))
    try:
        w = rng.choice(rng.normal(size=distinct), size=size)
        p = rng.integers(0, max_weight + 1, size=size).astype(float)
        g = rng.integers(0, n_groups, size=size)
        for label in np.unique(g):  # every group needs weight
            p[np.flatnonzero(g == label)[0]] += 1
        _same(w, p, n=n)
        _same(w, p, groups=g, n=n)
        expect, _, _ = naive.desil_by_runs(w, p, g, n=n)
        np.testing.assert_array_equal(desil_only(w, p, groups=g, n=n).desil, expect)
    finally:
        KS.PER_BUCKET = default


@pytest.mark.parametrize("shape", ["normal", "skewed", "ties", "two-values"])
def test_many_buckets(shape):
    """100,000 households: about 100 buckets, the cutoffs selected inside a few."""
    rng = np.random.default_rng(7)
    size = 100_000
    w = {
        "normal": rng.normal(size=size),
        "skewed": np.exp(rng.normal(size=size) * 3),
        "ties": np.round(rng.normal(size=size), 1),
        "two-values": rng.choice([-1.0, 1.0], size=size),
    }[shape]
    p = rng.integers(1, 12, size=size).astype(float)
    g = rng.choice(["31", "32", "33", "94"], size=size)
    _same(w, p)
    _same(w, p, groups=g)
    _same(w, None, groups=g, n=100)


def test_fractional_weights_take_the_full_path():
    rng = np.random.default_rng(3)
    w = np.round(rng.normal(size=5000), 2)
    p = rng.uniform(0.1, 3.0, size=5000)
    _same(w, p, selected=False)
    _same(w, p, groups=rng.integers(0, 3, size=5000), selected=False)


def test_total_at_the_bound_takes_the_full_path():
    """Whole numbers summing to 2**53: partial sums may round, so no selection."""
    w = np.arange(10.0)
    p = np.full(10, 2.0**53 / 10 // 1)
    p[0] += 2.0**53 - p.sum()
    assert p.sum() == 2.0**53
    _same(w, p, selected=False)


def test_given_cutoffs_as_assign_desil():
    rng = np.random.default_rng(5)
    w = rng.normal(size=3000)
    g = rng.choice(["a", "b"], size=3000)
    cut = pmt.reference_cutoffs(rng.normal(size=500), groups=rng.choice(["a", "b"], size=500))
    got = desil_only(w, groups=g, cutoffs=cut)
    np.testing.assert_array_equal(got.desil, pmt.assign_desil(w, groups=g, cutoffs=cut).desil)
    assert all(np.array_equal(got.cutoffs[k], cut[k]) for k in cut)


def test_zero_weight_households():
    w = [0.5, -0.2, 0.5, 0.1, 0.3]
    p = [0, 3, 0, 1, 2]
    _same(w, p, n=4)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "part"),
    [
        (([0.0, np.nan],), {}, ArgumentError, "welfare must be finite"),
        (([0.0, 1.0], [1.0, -1.0]), {}, ArgumentError, "person_weight must be finite and >= 0"),
        (([0.0, 1.0], [0.0, 0.0]), {}, ArgumentError, "sum to 0"),
        (([0.0, 1.0],), {"n": 1}, ArgumentError, "n (number of classes)"),
        ((["a", "b"],), {}, TypeError, "welfare must be an array of numbers"),
    ],
)
def test_bad_input_as_assign_desil(args, kwargs, error, part):
    with pytest.raises(error, match=part.replace("(", r"\(").replace(")", r"\)")):
        desil_only(*args, **kwargs)
