"""Native inputs and outputs: every accepted table type ranks as the numpy-backed DataFrame does.

The reference is a pandas DataFrame with numpy dtypes; every other form of the
same table (nullable and Arrow dtypes, pyarrow Table / RecordBatch /
RecordBatchReader, polars DataFrame / LazyFrame, an Arrow C stream) must give
the same welfare, desil, rank, share, eligibility, ids and rejects.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import pmt
from pmt import errors as E

pl = pytest.importorskip("polars")

ARRAYS = (
    "welfare",
    "desil_national",
    "desil_provincial",
    "rank_national",
    "rank_provincial",
    "share_below_national",
    "share_below_provincial",
    "eligible",
    "person_weight",
    "model",
    "province",
)


@pytest.fixture(scope="module")
def ws() -> pmt.WeightSet:
    return pmt.load_weights("demo")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """400 synthetic households with text ids (leading zeros) and a few broken rows."""
    hh = pmt.synth.registry(400, seed=21)
    hh["hh_id"] = [f"{i:06d}" for i in range(len(hh))]
    hh.loc[[3, 50], "urban"] = 2  # out of range
    hh["floor_area"] = hh["floor_area"].astype("float64")
    hh.loc[[7, 120], "floor_area"] = np.nan  # missing
    return hh


class _Stream:
    """An object that only exports the Arrow C stream interface."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.table.__arrow_c_stream__(requested_schema)


def _arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def _with_views(table: pa.Table, names: list[str]) -> pa.Table:
    """``table`` with the columns ``names`` as Arrow string_view (text numbers for variables)."""
    for name in names:
        i = table.column_names.index(name)
        text = [None if v is None else str(v) for v in table.column(i).to_pylist()]
        table = table.set_column(i, name, pa.array(text, type=pa.string_view()))
    return table


FORMS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "pandas nullable": lambda df: df.convert_dtypes(),
    "pandas arrow": lambda df: df.convert_dtypes(dtype_backend="pyarrow"),
    "pyarrow Table": _arrow,
    "pyarrow chunked Table": lambda df: pa.concat_tables([_arrow(df[:150]), _arrow(df[150:])]),
    "pyarrow RecordBatch": lambda df: _arrow(df).combine_chunks().to_batches()[0],
    "pyarrow RecordBatchReader": lambda df: pa.RecordBatchReader.from_batches(
        _arrow(df).schema, _arrow(df).to_batches(max_chunksize=128)
    ),
    "polars DataFrame": lambda df: pl.from_pandas(df),
    "polars LazyFrame": lambda df: pl.from_pandas(df).lazy().with_columns(extra=pl.lit(1)),
    "polars categorical and text": lambda df: pl.from_pandas(df).with_columns(
        pl.col("tenure").cast(pl.String).cast(pl.Categorical),
        pl.col("land_title").cast(pl.String),
    ),
    "arrow C stream": lambda df: _Stream(_arrow(df)),
    "arrow string_view": lambda df: _with_views(_arrow(df), ["hh_id", "land_title"]),
}


def _same(result: pmt.RankResult, ref: pmt.RankResult) -> None:
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(result, name), getattr(ref, name), err_msg=name)
    got_ids = [str(i) for i in np.asarray(result.ids, dtype=object)]
    assert got_ids == [str(i) for i in np.asarray(ref.ids, dtype=object)]
    np.testing.assert_array_equal(result.rows, ref.rows)
    cols = ["row", "hh_id", "column", "rule"]
    pd.testing.assert_frame_equal(
        result.rejects[cols].astype(str), ref.rejects[cols].astype(str), check_dtype=False
    )
    assert result.provenance == ref.provenance


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_ranks_as_numpy_pandas(
    form: str, frame: pd.DataFrame, ws: pmt.WeightSet
) -> None:
    ref = pmt.rank(frame, ws, on_invalid="reject")
    assert (
        ref.n_rejected == 4 and ref.n_households == len(frame) - 4
    )  # the test data do break rules
    _same(pmt.rank(FORMS[form](frame), ws, on_invalid="reject"), ref)


