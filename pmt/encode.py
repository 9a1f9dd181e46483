"""The boundary: household table -> validated kernel arrays (and rejects).

Columns are matched to the weight set's variables *by name*. Each column is
checked once, vectorised, against its variable's rule; region cells are
resolved to models and poverty lines once per distinct (district, urban)
pair, not per household. Columns are checked in a fixed order (id,
district_code, urban, hh_size, the spec's variables, the survey weight,
regions, then id uniqueness), each column's rules in the order of
:data:`CHECK_ORDER`. With ``on_invalid="raise"`` the first broken rule raises
a typed error naming the column, the rule, a few row positions and values,
and the fix. With
``on_invalid="reject"`` every row that breaks a rule is set aside in a
rejects table with its reason, so that ranked + rejected = input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import errors as E
from ._frames import ACCEPTED, household_table
from ._threads import kernels as K  # parallel kernels guarded for concurrent calls
from .regions import RegionScheme, fallback_chain, scheme
from .spec import CANONICAL_COLUMNS, Variable
from .weights import WeightSet

__all__ = [
    "CHECK_ORDER",
    "MAX_WEIGHT",
    "Encoded",
    "duplicated_ids",
    "empty_rejects",
    "encode",
    "id_column",
    "id_key",
]

OnInvalid = Literal["raise", "reject"]

#: A household's person weight may be at most 2**53: sums of whole-number weights up to
#: it are exact in float64 (ranking checks each scope's total against the same bound).
MAX_WEIGHT = float(2**53)
_NO_CAP = np.zeros(0, dtype=np.int64)

#: The order of rules within a column; a rejected row carries the first rule it breaks.
CHECK_ORDER = (
    "wrong_dtype",
    "missing_or_infinite",
    "out_of_range",
    "invalid_code",
    "invalid_hh_size",
    "unknown_region",
    "duplicate_id",
)

_FIX = {
    "wrong_dtype": "convert the column to numbers (e.g. pd.to_numeric) and fix the text entries",
    "missing_or_infinite": "fill or remove the missing values, or pass on_invalid='reject' to "
    "set those rows aside",
    "out_of_range": "correct the values, or pass on_invalid='reject' to set those rows aside",
    "invalid_code": "recode to the allowed codes (map old form codes explicitly), or pass "
    "on_invalid='reject'",
    "invalid_hh_size": "hh_size counts the members (a whole number from 1 to the spec's "
    "max_household_size); correct it or pass on_invalid='reject'",
    "unknown_region": "use codes of the weight set's region scheme, add a model for the region "
    "(or a fallback such as 'national'), or pass on_invalid='reject'",
    "duplicate_id": "make the household ids unique, or pass on_invalid='reject' to set all "
    "rows sharing an id aside",
}
_ERROR = {
    "wrong_dtype": E.ColumnTypeError,
    "missing_or_infinite": E.MissingValueError,
    "out_of_range": E.InvalidValueError,
    "invalid_code": E.InvalidCodeError,
    "invalid_hh_size": E.HouseholdSizeError,
    "unknown_region": E.UnknownRegionError,
    "duplicate_id": E.DuplicateIdError,
}


@dataclass(frozen=True, eq=False)
class Encoded:
    """Kernel arrays for the households that passed validation.

    Attributes
    ----------
    n_input : int
        Rows in the input table.
    rows : (n,) int64
        Input positions of the encoded rows, ascending.
    codes : (n, V) uint8, Fortran order
        Dense code index of each lookup variable (position in ``Variable.code_values``).
    numeric : (n, C) float64, Fortran order
        Numeric terms in ``spec.numeric_terms`` order.
    cell : (n,) int32
        Region cell (distinct district x urban) of each household.
    cell_district, cell_urban : (K,) int
        What each cell is.
    cell_model : (K,) int32
        Row of the weight set's coefficients that scores each cell.
    cell_shift : (K,) float64
        Log poverty line of each cell (0 without poverty lines).
    cell_group : (K,) int32
        Province index of each cell (into ``provinces``).
    provinces : (G,) int
        2-digit province codes present, ascending.
    person_weight : (n,) float64
        Weight of each household in desil shares.
    ids : array-like or None
        The id column of the encoded rows, as given (a numpy array or a pandas
        extension array; Arrow-backed for Arrow input).
    index : pandas.Index
        The input index of the encoded rows.
    rejects : pandas.DataFrame
        ``row``, id column, ``column``, ``rule``, ``value`` — one row per rejected input row.
    """

    n_input: int
    rows: np.ndarray
    codes: np.ndarray
    numeric: np.ndarray
    cell: np.ndarray
    cell_district: np.ndarray
    cell_urban: np.ndarray
    cell_model: np.ndarray
    cell_shift: np.ndarray
    cell_group: np.ndarray
    provinces: np.ndarray
    person_weight: np.ndarray
    ids: Any
    index: pd.Index
    rejects: pd.DataFrame

    @property
    def n(self) -> int:
        """Households encoded."""
        return int(self.cell.shape[0])


# --------------------------------------------------------------------------- column access


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
    missing = s.isna().to_numpy()
    parsed = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    text = np.isnan(parsed) & ~missing
    return parsed, (missing if missing.any() else None), (text if text.any() else None)


# --------------------------------------------------------------------------- the collector


class _Problems:
    """Row-level rule breaks, first reason per row; raises at once in raise mode."""

    def __init__(self, n: int, mode: OnInvalid, table: _Table, offset: int = 0) -> None:
        self.mode = mode
        self.offset = offset
        self.bad = np.zeros(n, dtype=bool)
        self.records: list[tuple[np.ndarray, str, str, np.ndarray | None]] = []
        self.table = table

    def add(
        self,
        rule: str,
        column: str,
        mask: np.ndarray | None,
        values: Any = None,
        what: str = "",
        *,
        echo: bool = True,
    ) -> None:
        if mask is None or not mask.any():
            return
        rows = np.flatnonzero(mask)
        if self.mode == "raise":
            shown = values[rows[:5]] if (echo and values is not None) else None
            examples = E.format_examples(rows[:5] + self.offset, shown)
            scope = (
                f"{mask.size:,} rows"
                if not self.offset
                else f"the {mask.size:,} rows from row {self.offset:,}"
            )
            raise _ERROR[rule](
                f"column {column!r}: {what} ({rule}); {rows.size:,} of {scope} break "
                f"it, e.g. {examples}. Fix: {_FIX[rule]}.",
                column=column,
                rows=rows[:5] + self.offset,
            )
        new = rows[~self.bad[rows]]
        if new.size:
            self.bad[new] = True
            vals = None
            if echo and values is not None:
                vals = np.asarray(values)[new]
            self.records.append((new, column, rule, vals))

    def frame(self, id_col: str | None, ids: Any) -> pd.DataFrame:
        if not self.records:
            return empty_rejects(id_col)
        rows = np.concatenate([r[0] for r in self.records])
        column = np.concatenate([np.full(r[0].size, r[1], dtype=object) for r in self.records])
        rule = np.concatenate([np.full(r[0].size, r[2], dtype=object) for r in self.records])
        value = np.concatenate(
            [
                np.array([str(v.item() if hasattr(v, "item") else v) for v in r[3]], dtype=object)
                if r[3] is not None
                else np.full(r[0].size, None, dtype=object)
                for r in self.records
            ]
        )
        order = np.argsort(rows, kind="stable")
        frame = pd.DataFrame({"row": rows[order] + self.offset})
        if id_col is not None:
            frame[id_col] = (
                np.asarray(ids.take(rows[order]), dtype=object) if ids is not None else None
            )
        frame["column"] = column[order]
        frame["rule"] = rule[order]
        frame["value"] = value[order]
        return frame


def empty_rejects(id_col: str | None) -> pd.DataFrame:
    """A rejects table with no rows: the same columns and dtypes as a non-empty one.

    Columns: ``row``, the id column, ``column``, ``rule``, ``value``.
    """
    frame = pd.DataFrame({"row": pd.Series([], dtype="int64")})
    if id_col is not None:
        frame[id_col] = pd.Series([], dtype=object)
    for name in ("column", "rule", "value"):
        frame[name] = pd.Series([], dtype=object)
    return frame


# --------------------------------------------------------------------------- encode


def encode(
    households: Any,
    weights: WeightSet,
    *,
    weight: str | None = None,
    weighting: Literal["person", "household"] = "person",
    on_invalid: OnInvalid = "raise",
    id_col: str | None = "hh_id",
    region_scheme: str | None = None,
    row_offset: int = 0,
    check_ids: bool = True,
) -> Encoded:
    """Validate ``households`` against ``weights`` and build the kernel arrays.

    Parameters
    ----------
    households : DataFrame or Table
        Any table :func:`pmt._frames.household_table` accepts (pandas, pyarrow,
        polars, an Arrow C stream), with the canonical columns (``hh_id``,
        ``district_code``, ``urban``, ``hh_size``)
        and the variables of the weight set's spec; other columns are ignored.
    weights : WeightSet
    weight : str, optional
        A column of survey weights (finite, > 0) multiplied into the person weight.
    weighting : {"person", "household"}
        ``person``: each household weighs ``hh_size`` (× ``weight``);
        ``household``: each weighs 1 (× ``weight``).
    on_invalid : {"raise", "reject"}
    id_col : str or None
        The household id column: whole numbers or text (unique, not missing, not
        blank), passed through exactly as given; never echoed in errors. A float
        column is refused (ids above 2**53 lose digits as floats).
    region_scheme : str, optional
        The scheme of the input's ``district_code`` (``"BPS"`` or
        ``"Kemendagri"``); it must be the weight set's. Default: the weight set's.
    row_offset : int
        Position of the first row in a larger input (a chunk of a file): added to
        every row position reported in errors, ``rows`` and the rejects table.
    check_ids : bool, default True
        Check ids for duplicates here. The chunked file path passes False and checks
        all chunks at once with :func:`duplicated_ids`, the same rule.

    Raises
    ------
    TypeError, pmt.errors.InputError
    """
    if on_invalid not in ("raise", "reject"):
        raise ValueError(f"on_invalid must be 'raise' or 'reject'; got {on_invalid!r}")
    if weighting not in ("person", "household"):
        raise ValueError(f"weighting must be 'person' or 'household'; got {weighting!r}")
    scheme = _region_scheme(weights, region_scheme)
    table = _Table(
        household_table(
            households, columns=required_columns(weights.spec.variables, weight, id_col)
        )
    )
    spec = weights.spec
    check_columns(table.names, table.n, spec.variables, weight, id_col)
    n = table.n
    problems = _Problems(n, on_invalid, table, row_offset)

    # ids: present, not blank, unique. Values never echoed.
    ids = key = None
    if id_col is not None:
        ids, key, missing = id_column(table, id_col)
        problems.add(
            "missing_or_infinite",
            id_col,
            missing,
            what="household ids must not be missing or blank",
            echo=False,
        )

    # canonical columns
    district = _whole(
        table, problems, "district_code", 1000, 9999, "must be a 4-digit kabupaten/kota code PPDD"
    )
    urban = _whole(table, problems, "urban", 0, 1, "must be 0 (rural) or 1 (urban)")
    hh_size = _whole(
        table,
        problems,
        "hh_size",
        1,
        spec.max_household_size,
        f"must be a whole number of members from 1 to {spec.max_household_size}",
        rule="invalid_hh_size",
    )

    # variables
    # (each column is checked and written straight into its column of the kernel arrays)
    lookups = spec.lookup_variables
    codes = np.empty((n, len(lookups)), dtype=np.uint8, order="F")
    for j, var in enumerate(lookups):
        _lookup_column(table, problems, var, codes[:, j])
    names = spec.numeric_terms
    numeric = np.empty((n, len(names)), dtype=np.float64, order="F")
    numeric_vars = {v.name: v for v in spec.variables if not v.is_lookup}
    raw: dict[str, np.ndarray] = {"hh_size": hh_size}
    for var in spec.variables:
        if not var.is_lookup:
            out = numeric[:, names.index(var.name)] if var.name in names else np.empty(n)
            _numeric_column(table, problems, var, hh_size, out)
            raw[var.name] = out
        elif not var.in_model:
            _lookup_column(table, problems, var, np.empty(n, dtype=np.uint8))
    # dependants may not outnumber the household
    if {"n_children", "n_elderly"} <= set(numeric_vars):
        problems.add(
            "out_of_range",
            "n_children",
            raw["n_children"] + raw["n_elderly"] > hh_size,
            raw["n_children"] + raw["n_elderly"],
            what="n_children + n_elderly must not exceed hh_size",
        )

    # survey weight
    w = None
    if weight is not None:
        w, miss, text = table.numeric(weight)
        w = w.astype(np.float64, copy=False)
        problems.add(
            "wrong_dtype",
            weight,
            text,
            table.series(weight).to_numpy(),
            what="survey weights must be numbers",
        )
        problems.add(
            "missing_or_infinite",
            weight,
            _or(miss, ~np.isfinite(w) & ~_flag(text, n)),
            w,
            what="survey weights must be finite",
        )
        problems.add(
            "out_of_range",
            weight,
            np.isfinite(w) & (w <= 0),
            w,
            what="survey weights must be greater than 0",
        )
        with np.errstate(over="ignore", invalid="ignore"):
            over = np.isfinite(w) & (w * (hh_size if weighting == "person" else 1) > MAX_WEIGHT)
        problems.add(
            "out_of_range",
            weight,
            over,
            w,
            what=f"a household's person weight (survey weight x hh_size) must not "
            f"exceed 2**53 = {MAX_WEIGHT:.4g}, beyond which sums of weights "
            "are inexact",
        )

    # regions: a district of the scheme, not only a known province
    ok_d = ~problems.bad
    problems.add(
        "unknown_region",
        "district_code",
        ok_d & ~scheme.known_districts(district),
        district,
        what=f"must be a kabupaten/kota code of the {scheme.name} scheme ({scheme.vintage}"
        f" vintage, {len(scheme.districts)} districts; see docs/regions.md)",
    )
    cells = _resolve_cells(district, urban, ~problems.bad, weights, problems)

    # duplicate ids, among rows otherwise valid (so a reject of one copy is explained)
    if key is not None and check_ids:
        dup = duplicated_ids(key, ~problems.bad)
        problems.add(
            "duplicate_id", id_col or "", dup, what="household ids must be unique", echo=False
        )

    keep = ~problems.bad
    rows = np.flatnonzero(keep)
    all_kept = rows.size == n
    take = (lambda a: a) if all_kept else (lambda a: a[rows])

    hsz = hh_size.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for d in spec.derived:
            col = numeric[:, names.index(d.name)]
            if d.op == "log":
                np.log(raw[d.args[0]], out=col)
            elif d.op == "per_capita":
                np.copyto(col, raw[d.args[0]])
                for a in d.args[1:]:
                    np.add(col, raw[a], out=col)
                np.divide(col, hsz, out=col)
            else:
                np.divide(raw[d.args[0]], hsz, out=col)
                np.log(col, out=col)
            finite = np.isfinite(col)
            if not finite[rows].all():
                bad = rows[~finite[rows]]
                raise E.InvalidValueError(
                    f"derived feature {d.name!r} ({d.op} of {list(d.args)}) is not finite at "
                    f"{E.format_examples(bad[:5] + row_offset)}. Fix: its inputs must be "
                    "positive; set the variable's min above 0 in the spec.",
                    column=d.args[0],
                    rows=bad[:5] + row_offset,
                )
    if not all_kept:
        numeric = np.asfortranarray(numeric[rows])
    hsz = take(hsz)

    if weighting == "person":
        pw = hsz if w is None else hsz * take(w)
    else:
        pw = np.ones(rows.size) if w is None else take(w).astype(np.float64)

    cell_idx, cell_district, cell_urban, cell_model, cell_shift, cell_group, present = cells
    return Encoded(
        n_input=n,
        rows=rows + row_offset,
        codes=codes if all_kept else np.asfortranarray(codes[rows]),
        numeric=numeric,
        cell=take(cell_idx),
        cell_district=cell_district,
        cell_urban=cell_urban,
        cell_model=cell_model,
        cell_shift=cell_shift,
        cell_group=cell_group,
        provinces=present,
        person_weight=np.ascontiguousarray(pw),
        ids=None if ids is None else (ids if all_kept else ids.take(rows)),
        index=table.index if all_kept else table.index[rows],
        rejects=problems.frame(id_col, ids),
    )


def _flag(mask: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool) if mask is None else mask


def _or(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None else (a | b)


def required_columns(
    variables: tuple[Variable, ...], weight: str | None, id_col: str | None
) -> list[str]:
    """The columns a household table needs: canonical ones, the id, the spec's, the weight."""
    needed = [c for c in CANONICAL_COLUMNS if c != "hh_id" or id_col == "hh_id"]
    if id_col not in (None, "hh_id"):
        needed.append(id_col)
    needed += [v.name for v in variables]
    if weight is not None:
        needed.append(weight)
    return needed


