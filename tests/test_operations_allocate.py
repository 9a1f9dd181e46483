"""allocate: quotas sum exactly, tie groups are never split, row order does not matter."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import make_households
from hypothesis import given, settings
from hypothesis import strategies as st

import pmt
from pmt.errors import ArgumentError
from pmt.operations.allocate import allocate, largest_remainder
from pmt.weights import WeightSet

PER_HOUSEHOLD = (
    "welfare",
    "model",
    "province",
    "desil_national",
    "desil_provincial",
    "rank_national",
    "rank_provincial",
    "share_below_national",
    "share_below_provincial",
    "eligible",
    "person_weight",
    "rows",
)


@pytest.fixture(scope="module")
def ranked(tiny_ws_ref: WeightSet) -> pmt.RankResult:
    hh = make_households(400, 11, tie_frac=0.4)
    return pmt.rank(hh, tiny_ws_ref, cutoffs="reference")


def permuted(res: pmt.RankResult, perm: np.ndarray) -> pmt.RankResult:
    """The same ranking with its households in another order (ids and index follow)."""
    arrays = {name: getattr(res, name)[perm] for name in PER_HOUSEHOLD}
    return dataclasses.replace(res, ids=np.asarray(res.ids)[perm], index=res.index[perm], **arrays)


def reference_fill(
    res: pmt.RankResult,
    members: np.ndarray,
    rank: np.ndarray,
    size: np.ndarray,
    quota: float,
    ties: str,
) -> set[int]:
    """A slow, plain reading of the rule: whole tie groups, poorest first, then the boundary."""
    chosen: set[int] = set()
    total = 0.0
    for r in sorted(set(rank[members].tolist())):
        group = [int(i) for i in members if rank[i] == r]
        g = float(sum(sorted(size[group].tolist())))
        if total + g <= quota:
            chosen |= set(group)
            total += g
            continue
        over, short = total + g - quota, quota - total
        if ties == "include" or (ties == "nearest" and over <= short):
            chosen |= set(group)
        break
    return chosen


def sizes(res: pmt.RankResult, unit: str, benefit: float, per: str) -> np.ndarray:
    if unit == "households":
        return np.ones(res.n_households)
    if unit == "people":
        return res.person_weight.astype(float)
    return benefit * (res.person_weight if per == "person" else np.ones(res.n_households))


@settings(max_examples=25, deadline=None)
@given(
    unit=st.sampled_from(["households", "people", "budget"]),
    per=st.sampled_from(["household", "person"]),
    ties=st.sampled_from(["exclude", "include", "nearest"]),
    share=st.floats(0.0, 1.1),
    within=st.sampled_from([None, 3, 10]),
    seed=st.integers(0, 2**32 - 1),
)
def test_national_quota_matches_the_plain_rule_and_row_order(
    ranked: pmt.RankResult,
    unit: Any,
    per: Any,
    ties: Any,
    share: float,
    within: int | None,
    seed: int,
) -> None:
    benefit = 150_000.5
    size = sizes(ranked, unit, benefit, per)
    quota = float(round(share * size.sum()))
    kw: dict[str, Any] = {"benefit": benefit, "per": per} if unit == "budget" else {}
    a = allocate(ranked, quota=quota, unit=unit, ties=ties, within_desil=within, **kw)
    members: np.ndarray = np.arange(ranked.n_households)
    if within is not None:
        members = members[ranked.desil_national <= within]
    want = reference_fill(ranked, members, ranked.rank_national, size, quota, ties)
    assert set(np.flatnonzero(a.selected).tolist()) == want
    row = a.scopes.loc["national"]
    total = float(size[a.selected].sum())
    assert math.isclose(row["total"], total, rel_tol=1e-12)
    if ties == "exclude":
        assert row["total"] <= quota and row["overshoot"] == 0
    if row["boundary"] == "none":
        assert a.selected[members].all() or members.size == 0
    assert row["overshoot"] - row["shortfall"] == pytest.approx(row["total"] - quota)
    # never a richer household before a poorer one, never a split tie
    sel, out = a.selected[members], ~a.selected[members]
    w = ranked.welfare[members]
    if sel.any() and out.any():
        assert w[sel].max() < w[out].min()
    # row order does not matter, bit for bit
    perm = np.random.default_rng(seed).permutation(ranked.n_households)
    b = allocate(
        permuted(ranked, perm), quota=quota, unit=unit, ties=ties, within_desil=within, **kw
    )
    assert np.array_equal(b.selected, a.selected[perm])
    pd.testing.assert_frame_equal(b.scopes, a.scopes)


@settings(max_examples=15, deadline=None)
@given(
    quota=st.integers(0, 400),
    unit=st.sampled_from(["households", "people"]),
    ties=st.sampled_from(["exclude", "include"]),
    share_desil=st.integers(1, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_provincial_quotas_sum_exactly_and_fill_by_provincial_rank(
    ranked: pmt.RankResult, quota: int, unit: Any, ties: Any, share_desil: int, seed: int
) -> None:
    a = allocate(
        ranked, quota=quota, unit=unit, by="provincial", share_desil=share_desil, ties=ties
    )
    q = a.scopes["quota"]
    assert q.sum() == quota and (q == q.round()).all()
    provinces = sorted({int(p) for p in ranked.province})
    people = {
        p: Fraction(
            float(
                ranked.person_weight[
                    (ranked.province == p) & (ranked.desil_national <= share_desil)
                ].sum()
            )
        )
        for p in provinces
    }
    whole = sum(people.values())
    if whole > 0:
        for p in provinces:
            exact = quota * people[p] / whole
            assert math.floor(exact) <= q[f"{p:02d}"] <= math.ceil(exact)
    size = sizes(ranked, unit, 1.0, "household")
    for p in provinces:
        members = np.flatnonzero(ranked.province == p)
        want = reference_fill(ranked, members, ranked.rank_provincial, size, q[f"{p:02d}"], ties)
        assert set(np.flatnonzero(a.selected & (ranked.province == p)).tolist()) == want
    perm = np.random.default_rng(seed).permutation(ranked.n_households)
    b = allocate(
        permuted(ranked, perm),
        quota=quota,
        unit=unit,
        by="provincial",
        share_desil=share_desil,
        ties=ties,
    )
    assert np.array_equal(b.selected, a.selected[perm])


def test_largest_remainder_by_hand() -> None:
    # 10 split 1:1:1 -> 3.33 each; one unit left; equal remainders go to the lowest key
    assert largest_remainder(10, {"52": 1.0, "11": 1.0, "31": 1.0}) == {"11": 4, "31": 3, "52": 3}
    # 7 split 5:3:2 -> 3.5, 2.1, 1.4: floors 3, 2, 1 and the unit left to the largest (.5)
    assert largest_remainder(7, {"a": 5.0, "b": 3.0, "c": 2.0}) == {"a": 4, "b": 2, "c": 1}
    assert largest_remainder(0, {"a": 1.0}) == {"a": 0}
    with pytest.raises(ArgumentError, match="whole number"):
        largest_remainder(2.5, {"a": 1.0})  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="not all 0"):
        largest_remainder(3, {"a": 0.0})


def test_a_tie_group_at_the_boundary_by_hand(ranked: pmt.RankResult) -> None:
    """Three households tie at one welfare: a quota landing inside them is in or out whole."""
    r = ranked.rank_national
    counts = pd.Series(r).value_counts()
    tied = counts[counts >= 3].index.min()  # the poorest tie group of 3 or more
    before = int((r < tied).sum())
    group = int((r == tied).sum())
    out = allocate(ranked, quota=before + 1, ties="exclude")
    inc = allocate(ranked, quota=before + 1, ties="include")
    assert out.n_selected == before and inc.n_selected == before + group
    assert out.scopes.loc["national", "shortfall"] == 1
    assert inc.scopes.loc["national", "overshoot"] == group - 1
    assert out.scopes.loc["national", "boundary_households"] == group
    near = allocate(ranked, quota=before + 1, ties="nearest")  # overshoot group-1 vs shortfall 1
    assert near.n_selected == (before + group if group - 1 <= 1 else before)


def test_given_provincial_quotas_and_budget(ranked: pmt.RankResult) -> None:
    provinces = sorted({f"{int(p):02d}" for p in ranked.province})
    given_q = dict.fromkeys(provinces, 5.0)
    a = allocate(ranked, by="provincial", provincial_quotas=given_q)
    assert (a.scopes["quota"] == 5).all() and (a.scopes["selected_households"] <= 5).all()
    b = allocate(ranked, quota=10 * 200_000.0, unit="budget", benefit=200_000.0)
    c = allocate(ranked, quota=10, unit="households")
    assert np.array_equal(b.selected, c.selected)
    frame = a.to_frame()
    assert frame["selected"].sum() == a.n_selected and list(frame.index) == list(ranked.index)


def test_bad_allocation_arguments(ranked: pmt.RankResult) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        (dict(), "quota", "quota is required"),
        (dict(quota=-1), "quota", "finite number >= 0"),
        (dict(quota=5, unit="money"), "unit", "unit must be one of"),
        (dict(quota=5, unit="budget"), "benefit", "benefit must be a finite number > 0"),
        (dict(quota=5, benefit=3.0), "benefit", "benefit is for unit='budget'"),
        (dict(quota=5, ties="split"), "ties", "ties must be one of"),
        (dict(quota=5, within_desil=11), "within_desil", "from 1 to 10"),
        (dict(quota=5.5, by="provincial"), "quota", "must be a whole number"),
        (dict(by="provincial", provincial_quotas={"31": 1}), "provincial_quotas", "missing"),
        (dict(quota=5, provincial_quotas={"31": 1}), "provincial_quotas", "by='provincial'"),
        (dict(quota=2.5), "quota", "quota of households must be a whole number"),
        (dict(quota=2.5, unit="people", by="provincial"), "quota", "must be a whole number"),
    ]
    provinces = sorted({f"{int(p):02d}" for p in ranked.province})
    half = {p: 2.5 if i == 0 else 2.0 for i, p in enumerate(provinces)}
    key = f"provincial_quotas[{provinces[0]!r}]"
    cases.append((dict(by="provincial", provincial_quotas=half), key, "must be a whole number"))
    for kw, argument, text in cases:
        with pytest.raises(ArgumentError, match=text) as err:
            allocate(ranked, **kw)
        assert err.value.argument == argument, kw
        assert "Fix:" in str(err.value), kw


def test_only_household_quotas_must_be_whole(ranked: pmt.RankResult) -> None:
    """A budget or a number of people may be fractional; a number of households may not."""
    budget = allocate(ranked, quota=1_000_000.5, unit="budget", benefit=200_000.0)
    assert budget.scopes.loc["national", "quota"] == 1_000_000.5 and budget.n_selected == 5
    people = allocate(ranked, quota=20.5, unit="people")
    assert people.scopes.loc["national", "quota"] == 20.5
    provinces = sorted({f"{int(p):02d}" for p in ranked.province})
    given = allocate(
        ranked,
        by="provincial",
        unit="budget",
        benefit=1.0,
        provincial_quotas=dict.fromkeys(provinces, 2.5),
    )
    assert (given.scopes["quota"] == 2.5).all()
    assert allocate(ranked, quota=7.0).n_selected <= 7  # a whole float is a whole number
