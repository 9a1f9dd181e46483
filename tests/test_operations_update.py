"""Updates between adoptions and transitions.

Pinned: update + re-adoption equals ranking the changed registry from
scratch; unchanged households keep their adopted desil; transitions'
contributions come from the one scorer and sum to the welfare change; bad
change files get typed errors or rejects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import SPEC, make_households, tiny_weight_set
from hypothesis import given, settings
from hypothesis import strategies as st

import pmt
from pmt.errors import (
    DuplicateIdError,
    HouseholdSizeError,
    MissingColumnError,
    RegionSchemeError,
)
from pmt.operations import (
    ChangeFileError,
    Snapshot,
    SnapshotMismatchError,
    UnknownIdError,
    adopt,
)
from pmt.operations.transitions import transitions
from pmt.operations.update import apply_changes, update
from pmt.weights import WeightSet


@pytest.fixture(scope="module")
def registry() -> pd.DataFrame:
    return make_households(1200, 7, tie_frac=0.1)


@pytest.fixture(scope="module")
def adopted(tiny_ws: WeightSet, registry: pd.DataFrame) -> pmt.RankResult:
    return pmt.rank(registry, tiny_ws)


@pytest.fixture(scope="module")
def snapshot(adopted: pmt.RankResult) -> Snapshot:
    return adopt(adopted, label="2026-S1", date="2026-01-31")


def change_file(
    registry: pd.DataFrame, n_remove: int, n_change: int, n_add: int, seed: int
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(registry["hh_id"].to_numpy())
    removed, changed = ids[:n_remove], ids[n_remove : n_remove + n_change]
    fresh = make_households(max(n_change, 1), seed + 1, tie_frac=0.0)[:n_change].copy()
    fresh["hh_id"] = changed
    new = make_households(max(n_add, 1), seed + 2, id_start=10**6)[:n_add]
    gone = registry.set_index("hh_id").loc[removed].reset_index()
    parts = [
        gone.assign(action="remove"),
        fresh.assign(action="change"),
        new.assign(action="add"),
    ]
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)


def expected_registry(registry: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """The changed registry, built by plain dictionary logic (not by the code under test)."""
    rows = {int(r["hh_id"]): r for _, r in registry.iterrows()}
    for _, r in changes.iterrows():
        if r["action"] == "remove":
            del rows[int(r["hh_id"])]
        else:
            rows[int(r["hh_id"])] = r.drop("action")
    out = pd.DataFrame(list(rows.values()))[registry.columns]
    return out.astype(registry.dtypes.to_dict()).reset_index(drop=True)


def by_id(res: pmt.RankResult) -> pd.DataFrame:
    f = res.to_frame()
    return f.assign(hh_id=f["hh_id"].astype(np.int64)).set_index("hh_id").sort_index()


@settings(max_examples=5, deadline=None)
@given(
    n_remove=st.integers(0, 30),
    n_change=st.integers(0, 30),
    n_add=st.integers(0, 30),
    seed=st.integers(0, 2**16),
)
def test_update_then_readopt_equals_ranking_from_scratch(
    tiny_ws: WeightSet,
    registry: pd.DataFrame,
    adopted: pmt.RankResult,
    snapshot: Snapshot,
    n_remove: int,
    n_change: int,
    n_add: int,
    seed: int,
) -> None:
    changes = change_file(registry, n_remove, n_change, n_add, seed)
    upd = update(registry, changes, tiny_ws, snapshot)
    assert (upd.added, upd.changed, upd.removed) == (n_add, n_change, n_remove)
    assert len(upd.registry) == len(registry) - n_remove + n_add
    # re-adoption (a full re-rank of the updated registry) == ranking the changed registry
    readopted = by_id(pmt.rank(upd.registry, tiny_ws))
    scratch = by_id(pmt.rank(expected_registry(registry, changes), tiny_ws))
    pd.testing.assert_frame_equal(readopted, scratch, check_categorical=False)
    # between adoptions: every desil is the adopted cutoffs' ...
    assert upd.result is not None
    got = by_id(upd.result)
    nat = pmt.assign_desil(got["welfare"], cutoffs=snapshot.cutoffs["national"]).desil
    assert np.array_equal(got["desil_national"].to_numpy(), nat)
    # ... so a household that did not change keeps the desil it was adopted with
    before = by_id(adopted)
    touched = set(changes["hh_id"].tolist())
    same = [i for i in before.index if i not in touched]
    assert (got.loc[same, "desil_national"] == before.loc[same, "desil_national"]).all()
    assert (got.loc[same, "desil_provincial"] == before.loc[same, "desil_provincial"]).all()


def test_transitions_contributions_sum_to_the_welfare_change(
    tiny_ws: WeightSet, registry: pd.DataFrame, adopted: pmt.RankResult, snapshot: Snapshot
) -> None:
    changes = change_file(registry, 10, 60, 10, seed=3)
    upd = update(registry, changes, tiny_ws, snapshot)
    assert upd.result is not None
    tr = transitions(
        adopted,
        upd.result,
        weights=tiny_ws,
        before_households=registry,
        after_households=upd.registry,
    )
    t = tr.table
    assert set(t.index[t["status"] == "added"]) == {
        str(i) for i in changes.loc[changes["action"] == "add", "hh_id"]
    }
    assert set(t.index[t["status"] == "removed"]) == {
        str(i) for i in changes.loc[changes["action"] == "remove", "hh_id"]
    }
    moved = t[t["status"] == "moved"]
    assert len(moved) > 0
    assert (
        (moved["desil_before"] != moved["desil_after"])
        | (moved["desil_provincial_before"] != moved["desil_provincial_after"])
        | (moved["eligible_before"] != moved["eligible_after"])
    ).all()
    sums = tr.contributions.groupby("id")["contribution"].sum()
    np.testing.assert_allclose(
        sums.reindex(moved.index).to_numpy(), moved["welfare_change"].to_numpy(), rtol=0, atol=1e-12
    )
    # the matrix counts every household of either ranking, cell by cell
    b = {
        str(i): int(d) for i, d in zip(np.asarray(adopted.ids), adopted.desil_national, strict=True)
    }
    a = {
        str(i): int(d)
        for i, d in zip(np.asarray(upd.result.ids), upd.result.desil_national, strict=True)
    }
    cells: dict[tuple[str, str], int] = {}
    for i in set(a) | set(b):
        key = (str(b[i]) if i in b else "new", str(a[i]) if i in a else "removed")
        cells[key] = cells.get(key, 0) + 1
    for (r, c), count in cells.items():
        assert tr.matrix.loc[r, c] == count
    assert tr.matrix.to_numpy().sum() == len(set(a) | set(b))
    summary = tr.summary()["households"]
    assert summary.sum() == len(t) and summary.loc[("added", "-")] == 10
    up = int((moved["desil_after"] > moved["desil_before"]).sum())
    assert summary.get(("moved", "up"), 0) == up


def test_one_changed_variable_contributes_its_coefficient_difference(
    tiny_ws: WeightSet, registry: pd.DataFrame, adopted: pmt.RankResult, snapshot: Snapshot
) -> None:
    """Only the changed variable's term moves, by the difference of its two coefficients."""
    var = next(v for v in SPEC.lookup_variables if v.name == "floor_material")
    row = registry.iloc[[5]].copy()
    old = int(row["floor_material"].iloc[0])
    new_code = next(c for c in var.code_values if c != old)
    row["floor_material"] = new_code
    changes = row.assign(action="change")
    upd = update(registry, changes, tiny_ws, snapshot)
    assert upd.result is not None
    after = upd.registry
    tr = transitions(
        pmt.rank(registry, tiny_ws, cutoffs=snapshot),
        pmt.rank(after, tiny_ws, cutoffs=snapshot),
        weights=tiny_ws,
        before_households=registry,
        after_households=after,
    )
    hid = str(row["hh_id"].iloc[0])
    c = tr.contributions[tr.contributions["id"] == hid]
    if hid in tr.table.index:  # the household moved: its one contribution is the coefficient gap
        assert c["term"].tolist() == ["floor_material"]
        model = adopted.model[5]
        terms = list(tiny_ws.spec.terms)
        gap = (
            tiny_ws.coefficients[model, terms.index(f"floor_material={new_code}")]
            - tiny_ws.coefficients[model, terms.index(f"floor_material={old}")]
        )
        assert c["contribution"].iloc[0] == pytest.approx(gap, abs=1e-12)
    # welfare change from the two rankings equals the coefficient gap in any case
    w0 = adopted.welfare[5]
    w1 = by_id(upd.result).loc[int(hid), "welfare"]
    terms = list(tiny_ws.spec.terms)
    model = adopted.model[5]
    gap = (
        tiny_ws.coefficients[model, terms.index(f"floor_material={new_code}")]
        - tiny_ws.coefficients[model, terms.index(f"floor_material={old}")]
    )
    assert w1 - w0 == pytest.approx(gap, abs=1e-12)


