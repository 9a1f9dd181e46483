"""The survey: its checks, its poverty lines, and the design matrix the models are fitted on.

:func:`prepare` turns a survey table into :class:`SurveyData`: every household
through the registry's encoder (:func:`pmt.encode.encode`, with a provisional
zero weight set carrying the spec and the poverty lines), the survey's own
columns checked (consumption, PSU, strata), and the design matrix built from
the encoder's arrays (:func:`design`). Nothing here fits anything.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import errors as E
from .._kernels import libm
from ..encode import Encoded, encode
from ..errors import CalibrationError, SmallSampleError
from ..spec import VariableSpec, default_spec
from ..weights import Manifest, WeightSet
from .coverage import coverage_fields, resolve_coverage
from .tree import level_codes

__all__ = [
    "CONSUMPTION_RANGE",
    "Scheme",
    "SurveyData",
    "design",
    "draft",
    "fingerprint",
    "prepare",
    "psu_folds",
    "read_poverty_lines",
]

Scheme = Literal["BPS", "Kemendagri"]

#: Plausible median of per-capita consumption, Rp per person per month: a survey
#: whose median lies outside gets a :class:`~pmt.errors.ConsumptionUnitWarning`
#: (thousand rupiah, household totals or yearly sums are the usual mistakes).
CONSUMPTION_RANGE = (50_000.0, 50_000_000.0)


@dataclass(frozen=True, eq=False)
class SurveyData:
    """A validated, encoded survey as arrays (every row valid)."""

    frame: pd.DataFrame
    enc: Encoded
    X: np.ndarray  # (n, p) design: intercept, lookup codes (reference dropped), numeric
    y: np.ndarray  # (n,) log per-capita consumption
    shift: np.ndarray  # (n,) log poverty line (0 without lines)
    pw: np.ndarray  # (n,) person weight = hh_size x survey weight
    psu: np.ndarray  # (n,) int codes
    strata: np.ndarray  # (n,) int codes
    district: np.ndarray  # (n,) int
    urban: np.ndarray  # (n,) int 0/1
    columns: tuple[str, ...]  # (p,) term name of each design column
    term_pos: np.ndarray  # (p,) position of each column in spec.terms
    units: tuple[tuple[str, np.ndarray], ...]  # selection units: (name, design columns)
    lines: dict[str, float]
    spec: VariableSpec
    scheme: Scheme
    names: dict[str, str]  # survey column names used
    fingerprint: str = ""  # hash of the survey columns used (:func:`fingerprint`)
    covers: tuple[str, ...] | None = None  # regions covered (None: national)
    order: np.ndarray | None = None  # (n,) input row of each row (None: the input order)

    def input_rows(self, rows: np.ndarray) -> np.ndarray:
        """Positions in the canonical order as positions in the input table, ascending."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows if self.order is None else np.sort(self.order[rows])

    def to_input_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A table with one row per household, from the canonical order back to the input's."""
        if self.order is None:
            return frame
        inverse = np.empty_like(self.order)
        inverse[self.order] = np.arange(self.order.size)
        return frame.iloc[inverse]

    @property
    def n(self) -> int:
        """Number of households."""
        return int(self.y.shape[0])

    @property
    def welfare(self) -> np.ndarray:
        """Observed welfare: log(per-capita consumption / poverty line)."""
        return self.y - self.shift

    @property
    def id_col(self) -> str | None:
        """The household id column, if the survey has one."""
        return None if self.names["id"] == "(none)" else self.names["id"]

    def level_codes(self, level: str) -> np.ndarray:
        """The node code of each household at ``level`` (:func:`.tree.level_codes`)."""
        return level_codes(self.district, self.urban, level)

    @cached_property
    def data_hash(self) -> str:
        """A hash of the arrays the models are fitted on."""
        h = hashlib.sha256()
        for a in (self.y, self.pw, self.X, self.psu, self.district, self.urban):
            h.update(np.ascontiguousarray(a).tobytes())
        return "sha256:" + h.hexdigest()