def check_columns(
    names: list[str],
    n_rows: int,
    variables: tuple[Variable, ...],
    weight: str | None,
    id_col: str | None,
) -> None:
    """Table-level rules (always raised): rows present, names unique, needed columns present."""
    if n_rows == 0:
        raise E.EmptyInputError(
            "households: the table has no rows (rule: at least one "
            "household). Fix: check the filter or file that produced it."
        )
    seen: set[str] = set()
    dupes = sorted({c for c in names if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if dupes:
        raise E.DuplicateColumnError(
            f"columns {dupes} appear more than once (rule: one column per name). Fix: rename "
            "or drop the copies.",
            column=dupes[0],
        )
    missing = [c for c in required_columns(variables, weight, id_col) if c not in seen]
    if missing:
        raise E.MissingColumnError(
            f"missing columns {missing[:10]}{' ...' if len(missing) > 10 else ''} (rule: the "
            "household table needs hh_id, district_code, urban, hh_size and every variable of "
            "the weight set's spec, matched by name). Fix: rename the columns to the spec's "
            "names (see `pmt weights show NAME`) or use a weight set whose spec matches.",
            column=missing[0],
        )


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
        problems.add(
            "wrong_dtype",
            column,
            text,
            table.series(column).to_numpy(),
            what="values must be numbers, found text",
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
    lo, hi = int(allowed.min()), int(allowed.max())
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


def id_column(table: _Table, id_col: str) -> tuple[Any, Any, np.ndarray]:
    """The id column as given, its duplicate-check key, and a mask of missing or blank ids.

    The column as given is passed through to the results.

    Whole-number ids stay integers (the key is an int64/uint64 numpy array); text ids stay
    text (the key is an Arrow string array: no Python object per id for Arrow input).
    Float, bool and other dtypes raise :class:`~pmt.errors.ColumnTypeError`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.kind == "pandas":
        s = table.data[id_col]
        values: Any = s.array
        dt = s.dtype
        if isinstance(dt, np.dtype) and dt.kind in "iu":
            return s.to_numpy(), s.to_numpy(), np.zeros(table.n, dtype=bool)
        try:
            col = pa.chunked_array([pa.array(s, from_pandas=True)])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise _id_type_error(id_col, "object holding a mix of text and numbers") from None
    else:
        col = table.data.column(id_col)
        values = pd.arrays.ArrowExtensionArray(col)
    t = col.type
    if pa.types.is_dictionary(t):
        col = pc.cast(col, t.value_type)
        t = col.type
    missing = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(t):
        # integers pass through as numpy integers (the missing ones are rejected)
        key = np.asarray(col.fill_null(0).to_numpy() if col.null_count else col.to_numpy())
        return (values if table.kind == "pandas" else key), key, missing
    if pa.types.is_null(t):
        return values, np.zeros(table.n, dtype=np.int64), np.ones(table.n, dtype=bool)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise _id_type_error(id_col, str(s.dtype) if table.kind == "pandas" else str(t))
    blank = pc.equal(pc.utf8_trim_whitespace(col), "").fill_null(False)
    missing |= np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)
    return values, col, missing


def id_key(values: Any) -> Any:
    """The duplicate-check key of passed-through ids (:attr:`Encoded.ids`).

    Numpy integers as they are, anything else as an Arrow array (text, or
    integers of an Arrow column).
    """
    if isinstance(values, np.ndarray):
        return values
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values)
    if pa.types.is_dictionary(arr.type):
        arr = pc.cast(arr, arr.type.value_type)
    if pa.types.is_integer(arr.type):
        return np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False))
    return arr


def _id_type_error(id_col: str, dtype: str) -> E.ColumnTypeError:
    return E.ColumnTypeError(
        f"column {id_col!r}: household ids must be whole numbers or text; got dtype {dtype} "
        "(rule: ids pass through exactly; as floats, ids above 2**53 such as 16-digit NIK/KK "
        "numbers lose digits and collide). Fix: read the id column as text (e.g. "
        f"pd.read_csv(..., dtype={{{id_col!r}: str}})) or as integers.",
        column=id_col,
    )


def duplicated_ids(key: Any, among: np.ndarray | None = None) -> np.ndarray:
    """Rows whose id occurs more than once among the rows ``among`` (every copy is marked).

    ``key`` is an :func:`id_column` key (numpy integers, or an Arrow string array or
    chunked array); ``among`` (n,) bool, default all. Rows outside ``among`` are never
    marked and do not count. The one duplicate rule of the in-memory and chunked paths.
    """
    n = len(key)
    among = np.ones(n, dtype=bool) if among is None else among
    if isinstance(key, np.ndarray):
        sub = key if among.all() else key[among]
        s = np.sort(sub)
        if not (s[1:] == s[:-1]).any():  # the common case: all unique
            return np.zeros(n, dtype=bool)
        dup_sub = pd.Series(sub).duplicated(keep=False).to_numpy()
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        enc = pc.dictionary_encode(key)
        chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
        idx = (
            np.concatenate(
                [np.asarray(c.indices.fill_null(0).to_numpy(zero_copy_only=False)) for c in chunks]
            )
            if chunks
            else np.zeros(0, dtype=np.int64)
        )
        sub = idx[among]
        counts = np.bincount(sub, minlength=len(chunks[0].dictionary) if chunks else 0)
        dup_sub = counts[sub] > 1
    out = np.zeros(n, dtype=bool)
    out[np.flatnonzero(among)[dup_sub]] = True
    return out


def _region_scheme(weights: WeightSet, declared: str | None) -> RegionScheme:
    """The weight set's region scheme, checked against the scheme the caller declares."""
    own = weights.manifest.region_scheme
    if declared is not None:
        scheme(declared)  # a known name
        if declared != own:
            raise E.RegionSchemeError(
                f"region_scheme: the input's district codes are {declared} codes but weight set "
                f"{weights.id} uses {own} codes (rule: the two schemes give some codes to "
                f"different provinces, e.g. 91 is Papua Barat in BPS and Papua in Kemendagri). "
                f"Fix: recode the districts to {own} codes, or use a weight set built on "
                f"{declared} codes."
            )
    return scheme(own)


def _resolve_cells(
    district: np.ndarray, urban: np.ndarray, ok: np.ndarray, weights: WeightSet, problems: _Problems
) -> tuple[np.ndarray, ...]:
    """Factorise (district, urban) into cells and resolve each cell's model and line."""
    key = district * 2 + urban
    cell, cell_keys = K.factorize_small(key, ok, 20000)
    cell_district = cell_keys // 2
    cell_urban = cell_keys % 2
    models = weights.model_index()
    lines = weights.poverty_lines
    cell_model = np.full(cell_keys.size, -1, dtype=np.int32)
    cell_shift = np.zeros(cell_keys.size, dtype=np.float64)
    no_line = np.zeros(cell_keys.size, dtype=bool)
    for c, (d, u) in enumerate(zip(cell_district.tolist(), cell_urban.tolist(), strict=True)):
        chain = fallback_chain(d, u)
        cell_model[c] = next((models[k] for k in chain if k in models), -1)
        if lines:
            line = next((lines[k] for k in chain if k in lines), None)
            if line is None:
                no_line[c] = True
            else:
                cell_shift[c] = np.log(line)
    bad_cells = (cell_model < 0) | no_line
    if bad_cells.any():
        mask = ok & bad_cells[cell]
        what = (
            "no model for this region in the weight set and no fallback "
            "(district x urban -> district -> province x urban -> province -> national)"
        )
        if no_line.any():
            what += ", or no poverty line for it"
        problems.add("unknown_region", "district_code", mask, district, what=what)
    good_prov = np.unique(cell_district[~bad_cells] // 100) if cell_keys.size else np.zeros(0, int)
    group_lut = np.full(100, -1, dtype=np.int32)
    group_lut[good_prov] = np.arange(good_prov.size, dtype=np.int32)
    cell_group = np.where(bad_cells, 0, group_lut[cell_district // 100]).astype(np.int32)
    cell_model = np.where(bad_cells, 0, cell_model).astype(np.int32)
    return cell, cell_district, cell_urban, cell_model, cell_shift, cell_group, good_prov
