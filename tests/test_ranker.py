"""pmt.Ranker: repeated rankings that reuse their buffers, bit for bit pmt.rank."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import make_households
from hypothesis import given, settings
from hypothesis import strategies as st

import pmt
from pmt.errors import ArgumentError
from pmt.ranker import Workspace

pytestmark = pytest.mark.filterwarnings("ignore::pmt.errors.SmallPopulationWarning")

ARRAYS = (
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


def _snapshot(res: pmt.RankResult) -> dict:
    """Copies of what a result holds (a Ranker's next call overwrites its arrays)."""
    out: dict[str, Any] = {name: np.array(getattr(res, name), copy=True) for name in ARRAYS}
    out["ids"] = np.array(res.ids, copy=True)
    out["rejects"] = res.rejects.copy()
    out["cutoffs"] = {k: v.copy() for k, v in res.registry_cutoffs.items()}
    return out


def _assert_same(got: dict, want: pmt.RankResult) -> None:
    for name in ARRAYS:
        a, b = got[name], np.asarray(getattr(want, name))
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    np.testing.assert_array_equal(got["ids"], np.asarray(want.ids))
    pd.testing.assert_frame_equal(got["rejects"], want.rejects)
    assert got["cutoffs"].keys() == want.registry_cutoffs.keys()
    for k, v in want.registry_cutoffs.items():
        assert v.tobytes() == got["cutoffs"][k].tobytes(), k


def _table(size: int, seed: int, *, ties: float, bad: int) -> pd.DataFrame:
    df = make_households(size, seed, tie_frac=ties)
    if bad:
        rows = np.random.default_rng(seed).choice(size, size=min(bad, size - 20), replace=False)
        df.loc[df.index[rows], "hh_size"] = 0  # a rejectable row error
    return df


@settings(max_examples=6, deadline=None)
@given(
    sizes=st.lists(st.integers(20, 1500), min_size=2, max_size=4),
    ties=st.sampled_from([0.0, 0.5]),
    bad=st.integers(0, 5),
    seed=st.integers(0, 10_000),
)
def test_repeated_calls_match_rank(tiny_ws, sizes, ties, bad, seed):
    """Sizes growing and shrinking, ties and rejects: every call is pmt.rank's result."""
    ranker = pmt.Ranker(tiny_ws, on_invalid="reject")
    for i, size in enumerate(sizes):
        df = _table(size, seed + i, ties=ties, bad=bad)
        got = _snapshot(ranker.rank(df))
        _assert_same(got, pmt.rank(df, tiny_ws, on_invalid="reject"))


def test_buffers_are_reused_and_grow_only_for_a_larger_table(tiny_ws):
    ranker = pmt.Ranker(tiny_ws)
    first = ranker.rank(make_households(800, 1))
    held = dict(ranker.workspace._buffers)
    assert {"work", "order", "welfare", "desil_national"} <= held.keys()
    assert np.shares_memory(first.desil_national, held["desil_national"])
    smaller = ranker.rank(make_households(300, 2))
    assert all(ranker.workspace._buffers[k] is v for k, v in held.items())
    # the first result's arrays were the ranker's: the second call wrote over them
    assert np.shares_memory(first.welfare, smaller.welfare)
    ranker.rank(make_households(1200, 3))
    assert ranker.workspace._buffers["work"] is not held["work"]
    assert ranker.workspace._buffers["work"].nbytes >= 1200 * 24


def test_capacity_sizes_the_buffers_and_fresh_outputs(tiny_ws):
    ranker = pmt.Ranker(tiny_ws, capacity=2000, keep_outputs=False)
    df = make_households(500, 4)
    a = ranker.rank(df)
    b = ranker.rank(df)
    assert ranker.workspace._buffers["work"].nbytes == 2000 * 24
    assert "desil_national" not in ranker.workspace._buffers
    assert not np.shares_memory(a.desil_national, b.desil_national)
    _assert_same(_snapshot(a), pmt.rank(df, tiny_ws))


@pytest.mark.parametrize(
    "options",
    [
        {"max_desil": 3},
        {"line": 0.1, "n": 5},
        {"weighting": "household"},
        {"cutoffs": "reference"},
        {"weight": "survey_weight"},
    ],
)
def test_options_and_desil_without_ranks(tiny_ws_ref, options):
    df = make_households(1500, 5, tie_frac=0.3)
    df["survey_weight"] = np.random.default_rng(5).uniform(0.5, 2.0, len(df))
    ranker = pmt.Ranker(tiny_ws_ref, **options)
    want = pmt.rank(df, tiny_ws_ref, **options)
    _assert_same(_snapshot(ranker.rank(df)), want)
    d = ranker.desil(df)
    assert d.selected is ("weight" not in options)  # fractional weights: the full path
    for got, name in [
        (d.welfare, "welfare"),
        (d.desil_national, "desil_national"),
        (d.desil_provincial, "desil_provincial"),
        (d.eligible, "eligible"),
        (d.rows, "rows"),
    ]:
        assert got.tobytes() == np.asarray(getattr(want, name)).tobytes(), name
    for k, v in want.registry_cutoffs.items():
        np.testing.assert_array_equal(d.registry_cutoffs[k], v)


def test_one_call_at_a_time(tiny_ws):
    ranker = pmt.Ranker(tiny_ws)
    df = make_households(50, 6)
    ranker._busy.acquire()  # as if another thread were inside a call
    try:
        with pytest.raises(ArgumentError, match="one Ranker per thread"):
            ranker.rank(df)
        with pytest.raises(ArgumentError, match="already ranking in another thread"):
            ranker.desil(df)
    finally:
        ranker._busy.release()
    results = []

    def work(ranker: pmt.Ranker) -> None:
        results.append(_snapshot(ranker.rank(df)))

    threads = [threading.Thread(target=work, args=(pmt.Ranker(tiny_ws),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = pmt.rank(df, tiny_ws)
    for got in results:
        _assert_same(got, want)


@pytest.mark.parametrize("capacity", [-1, 2.5, True, "10"])
def test_bad_capacity(tiny_ws, capacity):
    with pytest.raises(ArgumentError, match="capacity must be a whole number"):
        pmt.Ranker(tiny_ws, capacity=capacity)
    with pytest.raises(ArgumentError, match="capacity must be a whole number"):
        Workspace(capacity)


def test_bad_options_are_refused_up_front(tiny_ws):
    with pytest.raises(ArgumentError, match="give max_desil or line, not both"):
        pmt.Ranker(tiny_ws, max_desil=3, line=0.0)


@pytest.mark.parametrize("extra_cell", [False, True])
def test_cell_scopes_are_the_gathers_and_groups_of_the_codes(extra_cell: bool) -> None:
    """One pass over the cells gives what a gather each and a count of the codes give.

    With an extra cell in a province no household is in (a cell table the
    encoder does not make, but an Encoded may carry), the groups still come
    from the households.
    """
    from dataclasses import replace

    from pmt.encode import encode
    from pmt.rank import _cell_scopes, _province_groups

    ws = pmt.load_weights("demo")
    enc = encode(make_households(3000, seed=11), ws)
    if extra_cell:
        enc = replace(
            enc,
            cell_district=np.append(enc.cell_district, 9999),  # province 99: nobody there
            cell_model=np.append(enc.cell_model, 0).astype(np.int32),
        )
    for space in (None, Workspace()):
        model, province, (counts, provinces, group) = _cell_scopes(enc, space)
        assert model is not None
        np.testing.assert_array_equal(model, enc.cell_model[enc.cell])
        np.testing.assert_array_equal(province, (enc.cell_district // 100)[enc.cell])
        want = _province_groups((enc.cell_district // 100)[enc.cell].astype(np.int8))
        assert 99 not in provinces.tolist()
        for got, expected in zip((counts, provinces, group), want, strict=True):
            np.testing.assert_array_equal(got, expected)
