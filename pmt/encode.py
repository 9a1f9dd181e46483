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

import math
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import errors as E
from ._columns import (
    _lookup_column,
    _numeric_column,
    _Table,
    _whole,
)
from ._frames import household_table
from ._threads import kernels as K  # parallel kernels guarded for concurrent calls
from .ids import duplicated_ids, id_column, id_key
from .options import check_id_col, check_on_invalid, check_weighting
from .regions import RegionScheme, fallback_chain, scheme
from .rejects import CHECK_ORDER, OnInvalid, _Problems, empty_rejects, input_rows
from .spec import CANONICAL_COLUMNS, Variable
from .terms import check_finite, fill
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


#: A household's person weight may be at most 2**53: sums of whole-number weights up to
#: it are exact in float64 (ranking checks each scope's total against the same bound).
MAX_WEIGHT = float(2**53)


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


# --------------------------------------------------------------------------- the collector


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
    row_offset: int | np.ndarray = 0,
    check_ids: bool = True,
    workspace: Any = None,
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
    row_offset : int or array of int
        Position of the first row in a larger input (a chunk of a file): added to
        every row position reported in errors, ``rows`` and the rejects table. Or
        each row's position in the larger input (rows picked from it, such as a
        change file's added and changed rows), reported instead of its own.
    check_ids : bool, default True
        Check ids for duplicates here. The chunked file path passes False and checks
        all chunks at once with :func:`duplicated_ids`, the same rule.
    workspace : pmt.ranker.Workspace, optional
        Lends the two largest arrays, the codes and the numeric terms (about
        170 bytes per household with the demo spec), and the person weights,
        instead of new memory: the chunked file path encodes chunk after chunk
        into the same buffers, so the operating system does not back them
        afresh each time. The result's ``codes``, ``numeric`` and
        ``person_weight`` then belong to the workspace, and the next call that
        lends them overwrites them.

    Raises
    ------
    TypeError, pmt.errors.InputError
    """
    check_on_invalid(on_invalid)
    check_weighting(weighting)
    check_id_col(id_col)
    scheme = _region_scheme(weights, region_scheme)
    table = _Table(
        household_table(
            households,
            columns=required_columns(
                weights.spec.variables, weight, id_col, urban=weights.spec.urban
            ),
        )
    )
    spec = weights.spec
    check_columns(table.names, table.n, spec.variables, weight, id_col, urban=spec.urban)
    n = table.n
    # chunked callers (a file, Dask partitions) check ids across chunks: their first chunk is
    # a part of the input too
    problems = _Problems(n, on_invalid, table, row_offset, part=not check_ids)

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
    urban = (
        _whole(table, problems, "urban", 0, 1, "must be 0 (rural) or 1 (urban)")
        if spec.urban
        else np.zeros(n, dtype=np.int64)  # no urban split: every household in one cell kind
    )
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
    codes = _matrix(workspace, "codes", n, len(lookups), np.uint8)
    for j, var in enumerate(lookups):
        _lookup_column(table, problems, var, codes[:, j])
    names = spec.numeric_terms
    numeric = _matrix(workspace, "numeric", n, len(names), np.float64)
    # the validated columns derived terms may use (pmt.terms.fill)
    raw: dict[str, np.ndarray] = {"hh_size": hh_size, "urban": urban}
    used = {a for d in spec.derived for a in d.args}  # binary columns only where a term uses them
    for j, var in enumerate(lookups):
        if var.kind == "binary" and var.name in used:  # code index 0/1 is the value
            raw[var.name] = codes[:, j].astype(np.float64)
    for var in spec.variables:
        if not var.is_lookup:
            out = numeric[:, names.index(var.name)] if var.name in names else np.empty(n)
            _numeric_column(table, problems, var, hh_size, out)
            raw[var.name] = out
        elif not var.in_model:
            idx = np.empty(n, dtype=np.uint8)
            _lookup_column(table, problems, var, idx)
            if var.kind == "binary" and var.name in used:
                raw[var.name] = idx.astype(np.float64)
    # members of kinds that do not overlap may not outnumber the household (spec data)
    for group in spec.member_sum_rules:
        total = raw[group[0]].copy()
        for name in group[1:]:
            total += raw[name]
        problems.add(
            "out_of_range",
            group[0],
            total > hh_size,
            total,
            what=f"{' + '.join(group)} must not exceed hh_size",
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

    # derived terms: the one implementation (pmt.terms), read by scoring and calibration
    columns = {t: numeric[:, j] for j, t in enumerate(names)}
    fill(spec.derived, raw, columns)
    check_finite(spec.derived, columns, rows, row_offset)
    if not all_kept:
        numeric = np.asfortranarray(numeric[rows])

    # person weights: new, or the workspace's buffer (the chunked file path lends where the
    # file's weights are kept, so the chunk's are written there directly)
    pw = (
        np.empty(rows.size)
        if workspace is None
        else workspace.take("person_weight", rows.size, np.float64)
    )
    if weighting == "person":
        np.copyto(pw, take(hh_size))  # whole numbers up to max_household_size: exact
        if w is not None:
            np.multiply(pw, take(w), out=pw)
    elif w is None:
        pw.fill(1.0)
    else:
        np.copyto(pw, take(w))

    cell_idx, cell_district, cell_urban, cell_model, cell_shift, cell_group, present = cells
    return Encoded(
        n_input=n,
        rows=input_rows(rows, row_offset),
        codes=codes if all_kept else np.asfortranarray(codes[rows]),
        numeric=numeric,
        cell=take(cell_idx),
        cell_district=cell_district,
        cell_urban=cell_urban,
        cell_model=cell_model,
        cell_shift=cell_shift,
        cell_group=cell_group,
        provinces=present,
        person_weight=pw,
        ids=None if ids is None else (ids if all_kept else ids.take(rows)),
        index=table.index if all_kept else table.index[rows],
        rejects=problems.frame(id_col, ids),
    )


def _matrix(workspace: Any, name: str, n: int, width: int, dtype: Any) -> np.ndarray:
    """An (n, width) Fortran-order array: new, or the workspace's buffer ``name``."""
    if workspace is None:
        return np.empty((n, width), dtype=dtype, order="F")
    flat = workspace.take(name, n * width, dtype)
    return flat.reshape((width, n)).T  # column j is flat[j * n : (j + 1) * n]


