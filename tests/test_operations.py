"""Adopted rankings: adopt, save, load, tamper evidence, and ranking against a snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_households, tiny_weight_set
from hypothesis import given, settings
from hypothesis import strategies as st

import pmt
from pmt.errors import ArgumentError
from pmt.operations import (
    Snapshot,
    SnapshotError,
    SnapshotMismatchError,
    adopt,
    load_snapshot,
)
from pmt.weights import WeightSet


@pytest.fixture(scope="module")
def registry() -> pd.DataFrame:
    return make_households(1200, 7, tie_frac=0.1)


@pytest.fixture(scope="module")
def ranked(tiny_ws: WeightSet, registry: pd.DataFrame) -> pmt.RankResult:
    return pmt.rank(registry, tiny_ws)


@pytest.fixture(scope="module")
def saved(ranked: pmt.RankResult, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    snap = adopt(ranked, label="2026-S1", date="2026-01-31")
    return snap.save(tmp_path_factory.mktemp("snap") / "2026-S1")


def test_adopt_records_the_ranking(ranked: pmt.RankResult, saved: Snapshot) -> None:
    assert saved.weights_hash == ranked.weights_hash and saved.weights_id == ranked.weights_id
    assert saved.label == "2026-S1" and str(saved.date) == "2026-01-31"
    assert saved.manifest.households == ranked.n_households and saved.n_classes == 10
    assert set(saved.cutoffs) == set(ranked.registry_cutoffs)
    for scope, c in ranked.registry_cutoffs.items():
        assert np.array_equal(saved.cutoffs[scope], c)  # bit for bit through the CSV
    # counts per desil: an independent tally of the result's arrays
    nat = np.bincount(ranked.desil_national, minlength=11)[1:]
    assert saved.counts.loc["national", "households"].tolist() == nat.tolist()
    people = np.bincount(ranked.desil_national, weights=ranked.person_weight, minlength=11)[1:]
    assert np.allclose(saved.counts.loc["national", "people"].to_numpy(), people)
    for p in np.unique(ranked.province).tolist():
        mine = ranked.desil_provincial[ranked.province == p]
        got = saved.counts.loc[f"{p:02d}", "households"].tolist()
        assert got == np.bincount(mine, minlength=11)[1:].tolist()


def test_save_load_round_trip(ranked: pmt.RankResult, saved: Snapshot, tmp_path: Path) -> None:
    fresh = adopt(ranked, label="2026-S1", date="2026-01-31")
    assert fresh.content_hash == saved.content_hash  # in memory == on disk
    again = load_snapshot(saved.path)  # type: ignore[arg-type]
    assert again.content_hash == saved.content_hash
    assert again.counts.equals(saved.counts)
    # re-saving over an existing snapshot folder replaces it, same hash
    target = tmp_path / "s"
    first = fresh.save(target)
    other = adopt(ranked, label="2026-S2", date="2026-07-31").save(target)
    assert other.label == "2026-S2" and first.content_hash != other.content_hash
    names = sorted(p.name for p in target.iterdir())
    assert names == ["counts.csv", "cutoffs.csv", "snapshot.json"]


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_rank_against_snapshot_gives_adopted_desil(
    tiny_ws: WeightSet,
    registry: pd.DataFrame,
    ranked: pmt.RankResult,
    saved: Snapshot,
    data: st.DataObject,
) -> None:
    """Any subset, in any order, ranked against the snapshot gets the desil it was adopted with."""
    size = data.draw(st.integers(1, 40))
    pos = np.array(data.draw(st.permutations(range(len(registry))))[:size])
    res = pmt.rank(registry.iloc[pos], tiny_ws, cutoffs=saved)
    assert res.cutoff_mode == "given"
    assert res.provenance["snapshot"] == {
        "label": "2026-S1",
        "date": "2026-01-31",
        "content_hash": saved.content_hash,
    }
    assert np.array_equal(res.desil_national, ranked.desil_national[pos])
    assert np.array_equal(res.desil_provincial, ranked.desil_provincial[pos])
    assert np.array_equal(res.eligible, ranked.eligible[pos])


def test_snapshot_rule_carries_over(
    tiny_ws: WeightSet, registry: pd.DataFrame, tmp_path: Path
) -> None:
    res = pmt.rank(registry, tiny_ws, max_desil=5)
    snap = adopt(res, label="pbi", date="2026-02-01").save(tmp_path / "pbi")
    again = pmt.rank(registry.iloc[:50], tiny_ws, cutoffs=snap)
    assert again.max_desil == 5 and np.array_equal(again.eligible, again.desil_national <= 5)
    override = pmt.rank(registry.iloc[:50], tiny_ws, cutoffs=snap, max_desil=2)
    assert np.array_equal(override.eligible, override.desil_national <= 2)
    lined = pmt.rank(registry, tiny_ws, line=0.1)
    snap_line = adopt(lined, label="line", date="2026-02-01").save(tmp_path / "line")
    assert snap_line.manifest.line == 0.1 and snap_line.manifest.max_desil is None
    again = pmt.rank(registry.iloc[:80], tiny_ws, cutoffs=snap_line)
    assert again.line == 0.1 and np.array_equal(again.eligible, again.welfare <= 0.1)


def test_other_weight_set_is_refused(registry: pd.DataFrame, saved: Snapshot) -> None:
    other = tiny_weight_set(seed=99, name="other")
    with pytest.raises(SnapshotMismatchError) as err:
        pmt.rank(registry.iloc[:5], other, cutoffs=saved)
    msg = str(err.value)
    assert "tiny@0.1" in msg and "other@0.1" in msg and "allow_other_weights=True" in msg
    assert err.value.argument == "cutoffs" and isinstance(err.value, ValueError)
    res = pmt.rank(registry.iloc[:5], other, cutoffs=saved, allow_other_weights=True)
    assert res.n_households == 5
    with pytest.raises(SnapshotMismatchError, match="n: snapshot '2026-S1' has 10 classes"):
        pmt.rank(registry.iloc[:5], saved_weights(saved), cutoffs=saved, n=5)


def saved_weights(snap: Snapshot) -> WeightSet:
    return tiny_weight_set()  # the fixture's set: the same content hash as the snapshot's


def test_province_missing_from_snapshot(tiny_ws: WeightSet, saved: Snapshot) -> None:
    new = make_households(3, 1, districts=(1801,))  # Lampung: not in the adopted registry
    with pytest.raises(ArgumentError, match=r"no cutoffs for provinces \['18'\]"):
        pmt.rank(new, tiny_ws, cutoffs=saved)


def test_tampering_is_detected(saved: Snapshot, tmp_path: Path) -> None:
    folder = tmp_path / "t"
    saved.save(folder)
    path = folder / "cutoffs.csv"
    lines = path.read_text().split("\n")
    cells = lines[1].split(",")
    cells[4] = repr(float(cells[4]) + 0.01)
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines))
    with pytest.raises(SnapshotError) as err:
        load_snapshot(folder)
    assert "cutoffs.csv: changed since the snapshot was saved" in str(err.value)
    assert "counts.csv" not in str(err.value)
    edited = load_snapshot(folder, verify_hash=False)
    assert edited.content_hash != saved.content_hash
    # a manifest field edited
    folder2 = tmp_path / "t2"
    saved.save(folder2)
    meta = json.loads((folder2 / "snapshot.json").read_text())
    meta["max_desil"] = 5
    (folder2 / "snapshot.json").write_text(json.dumps(meta))
    with pytest.raises(SnapshotError, match="a field of the manifest was edited"):
        load_snapshot(folder2)


def test_malformed_snapshot_files(saved: Snapshot, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    saved.save(folder)
    (folder / "snapshot.json").write_text('{"label": "x", "label": "y"}')
    with pytest.raises(SnapshotError, match="appears twice"):
        load_snapshot(folder)
    with pytest.raises(SnapshotError, match="not a snapshot folder"):
        load_snapshot(tmp_path)


def test_adopt_checks_its_arguments(
    tiny_ws_ref: WeightSet, registry: pd.DataFrame, ranked: pmt.RankResult, tmp_path: Path
) -> None:
    with pytest.raises(ArgumentError, match="label must be") as err:
        adopt(ranked, label="", date="2026-01-01")
    assert err.value.argument == "label"
    with pytest.raises(ArgumentError, match="date must be") as err:
        adopt(ranked, label="a", date="31/01/2026")
    assert err.value.argument == "date"
    with pytest.raises(TypeError, match=r"pmt\.RankResult"):
        adopt("x", label="a", date="2026-01-01")  # type: ignore[arg-type]
    ref = pmt.rank(registry, tiny_ws_ref, cutoffs="reference")
    with pytest.raises(ArgumentError, match="needs the cutoffs it used"):
        adopt(ref, label="a", date="2026-01-01")
    snap = adopt(ref, label="a", date="2026-01-01", cutoffs=tiny_ws_ref)
    assert snap.manifest.cutoff_mode == "reference"
    # cutoffs that do not reproduce the ranking are refused
    shifted = {k: v + 0.05 for k, v in ranked.registry_cutoffs.items()}
    with pytest.raises(ArgumentError, match="do not give the ranking's national desil"):
        adopt(ranked, label="a", date="2026-01-01", cutoffs=shifted)
    empty = pmt.rank(registry.iloc[:3].assign(hh_size=0), tiny_ws_ref, on_invalid="reject")
    with pytest.raises(ArgumentError, match="no household was ranked"):
        adopt(empty, label="a", date="2026-01-01")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a snapshot"):
        snap.save(tmp_path / "busy")