@pytest.mark.parametrize("form", ["polars DataFrame", "polars LazyFrame", "pyarrow Table"])
def test_score_of_other_forms(form: str, frame: pd.DataFrame, ws: pmt.WeightSet) -> None:
    good = frame.drop(index=[3, 50, 7, 120]).reset_index(drop=True)
    welfare = pmt.score(FORMS[form](good), ws)
    pd.testing.assert_series_equal(welfare, pmt.score(good, ws))


@pytest.mark.parametrize("form", ["polars DataFrame", "pyarrow RecordBatchReader"])
def test_raise_mode_names_the_same_rows(form: str, frame: pd.DataFrame, ws: pmt.WeightSet) -> None:
    with pytest.raises(E.InputError) as want:
        pmt.rank(frame, ws)
    with pytest.raises(type(want.value)) as got:
        pmt.rank(FORMS[form](frame), ws)
    assert got.value.column == want.value.column == "urban"
    assert [int(r) for r in np.asarray(got.value.rows)] == [3, 50]
    assert [int(r) for r in np.asarray(want.value.rows)] == [3, 50]


def test_lazyframe_missing_column_is_named(frame: pd.DataFrame, ws: pmt.WeightSet) -> None:
    lazy = pl.from_pandas(frame.drop(columns=["hh_size"])).lazy()
    with pytest.raises(E.MissingColumnError) as err:
        pmt.rank(lazy, ws)
    assert err.value.column == "hh_size"


@pytest.mark.parametrize("bad", [[1, 2, 3], {"hh_id": [1]}, np.zeros((3, 4)), "households.csv"])
def test_other_types_name_the_accepted_ones(bad: Any, ws: pmt.WeightSet) -> None:
    with pytest.raises(TypeError) as err:
        pmt.rank(bad, ws)
    text = str(err.value)
    for name in ("pandas DataFrame", "pyarrow Table", "RecordBatchReader", "polars DataFrame"):
        assert name in text
    assert type(bad).__name__ in text
    assert "Fix:" in text


# --------------------------------------------------------------------------- outputs


@pytest.fixture(scope="module")
def ranked(frame: pd.DataFrame, ws: pmt.WeightSet) -> pmt.RankResult:
    return pmt.rank(frame, ws, on_invalid="reject")


def test_to_arrow_holds_to_frame(ranked: pmt.RankResult) -> None:
    table = ranked.to_arrow()
    want = ranked.to_frame()
    assert table.column_names == list(want.columns)
    assert table.num_rows == len(want) == ranked.n_households
    got = table.to_pandas()
    for name in want.columns:
        assert got[name].astype(str).tolist() == want[name].astype(str).tolist(), name
    assert json.loads(table.schema.metadata[b"pmt"]) == json.loads(
        json.dumps(ranked.provenance, default=str)
    )
    assert table.schema.field("desil_national").type == pa.int8()
    assert table.schema.field("rank_national").type == pa.int32()
    assert table.schema.field("eligible").type == pa.bool_()
    assert pa.types.is_dictionary(table.schema.field("model_key").type)


def test_to_arrow_shares_numbers_and_keeps_arrow_ids(
    frame: pd.DataFrame, ws: pmt.WeightSet
) -> None:
    res = pmt.rank(_arrow(frame), ws, on_invalid="reject")
    table = res.to_arrow()
    id_type = table.schema.field("hh_id").type
    assert pa.types.is_string(id_type) or pa.types.is_large_string(id_type)
    assert table.column("hh_id").to_pylist() == [f"{i:06d}" for i in res.rows]
    welfare = table.column("welfare").chunk(0).to_numpy()
    assert np.shares_memory(welfare, res.welfare)


def test_to_polars_holds_to_frame(ranked: pmt.RankResult) -> None:
    got = ranked.to_polars()
    want = ranked.to_frame()
    assert isinstance(got, pl.DataFrame)
    assert got.columns == list(want.columns)
    for name in want.columns:
        assert [str(v) for v in got[name].to_list()] == want[name].astype(str).tolist(), name
    assert got["desil_national"].dtype == pl.Int8