def draft(
    spec: VariableSpec,
    lines: Mapping[str, float],
    scheme: Scheme,
    covers: tuple[str, ...] | None = None,
) -> WeightSet:
    """A zero-coefficient weight set: it lets the encoder validate and encode a survey.

    ``covers``: the regions covered (None: national); poverty lines are
    required for those only.
    """
    manifest = Manifest(
        **coverage_fields(covers, None),
        name="calibration-draft",
        version="0",
        created=_dt.date(2000, 1, 1),
        description="provisional zero weight set used to encode a survey",
        synthetic=True,
        region_scheme=scheme,
        region_vintage="calibration",
        spec=spec,
    )
    return WeightSet(manifest, ("national",), np.zeros((1, len(spec.terms))), dict(lines))


def read_poverty_lines(lines: Any, scheme: str) -> dict[str, float]:
    """Region key -> line, from a mapping or a table (see :func:`pmt.calibration.calibrate`).

    None is no lines (welfare is the raw prediction). Lines given explicitly
    must be at least one, each region once, each a positive finite number;
    anything else is a :class:`~pmt.errors.CalibrationError` naming the region.
    """
    if lines is None:
        return {}
    if isinstance(lines, (str, Path)):
        from ..io import read_households

        lines = read_households(lines)
    if isinstance(lines, Mapping):
        keys = [str(k) for k in lines]
        raw = list(lines.values())
    elif isinstance(lines, pd.DataFrame):
        keys, raw = _line_table(lines)
    else:
        raise TypeError(
            f"poverty_lines must be a mapping, a DataFrame or a file path; got "
            f"{type(lines).__name__}"
        )
    if not keys:
        raise CalibrationError(
            "poverty_lines: no lines given (rule: lines given must name at least one region; "
            "poverty_lines=None is how to calibrate without lines). Fix: give a line per "
            "covered province (or a 'national' line), or pass poverty_lines=None."
        )
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise CalibrationError(
            f"poverty_lines: regions {repeated[:10]} appear more than once (rule: one line "
            "per region key). Fix: keep one line for each of them."
        )
    out: dict[str, float] = {}
    bad: list[str] = []
    for key, value in zip(keys, raw, strict=True):
        v = _line_value(value)
        if v is None or not (math.isfinite(v) and v > 0):
            bad.append(f"{key!r} ({value!r})")
        else:
            out[key] = v
    if bad:
        raise CalibrationError(
            f"poverty_lines: lines must be positive finite numbers (Rp per person per month); "
            f"not so for {len(bad)} region(s): {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"
            ". Fix: correct the line of each region named."
        )
    return out


