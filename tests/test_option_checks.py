"""Options that break their rule: an :class:`pmt.errors.ArgumentError` naming the option.

The id column may not take a name that pmt writes beside it (a result column,
a rejects-table column, ``p_desil_k``): the table would hold two columns of
that name (unreadable as Parquet) or lose the ids or the row positions. Every
path refuses it before reading data: :func:`pmt.rank`, :class:`pmt.Ranker`,
:func:`pmt.encode.encode`, :func:`pmt.io.rank_file`, the change-file update
and the command line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import make_households

import pmt
from pmt.encode import encode
from pmt.errors import ArgumentError
from pmt.operations.update import apply_changes
from pmt.options import OUTPUT_COLUMNS

ID0 = 3171000000000000


def households(id_name: str = "hh_id") -> pd.DataFrame:
    df = make_households(300, seed=11, boundary_frac=0.0, districts=(3171, 3201))
    df[id_name] = ID0 + np.arange(len(df))
    return df


def _names(tiny_ws: pmt.WeightSet) -> list[str]:
    """Every column :meth:`RankResult.to_frame` and the rejects table write besides the id."""
    bad = households().assign(hh_size=0).head(2)
    res = pmt.rank(pd.concat([households(), bad]), tiny_ws, on_invalid="reject")
    return [*res.to_frame().columns[1:], *res.rejects.columns.drop("hh_id")]


def test_every_column_pmt_writes_is_reserved(tiny_ws: pmt.WeightSet) -> None:
    names = _names(tiny_ws)
    assert {"welfare", "eligible", "row", "rule", "value", "column"} <= set(names)
    assert set(names) <= OUTPUT_COLUMNS


@pytest.mark.parametrize(
    "name", ["welfare", "desil_national", "eligible", "person_weight", "row", "rule", "value",
             "column", "size", "selected", "uncertainty", "p_eligible", "p_desil_1", "p_desil_10"],
)  # fmt: skip
def test_an_id_column_named_like_an_output_is_refused(tiny_ws: pmt.WeightSet, name: str) -> None:
    df = households(name).drop(columns="hh_id")
    calls = {
        "rank": lambda: pmt.rank(df, tiny_ws, id_col=name, on_invalid="reject"),
        "Ranker": lambda: pmt.Ranker(tiny_ws, id_col=name),
        "encode": lambda: encode(df, tiny_ws, id_col=name),
        "apply_changes": lambda: apply_changes(
            df, df.head(0).assign(action=[]), tiny_ws, id_col=name
        ),
    }
    for what, call in calls.items():
        with pytest.raises(ArgumentError, match=rf"may not be called '{name}'") as info:
            call()
        assert info.value.argument == "id_col", what
        assert "Fix: rename the id column" in str(info.value), what
        assert str(ID0) not in str(info.value), what


def test_other_id_names_still_work(tiny_ws: pmt.WeightSet) -> None:
    df = households("nik").drop(columns="hh_id")
    df.loc[3, "hh_size"] = 0
    res = pmt.rank(df, tiny_ws, id_col="nik", on_invalid="reject")
    assert res.to_frame().columns[0] == "nik"
    assert res.rejects.columns.tolist() == ["row", "nik", "column", "rule", "value"]
    assert res.rejects["row"].tolist() == [3]
    assert res.rejects["nik"].tolist() == [ID0 + 3]


def test_rank_file_refuses_the_id_name_before_reading(
    tmp_path: Path, tiny_ws: pmt.WeightSet
) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(ArgumentError, match="may not be called 'welfare'") as info:
        pmt.io.rank_file(tmp_path / "no such file.parquet", tiny_ws, out, id_col="welfare")
    assert info.value.argument == "id_col"
    assert not out.exists()


def test_command_line_names_the_option_and_keeps_the_old_output(
    tmp_path: Path, weights_dir: Path, tiny_ws: pmt.WeightSet
) -> None:
    src = tmp_path / "in.parquet"
    households("welfare").drop(columns="hh_id").to_parquet(src)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"the old result")
    proc = subprocess.run(
        [sys.executable, "-m", "pmt.cli", "rank", str(src), "--weights", str(weights_dir / "tiny"),
         "--id-col", "welfare", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--id-col" in proc.stderr and "may not be called 'welfare'" in proc.stderr
    assert out.read_bytes() == b"the old result"


def test_on_invalid_and_region_scheme_are_argument_errors(tiny_ws: pmt.WeightSet) -> None:
    df = households()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"on_invalid": "drop"}, "on_invalid", "must be 'raise' or 'reject'"),
        ({"region_scheme": "bps"}, "region_scheme", "region scheme must be one of"),
    ]
    for kwargs, argument, text in cases:
        for call in (pmt.rank, encode):
            with pytest.raises(ArgumentError, match=text) as info:
                call(df, tiny_ws, **kwargs)
            assert info.value.argument == argument


def test_rank_file_checks_on_invalid_before_reading(tmp_path: Path, tiny_ws: pmt.WeightSet) -> None:
    with pytest.raises(ArgumentError, match="must be 'raise' or 'reject'") as info:
        pmt.io.rank_file(tmp_path / "no file.parquet", tiny_ws, tmp_path / "o.parquet",
                         on_invalid="drop")  # type: ignore[arg-type]  # fmt: skip
    assert info.value.argument == "on_invalid"


def test_a_bad_cutoff_array_is_shown_on_one_line() -> None:
    cutoffs = np.arange(12.0).reshape(3, 4)
    with pytest.raises(ArgumentError, match="9 finite, non-decreasing numbers") as info:
        pmt.assign_desil(np.arange(100.0), cutoffs=cutoffs)
    text = str(info.value)
    assert "\n" not in text and "got [[0.0, 1.0, 2.0, 3.0], [4.0," in text