def test_bad_change_files(tiny_ws: WeightSet, registry: pd.DataFrame, snapshot: Snapshot) -> None:
    good = change_file(registry, 2, 2, 2, seed=5).reset_index(drop=True)
    cases: list[tuple[Any, type[Exception], str]] = []
    unknown = good.copy()
    unknown.loc[unknown["action"] == "change", "hh_id"] = [10**7, 10**7 + 1]
    cases.append((unknown, UnknownIdError, "must be in the registry"))
    dup = good.copy()
    dup.loc[1, "hh_id"] = dup.loc[0, "hh_id"]
    cases.append((dup, DuplicateIdError, "once in a change file"))
    exists = good.copy()
    exists.loc[exists["action"] == "add", "hh_id"] = registry["hh_id"].iloc[:2].to_numpy()
    cases.append((exists, DuplicateIdError, "must not be in the registry"))
    act = good.copy()
    act.loc[0, "action"] = "update"
    cases.append((act, ChangeFileError, "action must be one of"))
    size = good.copy()
    size.loc[size["action"] == "add", "hh_size"] = 0
    cases.append((size, HouseholdSizeError, "hh_size"))
    for changes, error, text in cases:
        with pytest.raises(error, match=text) as err:
            apply_changes(registry, changes, tiny_ws)
        for hid in changes["hh_id"]:  # never echo an id
            assert f" {hid} " not in str(err.value) and f"'{hid}'" not in str(err.value)
        out = apply_changes(registry, changes, tiny_ws, on_invalid="reject")
        assert len(out.rejects) == 2 if error is not ChangeFileError else len(out.rejects) == 1
        assert out.added + out.changed + out.removed + len(out.rejects) == len(changes)
        assert out.rejects["row"].between(0, len(changes) - 1).all()
    with pytest.raises(MissingColumnError, match="'action'"):
        apply_changes(registry, good.drop(columns="action"), tiny_ws)
    with pytest.raises(SnapshotMismatchError, match="allow_other_weights"):
        update(registry, good, tiny_weight_set(seed=5, name="other"), snapshot)
    with pytest.raises(RegionSchemeError, match="Kemendagri"):
        update(registry, good, tiny_ws, snapshot, region_scheme="Kemendagri")


