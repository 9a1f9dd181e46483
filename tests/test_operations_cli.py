"""The registry-operation commands, run as the command line runs them, against the library."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import make_households

import pmt
from pmt import cli

DISTRICTS = (3171, 3172, 3173, 3201, 3204, 3273)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibrated weight set (with residual variances), a registry and a change file."""
    root = tmp_path_factory.mktemp("ops-cli")
    survey = pmt.synth.survey(3000, seed=1, heterogeneity=0.0, provinces=[31, 32])
    assert isinstance(survey, pd.DataFrame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pmt.errors.CalibrationWarning)
        ws = pmt.calibrate(survey, pooling="fallback", on_collinear="drop").weights
    pmt.save_weights(ws, root / "ws")
    reg = make_households(1500, 3, districts=DISTRICTS)
    reg.to_csv(root / "registry.csv", index=False)
    changed = make_households(5, 4, districts=DISTRICTS)
    changed["hh_id"] = reg["hh_id"].iloc[:5].to_numpy()
    new = make_households(4, 5, districts=DISTRICTS, id_start=10**6)
    changes = pd.concat(
        [
            changed.assign(action="change"),
            new.assign(action="add"),
            reg.iloc[[10, 11]].assign(action="remove"),
        ]
    )
    changes.to_csv(root / "changes.csv", index=False)
    bad = changes.copy()
    bad.loc[bad["action"] == "remove", "hh_id"] = [9_999_998, 9_999_999]
    bad.to_csv(root / "bad-changes.csv", index=False)
    return root


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_adoption_cycle_on_the_command_line(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    ws_args = ["--snapshot", "snap", "--weights", "ws"]
    code, out, _ = run(
        [
            "adopt", "registry.csv", "--weights", "ws", "--label", "2026-S1",
            "--date", "2026-01-31", "--out", "snap", "--ranked", "ranked.parquet", "--json",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    assert doc["command"] == "adopt" and doc["format"] == "pmt-cli/1"
    # the library, on the same file, adopts the same snapshot (same content hash)
    ws = pmt.load_weights(folder / "ws")
    reg = pmt.io.read_households(folder / "registry.csv")
    lib = pmt.adopt(pmt.rank(reg, ws), label="2026-S1", date="2026-01-31")
    assert doc["summary"]["content_hash"] == lib.content_hash
    assert pmt.load_snapshot(folder / "snap").content_hash == lib.content_hash
    assert (folder / "ranked.parquet").is_file()

    code, out, _ = run(["snapshot", "show", "snap", "--json"], capsys)
    assert code == 0 and json.loads(out)["summary"]["households"] == 1500
    code, out, _ = run(["snapshot", "validate", "snap"], capsys)
    assert code == 0 and out.startswith("ok: <Snapshot '2026-S1'")
    code, out, _ = run(["snapshot", "show", "snap"], capsys)
    assert "National desil as adopted" in out

    code, out, _ = run(
        ["update", "registry.csv", "changes.csv", *ws_args, "--out", "updated.parquet",
         "--households-out", "registry-2.csv", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0
    s = json.loads(out)["summary"]
    assert (s["added"], s["changed"], s["removed"]) == (4, 5, 2)
    changes = pmt.io.read_households(folder / "changes.csv")
    want = pmt.operations.update(reg, changes, ws, lib)
    assert want.result is not None
    got = pd.read_parquet(folder / "updated.parquet")
    assert np.array_equal(got["desil_national"].to_numpy(), want.result.desil_national)

    code, out, _ = run(
        ["transitions", "registry.csv", "registry-2.csv", *ws_args, "--out", "movers.csv",
         "--matrix", "matrix.csv", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0
    t = json.loads(out)["summary"]
    assert t["added"] == 4 and t["removed"] == 2
    assert sum(sum(row.values()) for row in t["matrix"].values()) == 1500 + 4

    code, out, _ = run(
        ["allocate", "registry-2.csv", *ws_args, "--quota", "100", "--out", "alloc.csv", "--json"],
        capsys,
    )
    assert code == 0
    a = json.loads(out)["summary"]
    lib_alloc = pmt.allocate(pmt.rank(want.registry, ws, cutoffs=lib), quota=100)
    assert a["selected"] == lib_alloc.n_selected <= 100
    assert pd.read_csv(folder / "alloc.csv")["selected"].sum() == lib_alloc.n_selected

    code, out, _ = run(
        ["verify-list", "registry-2.csv", *ws_args, "--limit", "20", "--out", "verify.csv"], capsys
    )
    assert code == 0
    v = pd.read_csv(folder / "verify.csv")
    assert len(v) == 20 and (np.diff(v["uncertainty"].to_numpy()) <= 0).all()


def test_operation_errors_are_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    if not (folder / "snap").is_dir():
        run(["adopt", "registry.csv", "--weights", "ws", "--label", "a", "--date", "2026-01-31",
             "--out", "snap"], capsys)  # fmt: skip
    code, _, err = run(
        ["update", "registry.csv", "bad-changes.csv", "--snapshot", "snap", "--weights", "ws",
         "--out", "x.parquet"],
        capsys,
    )  # fmt: skip
    assert code == 2 and "UnknownIdError" in err and len(err.strip().splitlines()) == 1
    assert "9999998" not in err  # ids are never echoed
    assert not (folder / "x.parquet").exists()
    code, out, err = run(
        ["update", "registry.csv", "bad-changes.csv", "--snapshot", "snap", "--weights", "ws",
         "--out", "x.parquet", "--rejects", "rejects.csv", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0 and json.loads(out)["summary"]["rejected"] == 2
    rejects = pd.read_csv(folder / "rejects.csv")
    assert rejects["rule"].tolist() == ["unknown_id", "unknown_id"]
    code, _, err = run(
        ["update", "registry.csv", "changes.csv", "--snapshot", "snap", "--weights", "ws",
         "--out", "z.parquet", "--region-scheme", "Kemendagri"],
        capsys,
    )  # fmt: skip
    assert code == 2 and "RegionSchemeError" in err
    code, _, err = run(
        ["allocate", "registry.csv", "--snapshot", "snap", "--weights", "demo", "--quota", "5",
         "--out", "y.csv"],
        capsys,
    )  # fmt: skip
    assert code == 2 and "SnapshotMismatchError" in err and "--allow-other-weights" in err
