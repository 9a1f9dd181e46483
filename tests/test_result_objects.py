"""Every result object: summary() a DataFrame, to_frame() a DataFrame, a one-line repr, HTML."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import pmt


@pytest.fixture(scope="module")
def results():  # type: ignore[no-untyped-def]
    ws = pmt.load_weights("demo")
    hh = pmt.synth.registry(3000, seed=5)
    before = pmt.rank(hh, ws)
    snap = pmt.adopt(before, label="2026-S1", date=dt.date(2026, 1, 31))
    changes = hh.iloc[:40].copy()
    changes["hh_size"] = changes["hh_size"] + 1  # one more member: welfare moves
    changes["action"] = "change"
    upd = pmt.operations.update(hh, changes, ws, snap)
    assert upd.result is not None
    moved = pmt.transitions(before, upd.result)
    alloc = pmt.allocate(before, quota=500)
    return {
        "RankResult": before,
        "Snapshot": snap,
        "Update": upd,
        "Transitions": moved,
        "Allocation": alloc,
        "DesilResult": pmt.assign_desil(before.welfare, before.person_weight),
    }


@pytest.mark.parametrize(
    "name", ["RankResult", "Snapshot", "Update", "Transitions", "Allocation", "DesilResult"]
)
def test_result_object_protocol(results, name):
    obj = results[name]
    assert type(obj).__name__ == name
    summary, frame = obj.summary(), obj.to_frame()
    assert isinstance(summary, pd.DataFrame) and len(summary) > 0
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    text = repr(obj)
    assert "\n" not in text and text.startswith(f"<{name}")
    html = obj._repr_html_()
    assert html.startswith("<p><code>") and "<table" in html


def test_update_summary_counts_the_change_rows(results):
    upd = results["Update"]
    assert upd.summary()["rows"].to_dict() == {
        "added": 0,
        "changed": 40,
        "removed": 0,
        "rejected": 0,
    }


def test_snapshot_frame_is_its_cutoffs(results):
    snap = results["Snapshot"]
    frame = snap.to_frame()
    assert frame.index[0] == "national" and list(frame.columns) == [f"c{k}" for k in range(1, 10)]
    for scope, row in frame.iterrows():
        assert row.to_numpy().tolist() == list(snap.cutoffs[scope])