def _line_value(value: Any) -> float | None:
    """A poverty line as a float; None when it is not a number (text, None, a boolean)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _line_table(lines: pd.DataFrame) -> tuple[list[str], list[Any]]:
    """The region keys and raw line values of a table of poverty lines."""
    cols = set(lines.columns)
    if "poverty_line" not in cols:
        raise CalibrationError(
            f"poverty_lines: the table needs a 'poverty_line' column (Rp per person per "
            f"month); it has {sorted(map(str, cols))}. Fix: rename the column."
        )
    raw = lines["poverty_line"].tolist()
    if "region_key" in cols:
        return lines["region_key"].astype(str).tolist(), raw
    if "district_code" in cols or "province_code" in cols:
        code_col = "district_code" if "district_code" in cols else "province_code"
        width = 4 if code_col == "district_code" else 2
        codes = pd.to_numeric(lines[code_col], errors="coerce")
        if codes.isna().any():
            rows = np.flatnonzero(codes.isna().to_numpy())
            raise CalibrationError(
                f"poverty_lines: column {code_col!r} has missing or non-numeric codes (rule: "
                f"every line names its region), e.g. {E.format_examples(rows[:5].tolist())}. "
                "Fix: fill them."
            )
        base = [f"{int(c):0{width}d}" for c in codes]
        if "urban" not in cols:
            return base, raw
        urb = pd.to_numeric(lines["urban"], errors="coerce")
        if not urb.isin([0, 1]).all():
            rows = np.flatnonzero(~urb.isin([0, 1]).to_numpy())
            raise CalibrationError(
                "poverty_lines: 'urban' must be 0 or 1, e.g. not at "
                f"{E.format_examples(rows[:5].tolist())}. Fix: code urban as 1 and rural as 0."
            )
        keys = [f"{b}-{'urban' if u else 'rural'}" for b, u in zip(base, urb, strict=True)]
        return keys, raw
    raise CalibrationError(
        "poverty_lines: the table needs 'region_key', or 'province_code' / "
        "'district_code' (optionally with 'urban'), beside 'poverty_line'. Fix: add "
        "the region columns."
    )


def fingerprint(frame: pd.DataFrame, columns: list[str]) -> str:
    """``sha256:…`` of the survey columns used: their names and values, row by row.

    Each column is hashed by :func:`pandas.util.hash_pandas_object` (values and
    dtype, not the index), so the same table read again gives the same
    fingerprint, and any changed value or renamed column another. :func:`prepare`
    hashes the table in its canonical order (:func:`canonical_order`), so the
    order of the input rows does not change it.
    """
    h = hashlib.sha256(f"rows={len(frame)}".encode())
    for name in dict.fromkeys(columns):
        h.update(b"\0" + str(name).encode() + b"\0")
        h.update(pd.util.hash_pandas_object(frame[name], index=False).to_numpy().tobytes())
    return "sha256:" + h.hexdigest()


def _check_columns(
    frame: pd.DataFrame,
    spec: VariableSpec,
    names: Mapping[str, str | None],
) -> list[str]:
    """The survey columns used, in order; a missing one is an error naming its argument."""
    from ..encode import required_columns

    why = {
        "consumption": "per-capita consumption, Rp per person per month; pass "
        "consumption='<your column>'",
        "weight": "the survey weight; pass weight=None for a survey without weights (each "
        "household then counts as its hh_size people), or weight='<your column>'",
        "psu": "the primary sampling unit (census block, village); pass psu='<your column>' "
        "(a survey without clusters: psu= the id column, each household its own PSU)",
        "strata": "the sampling stratum; pass strata=None for a survey without strata "
        "(district x urban is used), or strata='<your column>'",
        "id_col": "the household id; pass id_col=None for a survey without ids, or "
        "id_col='<your column>'",
    }
    problems = [
        f"no column {col!r} ({why[arg]})"
        for arg, col in names.items()
        if col is not None and col not in frame.columns
    ]
    household = required_columns(spec.variables, None, None, urban=spec.urban)
    absent = [c for c in household if c not in frame.columns]
    if absent:
        problems.append(
            f"no columns {absent[:10]}{' ...' if len(absent) > 10 else ''} (the household "
            "columns district_code, urban, hh_size and the spec's variables, by name; rename "
            "the survey's columns, e.g. survey.rename(columns={'<yours>': '<spec name>'}), or "
            "pass spec= a VariableSpec that names the survey's own variables)"
        )
    if problems:
        first = next((c for c in names.values() if c is not None and c not in frame.columns), None)
        raise E.MissingColumnError(
            "survey: " + "; ".join(problems) + ". Fix: as said for each column.",
            column=first if first is not None else absent[0],
        )
    used = [c for c in names.values() if c is not None]
    return [*used, *household]


#: The fix of an encoder error (by rule) in calibration, which only raises: no
#: ``on_invalid``, no rejects table (the encoder's own fix offers them to rank).
_CALIBRATION_FIX = {
    "missing_or_infinite": "fill the missing values, or drop those households from the survey "
    "before calibrating (calibration sets no row aside)",
    "out_of_range": "correct the values, or drop those households from the survey before "
    "calibrating (calibration sets no row aside)",
    "invalid_code": "recode to the allowed codes (map old form codes explicitly), or drop "
    "those households from the survey before calibrating",
    "invalid_hh_size": "hh_size counts the members (a whole number from 1 to the spec's "
    "max_household_size); correct it, or drop those households from the survey",
    "unknown_region": "use district codes of the survey's region scheme (region_scheme=), or "
    "drop those households from the survey before calibrating",
    "duplicate_id": "make the household ids unique (each survey household once), or pass "
    "id_col=None for a survey without ids",
}


def _encode(frame: pd.DataFrame, ws: WeightSet, **kw: Any) -> Encoded:
    """:func:`pmt.encode.encode`, its errors carrying calibration's own fix."""
    try:
        return encode(frame, ws, **kw)
    except E.InputError as exc:
        msg, fix = str(exc), _CALIBRATION_FIX.get(exc.rule)
        cut = msg.rfind(" Fix: ")
        if fix is None or cut < 0 or "on_invalid" not in msg[cut:]:
            raise
        raise type(exc)(f"{msg[:cut]} Fix: {fix}.", column=exc.column, rows=exc.rows) from None