def test_ids_as_text_take_the_registry_type(
    tiny_ws: WeightSet, registry: pd.DataFrame, snapshot: Snapshot
) -> None:
    """A change file read from CSV holds text ids; the updated registry keeps whole numbers."""
    changes = change_file(registry, 2, 2, 2, seed=9)
    as_text = changes.assign(hh_id=changes["hh_id"].astype(str))
    a = update(registry, as_text, tiny_ws, snapshot)
    b = update(registry, changes, tiny_ws, snapshot)
    assert a.registry["hh_id"].dtype == registry["hh_id"].dtype
    pd.testing.assert_frame_equal(a.registry, b.registry)
    bad = as_text.copy()
    bad.loc[bad["action"] == "add", "hh_id"] = ["A1", "A2"]
    with pytest.raises(ChangeFileError, match="must be one"):
        apply_changes(registry, bad, tiny_ws)
    # a text registry: new rows keep text ids
    text_reg = registry.assign(hh_id=registry["hh_id"].astype(str).str.zfill(8))
    new = make_households(2, 77, id_start=5 * 10**6).assign(action="add")
    out = apply_changes(text_reg, new.assign(hh_id=["x1", "x2"]), tiny_ws)
    assert out.registry["hh_id"].tolist()[-2:] == ["x1", "x2"]
    assert out.registry["hh_id"].tolist()[:3] == text_reg["hh_id"].tolist()[:3]


def shifted(registry: pd.DataFrame) -> pd.DataFrame:
    """The registry with ids that no row position or count can be mistaken for."""
    return registry.assign(hh_id=registry["hh_id"] + 7_000_000)


def assert_no_ids(message: str, ids: Any) -> None:
    for hid in pd.Series(ids).astype(str):
        assert hid not in message


def test_raise_names_the_change_file_row_after_removals(
    tiny_ws: WeightSet, registry: pd.DataFrame, snapshot: Snapshot
) -> None:
    """Removals before a bad added row: raise and reject both name its change-file row."""
    reg = shifted(registry)
    gone = reg.iloc[:4].assign(action="remove")
    new = make_households(5, 31, id_start=8_000_000).assign(action="add")
    changes = pd.concat([gone, new, reg.iloc[10:12].assign(action="remove")], ignore_index=True)
    changes.loc[7, "hh_size"] = 0  # change-file row 7, the 4th added row
    with pytest.raises(HouseholdSizeError, match=r"'hh_size'.*row 7 \(0\)") as err:
        apply_changes(reg, changes, tiny_ws)
    assert err.value.rows == (7,) and err.value.column == "hh_size"
    assert_no_ids(str(err.value), changes["hh_id"])
    with pytest.raises(HouseholdSizeError, match=r"row 7 \(0\)"):
        update(reg, changes, tiny_ws, snapshot)
    out = apply_changes(reg, changes, tiny_ws, on_invalid="reject")
    assert out.rejects["row"].tolist() == [7]
    # every added row broken: still the change file's rows
    changes.loc[4:8, "hh_size"] = 0
    with pytest.raises(
        HouseholdSizeError, match=r"rows 4 \(0\), 5 \(0\), 6 \(0\), 7 \(0\), 8 \(0\)"
    ) as err:
        apply_changes(reg, changes, tiny_ws)
    assert err.value.rows == (4, 5, 6, 7, 8)
    assert_no_ids(str(err.value), changes["hh_id"])


