"""Adding an input format or a region scheme is one function or record and one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_households, tiny_weight_set

import pmt
from pmt import errors as E
from pmt.io import files
from pmt.regions import Province, RegionScheme, register_scheme, scheme


def test_a_reader_registered_in_one_line_reads_households(tmp_path: Path) -> None:
    df = make_households(30, 3)
    df.to_json(tmp_path / "hh.json", orient="records")

    def read_json(path: Path, columns: list[str] | None, id_col: str | None) -> pd.DataFrame:
        frame = pd.read_json(path, orient="records", dtype={id_col: str} if id_col else None)
        return frame if columns is None else frame[columns]

    files.READERS[".json"] = read_json
    try:
        got = pmt.io.read_households(tmp_path / "hh.json")
    finally:
        del files.READERS[".json"]
    assert got["hh_id"].tolist() == [str(i) for i in df["hh_id"]]
    pd.testing.assert_frame_equal(got.drop(columns="hh_id"), df.drop(columns="hh_id"))
    with pytest.raises(ValueError, match=r"unknown file type '\.json'"):
        pmt.io.read_households(tmp_path / "hh.json")


def test_a_registered_region_scheme_checks_districts_from_its_own_list(tmp_path: Path) -> None:
    base = scheme("BPS")
    official = frozenset({3171, 3172, 3201, 3204})  # a short official-style list
    mine = RegionScheme("BPS-test-list", "2026", dict(base.provinces), district_list=official)
    register_scheme(mine)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_scheme(mine)
        ws = tiny_weight_set(keys=("national", "31", "32"), lines={"national": 600_000.0})
        manifest = ws.manifest.model_copy(update={"region_scheme": "BPS-test-list"})
        ws = pmt.WeightSet(manifest, ws.model_keys, ws.coefficients, dict(ws.poverty_lines))
        ws = pmt.save_weights(ws, tmp_path / "ws")
        hh = make_households(40, 5, districts=(3171, 3201, 3273))
        res = pmt.rank(
            hh,
            ws,
            on_invalid="reject",
            cutoffs={"national": np.arange(9.0), "31": np.arange(9.0), "32": np.arange(9.0)},
        )
        assert set(res.rejects["rule"]) == {"unknown_region"}  # 3273 is not on the list
        assert (hh["district_code"].to_numpy()[res.rejects["row"]] == 3273).all()
    finally:
        from pmt import regions

        regions._REGISTRY.pop("BPS-test-list", None)
    with pytest.raises(E.WeightSetError, match="region scheme must be one of"):
        pmt.load_weights(tmp_path / "ws")


def test_a_scheme_with_codes_outside_its_provinces_is_refused() -> None:
    provinces = {31: Province(31, "DKI Jakarta", 1, 5)}
    with pytest.raises(ValueError, match="4 digits PPDD"):
        register_scheme(RegionScheme("bad", "x", provinces, district_list=frozenset({3201})))
    with pytest.raises(ValueError, match="4 digits PPDD"):
        register_scheme(RegionScheme("bad", "x", provinces, district_list=frozenset({3100})))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint16])
def test_known_districts_is_set_membership_for_any_code(dtype: type) -> None:
    """The one-gather path (every code in 0..9999) and the guarded one agree with a set."""
    bps = scheme("BPS")
    known = sorted(bps.districts)
    rng = np.random.default_rng(3)
    inside = np.concatenate([rng.choice(known, 500), rng.integers(0, 10_000, 500)])
    outside = np.array([-1, -9999, 10_000, 65_000, 0, 9999])
    for codes in (inside, np.concatenate([inside, outside])):
        if np.dtype(dtype).kind == "u":
            codes = codes[codes >= 0]
        codes = codes.astype(dtype)
        want = np.array([int(c) in bps.districts for c in codes.tolist()])
        np.testing.assert_array_equal(bps.known_districts(codes), want)