def test_to_polars_without_polars_names_the_extra(
    ranked: pmt.RankResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars -> ImportError
    with pytest.raises(ImportError, match=r'pip install "pmt\[polars\]"'):
        ranked.to_polars()


def test_pmt_io_is_reachable_after_import_pmt() -> None:
    code = "import pmt; print(pmt.io.rank_file.__name__, pmt.io.read_households.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["rank_file", "read_households"]
    assert "io" in pmt.__all__ and "io" in dir(pmt)


def test_cell_tables_do_not_keep_weight_sets_alive(tiny_ws):
    """A weight set no longer used elsewhere is freed with its table of resolved cells.

    Encoding keeps each weight set's resolved cells in a weak mapping, so a service that
    loads many sets, or a cross-validation that builds one per fold, does not accumulate them.
    """
    import gc
    import weakref

    from conftest import make_households

    from pmt.encode import _CELL_TABLES, encode

    ws = pmt.WeightSet(
        manifest=tiny_ws.manifest,
        model_keys=tiny_ws.model_keys,
        coefficients=tiny_ws.coefficients.copy(),
        poverty_lines=dict(tiny_ws.poverty_lines),
        cutoffs={k: v.copy() for k, v in tiny_ws.cutoffs.items()},
    )
    encode(make_households(50, seed=1), ws)
    assert ws in _CELL_TABLES
    gone = weakref.ref(ws)
    del ws
    gc.collect()
    assert gone() is None


# --------------------------------------------------------------------------- files


def _assert_no_id(text: str, frame: pd.DataFrame) -> None:
    for value in frame["hh_id"].head(20):
        assert f"'{value}'" not in text and f"({value})" not in text


@pytest.mark.parametrize("how", ["a second copy", "another column renamed", "a column pmt ignores"])
def test_a_csv_header_that_names_a_column_twice_is_refused(
    how: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    hh = frame.copy()
    if how == "a second copy":  # other values than the first: which one to score is a guess
        hh["copy"], name = 1 + hh["floor_material"] % 5, "floor_material"
    elif how == "another column renamed":
        name = "floor_material"
    else:
        hh["note"], hh["copy"], name = "a", "b", "note"
    path = tmp_path / "dup.csv"
    hh.to_csv(path, index=False)
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0].split(",")
    header[-1 if how != "another column renamed" else header.index("wall_material")] = name
    if how != "another column renamed":
        header[-1] += "\n"
    path.write_text(",".join(header) + "".join(lines[1:]))
    with pytest.raises(E.DuplicateColumnError) as err:
        pmt.io.read_households(path)
    text = str(err.value)
    assert err.value.column == name and f"columns [{name!r}]" in text
    assert str(path) in text and "more than once in the header" in text
    assert "Fix: rename or drop the copies in the file" in text
    _assert_no_id(text, frame)


def test_a_csv_header_with_empty_names_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "trailing.csv"
    path.write_text("hh_id,hh_size,,\n001,4,,\n")  # trailing commas: unnamed, not duplicated
    got = pmt.io.read_households(path)
    assert got["hh_id"].tolist() == ["001"] and len(got.columns) == 4


def _file_bytes(kind: str, frame: pd.DataFrame, tmp_path: Path) -> bytes:
    """A valid household file of ``kind`` (``csv``, ``parquet`` or ``dta``), as bytes."""
    path = tmp_path / f"valid.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_stata(path, write_index=False)
    return path.read_bytes()


#: name: (the file's bytes from a valid file's, the error, words of its message)
UNREADABLE: dict[str, tuple[Callable[[bytes], bytes], type[Exception], list[str]]] = {
    "empty.csv": (lambda b: b"", E.EmptyInputError, ["is empty (0 bytes", "Fix: check the step"]),
    "blank.csv": (lambda b: b"\n\n\n", E.EmptyInputError, ["no header", "Fix: check the step"]),
    "ragged.csv": (
        lambda b: b"hh_id,hh_size\n1,2\n3,4,5\n",
        E.InvalidFileError,
        ["not a valid CSV file", "Expected 2 fields in line 3", "Fix: check that the file"],
    ),
    "latin1.csv": (
        lambda b: b.replace(b"hh_id", b"hh_\xefd", 1),
        E.InvalidFileError,
        ["not a valid CSV file", "UTF-8", "Fix: check that the file"],
    ),
    "empty.parquet": (lambda b: b"", E.EmptyInputError, ["is empty (0 bytes", "Fix:"]),
    "garbage.parquet": (
        lambda b: b"no Parquet here",
        E.InvalidFileError,
        ["not a valid Parquet file", "Fix: check that the file is a complete Parquet file"],
    ),
    "truncated.parquet": (
        lambda b: b[: len(b) // 2],
        E.InvalidFileError,
        ["not a valid Parquet file", "write it again"],
    ),
    "corrupt.parquet": (  # a valid footer, page headers overwritten
        lambda b: b[:4] + bytes(2000) + b[2004:],
        E.InvalidFileError,
        ["not a valid Parquet file", "write it again"],
    ),
    "text.parquet": (
        lambda b: b"hh_id,hh_size\n1,2\n",
        E.InvalidFileError,
        ["not a valid Parquet file", "that format's extension (.csv, .dta, .parquet, .pq)"],
    ),
    "empty.dta": (lambda b: b"", E.EmptyInputError, ["is empty (0 bytes", "Fix:"]),
    "garbage.dta": (lambda b: b"no Stata here", E.InvalidFileError, ["not a valid Stata file"]),
    "truncated.dta": (
        lambda b: b[: len(b) // 2],
        E.InvalidFileError,
        ["not a valid Stata file", "Fix: check that the file is a complete Stata .dta file"],
    ),
    "text.dta": (
        lambda b: b"hh_id,hh_size\n1,2\n" * 20,
        E.InvalidFileError,
        ["not a valid Stata file", "Fix:"],
    ),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_a_file_that_cannot_be_read_names_the_file_and_the_fix(
    name: str, frame: pd.DataFrame, ws: pmt.WeightSet, tmp_path: Path
) -> None:
    make, error, words = UNREADABLE[name]
    kind = name.rsplit(".", 1)[1]
    path = tmp_path / name
    path.write_bytes(make(_file_bytes(kind, frame, tmp_path)))
    readers: list[Callable[[], object]] = [lambda: pmt.io.read_households(path)]
    if kind == "parquet":  # streamed too (pmt rank with Parquet in and out)
        readers.append(lambda: pmt.io.rank_file(path, ws, tmp_path / "o.parquet"))
    for read in readers:
        with pytest.raises(error) as err:
            read()
        assert type(err.value) is error
        text = str(err.value)
        assert text.startswith(f"{path}: ") and "Fix:" in text
        for word in words:
            assert word in text, (word, text)
        if isinstance(err.value, E.InvalidFileError):
            assert err.value.path == str(path) and "(rule: " in text
        _assert_no_id(text, frame)
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("name", ["nothere.csv", "nothere.parquet", "folder.csv", "folder.parquet"])
def test_a_missing_file_or_a_folder_names_it_and_the_fix(
    name: str, ws: pmt.WeightSet, tmp_path: Path
) -> None:
    path = tmp_path / name
    error: type[Exception] = FileNotFoundError
    if name.startswith("folder"):
        path.mkdir()
        error = IsADirectoryError
    readers: list[Callable[[], object]] = [lambda: pmt.io.read_households(path)]
    if path.suffix == ".parquet":
        readers.append(lambda: pmt.io.rank_file(path, ws, tmp_path / "o.parquet"))
    for read in readers:
        with pytest.raises(error) as err:
            read()
        text = str(err.value)
        assert text.startswith(f"{path}: ") and "Fix: " in text, text


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".dta"])
def test_columns_asked_for_that_the_file_lacks_are_named(suffix: str, tmp_path: Path) -> None:
    hh = pmt.synth.registry(20, seed=1)
    path = tmp_path / f"hh{suffix}"
    {".csv": lambda: hh.to_csv(path, index=False), ".parquet": lambda: hh.to_parquet(path),
     ".dta": lambda: hh.to_stata(path, write_index=False)}[suffix]()  # fmt: skip
    assert pmt.io.read_households(path, columns=["hh_id", "hh_size"]).shape == (20, 2)
    with pytest.raises(pmt.errors.MissingColumnError) as err:
        pmt.io.read_households(path, columns=["hh_id", "nope"])
    assert err.value.column == "nope"
    assert str(err.value).startswith(f"{path}: no column ['nope'] in the file")