def test_encode_names_picked_rows_by_their_positions(tiny_ws: WeightSet) -> None:
    """``row_offset`` as an array: each row's position in the larger input, everywhere."""
    hh = make_households(6, 32, id_start=9_000_000)
    hh.loc[4, "hh_size"] = 0
    picked = np.array([2, 5, 11, 12, 20, 30])
    with pytest.raises(HouseholdSizeError, match=r"the 6 rows checked.*row 20 \(0\)") as err:
        pmt.encode.encode(hh, tiny_ws, row_offset=picked)
    assert err.value.rows == (20,)
    enc = pmt.encode.encode(hh, tiny_ws, row_offset=picked, on_invalid="reject")
    assert enc.rejects["row"].tolist() == [20]
    assert enc.rows.tolist() == [2, 5, 11, 12, 30]


def test_duplicate_registry_ids_are_refused(
    tiny_ws: WeightSet, registry: pd.DataFrame, snapshot: Snapshot
) -> None:
    reg = shifted(registry)
    doubled = pd.concat([reg, reg.iloc[[3]]], ignore_index=True)
    changes = reg.iloc[:2].assign(action="remove")
    calls = (
        lambda: apply_changes(doubled, changes, tiny_ws),
        lambda: update(doubled, changes, tiny_ws, snapshot),
    )
    for call in calls:
        with pytest.raises(DuplicateIdError, match="registry, column 'hh_id'") as err:
            call()
        message = str(err.value)
        assert "rows 3, 1200" in message and "Fix:" in message
        assert err.value.rows == (3, 1200)
        assert_no_ids(message, doubled["hh_id"].iloc[[3]])


def test_transitions_check_the_household_tables(
    tiny_ws: WeightSet, registry: pd.DataFrame, adopted: pmt.RankResult, snapshot: Snapshot
) -> None:
    """Contributions only from the tables behind the rankings: else a typed error."""
    changes = change_file(registry, 10, 60, 10, seed=3)
    upd = update(registry, changes, tiny_ws, snapshot)
    assert upd.result is not None
    after = upd.result

    def run(before_hh: pd.DataFrame, after_hh: pd.DataFrame) -> None:
        transitions(
            adopted, after, weights=tiny_ws, before_households=before_hh, after_households=after_hh
        )

    with pytest.raises(pmt.errors.ArgumentError, match=r"^before_households: .*Fix:") as err:
        run(upd.registry, registry)  # swapped
    assert err.value.argument == "before_households"
    assert "households that moved score to another welfare" in str(err.value)
    unrelated = make_households(1200, 99)
    with pytest.raises(pmt.errors.ArgumentError, match=r"^after_households: ") as err:
        run(registry, unrelated)
    assert err.value.argument == "after_households"
    with pytest.raises(pmt.errors.ArgumentError, match=r"^after_households: .* not in this table"):
        run(registry, upd.registry.iloc[::2])
    doubled = pd.concat([upd.registry, upd.registry.iloc[[3]]], ignore_index=True)
    with pytest.raises(DuplicateIdError, match=r"^after_households, column 'hh_id'.*Fix:"):
        run(registry, doubled)
    with pytest.raises(DuplicateIdError, match=r"^before_households, column 'hh_id'"):
        run(pd.concat([registry, registry.iloc[[0]]]), upd.registry)
    with pytest.raises(pmt.errors.ArgumentError, match=r"same number of classes.*Fix:") as err:
        transitions(adopted, pmt.rank(registry, tiny_ws, n=5))
    assert err.value.argument == "after"


def test_update_that_removes_every_household(
    tiny_ws: WeightSet, registry: pd.DataFrame, snapshot: Snapshot
) -> None:
    everyone = registry.assign(action="remove")
    assert len(apply_changes(registry, everyone, tiny_ws).registry) == 0  # not ranked: fine
    with pytest.raises(
        pmt.errors.EmptyInputError, match="updated registry has no households"
    ) as err:
        update(registry, everyone, tiny_ws, snapshot)
    assert "1,200 removed" in str(err.value) and "Fix:" in str(err.value)
    assert "filter" not in str(err.value)