def _flag(mask: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool) if mask is None else mask


def _or(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None else (a | b)


def required_columns(
    variables: tuple[Variable, ...],
    weight: str | None,
    id_col: str | None,
    *,
    urban: bool = True,
) -> list[str]:
    """The columns a household table needs: canonical ones, the id, the spec's, the weight.

    ``urban=False`` (a spec without an urban split) leaves out ``urban``.
    """
    needed = [
        c
        for c in CANONICAL_COLUMNS
        if (c != "hh_id" or id_col == "hh_id") and (c != "urban" or urban)
    ]
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
    *,
    urban: bool = True,
) -> None:
    """Table-level rules (always raised): rows present, names unique, needed columns present.

    ``urban``: whether the spec splits urban and rural households (then the
    ``urban`` column is needed).
    """
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
    missing = [c for c in required_columns(variables, weight, id_col, urban=urban) if c not in seen]
    canonical = [c for c in CANONICAL_COLUMNS if urban or c != "urban"]
    for col, option, what in (
        (id_col, "id_col", "household id"),
        (weight, "weight", "survey weight"),
    ):
        if col is not None and col in missing:  # named by an option, not by the spec
            raise E.MissingColumnError(
                f"{option}: the table has no column {col!r} (rule: the {what} column must be "
                f"in the table). Fix: pass the name of your {what} column as {option}='NAME'.",
                column=col,
            )
    if missing:
        raise E.MissingColumnError(
            f"missing columns {missing[:10]}{' ...' if len(missing) > 10 else ''} (rule: the "
            f"household table needs {', '.join(canonical)} and every variable of "
            "the weight set's spec, matched by name). Fix: rename the columns to the spec's "
            "names (see `pmt weights show NAME`) or use a weight set whose spec matches"
            + (
                "; the spec splits urban and rural households, so urban (0 rural, 1 urban) is "
                "needed unless the set is calibrated with a spec of urban: false."
                if "urban" in missing
                else "."
            ),
            column=missing[0],
        )


