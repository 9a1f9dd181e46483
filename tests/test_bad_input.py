"""Bad input (DESIGN.md "Bad input"): typed errors, rejects, corrupt weight sets.

Household ids are distinctive nine-digit numbers so that a test can tell
whether an error message echoes one (it must not).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import make_households, tiny_weight_set

import pmt
from pmt import errors as E

ID0 = 987654321
N = 24


def households() -> pd.DataFrame:
    df = make_households(N, seed=5, boundary_frac=0.0, districts=(3171, 3201, 9401, 5171))
    df["hh_id"] = ID0 + np.arange(N)
    return df


def _set(
    column: str, row: int, value: object, dtype: str | None = None
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        if dtype is not None:
            df[column] = df[column].astype(dtype)
        df.loc[row, column] = value
        return df

    return edit


def _children_plus_elderly(row: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """hh_size 3 with 2 children and 2 elderly: each count alone is fine, their sum is not."""

    def edit(df: pd.DataFrame) -> pd.DataFrame:
        for c in ("n_working", "n_disabled", "n_chronic_ill", "n_school_dropout"):
            df.loc[row, c] = 0
        df.loc[row, ["hh_size", "n_children", "n_elderly"]] = [3, 2, 2]
        return df

    return edit


def _count_over_size(row: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[
            row,
            [
                "hh_size",
                "n_children",
                "n_elderly",
                "n_working",
                "n_disabled",
                "n_chronic_ill",
                "n_school_dropout",
            ],
        ] = [2, 0, 0, 3, 0, 0, 0]
        return df

    return edit


def _text(column: str, row: int, text: str, dtype: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        col = df[column].astype(dtype)
        df[column] = col.where(df.index != row, text)
        return df

    return edit


@dataclass(frozen=True)
class Case:
    """One broken row: what to do to a clean table, and the error it must raise."""

    name: str
    edit: Callable[[pd.DataFrame], pd.DataFrame]
    error: type[E.InputError]
    column: str
    rows: tuple[int, ...]
    kwargs: tuple[tuple[str, object], ...] = ()


ROW_CASES = [
    Case(
        "text in a code column (object)",
        _text("tenure", 3, "abc", "object"),
        E.ColumnTypeError,
        "tenure",
        (3,),
    ),
    Case(
        "text in a count column (str)",
        _text("n_goat", 4, "many", "str"),
        E.ColumnTypeError,
        "n_goat",
        (4,),
    ),
    Case(
        "NaN in a continuous column",
        _set("floor_area", 4, np.nan),
        E.MissingValueError,
        "floor_area",
        (4,),
    ),
    Case(
        "inf in a continuous column",
        _set("floor_area", 5, np.inf),
        E.MissingValueError,
        "floor_area",
        (5,),
    ),
    Case(
        "-inf in a count column",
        _set("n_cattle", 5, -np.inf, "float64"),
        E.MissingValueError,
        "n_cattle",
        (5,),
    ),
    Case(
        "NaN in a code column",
        _set("water_source", 6, np.nan, "float64"),
        E.MissingValueError,
        "water_source",
        (6,),
    ),
    Case(
        "NA in a nullable integer column",
        _set("tenure", 7, pd.NA, "Int64"),
        E.MissingValueError,
        "tenure",
        (7,),
    ),
    Case(
        "None in hh_size (object)",
        _set("hh_size", 2, None, "object"),
        E.MissingValueError,
        "hh_size",
        (2,),
    ),
    Case("code outside the allowed set", _set("tenure", 8, 7), E.InvalidCodeError, "tenure", (8,)),
    Case(
        "code 0 where codes start at 1",
        _set("floor_material", 8, 0),
        E.InvalidCodeError,
        "floor_material",
        (8,),
    ),
    Case("binary 2", _set("has_ac", 9, 2), E.InvalidCodeError, "has_ac", (9,)),
    Case("negative code", _set("power_va", 9, -1), E.InvalidCodeError, "power_va", (9,)),
    Case("non-whole code", _set("tenure", 10, 1.5, "float64"), E.InvalidCodeError, "tenure", (10,)),
    Case("hh_size 0", _set("hh_size", 11, 0), E.HouseholdSizeError, "hh_size", (11,)),
    Case("hh_size negative", _set("hh_size", 11, -3), E.HouseholdSizeError, "hh_size", (11,)),
    Case(
        "hh_size 2.5", _set("hh_size", 12, 2.5, "float64"), E.HouseholdSizeError, "hh_size", (12,)
    ),
    Case("hh_size 500", _set("hh_size", 13, 500), E.HouseholdSizeError, "hh_size", (13,)),
    Case("count > hh_size", _count_over_size(14), E.InvalidValueError, "n_working", (14,)),
    Case(
        "n_children + n_elderly > hh_size",
        _children_plus_elderly(15),
        E.InvalidValueError,
        "n_children",
        (15,),
    ),
    Case("count above its maximum", _set("n_goat", 16, 1001), E.InvalidValueError, "n_goat", (16,)),
    Case("non-whole count", _set("n_pig", 16, 1.5, "float64"), E.InvalidValueError, "n_pig", (16,)),
    Case(
        "continuous below its minimum",
        _set("floor_area", 17, 0.5),
        E.InvalidValueError,
        "floor_area",
        (17,),
    ),
    Case("urban 2", _set("urban", 17, 2), E.InvalidValueError, "urban", (17,)),
    Case(
        "district code of 5 digits",
        _set("district_code", 18, 31710),
        E.InvalidValueError,
        "district_code",
        (18,),
    ),
    Case("duplicate hh_id", _set("hh_id", 19, ID0 + 2), E.DuplicateIdError, "hh_id", (2, 19)),
    Case(
        "missing hh_id (NA)", _set("hh_id", 20, pd.NA, "Int64"), E.MissingValueError, "hh_id", (20,)
    ),
    Case("blank hh_id", _set("hh_id", 20, "  ", "str"), E.MissingValueError, "hh_id", (20,)),
    Case(
        "missing hh_id (None)",
        _set("hh_id", 20, None, "object"),
        E.MissingValueError,
        "hh_id",
        (20,),
    ),
    Case(
        "unknown province code",
        _set("district_code", 21, 2001),
        E.UnknownRegionError,
        "district_code",
        (21,),
    ),
    Case(
        "district part 00",
        _set("district_code", 21, 3100),
        E.UnknownRegionError,
        "district_code",
        (21,),
    ),
    Case(
        "survey weight 0",
        _set("sw", 22, 0.0),
        E.InvalidValueError,
        "sw",
        (22,),
        (("weight", "sw"),),
    ),
    Case(
        "survey weight negative",
        _set("sw", 23, -2.0),
        E.InvalidValueError,
        "sw",
        (23,),
        (("weight", "sw"),),
    ),
    Case(
        "survey weight NaN",
        _set("sw", 23, np.nan),
        E.MissingValueError,
        "sw",
        (23,),
        (("weight", "sw"),),
    ),
    Case(
        "survey weight text",
        _text("sw", 1, "heavy", "object"),
        E.ColumnTypeError,
        "sw",
        (1,),
        (("weight", "sw"),),
    ),
    Case(
        "complex in a continuous column (object)",
        _set("floor_area", 17, complex(26.0, 1e6), "object"),
        E.ColumnTypeError,
        "floor_area",
        (17,),
    ),
    Case(
        "complex with no imaginary part in a count column (object)",
        _set("n_goat", 16, complex(2.0, 0.0), "object"),
        E.ColumnTypeError,
        "n_goat",
        (16,),
    ),
    Case(
        "Timestamp in a count column (object)",
        _set("n_pig", 3, pd.Timestamp("2024-01-01"), "object"),
        E.ColumnTypeError,
        "n_pig",
        (3,),
    ),
    Case(
        "whole Fraction in a code column (object)",
        _set("tenure", 8, Fraction(2, 1), "object"),
        E.ColumnTypeError,
        "tenure",
        (8,),
    ),
    Case(
        "Decimal sNaN in a continuous column (object)",
        _set("floor_area", 4, Decimal("sNaN"), "object"),
        E.MissingValueError,
        "floor_area",
        (4,),
    ),
    Case(
        "Decimal sNaN in hh_size (object)",
        _set("hh_size", 11, Decimal("-sNaN"), "object"),
        E.MissingValueError,
        "hh_size",
        (11,),
    ),
    Case(
        "text NaN in a continuous column (object)",
        _text("floor_area", 5, "NaN", "object"),
        E.MissingValueError,
        "floor_area",
        (5,),
    ),
    Case(
        "text nan in a code column (str)",
        _text("tenure", 7, " nan ", "str"),
        E.MissingValueError,
        "tenure",
        (7,),
    ),
    Case(
        "survey weight text NaN",
        _text("sw", 1, "NaN", "object"),
        E.MissingValueError,
        "sw",
        (1,),
        (("weight", "sw"),),
    ),
]


def _broken(case: Case) -> pd.DataFrame:
    df = households()
    if dict(case.kwargs).get("weight") == "sw":
        df["sw"] = 1.25
    return case.edit(df)


def _assert_no_id(message: str) -> None:
    for i in range(N):
        assert str(ID0 + i) not in message


def _row_error_checks(err: E.InputError, case: Case) -> None:
    assert type(err) is case.error
    assert isinstance(err, ValueError)
    msg = str(err)
    assert err.column == case.column
    assert repr(case.column) in msg  # names the column
    assert f"({case.error.rule})" in msg  # and the rule
    assert err.rows == case.rows
    shown = re.search(r"\brows? (\d+)", msg)  # and a row position
    assert shown is not None and int(shown.group(1)) == case.rows[0]
    assert "Fix:" in msg
    _assert_no_id(msg)


@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: c.name)
def test_row_errors_raise_typed_errors(tiny_ws, case):
    df = _broken(case)
    with pytest.raises(case.error) as info:
        pmt.rank(df, tiny_ws, **dict(case.kwargs))
    _row_error_checks(info.value, case)


@pytest.mark.parametrize("case", [c for c in ROW_CASES if not c.kwargs], ids=lambda c: c.name)
def test_score_raises_the_same_errors(tiny_ws, case):
    with pytest.raises(case.error) as info:
        pmt.score(_broken(case), tiny_ws)
    _row_error_checks(info.value, case)


ARROW_CASES = [
    c
    for c in ROW_CASES
    if c.name
    in {
        "text in a count column (str)",
        "NaN in a continuous column",
        "-inf in a count column",
        "NaN in a code column",
        "code outside the allowed set",
        "hh_size 0",
        "count > hh_size",
        "duplicate hh_id",
        "unknown province code",
        "NA in a nullable integer column",
        "text nan in a code column (str)",
    }
]


@pytest.mark.parametrize("case", ARROW_CASES, ids=lambda c: c.name)
def test_arrow_input_raises_the_same_errors(tiny_ws, case):
    table = pa.Table.from_pandas(_broken(case), preserve_index=False)
    with pytest.raises(case.error) as info:
        pmt.rank(table, tiny_ws)
    _row_error_checks(info.value, case)


@pytest.mark.parametrize("column", ["n_cattle", "floor_area", "tenure", "hh_size"])
def test_arrow_null_in_a_float_column_is_missing(tiny_ws, column):
    """A null in an Arrow float64 column is a missing value, never a silent 0."""
    df = households()
    df[column] = df[column].astype("float64")
    table = pa.Table.from_pandas(df, preserve_index=False)
    values = table.column(column).to_pylist()
    values[3] = None
    table = table.set_column(
        table.column_names.index(column), column, pa.array(values, pa.float64())
    )
    assert table.column(column).null_count == 1
    with pytest.raises(E.MissingValueError) as info:
        pmt.rank(table, tiny_ws)
    assert info.value.column == column and info.value.rows == (3,)
    res = pmt.rank(table, tiny_ws, on_invalid="reject")
    assert res.rejects[["row", "rule"]].values.tolist() == [[3, "missing_or_infinite"]]


@pytest.mark.parametrize("column", ["n_cattle", "tenure", "hh_size"])
def test_arrow_null_in_an_integer_column_is_missing(tiny_ws, column):
    df = households()
    table = pa.Table.from_pandas(df, preserve_index=False)
    values = table.column(column).to_pylist()
    values[5] = None
    table = table.set_column(table.column_names.index(column), column, pa.array(values, pa.int64()))
    with pytest.raises(E.MissingValueError) as info:
        pmt.rank(table, tiny_ws)
    assert info.value.column == column and info.value.rows == (5,)


def test_text_error_shows_the_offending_value(tiny_ws):
    df = _text("tenure", 3, "abc", "object")(households())
    with pytest.raises(E.ColumnTypeError, match=r"row 3 \('abc'\)") as info:
        pmt.rank(df, tiny_ws)
    assert isinstance(info.value, TypeError)  # a type problem is also a TypeError


def test_numbers_in_text_are_accepted(tiny_ws):
    df = households()
    as_text = df.assign(tenure=df["tenure"].astype(str))
    np.testing.assert_array_equal(pmt.score(as_text, tiny_ws), pmt.score(df, tiny_ws))


@pytest.mark.parametrize(
    ("cells", "found"),
    [
        ({3: "abc"}, "found text"),
        ({3: pd.Timestamp("2024-01-01")}, "found Timestamp"),
        ({3: Fraction(1, 3)}, "found Fraction"),
        ({3: complex(1.0, 2.0)}, "found complex"),
        (
            {3: "abc", 9: pd.Timestamp("2024-01-01"), 11: Fraction(4, 1), 12: complex(4.0, 0.0)},
            "found text, Timestamp, Fraction, complex",
        ),
    ],
)
def test_wrong_dtype_names_what_was_found(tiny_ws, cells, found):
    """A cell that is neither a number nor text holding one is named by its type, not as text."""
    df = households()
    df["floor_area"] = df["floor_area"].astype(object)
    for row, value in cells.items():
        df.loc[row, "floor_area"] = value
    with pytest.raises(E.ColumnTypeError) as info:
        pmt.rank(df, tiny_ws)
    assert f"column 'floor_area': values must be numbers, {found} (wrong_dtype)" in str(info.value)
    assert info.value.rows == tuple(cells)
    res = pmt.rank(df, tiny_ws, on_invalid="reject")
    assert res.rejects["row"].tolist() == list(cells)
    assert set(res.rejects["rule"]) == {"wrong_dtype"}


def test_decimals_are_read_past_a_signalling_nan(tiny_ws):
    """Decimal("sNaN") is a missing value; the other Decimals keep their exact float values."""
    df = households()
    df["floor_area"] = pd.Series([Decimal(repr(x)) for x in df["floor_area"]], dtype=object)
    df.loc[6, "floor_area"] = Decimal("sNaN")
    res = pmt.rank(df, tiny_ws, on_invalid="reject")
    assert res.rejects[["row", "rule", "column"]].values.tolist() == [
        [6, "missing_or_infinite", "floor_area"]
    ]
    plain = households().drop(index=6)
    np.testing.assert_array_equal(res.welfare, pmt.rank(plain, tiny_ws).welfare)


@pytest.mark.parametrize(
    ("ids", "rows"),
    [
        ([2**64 + ID0 + i for i in range(N)], (0, 1, 2, 3, 4)),
        ([ID0 + i if i != 6 else 2**70 + ID0 for i in range(N)], (6,)),
        ([-(ID0 + i) if i != 9 else 2**63 + ID0 for i in range(N)], (9,)),  # no 64-bit type
        ([ID0 + i if i != 4 else -(2**63) - ID0 for i in range(N)], (4,)),
    ],
    ids=["all past 2**64", "one past 2**64", "negative and past 2**63", "below -2**63"],
)
def test_object_ids_beyond_64_bits_are_refused(tiny_ws, ids, rows):
    df = households()
    df["hh_id"] = pd.Series(ids, dtype=object)
    for mode in ("raise", "reject"):  # a column's type: always raised
        with pytest.raises(E.ColumnTypeError) as info:
            pmt.rank(df, tiny_ws, on_invalid=mode)
        err = info.value
        msg = str(err)
        assert isinstance(err, TypeError) and err.column == "hh_id" and err.rows == rows
        assert msg.startswith("column 'hh_id': whole-number household ids must fit in 64 bits")
        assert "Fix: store the ids as text" in msg
        assert not any(str(abs(i)) in msg for i in ids)
        _assert_no_id(msg)


@pytest.mark.parametrize("other", ["A12", True])
def test_object_ids_mixing_numbers_past_int64_and_others_are_refused(tiny_ws, other):
    df = households()
    df["hh_id"] = pd.Series([2**63 + ID0 + i for i in range(N)], dtype=object)
    df.loc[3, "hh_id"] = other
    with pytest.raises(E.ColumnTypeError, match="mix of whole numbers and other values") as info:
        pmt.rank(df, tiny_ws)
    assert info.value.column == "hh_id" and "Fix: read the id column as text" in str(info.value)


def test_whole_number_ids_of_64_bits_pass_through(tiny_ws):
    """Ids past 2**63 in an object column are read as uint64, like a UInt64 column."""
    df = households()
    ids = [2**63 + ID0 + i for i in range(N)]
    ids[5] = None
    df["hh_id"] = pd.Series(ids, dtype=object)
    df.loc[7, "hh_size"] = 0
    res = pmt.rank(df, tiny_ws, on_invalid="reject")
    assert res.rejects["row"].tolist() == [5, 7] and res.rejects["hh_id"][1] == ids[7]
    kept = [v for i, v in enumerate(ids) if i not in (5, 7)]
    assert res.to_frame()["hh_id"].tolist() == kept
    assert res.to_arrow().schema.field("hh_id").type == pa.uint64()
    as_uint = pmt.rank(df.assign(hh_id=pd.array(ids, dtype="UInt64")), tiny_ws, on_invalid="reject")
    a, b = res.to_frame(), as_uint.to_frame()
    a.attrs, b.attrs = {}, {}
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    # numpy uint64 past 2**63 and negative int64 ids are whole numbers of 64 bits too
    for whole in (np.uint64(2**63) + np.arange(N, dtype=np.uint64), -(ID0 + np.arange(N))):
        got = pmt.rank(df.assign(hh_id=whole, hh_size=households()["hh_size"]), tiny_ws)
        np.testing.assert_array_equal(got.to_frame()["hh_id"].to_numpy(), whole)


@pytest.mark.parametrize("dtype", ["Int128", "UInt128"])
@pytest.mark.parametrize("column", ["tenure", "hh_id"])
def test_polars_dtypes_arrow_cannot_hold_are_column_type_errors(tiny_ws, dtype, column):
    pl = pytest.importorskip("polars")
    if not hasattr(pl, dtype):
        pytest.skip(f"polars {pl.__version__} has no {dtype}")
    frame = pl.from_pandas(households()).with_columns(pl.col(column).cast(getattr(pl, dtype)))
    for data in (frame, frame.lazy()):
        with pytest.raises(E.ColumnTypeError) as info:
            pmt.rank(data, tiny_ws)
        err = info.value
        msg = str(err)
        assert isinstance(err, TypeError) and err.column == column
        assert msg.startswith(f"column {column!r} (polars {dtype}): pmt reads polars tables")
        assert "rule:" in msg and f"Fix: cast it, e.g. df.with_columns(pl.col({column!r})" in msg
        _assert_no_id(msg)


def test_polars_dtypes_arrow_cannot_hold_named_together_or_ignored(tiny_ws):
    pl = pytest.importorskip("polars")
    df = households()
    frame = pl.from_pandas(df)
    both = frame.with_columns(pl.col("n_goat", "tenure").cast(pl.Int128))
    with pytest.raises(E.ColumnTypeError) as info:
        pmt.rank(both, tiny_ws)
    assert "columns 'tenure' (polars Int128), 'n_goat' (polars Int128):" in str(info.value)
    # a column pmt does not read is ignored, whatever its type
    extra = frame.with_columns(notes=pl.col("tenure").cast(pl.Int128))
    np.testing.assert_array_equal(pmt.score(extra, tiny_ws), pmt.score(df, tiny_ws))


def test_missing_column(tiny_ws):
    with pytest.raises(E.MissingColumnError) as info:
        pmt.rank(households().drop(columns=["head_sector"]), tiny_ws)
    err = info.value
    assert isinstance(err, ValueError) and err.column == "head_sector"
    assert "'head_sector'" in str(err) and "rule" in str(err) and "Fix:" in str(err)
    _assert_no_id(str(err))


@pytest.mark.parametrize("column", ["hh_id", "district_code", "urban", "hh_size"])
def test_missing_canonical_column(tiny_ws, column):
    with pytest.raises(E.MissingColumnError) as info:
        pmt.rank(households().drop(columns=[column]), tiny_ws)
    assert info.value.column == column and repr(column) in str(info.value)


def test_missing_survey_weight_column(tiny_ws):
    with pytest.raises(E.MissingColumnError) as info:
        pmt.rank(households(), tiny_ws, weight="sw")
    assert info.value.column == "sw"
    # the fix is the option, not the spec's names
    assert str(info.value).startswith("weight: the table has no column 'sw'")
    assert "Fix: pass the name of your survey weight column as weight='NAME'." in str(info.value)


def test_missing_id_column_points_at_the_option(tiny_ws):
    with pytest.raises(E.MissingColumnError) as info:
        pmt.rank(households(), tiny_ws, id_col="nik")
    assert info.value.column == "nik"
    assert "Fix: pass the name of your household id column as id_col='NAME'." in str(info.value)
    assert "spec" not in str(info.value)


def test_duplicate_column_names(tiny_ws):
    df = households()
    doubled = pd.concat([df, df[["tenure"]]], axis=1)
    with pytest.raises(E.DuplicateColumnError) as info:
        pmt.rank(doubled, tiny_ws)
    err = info.value
    assert isinstance(err, ValueError) and err.column == "tenure"
    assert "'tenure'" in str(err) and "rule" in str(err)
    _assert_no_id(str(err))


def test_empty_input(tiny_ws):
    with pytest.raises(E.EmptyInputError) as info:
        pmt.rank(households().iloc[:0], tiny_ws)
    assert isinstance(info.value, ValueError) and "no rows" in str(info.value)
    with pytest.raises(E.EmptyInputError):
        pmt.rank(households().iloc[:0], tiny_ws, on_invalid="reject")


@pytest.mark.parametrize("data", [None, [1, 2], np.zeros((3, 4)), {"hh_id": [1]}, "hh.csv"])
def test_not_a_table_is_a_type_error(tiny_ws, data):
    with pytest.raises(TypeError, match=r"pandas DataFrame, a pyarrow Table.*polars DataFrame"):
        pmt.rank(data, tiny_ws)


def test_region_without_model_and_without_fallback(tiny_ws):
    """A partial-coverage set without 'national' whose models cover only provinces 31, 32."""
    keys = ("31", "3201")
    partial = tiny_ws.manifest.model_copy(update={"coverage": "partial"})
    ws = pmt.WeightSet(partial, keys, tiny_ws.coefficients[:2].copy())
    df = households()
    df["district_code"] = 3171
    df.loc[[4, 9], "district_code"] = 9401
    with pytest.raises(E.UnknownRegionError) as info:
        pmt.rank(df, ws)
    err = info.value
    assert isinstance(err, ValueError) and err.column == "district_code"
    assert err.rows == (4, 9) and "(unknown_region)" in str(err) and "fallback" in str(err)
    assert "rows 4 (9401), 9 (9401)" in str(err)
    _assert_no_id(str(err))
    res = pmt.rank(df, ws, on_invalid="reject")
    assert res.rejects["row"].tolist() == [4, 9]
    assert set(res.rejects["rule"]) == {"unknown_region"}


def test_region_without_poverty_line_is_a_corrupt_weight_set(tiny_ws):
    """Poverty lines must reach every modelled province: caught when the set is built."""
    with pytest.raises(
        E.WeightSetError,
        match=r"poverty_lines.csv: no poverty lines row "
        r"covers province 32 \(Jawa Barat\)",
    ):
        pmt.WeightSet(
            tiny_ws.manifest, tiny_ws.model_keys, tiny_ws.coefficients.copy(), {"31": 700_000.0}
        )
    partial = tiny_ws.manifest.model_copy(update={"coverage": "partial"})
    with pytest.raises(E.WeightSetError, match="covers province 32"):
        pmt.WeightSet(partial, ("31", "3201"), tiny_ws.coefficients[:2].copy(), {"31": 700_000.0})
    ok = pmt.WeightSet(
        partial, ("31", "3201"), tiny_ws.coefficients[:2].copy(), {"31": 700_000.0, "32": 650_000.0}
    )
    assert ok.has_poverty_lines


# --------------------------------------------------------------------------- rejects


def test_reject_accounts_for_every_row(tiny_ws):
    """All the broken rows at once: ranked + rejected = input, each reject with its reason."""
    df = households()
    df["sw"] = 1.25
    df["tenure"] = df["tenure"].astype("float64")
    df["floor_area"] = df["floor_area"].astype("float64")
    df["hh_size"] = df["hh_size"].astype("float64")
    df["hh_id"] = df["hh_id"].astype("Int64")
    expected = {}  # row -> (rule, column)
    for case in ROW_CASES:
        if (
            case.error is E.ColumnTypeError
            or "None" in case.name
            or "NA " in case.name
            or "blank" in case.name
        ):
            continue  # need other dtypes; covered one by one below
        row = case.rows[-1]
        if row in expected:
            continue
        df = case.edit(df)
        expected[row] = (case.error.rule, case.column)
    expected[2] = expected[19]  # both copies of a duplicated id are set aside
    # fewer valid rows than classes remain: place them against given cutoffs
    # (registry cutoffs would refuse so small a population)
    cut = {s: np.linspace(-1.0, 1.0, 9) for s in ("national", "31", "32", "94", "51")}
    res = pmt.rank(df, tiny_ws, on_invalid="reject", weight="sw", cutoffs=cut)
    rej = res.rejects
    ranked = set(res.rows.tolist())
    rejected = set(rej["row"].tolist())
    assert ranked.isdisjoint(rejected)
    assert ranked | rejected == set(range(len(df)))
    assert len(rej) == len(rejected) and res.n_households + res.n_rejected == len(df)
    reasons = zip(rej["rule"], rej["column"], strict=True)
    assert dict(zip(rej["row"], reasons, strict=True)) == expected

    # the rejects carry the id, so the caller can find the household
    def plain(values: Any) -> list[Any]:
        return [None if pd.isna(x) else int(x) for x in values]

    assert plain(rej["hh_id"]) == plain(df["hh_id"].to_numpy()[rej["row"]])
    # the ranked rows are ranked as if the rejected ones had not been there
    clean = df.iloc[sorted(ranked)]
    alone = pmt.rank(clean, tiny_ws, weight="sw", cutoffs=cut)
    a, b = res.to_frame(), alone.to_frame()
    a.attrs, b.attrs = {}, {}
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: c.name)
def test_reject_each_case(tiny_ws, case):
    df = _broken(case)
    kwargs = dict(case.kwargs)
    res = pmt.rank(df, tiny_ws, on_invalid="reject", **kwargs)
    rej = res.rejects
    assert rej["row"].tolist() == list(case.rows)
    assert set(rej["rule"]) == {case.error.rule}
    assert set(rej["column"]) == {case.column}
    assert sorted(res.rows.tolist() + rej["row"].tolist()) == list(range(len(df)))
    keep = [i for i in range(len(df)) if i not in case.rows]
    alone = pmt.rank(df.iloc[keep], tiny_ws, **kwargs)
    for col in (
        "welfare",
        "desil_national",
        "desil_provincial",
        "rank_national",
        "share_below_provincial",
    ):
        np.testing.assert_array_equal(getattr(res, col), getattr(alone, col))
    pd.testing.assert_index_equal(res.to_frame().index, df.index[keep])


def test_first_broken_rule_is_the_reason(tiny_ws):
    """A row breaking several rules carries the first (columns in a fixed order)."""
    df = households()
    df.loc[3, "hh_size"] = 0
    df.loc[3, "tenure"] = 99
    res = pmt.rank(df, tiny_ws, on_invalid="reject")
    assert res.rejects[["row", "column", "rule"]].values.tolist() == [
        [3, "hh_size", "invalid_hh_size"]
    ]
    with pytest.raises(E.HouseholdSizeError):
        pmt.rank(df, tiny_ws)


def test_duplicate_id_with_one_copy_broken(tiny_ws):
    """Ids must be unique among valid rows: if one copy is rejected the other is ranked."""
    df = households()
    df.loc[7, "hh_id"] = df.loc[3, "hh_id"]
    df.loc[7, "tenure"] = 99
    res = pmt.rank(df, tiny_ws, on_invalid="reject")
    assert res.rejects["row"].tolist() == [7]
    assert 3 in res.rows


def test_all_rows_rejected(tiny_ws):
    df = households()
    df["hh_size"] = 0
    res = pmt.rank(df, tiny_ws, on_invalid="reject")
    assert res.n_households == 0 and res.n_rejected == N
    assert len(res.to_frame()) == 0
    assert res.rejects["row"].tolist() == list(range(N))


def test_bad_option_values(tiny_ws):
    df = households()
    with pytest.raises(ValueError, match="on_invalid"):
        pmt.rank(df, tiny_ws, on_invalid="drop")
    with pytest.raises(ValueError, match="cutoffs"):
        pmt.rank(df, tiny_ws, cutoffs="survey")
    with pytest.raises(ValueError, match="weighting"):
        pmt.rank(df, tiny_ws, weighting="people")
    for n in (1, 0, 101, 2.5, True):
        with pytest.raises(ValueError, match="n "):
            pmt.rank(df, tiny_ws, n=n)
    for m in (0, 11):
        with pytest.raises(ValueError, match="max_desil"):
            pmt.rank(df, tiny_ws, max_desil=m)
    with pytest.raises(TypeError, match="weights must be"):
        pmt.rank(df, 42)


def test_assign_desil_bad_arrays():
    with pytest.raises(ValueError, match="finite"):
        pmt.assign_desil([0.0, np.nan], [1, 1])
    with pytest.raises(ValueError, match=">= 0"):
        pmt.assign_desil([0.0, 1.0], [1, -1])
    with pytest.raises(ValueError, match="shape"):
        pmt.assign_desil([0.0, 1.0], [1, 1, 1])
    with pytest.raises(ValueError, match="sum to 0"):
        pmt.assign_desil([0.0, 1.0], [0, 0])
    with pytest.raises(ValueError, match="sum to 0"):
        pmt.assign_desil([0.0, 1.0, 2.0], [1, 0, 1], groups=["a", "b", "a"])
    with pytest.raises(ValueError, match="non-decreasing"):
        pmt.assign_desil([0.0, 1.0], cutoffs=[0.5, 0.2], n=3)
    with pytest.raises(ValueError, match="non-decreasing"):
        pmt.assign_desil([0.0, 1.0], cutoffs=[0.5], n=3)
    with pytest.raises(ValueError, match="one-dimensional"):
        pmt.assign_desil(np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"welfare": np.array([0.0, 1.0 + 1e6j, 2.0])},
            TypeError,
            r"welfare must be an array of numbers.*complex128: complex numbers would lose",
        ),
        ({"welfare": [0.0, 1.0 + 0j, 2.0]}, TypeError, r"welfare must be .*complex numbers"),
        (
            {"person_weight": np.array([1, 1, 1j])},
            TypeError,
            r"person_weight must be an array of numbers.*complex numbers",
        ),
        ({"cutoffs": np.array([0.5 + 1j]), "n": 2}, E.ArgumentError, r"cutoffs must be .*0\.5\+1j"),
    ],
    ids=["welfare", "welfare list", "person_weight", "cutoffs"],
)
def test_assign_desil_refuses_complex_numbers(kwargs, error, match):
    """Never a float cast that drops the imaginary parts (numpy's ComplexWarning)."""
    with pytest.raises(error, match=match):
        pmt.assign_desil(**{"welfare": np.array([0.0, 1.0, 2.0]), **kwargs})


# --------------------------------------------------------------------------- corrupt weight sets


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _write(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


@pytest.fixture
def copy_of(tmp_path):
    def copy(ws: pmt.WeightSet) -> Path:
        dest = tmp_path / ws.name
        assert ws.path is not None  # a set loaded from disk
        shutil.copytree(ws.path, dest)
        return dest

    return copy


def _line_of(rows: list[list[str]], key: str) -> int:
    """1-based line of the row whose first cell is ``key``."""
    return next(i + 1 for i, r in enumerate(rows) if r and r[0] == key)


def _load_error(folder: Path, *, where: str) -> pmt.WeightSetError:
    with pytest.raises(pmt.WeightSetError) as info:
        pmt.load_weights(folder)
    err = info.value
    assert isinstance(err, ValueError)
    assert str(folder) in str(err)
    assert where in str(err), str(err)
    assert any(p.startswith(where) for p in err.problems), err.problems
    return err


def test_valid_copy_loads(copy_of, tiny_ws, tiny_ws_ref):
    """The corruption tests start from sets that load (so each failure is the corruption's)."""
    for ws in (tiny_ws, tiny_ws_ref):
        again = pmt.load_weights(copy_of(ws))
        assert again.content_hash == ws.content_hash
        np.testing.assert_array_equal(again.coefficients, ws.coefficients)


def test_no_model_covers_a_province(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    _write(folder / "coefficients.csv", [r for r in rows if r[0] != "national"])
    err = _load_error(folder, where="coefficients.csv")
    assert "province 11 (Aceh)" in str(err) and "'national'" in str(err)
    # 31 and 94 have province models; 51 has only 51-rural, which is not enough
    covered = " ".join(err.problems)
    assert "province 31" not in covered and "province 94" not in covered
    assert "province 51" in covered


@pytest.mark.parametrize("bad", ["nan", "", "inf", "abc"])
def test_non_finite_coefficient(copy_of, tiny_ws, bad):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    line = _line_of(rows, "3201")
    rows[line - 1][rows[0].index("tenure=3")] = bad
    _write(folder / "coefficients.csv", rows)
    err = _load_error(folder, where=f"coefficients.csv:{line}:")
    assert "'3201'" in str(err) and "'tenure=3'" in str(err)


@pytest.mark.parametrize(
    ("column", "why"), [("floor_colour=2", "unknown variable"), ("tenure=9", "code not allowed")]
)
def test_unknown_coefficient_column(copy_of, tiny_ws, column, why):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    rows = [r + ([column] if i == 0 else ["0.5"]) for i, r in enumerate(rows)]
    _write(folder / "coefficients.csv", rows)
    err = _load_error(folder, where="coefficients.csv:1:")
    assert repr(column) in str(err) and why in str(err)


def test_missing_term_column(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    j = rows[0].index("has_ac=1")
    _write(folder / "coefficients.csv", [r[:j] + r[j + 1 :] for r in rows])
    err = _load_error(folder, where="coefficients.csv:1:")
    assert "'has_ac=1'" in str(err)


def test_ragged_coefficient_row(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    line = _line_of(rows, "94")
    rows[line - 1] = rows[line - 1][:-1]
    _write(folder / "coefficients.csv", rows)
    _load_error(folder, where=f"coefficients.csv:{line}:")


@pytest.mark.parametrize("key", ["3171-urbn", "317", "national-urban", "31-", "Jakarta"])
def test_malformed_region_key(copy_of, tiny_ws, key):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    line = _line_of(rows, "3171-urban")
    rows[line - 1][0] = key
    _write(folder / "coefficients.csv", rows)
    err = _load_error(folder, where=f"coefficients.csv:{line}:")
    assert f"malformed region key {key!r}" in str(err)


def test_region_key_of_an_unknown_province(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    line = _line_of(rows, "3201")
    rows[line - 1][0] = "2001"
    _write(folder / "coefficients.csv", rows)
    err = _load_error(folder, where=f"coefficients.csv:{line}:")
    assert "province 20" in str(err)


def test_duplicate_model_key(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    rows.append(list(rows[_line_of(rows, "94") - 1]))
    _write(folder / "coefficients.csv", rows)
    err = _load_error(folder, where=f"coefficients.csv:{len(rows)}:")
    assert "'94' appears twice" in str(err)


@pytest.mark.parametrize("value", ["0", "-5000", "nan", ""])
def test_non_positive_poverty_line(copy_of, tiny_ws, value):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "poverty_lines.csv")
    line = _line_of(rows, "3201")
    rows[line - 1][1] = value
    _write(folder / "poverty_lines.csv", rows)
    err = _load_error(folder, where=f"poverty_lines.csv:{line}:")
    assert "positive" in str(err)


def test_decreasing_cutoffs(copy_of, tiny_ws_ref):
    folder = copy_of(tiny_ws_ref)
    rows = _rows(folder / "cutoffs.csv")
    line = _line_of(rows, "32")
    c4 = float(rows[line - 1][4])
    rows[line - 1][5] = repr(c4 - 1.0)  # c5 < c4
    _write(folder / "cutoffs.csv", rows)
    err = _load_error(folder, where=f"cutoffs.csv:{line}:")
    assert "must not decrease" in str(err) and "c5" in str(err)


def test_cutoff_scope_not_a_province(copy_of, tiny_ws_ref):
    folder = copy_of(tiny_ws_ref)
    rows = _rows(folder / "cutoffs.csv")
    line = _line_of(rows, "94")
    rows[line - 1][0] = "20"
    _write(folder / "cutoffs.csv", rows)
    _load_error(folder, where=f"cutoffs.csv:{line}:")


def test_every_problem_is_reported_at_once(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    rows[_line_of(rows, "94") - 1][3] = "nan"
    _write(folder / "coefficients.csv", rows)
    lines = _rows(folder / "poverty_lines.csv")
    lines[_line_of(lines, "51") - 1][1] = "-1"
    _write(folder / "poverty_lines.csv", lines)
    err = _load_error(folder, where="coefficients.csv:")
    assert any(p.startswith("poverty_lines.csv:") for p in err.problems)
    assert "2 problems" in str(err)


def test_stale_content_hash(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    rows = _rows(folder / "coefficients.csv")
    line = _line_of(rows, "31")
    rows[line - 1][1] = "13.5"  # a valid but different intercept
    _write(folder / "coefficients.csv", rows)
    err = _load_error(folder, where="manifest.json")
    assert "content_hash" in str(err)
    loose = pmt.load_weights(folder, verify_hash=False)
    assert loose.coefficients[loose.model_index()["31"], 0] == 13.5
    assert loose.content_hash != tiny_ws.content_hash  # the hash of what was read
    # re-saving makes it valid again, with the edit
    fixed = pmt.save_weights(loose, folder)
    assert pmt.load_weights(folder).content_hash == fixed.content_hash


def test_malformed_manifest_json(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    text = (folder / "manifest.json").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[5] = lines[5].rstrip(",")  # drop a comma: invalid JSON on line 7
    (folder / "manifest.json").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(pmt.WeightSetError) as info:
        pmt.load_weights(folder)
    msg = str(info.value)
    assert "manifest.json" in msg
    assert re.search(r"line 7\b", msg), msg


def _add_manifest_field(folder: Path) -> None:
    raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    raw["colour"] = "red"
    (folder / "manifest.json").write_text(json.dumps(raw, indent=2), encoding="utf-8")


def test_unknown_manifest_field(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    _add_manifest_field(folder)
    err = _load_error(folder, where="manifest.json")
    assert "colour" in str(err)


def test_unknown_manifest_field_names_the_line(copy_of, tiny_ws):
    folder = copy_of(tiny_ws)
    _add_manifest_field(folder)
    lines = (folder / "manifest.json").read_text(encoding="utf-8").splitlines()
    line = next(i + 1 for i, t in enumerate(lines) if '"colour"' in t)
    _load_error(folder, where=f"manifest.json:{line}")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format", "pmt-weights/2"),
        ("name", "no spaces"),
        ("region_scheme", "ISO"),
        ("synthetic", "maybe"),
        ("cutoff_classes", 1),
    ],
)
def test_invalid_manifest_values(copy_of, tiny_ws, field, value):
    folder = copy_of(tiny_ws)
    raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    raw[field] = value
    (folder / "manifest.json").write_text(json.dumps(raw, indent=2), encoding="utf-8")
    err = _load_error(folder, where="manifest.json")
    assert field in str(err)


def test_unknown_weight_set_name():
    with pytest.raises(pmt.WeightSetError, match="no weight set folder or shipped name"):
        pmt.load_weights("no-such-set-anywhere")


def test_reference_cutoffs_missing_for_a_province(tiny_ws, weights_dir):
    cut = {"national": np.arange(9.0), "31": np.arange(9.0)}
    ws = pmt.save_weights(
        tiny_weight_set(name="tiny-partial-cut", cutoffs=cut), weights_dir / "tiny-partial-cut"
    )
    df = households()
    df["district_code"] = 3171
    assert pmt.rank(df, ws, cutoffs="reference").n_households == N
    df.loc[0, "district_code"] = 9401
    with pytest.raises(pmt.WeightSetError, match=r"\['94'\]"):
        pmt.rank(df, ws, cutoffs="reference")
    with pytest.raises(ValueError, match="n=10"):
        pmt.rank(df, ws, cutoffs="reference", n=5)