def _check_unit(values: np.ndarray, name: str) -> None:
    """Warn when the median consumption is implausible for Rp per person per month."""
    import warnings

    median = float(np.median(values))
    low, high = CONSUMPTION_RANGE
    if not low <= median <= high:
        warnings.warn(
            f"column {name!r}: the median per-capita consumption is {median:,.6g}, outside "
            f"{low:,.0f} to {high:,.0f}, the plausible range for rupiah per person per month "
            "(the unit pmt expects). Thousand rupiah, household totals or yearly sums? Fix: "
            "convert the column to Rp per person per month (e.g. x 1000 for thousand rupiah) "
            "before calibrating; poverty lines must be in the same unit.",
            E.ConsumptionUnitWarning,
            stacklevel=4,
        )


def _require_frame(survey: Any) -> pd.DataFrame:
    if not isinstance(survey, pd.DataFrame):
        raise TypeError(
            f"survey must be a pandas DataFrame; got {type(survey).__name__}. Fix: "
            "read the file with pmt.io.read_households (CSV, Parquet, Stata .dta)."
        )
    return survey


def _survey_column(frame: pd.DataFrame, name: str, what: str) -> np.ndarray:
    """Positive finite numbers (consumption)."""
    s = frame[name]
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    text = np.isnan(vals) & s.notna().to_numpy()
    if text.any():
        rows = np.flatnonzero(text)
        raise E.ColumnTypeError(
            f"column {name!r}: {what} must be numbers, found text (wrong_dtype) at "
            f"{E.format_examples(rows[:5].tolist(), s.to_numpy()[rows[:5]])}. Fix: convert the "
            "column to numbers.",
            column=name,
            rows=rows[:5].tolist(),
        )
    missing = ~np.isfinite(vals)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise E.MissingValueError(
            f"column {name!r}: {what} must be present and finite (missing_or_infinite); "
            f"{rows.size:,} of {vals.size:,} rows break it, e.g. "
            f"{E.format_examples(rows[:5].tolist(), vals[rows[:5]])}. Fix: drop those households "
            "from the "
            "survey before calibrating, or impute their consumption.",
            column=name,
            rows=rows[:5].tolist(),
        )
    bad = vals <= 0
    if bad.any():
        rows = np.flatnonzero(bad)
        raise E.InvalidValueError(
            f"column {name!r}: {what} must be greater than 0 (out_of_range; the model is in "
            f"logs); {rows.size:,} of {vals.size:,} rows break it, e.g. "
            f"{E.format_examples(rows[:5].tolist(), vals[rows[:5]])}. Fix: correct or drop those "
            "households.",
            column=name,
            rows=rows[:5].tolist(),
        )
    return vals


def _codes(frame: pd.DataFrame, name: str, what: str) -> np.ndarray:
    s = frame[name]
    missing = s.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise E.MissingValueError(
            f"column {name!r}: every household needs its {what} (missing_or_infinite); "
            f"{rows.size:,} of {len(s):,} rows have none, e.g. "
            f"{E.format_examples(rows[:5].tolist())}. "
            f"Fix: fill the {what} from the survey's sample frame.",
            column=name,
            rows=rows[:5].tolist(),
        )
    codes, _ = pd.factorize(s, sort=True)
    return codes.astype(np.int64)


