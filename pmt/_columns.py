"""Reading one column of a household table: dtype checks, numbers, codes, counts.

Each reader takes the fast path (one kernel pass, :mod:`pmt._kernels`) when
the column is plain and clean, and otherwise the numpy path, which finds and
records the offending rows in the encoder's :class:`~pmt.rejects._Problems`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from . import errors as E
from ._frames import ACCEPTED
from ._threads import kernels as K  # parallel kernels guarded for concurrent calls
from .rejects import _Problems
from .spec import Variable

_NO_CAP = np.zeros(0, dtype=np.int64)


class _Table:
    """Uniform, copy-light column access over pandas DataFrames and pyarrow Tables."""

    def __init__(self, data: Any) -> None:
        if isinstance(data, pd.DataFrame):
            self.kind = "pandas"
            self.names = [str(c) for c in data.columns]
            self.n = len(data)
            self.index = data.index
        elif type(data).__module__.startswith("pyarrow") and hasattr(data, "column_names"):
            self.kind = "arrow"
            self.names = list(data.column_names)
            self.n = data.num_rows
            self.index = pd.RangeIndex(self.n)
        else:
            raise TypeError(
                f"households must be {ACCEPTED}; got "
                f"{type(data).__name__}. Fix: build a DataFrame (pd.DataFrame(...)) "
                "or read the file with pmt.io.read_households."
            )
        self.data = data

    def series(self, name: str) -> pd.Series:
        if self.kind == "pandas":
            return self.data[name]
        return self.data.column(name).to_pandas()

    def numeric(self, name: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(values as a numeric array, missing mask or None, text mask or None).

        Accepted: bool, integers, float16/32/64 (pandas, numpy, nullable or Arrow
        types) and text (numbers in text are parsed; other text is flagged per row).
        Any other dtype (datetime, duration, complex, long double, decimal, binary,
        nested) raises :class:`~pmt.errors.ColumnTypeError` naming the column.
        """
        if self.kind == "arrow":
            import pyarrow as pa
            import pyarrow.compute as pc

            col = self.data.column(name)
            t = col.type
            if pa.types.is_dictionary(t):
                col = pc.cast(col, t.value_type)
                t = col.type
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
                if col.null_count:  # nulls become NaN, flagged as missing by the float path
                    return (
                        np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)),
                        None,
                        None,
                    )
                vals = np.asarray(col.to_numpy(zero_copy_only=False))
                return _accepted(name, vals), None, None
            if pa.types.is_null(t):
                return np.full(len(col), np.nan), None, None
            if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
                raise _dtype_error(name, str(t))
            s = col.to_pandas()
        else:
            s = self.data[name]
        return _numeric_series(name, s)


def _dtype_error(column: str, dtype: str) -> E.ColumnTypeError:
    return E.ColumnTypeError(
        f"column {column!r} has dtype {dtype}, which pmt does not read as numbers (rule: "
        "variables are bool, integer or float16/32/64 — numpy, nullable or Arrow — or text "
        "holding numbers). Fix: convert the column, e.g. "
        f"df[{column!r}] = df[{column!r}].astype('float64'), or recode it.",
        column=column,
    )


def _accepted(column: str, vals: np.ndarray) -> np.ndarray:
    """``vals`` if its numpy dtype is one the kernels take as is; float16 widened exactly."""
    kind, size = vals.dtype.kind, vals.dtype.itemsize
    if kind in "biu" or (kind == "f" and size in (4, 8)):
        return vals
    if kind == "f" and size == 2:
        return vals.astype(np.float64)
    raise _dtype_error(column, str(vals.dtype))