def _region_scheme(weights: WeightSet, declared: str | None) -> RegionScheme:
    """The weight set's region scheme, checked against the scheme the caller declares."""
    own = weights.manifest.region_scheme
    if declared is not None:
        try:
            scheme(declared)  # a known name
        except ValueError as exc:
            raise E.ArgumentError(str(exc), argument="region_scheme") from None
        if declared != own:
            raise E.RegionSchemeError(
                f"region_scheme: the input's district codes are {declared} codes but weight set "
                f"{weights.id} uses {own} codes (rule: the two schemes give some codes to "
                f"different provinces, e.g. 91 is Papua Barat in BPS and Papua in Kemendagri). "
                f"Fix: recode the districts to {own} codes, or use a weight set built on "
                f"{declared} codes."
            )
    return scheme(own)


#: cell keys are ``district * 2 + urban`` for 4-digit districts
_CELL_KEYS = 20000
_UNRESOLVED = -2


class _CellTable:
    """Each (district, urban) cell's model row, log poverty line and whether it has none.

    Resolved once per weight set and cell key (the fallback chains are walked
    in Python), then looked up by array: a file ranked in chunks resolves its
    cells in the first chunk only.
    """

    def __init__(self) -> None:
        # no reference to the weight set: it is this table's key in a weak mapping
        self.model = np.full(_CELL_KEYS, _UNRESOLVED, dtype=np.int32)  # -1: no model
        self.shift = np.zeros(_CELL_KEYS, dtype=np.float64)
        self.no_line = np.zeros(_CELL_KEYS, dtype=bool)

    def resolve(self, keys: np.ndarray, weights: WeightSet) -> None:
        models = weights.model_index()
        lines = weights.poverty_lines
        for key in keys.tolist():
            d, u = divmod(key, 2)
            own = weights.model_chain(d, u)  # models: none outside a partial set's coverage
            if lines:
                chain = fallback_chain(d, u)  # poverty lines: the household's own region
                line = next((lines[k] for k in chain if k in lines), None)
                if line is None:
                    self.no_line[key] = True
                else:
                    self.shift[key] = math.log(line)  # the C library's (pmt.terms)
            # written last: another thread that sees the model sees the line too
            self.model[key] = next((models[k] for k in own if k in models), -1)


_CELL_TABLES: weakref.WeakKeyDictionary[WeightSet, _CellTable] = weakref.WeakKeyDictionary()


def _cell_table(weights: WeightSet) -> _CellTable:
    table = _CELL_TABLES.get(weights)
    if table is None:
        table = _CELL_TABLES.setdefault(weights, _CellTable())
    return table


def _resolve_cells(
    district: np.ndarray, urban: np.ndarray, ok: np.ndarray, weights: WeightSet, problems: _Problems
) -> tuple[np.ndarray, ...]:
    """Factorise (district, urban) into cells and resolve each cell's model and line."""
    key = district * 2 + urban
    cell, cell_keys = K.factorize_small(key, ok, _CELL_KEYS)
    cell_district = cell_keys // 2
    cell_urban = cell_keys % 2
    table = _cell_table(weights)
    new = cell_keys[table.model[cell_keys] == _UNRESOLVED]
    if new.size:  # cells this weight set has not resolved before
        table.resolve(new, weights)
    cell_model = table.model[cell_keys]
    cell_shift = table.shift[cell_keys]
    no_line = table.no_line[cell_keys]
    bad_cells = (cell_model < 0) | no_line
    if bad_cells.any():
        mask = ok & bad_cells[cell]
        what = (
            "no model for this region in the weight set and no fallback "
            "(district x urban -> district -> province x urban -> province -> national)"
        )
        if weights.manifest.covers is not None:
            what += f", or outside the set's coverage {list(weights.manifest.covers)[:10]}"
        if no_line.any():
            what += ", or no poverty line for it"
        problems.add("unknown_region", "district_code", mask, district, what=what)
    good_prov = np.unique(cell_district[~bad_cells] // 100) if cell_keys.size else np.zeros(0, int)
    group_lut = np.full(100, -1, dtype=np.int32)
    group_lut[good_prov] = np.arange(good_prov.size, dtype=np.int32)
    cell_group = np.where(bad_cells, 0, group_lut[cell_district // 100]).astype(np.int32)
    cell_model = np.where(bad_cells, 0, cell_model).astype(np.int32)
    return cell, cell_district, cell_urban, cell_model, cell_shift, cell_group, good_prov