def prepare(
    survey: Any,
    spec: VariableSpec | None,
    *,
    poverty_lines: Any,
    consumption: str,
    weight: str | None,
    psu: str,
    strata: str | None,
    id_col: str | None,
    scheme: Scheme,
    coverage: Any = None,
) -> SurveyData:
    """Check and encode a survey (the arguments of :func:`pmt.calibration.calibrate`)."""
    frame = _require_frame(survey)
    spec = default_spec() if spec is None else spec
    if not isinstance(spec, VariableSpec):
        raise TypeError(f"spec must be a pmt.VariableSpec or None; got {type(spec).__name__}")
    used = _check_columns(
        frame,
        spec,
        {
            "consumption": consumption,
            "weight": weight,
            "psu": psu,
            "strata": strata,
            "id_col": id_col,
        },
    )
    lines = read_poverty_lines(poverty_lines, scheme)
    # encoded once without lines: the survey's checks, and the regions it covers
    first = _encode(
        frame, draft(spec, {}, scheme), weight=weight, weighting="person", id_col=id_col
    )
    covers = resolve_coverage(coverage, first.cell_district[first.cell].astype(np.int64), scheme)
    try:
        zero = draft(spec, lines, scheme, covers)
    except E.WeightSetError as exc:
        where = "every province" if covers is None else f"every covered region {list(covers)}"
        raise CalibrationError(
            f"poverty_lines do not cover {where}: each needs a line (per province, province "
            f"x urban/rural, or a 'national' line); {len(exc.problems)} missing:\n  - "
            + "\n  - ".join(p.split(": ", 1)[-1] for p in exc.problems)
            + "\nFix: add the lines named (or a 'national' line)."
        ) from exc
    enc = _encode(frame, zero, weight=weight, weighting="person", id_col=id_col)
    consumption_values = _survey_column(frame, consumption, "per-capita consumption")
    _check_unit(consumption_values, consumption)
    _check_variation(consumption_values, consumption)
    psu_codes = _codes(frame, psu, "PSU (primary sampling unit)")
    strata_codes = _codes(frame, strata, "stratum") if strata is not None else None
    # every check passed (row positions in errors are the input's): now the canonical order
    order: np.ndarray | None = canonical_order(frame, used, id_col)
    if order is not None and np.array_equal(order, np.arange(order.size)):
        order = None
    if order is not None:
        frame = frame.iloc[order]
        enc = _encode(frame, zero, weight=weight, weighting="person", id_col=id_col)
        consumption_values = consumption_values[order]
        psu_codes = psu_codes[order]
        strata_codes = None if strata_codes is None else strata_codes[order]
    # the C library's log, as the encoder's terms (pmt.terms): the same bits on every machine
    y = libm.of(libm.log, consumption_values)
    district = enc.cell_district[enc.cell].astype(np.int64)
    urban = enc.cell_urban[enc.cell].astype(np.int64)
    if strata_codes is None:
        strata_codes = district * 2 + urban
    X, columns, term_pos, units = design(enc, spec)
    return SurveyData(
        frame=frame,
        enc=enc,
        X=X,
        y=y,
        shift=enc.cell_shift[enc.cell].copy(),
        pw=enc.person_weight.astype(np.float64),
        psu=psu_codes,
        strata=strata_codes,
        district=district,
        urban=urban,
        columns=columns,
        term_pos=term_pos,
        units=units,
        lines=lines,
        spec=spec,
        scheme=scheme,
        names={
            "consumption": consumption,
            "weight": weight or "(none: unweighted)",
            "psu": psu,
            "strata": strata or "(district x urban)",
            "id": id_col or "(none)",
        },
        fingerprint=fingerprint(frame, used),
        covers=covers,
        order=order,
    )


def _sort_codes(values: pd.Series) -> np.ndarray:
    """Dense codes of ``values`` in sorted order of the values (independent of row order)."""
    try:
        codes, _ = pd.factorize(values, sort=True)
    except TypeError:  # values of types that do not compare (mixed text and numbers)
        codes, _ = pd.factorize(values.astype(str), sort=True)
    return np.asarray(codes, dtype=np.int64)