def _numeric_series(
    column: str, s: pd.Series
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    dt = s.dtype
    if isinstance(dt, np.dtype) and dt.kind in "biuf":
        return _accepted(column, s.to_numpy()), None, None
    if isinstance(dt, np.dtype) and dt.kind not in "OUS":
        raise _dtype_error(column, str(dt))  # datetime, timedelta, complex, void
    if isinstance(dt, pd.CategoricalDtype):
        return _numeric_series(
            column,
            s.astype(s.cat.categories.dtype)
            if s.cat.categories.dtype.kind in "biufOUS"
            else s.astype(object),
        )
    if isinstance(dt, pd.ArrowDtype):
        import pyarrow as pa

        t = dt.pyarrow_dtype
        if not (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_boolean(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
        ):
            raise _dtype_error(column, str(dt))
    elif (
        isinstance(dt, pd.api.extensions.ExtensionDtype)
        and not isinstance(dt, pd.StringDtype)
        and getattr(dt, "kind", "O") not in "biuf"
    ):
        raise _dtype_error(column, str(dt))  # periods, intervals, tz-aware datetimes, ...
    if isinstance(dt, pd.api.extensions.ExtensionDtype) and getattr(dt, "kind", "O") in "biuf":
        missing = s.isna().to_numpy()
        vals = s.to_numpy(dtype="float64", na_value=np.nan)
        return vals, (missing if missing.any() else None), None
    # text / object: numbers in text are parsed; anything else is text
    if isinstance(dt, np.dtype) and dt.kind == "O":
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred not in (
            "string",
            "integer",
            "floating",
            "mixed-integer-float",
            "boolean",
            "empty",
            "mixed",
            "mixed-integer",
            "decimal",
        ):
            raise _dtype_error(column, f"object holding {inferred} values")
        if inferred in ("mixed", "mixed-integer"):  # other objects may hide among the numbers
            number, missing = _numbers_of_cells(s)
            return _flag_text(s, number, missing)
    try:
        missing = s.isna().to_numpy()
        number = pd.to_numeric(s, errors="coerce")
    except (TypeError, ArithmeticError):  # a signalling NaN: Decimal("sNaN") refuses both
        number = None
    if number is None or number.dtype.kind == "c":
        number, missing = _numbers_of_cells(s)
    return _flag_text(s, number, missing)


def _flag_text(
    s: pd.Series, number: pd.Series, missing: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(values, missing mask or None, mask of cells that are no number or None)."""
    parsed = number.to_numpy(dtype="float64", na_value=np.nan)
    text = np.isnan(parsed) & ~missing
    if text.any():  # text spelling NaN is a missing number, as text spelling inf is infinite
        nan_text = _nan_text(s.to_numpy(dtype=object), text)
        if nan_text is not None:
            missing, text = missing | nan_text, text & ~nan_text
    return parsed, (missing if missing.any() else None), (text if text.any() else None)


#: Python types of the object cells read as numbers (text is parsed; bool is an int)
_NUMBER_CELLS = (int, float, np.integer, np.floating, np.bool_, Decimal, str, bytes)


def _cell_kind(v: object) -> int:
    """0 a number, text or missing; 1 a signalling NaN (missing); 2 any other object."""
    if isinstance(v, _NUMBER_CELLS):
        return 1 if isinstance(v, Decimal) and v.is_snan() else 0
    return 0 if v is None or v is pd.NA or v is pd.NaT else 2


def _numbers_of_cells(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """An object column parsed as numbers cell by cell, and its missing mask.

    pandas would take a ``Fraction`` among integers (not among floats), the
    real part of a complex number, and fail on ``Decimal("sNaN")``. Here a
    signalling NaN is missing (it is a NaN), and a cell that is neither a
    number nor text (complex, Fraction, Timestamp, …) is no number, whatever
    the other cells hold: its row is flagged as ``wrong_dtype``.
    """
    cells = s.to_numpy(dtype=object)
    kind = np.fromiter(map(_cell_kind, cells), dtype=np.uint8, count=cells.shape[0])
    if kind.any():
        s = pd.Series(np.where(kind > 0, None, cells), index=s.index, dtype=object)
    return pd.to_numeric(s, errors="coerce"), s.isna().to_numpy() & (kind != 2)


def _nan_text(cells: np.ndarray, text: np.ndarray) -> np.ndarray | None:
    """Of the rows ``text`` of ``cells``, those holding text that spells NaN ("nan", "NaN"…)."""
    rows = np.flatnonzero(text)
    hit = [i for i, v in zip(rows, cells[rows], strict=True) if isinstance(v, str) and _is_nan(v)]
    if not hit:
        return None
    out = np.zeros(text.shape[0], dtype=bool)
    out[hit] = True
    return out


def _is_nan(text: str) -> bool:
    try:
        return bool(np.isnan(float(text)))
    except ValueError:
        return False


def _found(cells: np.ndarray) -> str:
    """What non-number cells hold, for an error: text, or their Python types by name."""
    kinds = dict.fromkeys("text" if isinstance(v, str) else type(v).__name__ for v in cells)
    return ", ".join(kinds)


def _plain(table: _Table, column: str) -> np.ndarray | None:
    """The column as a plain numpy numeric array with nothing missing, else None."""
    vals, missing, text = table.numeric(column)
    if missing is not None or text is not None or vals.dtype.kind not in "biuf":
        return None
    return vals.view(np.uint8) if vals.dtype.kind == "b" else vals


def _values(table: _Table, problems: _Problems, column: str) -> np.ndarray:
    """Numeric values of ``column`` (float64 or int), flagging text and missing values."""
    vals, missing, text = table.numeric(column)
    if text is not None:
        cells = table.series(column).to_numpy()
        problems.add(
            "wrong_dtype",
            column,
            text,
            cells,
            what=f"values must be numbers, found {_found(cells[text])}",
        )
    if vals.dtype.kind == "f":
        nonfinite = ~np.isfinite(vals)
        if text is not None:
            nonfinite &= ~text
        problems.add(
            "missing_or_infinite",
            column,
            nonfinite,
            vals,
            what="values must be present and finite (no NaN / None / inf)",
        )
    elif missing is not None:
        problems.add(
            "missing_or_infinite", column, missing, vals, what="values must be present (no NA)"
        )
    if vals.dtype.kind == "b":
        vals = vals.view(np.uint8)
    return vals


def _whole(
    table: _Table,
    problems: _Problems,
    column: str,
    lo: float,
    hi: float,
    what: str,
    rule: str = "out_of_range",
) -> np.ndarray:
    """A whole-number column within [lo, hi], as int64 (invalid rows hold ``lo``)."""
    plain = _plain(table, column)
    if plain is not None and plain.dtype.kind in "iu" and plain.size:
        if lo <= plain.min() and plain.max() <= hi:  # whole and in range: nothing to check
            return plain.astype(np.int64)
    if plain is not None:
        out = np.empty(plain.shape[0], dtype=np.float64)
        if K.clean_numbers(plain, float(lo), float(hi), True, _NO_CAP, out) == 0:
            return out.astype(np.int64)
    vals = _values(table, problems, column)
    if vals.dtype.kind == "f":
        finite = np.isfinite(vals)
        frac = finite & (vals != np.floor(np.where(finite, vals, 0)))
        problems.add(rule, column, frac, vals, what=what + " (not a whole number)")
        bad = finite & ~frac & ((vals < lo) | (vals > hi))
        problems.add(rule, column, bad, vals, what=what)
        out = np.where(finite & ~frac & ~bad, vals, lo).astype(np.int64)
    else:
        bad = (vals < lo) | (vals > hi)
        problems.add(rule, column, bad, vals, what=what)
        out = np.where(bad, lo, vals) if bad.any() else vals
    # int64 whatever the input's width: a narrow dtype must not reach arithmetic later
    # (np.log of int8 computes in float16), whether or not a row was rejected
    return out.astype(np.int64, copy=False)


def _lookup_column(table: _Table, problems: _Problems, var: Variable, out: np.ndarray) -> None:
    """Write the dense code indices (uint8) of a binary or categorical column into ``out``."""
    allowed = np.array(var.code_values, dtype=np.int64)
    lo, hi = int(np.min(allowed)), int(np.max(allowed))
    lut = np.full(hi - lo + 1, 255, dtype=np.uint8)
    lut[allowed - lo] = np.arange(allowed.size, dtype=np.uint8)
    plain = _plain(table, var.name)
    if plain is not None and K.clean_codes(plain, lut, lo, out) == 0:
        return
    vals = _values(table, problems, var.name)
    if vals.dtype.kind == "f":
        ok = np.isfinite(vals)
        ivals = np.where(ok, vals, allowed[0])
        whole = ivals == np.floor(ivals)
        ivals = np.where(whole, ivals, allowed[0]).astype(np.int64)
        checked = ok
        notwhole = ok & ~whole
    else:
        ivals = vals.astype(np.int64, copy=False)
        checked = None
        notwhole = None
    # map codes -> dense index through the small table (codes are small integers)
    inside = (ivals >= lo) & (ivals <= hi)
    idx = np.full(ivals.shape, 255, dtype=np.uint8)
    idx[inside] = lut[ivals[inside] - lo]
    bad = idx == 255
    if notwhole is not None:
        bad |= notwhole
    if checked is not None:
        bad &= checked
    kind = "0 or 1" if var.kind == "binary" else f"one of the codes {list(var.code_values)}"
    problems.add("invalid_code", var.name, bad, vals, what=f"{var.label}: values must be {kind}")
    idx[idx == 255] = 0
    out[:] = idx


def _numeric_column(
    table: _Table, problems: _Problems, var: Variable, hh_size: np.ndarray, out: np.ndarray
) -> None:
    """Write a count or continuous column (float64; 0 where invalid) into ``out``."""
    lo = -np.inf if var.min is None else var.min
    hi = np.inf if var.max is None else var.max
    plain = _plain(table, var.name)
    cap = hh_size if var.max_hh_size else _NO_CAP
    if (
        plain is not None
        and K.clean_numbers(plain, float(lo), float(hi), var.kind == "count", cap, out) == 0
    ):
        return
    vals = _values(table, problems, var.name)
    fvals = vals.astype(np.float64, copy=False)
    finite = np.isfinite(fvals)
    if var.kind == "count":
        frac = finite & (fvals != np.floor(np.where(finite, fvals, 0)))
        problems.add("out_of_range", var.name, frac, vals, what="counts must be whole numbers")
    problems.add(
        "out_of_range",
        var.name,
        finite & ((fvals < lo) | (fvals > hi)),
        vals,
        what=f"{var.label}: values must lie in [{var.min}, {var.max}]",
    )
    if var.max_hh_size:
        problems.add(
            "out_of_range",
            var.name,
            finite & (fvals > hh_size),
            vals,
            what=f"{var.label}: must not exceed hh_size",
        )
    out[:] = np.where(finite, fvals, 0.0)