def canonical_order(frame: pd.DataFrame, used: list[str], id_col: str | None) -> np.ndarray:
    """The canonical order of the survey's rows: what calibration sees, whatever the input order.

    By the household id when there is one (ids are unique: the encoder checks
    them); otherwise by the values of every column used, compared column by
    column in the order of ``used`` (rows equal in all of them are
    interchangeable). Returns the input position of each row in that order.
    """
    names = [id_col] if id_col is not None else list(dict.fromkeys(used))
    keys = [_sort_codes(frame[c]) for c in names]
    return np.lexsort(keys[::-1]).astype(np.int64)


def _check_variation(values: np.ndarray, name: str) -> None:
    """Refuse consumption that is the same for every household: there is nothing to model."""
    if values.size and bool(np.all(values == values[0])):
        raise CalibrationError(
            f"column {name!r}: every household has the same per-capita consumption "
            f"({values[0]:,.6g}; rule: consumption must vary, the models explain its variation "
            "across households). Fix: pass the survey's measured per-capita consumption "
            "(consumption='<your column>'), not a constant or a placeholder."
        )


def design(
    enc: Encoded, spec: VariableSpec
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, tuple[tuple[str, np.ndarray], ...]]:
    """Design matrix from the encoder's arrays: one column per non-reference term.

    Columns: ``intercept``; for each lookup variable, one 0/1 column per code
    but the first (the reference, coefficient 0); the numeric terms as they are.
    Returns ``(X, column names, position of each column in spec.terms, selection
    units)``; a unit is a variable's columns (a categorical variable's codes
    together, each numeric term alone).
    """
    term_index = {t: i for i, t in enumerate(spec.terms)}
    lookups = spec.lookup_variables
    n = enc.n
    p = 1 + sum(len(v.code_values) - 1 for v in lookups) + len(spec.numeric_terms)
    X = np.zeros((n, p), dtype=np.float64)
    X[:, 0] = 1.0
    columns = ["intercept"]
    units: list[tuple[str, np.ndarray]] = []
    j = 1
    rows = np.arange(n)
    for v_i, var in enumerate(lookups):
        codes = enc.codes[:, v_i].astype(np.int64)
        k = len(var.code_values) - 1
        has = codes > 0
        X[rows[has], j - 1 + codes[has]] = 1.0
        columns += [f"{var.name}={c}" for c in var.code_values[1:]]
        units.append((var.name, np.arange(j, j + k)))
        j += k
    for c_i, term in enumerate(spec.numeric_terms):
        X[:, j] = enc.numeric[:, c_i]
        columns.append(term)
        units.append((term, np.array([j])))
        j += 1
    term_pos = np.array([term_index[c] for c in columns], dtype=np.int64)
    return X, tuple(columns), term_pos, tuple(units)


def psu_folds(data: SurveyData, rows: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold of each row: whole PSUs, dealt round-robin in random order within each stratum."""
    rng = np.random.default_rng(seed)
    psus, first = np.unique(data.psu[rows], return_index=True)
    if psus.size < k:
        raise SmallSampleError(
            f"cross-validation with {k} folds needs at least {k} PSUs; the "
            f"sample has {psus.size}. Fix: use fewer folds."
        )
    st = data.strata[rows][first]
    perm = rng.permutation(psus.size)
    order = np.lexsort((perm, st))
    st_sorted = st[order]
    starts = np.flatnonzero(np.r_[True, st_sorted[1:] != st_sorted[:-1]])
    counts = np.diff(np.r_[starts, psus.size])
    pos = np.arange(psus.size) - np.repeat(starts, counts)
    offset = np.repeat(rng.integers(0, k, starts.size), counts)
    fold_of_psu = np.empty(psus.size, dtype=np.int64)
    fold_of_psu[order] = (pos + offset) % k
    return fold_of_psu[np.searchsorted(psus, data.psu[rows])]
