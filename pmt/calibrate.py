"""Recalibrate PMT weights from a household survey (SUSENAS-like).

:func:`calibrate` turns a survey — the household characteristics of a
variable spec, per-capita consumption, a survey weight, PSU and strata,
district code and urban/rural — into a :class:`~pmt.WeightSet` in exactly the
format :func:`pmt.rank` loads. The survey goes through the same encoder
(:func:`pmt.encode.encode`) as a registry does, and the reference cutoffs are
computed by scoring the survey with the new weight set through
:func:`pmt.score`: one code path for survey and registry.

The pieces, each documented where it lives and in ``docs/calibration.md``:

Target
    ``y = log(per-capita consumption)``; every fit is weighted by the person
    weight ``hh_size x survey weight``.
Estimators (``estimator=``)
    ``"wls"``: weighted least squares, cluster-robust (PSU) standard errors
    (statsmodels ``WLS(...).fit(cov_type="cluster")``). ``"quantile"``:
    survey-weighted quantile regression at ``tau`` (:mod:`pmt._qreg`; an
    interior-point solver, or the HiGHS linear program). ``"poverty_wls"``:
    "poverty-weighted" least squares (Brown, Ravallion & van de Walle 2018):
    WLS on the households whose observed welfare is in the poorest
    ``truncate`` share of people.
Selection (``select="stepwise"``)
    p-to-enter / p-to-remove on whole variables (a categorical variable's
    codes enter and leave together), cluster-robust score and Wald tests, run
    once on the national sample with district x urban fixed effects absorbed;
    every model then uses the selected variables (:mod:`pmt._stepwise`).
Regional structure (``pooling=``)
    Models form a tree: national -> province -> province x urban ->
    district x urban, and province -> district. ``"shrink"`` (default):
    every node with at least ``min_households`` households in ``min_psus``
    PSUs gets a model partially pooled toward its parent (ridge toward the
    parent's slopes, ``lambda`` in household-equivalents, and shrinkage of its
    level toward the parent's prediction, ``lambda_intercept``), both chosen
    per level by K-fold cross-validation over PSUs. ``"fallback"``: a node
    gets an unpooled model of its own only with enough households (default 5
    per coefficient) and a full-rank design; otherwise households use the
    next level of the chain. ``"none"``: naive per-district x urban models
    (plus the national one), for comparison. Each model's level, parent,
    method and pooling strength are recorded in the manifest's provenance.
Validation (:func:`cross_validate`)
    K-fold cross-validation by PSU (whole clusters, stratified), every
    estimator refitted on each training part (selection and pooling strength
    included), the held-out households scored through :func:`pmt.score`;
    out-of-sample R², Spearman and the targeting metrics of
    :func:`pmt.evaluate.evaluate` at chosen quotas, one row per estimator.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import hashlib
import math
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import errors as E
from ._blas import single_threaded
from ._qreg import cluster_cov, density_at_zero, fit_quantile
from ._stepwise import stepwise
from .encode import Encoded, encode
from .evaluate import _poorest
from .rank import reference_cutoffs, score_encoded
from .spec import VariableSpec, default_spec
from .weights import Manifest, WeightFiles, WeightSet, save_weights

__all__ = [
    "ESTIMATORS", "LAMBDA_GRID", "LEVEL_ORDER", "POOLING", "Calibration",
    "CalibrationError", "CalibrationWarning", "CollinearityError", "CrossValidation",
    "Options", "SmallSampleError", "add_cli", "calibrate", "cross_validate",
]

ESTIMATORS = ("wls", "quantile", "poverty_wls")
Scheme = Literal["BPS", "Kemendagri"]
POOLING = ("shrink", "fallback", "none")
#: Levels below the national model, in the order they are fitted (parents first).
LEVEL_ORDER = ("province", "province_urban", "district", "district_urban")
#: Candidate ridge-to-parent strengths (household-equivalents per coefficient).
LAMBDA_GRID = (0.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0,
               math.inf)
#: Candidate strengths pulling a model's level toward its parent's prediction.
INTERCEPT_GRID = (0.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, math.inf)

_KEY_FORMAT = {"national": lambda c: "national",
               "province": lambda c: f"{c:02d}",
               "province_urban": lambda c: f"{c // 2:02d}-{'urban' if c % 2 else 'rural'}",
               "district": lambda c: f"{c:04d}",
               "district_urban": lambda c: f"{c // 2:04d}-{'urban' if c % 2 else 'rural'}"}


# --------------------------------------------------------------------------- errors

class CalibrationError(ValueError):
    """A survey cannot be calibrated as asked (see the message for the fix)."""


class CollinearityError(CalibrationError):
    """Constant or collinear terms: the survey cannot separate their effects.

    Attributes
    ----------
    terms : tuple of str
        The terms involved.
    """

    def __init__(self, message: str, terms: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.terms = tuple(terms)


class SmallSampleError(CalibrationError):
    """Too few households or PSUs for any model where one is required.

    Attributes
    ----------
    regions : tuple of str
        The region keys concerned.
    """

    def __init__(self, message: str, regions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.regions = tuple(regions)


class CalibrationWarning(UserWarning):
    """Something the caller should know about a calibration that still succeeded."""


# --------------------------------------------------------------------------- options

@dataclass(frozen=True)
class Options:
    """How to calibrate (validated when built; recorded in the manifest's provenance).

    See :func:`calibrate` for the meaning of each field.
    """

    estimator: Literal["wls", "quantile", "poverty_wls"] = "wls"
    tau: float = 0.5
    truncate: float = 0.5
    solver: Literal["ipm", "highs"] = "ipm"
    select: Literal["stepwise"] | None = None
    p_enter: float = 0.05
    p_remove: float = 0.10
    keep: tuple[str, ...] = ()
    pooling: Literal["shrink", "fallback", "none"] = "shrink"
    min_households: int | None = None
    min_psus: int = 2
    lambdas: tuple[tuple[str, float, float], ...] | None = None
    pooling_folds: int = 5
    seed: int = 0
    on_collinear: Literal["raise", "drop"] = "raise"
    n_classes: int = 10

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> None:
            raise ValueError(f"{name}={getattr(self, name)!r}: {rule}")

        if self.estimator not in ESTIMATORS:
            bad("estimator", f"must be one of {ESTIMATORS}")
        if not 0.0 < self.tau < 1.0:
            bad("tau", "must lie strictly between 0 and 1")
        if not 0.0 < self.truncate <= 1.0:
            bad("truncate", "the poorest share kept must lie in (0, 1]")
        if self.solver not in ("ipm", "highs"):
            bad("solver", "must be 'ipm' or 'highs'")
        if self.select not in (None, "stepwise"):
            bad("select", "must be None or 'stepwise'")
        if not 0.0 < self.p_enter <= self.p_remove <= 1.0:
            bad("p_enter", f"needs 0 < p_enter <= p_remove <= 1 (p_remove={self.p_remove})")
        if self.pooling not in POOLING:
            bad("pooling", f"must be one of {POOLING}")
        if self.min_households is not None and self.min_households < 1:
            bad("min_households", "must be at least 1")
        if self.min_psus < 1:
            bad("min_psus", "must be at least 1")
        if self.pooling_folds < 2:
            bad("pooling_folds", "cross-validation needs at least 2 folds")
        if self.on_collinear not in ("raise", "drop"):
            bad("on_collinear", "must be 'raise' or 'drop'")
        if not 2 <= self.n_classes <= 100:
            bad("n_classes", "must be from 2 to 100")
        if self.lambdas is not None:
            for level, lam, lam0 in self.lambdas:
                if level not in LEVEL_ORDER or lam < 0 or lam0 < 0:
                    bad("lambdas", f"needs levels from {LEVEL_ORDER} and values >= 0")
        if self.solver == "highs" and self.estimator == "quantile" and self.pooling == "shrink":
            bad("solver", "the HiGHS linear program takes no pooling penalty; use "
                          "solver='ipm' with pooling='shrink'")

    def min_households_for(self, n_coef: int) -> int:
        """Households a node needs for a model of its own under this pooling."""
        if self.min_households is not None:
            return self.min_households
        return {"shrink": 30, "fallback": 5 * n_coef, "none": 30}[self.pooling]

    def record(self) -> dict[str, Any]:
        """The options as JSON-ready provenance."""
        out = dataclasses.asdict(self)
        out["keep"] = list(self.keep)
        if self.lambdas is not None:
            out["lambdas"] = {lvl: [_json_num(a), _json_num(b)] for lvl, a, b in self.lambdas}
        return out


def _json_num(x: float) -> float | str:
    return "inf" if math.isinf(x) else float(x)


def _options(kw: Mapping[str, Any]) -> Options:
    kw = dict(kw)
    if "keep" in kw:
        kw["keep"] = tuple(kw["keep"] or ())
    lam = kw.get("lambdas")
    if lam is not None and not isinstance(lam, tuple):
        kw["lambdas"] = tuple((lvl, float(v[0]), float(v[1])) if isinstance(v, (tuple, list))
                              else (lvl, float(v), 0.0) for lvl, v in dict(lam).items())
    names = {f.name for f in dataclasses.fields(Options)}
    unknown = sorted(set(kw) - names)
    if unknown:
        raise TypeError(f"unknown calibration options {unknown}; known: {sorted(names)}")
    return Options(**kw)


# --------------------------------------------------------------------------- the survey

@dataclass(frozen=True, eq=False)
class _Data:
    """A validated, encoded survey as arrays (every row valid)."""

    frame: pd.DataFrame
    enc: Encoded
    X: np.ndarray              # (n, p) design: intercept, lookup codes (reference dropped), numeric
    y: np.ndarray              # (n,) log per-capita consumption
    shift: np.ndarray          # (n,) log poverty line (0 without lines)
    pw: np.ndarray             # (n,) person weight = hh_size x survey weight
    psu: np.ndarray            # (n,) int codes
    strata: np.ndarray         # (n,) int codes
    district: np.ndarray       # (n,) int
    urban: np.ndarray          # (n,) int 0/1
    columns: tuple[str, ...]   # (p,) term name of each design column
    term_pos: np.ndarray       # (p,) position of each column in spec.terms
    units: tuple[tuple[str, np.ndarray], ...]  # selection units: (name, design columns)
    lines: dict[str, float]
    spec: VariableSpec
    scheme: Scheme
    names: dict[str, str]      # survey column names used

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def welfare(self) -> np.ndarray:
        """Observed welfare: log(per-capita consumption / poverty line)."""
        return self.y - self.shift

    def level_codes(self, level: str) -> np.ndarray:
        prov = self.district // 100
        return {"national": np.zeros_like(self.district), "province": prov,
                "province_urban": prov * 2 + self.urban, "district": self.district,
                "district_urban": self.district * 2 + self.urban}[level]

    @cached_property
    def data_hash(self) -> str:
        h = hashlib.sha256()
        for a in (self.y, self.pw, self.X, self.psu, self.district, self.urban):
            h.update(np.ascontiguousarray(a).tobytes())
        return "sha256:" + h.hexdigest()


def _draft(spec: VariableSpec, lines: Mapping[str, float], scheme: Scheme) -> WeightSet:
    """A zero-coefficient weight set: it lets the encoder validate and encode a survey."""
    manifest = Manifest(name="calibration-draft", version="0", created=_dt.date(2000, 1, 1),
                        description="provisional zero weight set used to encode a survey",
                        synthetic=True, region_scheme=scheme, region_vintage="calibration",
                        spec=spec)
    return WeightSet(manifest, ("national",), np.zeros((1, len(spec.terms))), dict(lines))


def _poverty_lines(lines: Any, scheme: str) -> dict[str, float]:
    """Region key -> line, from a mapping or a table (see :func:`calibrate`)."""
    if lines is None:
        return {}
    if isinstance(lines, (str, Path)):
        from .io import read_households

        lines = read_households(lines)
    if isinstance(lines, Mapping):
        out = {str(k): float(v) for k, v in lines.items()}
    elif isinstance(lines, pd.DataFrame):
        cols = set(lines.columns)
        value = "poverty_line"
        if value not in cols:
            raise CalibrationError(
                f"poverty_lines: the table needs a 'poverty_line' column (Rp per person per "
                f"month); it has {sorted(cols)}. Fix: rename the column.")
        vals = pd.to_numeric(lines[value], errors="coerce").to_numpy(dtype=np.float64)
        if "region_key" in cols:
            keys = lines["region_key"].astype(str).tolist()
        elif "district_code" in cols or "province_code" in cols:
            code_col = "district_code" if "district_code" in cols else "province_code"
            width = 4 if code_col == "district_code" else 2
            codes = pd.to_numeric(lines[code_col], errors="coerce")
            if codes.isna().any():
                raise CalibrationError(f"poverty_lines: column {code_col!r} has missing or "
                                       "non-numeric codes. Fix: fill them.")
            base = [f"{int(c):0{width}d}" for c in codes]
            if "urban" in cols:
                urb = pd.to_numeric(lines["urban"], errors="coerce")
                if not urb.isin([0, 1]).all():
                    raise CalibrationError("poverty_lines: 'urban' must be 0 or 1.")
                keys = [f"{b}-{'urban' if u else 'rural'}" for b, u in zip(base, urb, strict=True)]
            else:
                keys = base
        else:
            raise CalibrationError(
                "poverty_lines: the table needs 'region_key', or 'province_code' / "
                "'district_code' (optionally with 'urban'), beside 'poverty_line'. Fix: add "
                "the region columns.")
        if len(set(keys)) != len(keys):
            raise CalibrationError("poverty_lines: a region appears more than once.")
        out = dict(zip(keys, vals.tolist(), strict=True))
    else:
        raise TypeError(f"poverty_lines must be a mapping, a DataFrame or a file path; got "
                        f"{type(lines).__name__}")
    bad = {k: v for k, v in out.items() if not (math.isfinite(v) and v > 0)}
    if bad:
        raise CalibrationError(f"poverty_lines: lines must be positive numbers; not so for "
                               f"{dict(list(bad.items())[:5])}. Fix: correct them.")
    return out


def _require_frame(survey: Any) -> pd.DataFrame:
    if not isinstance(survey, pd.DataFrame):
        raise TypeError(f"survey must be a pandas DataFrame; got {type(survey).__name__}. Fix: "
                        "read the file with pmt.io.read_households (CSV, Parquet, Stata .dta).")
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
            "column to numbers.", column=name, rows=rows[:5].tolist())
    missing = ~np.isfinite(vals)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise E.MissingValueError(
            f"column {name!r}: {what} must be present and finite (missing_or_infinite); "
            f"{rows.size:,} of {vals.size:,} rows break it, e.g. "
            f"{E.format_examples(rows[:5].tolist(), vals[rows[:5]])}. Fix: drop those households "
            "from the "
            "survey before calibrating, or impute their consumption.", column=name,
            rows=rows[:5].tolist())
    bad = vals <= 0
    if bad.any():
        rows = np.flatnonzero(bad)
        raise E.InvalidValueError(
            f"column {name!r}: {what} must be greater than 0 (out_of_range; the model is in "
            f"logs); {rows.size:,} of {vals.size:,} rows break it, e.g. "
            f"{E.format_examples(rows[:5].tolist(), vals[rows[:5]])}. Fix: correct or drop those "
            "households.",
            column=name, rows=rows[:5].tolist())
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
            f"Fix: fill the {what} from the survey's sample frame.", column=name,
            rows=rows[:5].tolist())
    codes, _ = pd.factorize(s, sort=True)
    return codes.astype(np.int64)


def _prepare(survey: Any, spec: VariableSpec | None, *, poverty_lines: Any, consumption: str,
             weight: str, psu: str, strata: str | None, id_col: str | None,
             scheme: Scheme) -> _Data:
    frame = _require_frame(survey)
    spec = default_spec() if spec is None else spec
    if not isinstance(spec, VariableSpec):
        raise TypeError(f"spec must be a pmt.VariableSpec or None; got {type(spec).__name__}")
    own = [c for c in (consumption, psu, strata) if c is not None]
    missing = [c for c in own if c not in frame.columns]
    if missing:
        raise E.MissingColumnError(
            f"missing survey columns {missing} (rule: a survey needs per-capita consumption, "
            "a PSU and optionally strata, beside the household columns). Fix: rename the "
            "columns or pass consumption=, psu=, strata= with their names.", column=missing[0])
    lines = _poverty_lines(poverty_lines, scheme)
    try:
        draft = _draft(spec, lines, scheme)
    except E.WeightSetError as exc:
        raise CalibrationError(
            "poverty_lines do not cover every household's region: every province needs a "
            "line (per province, province x urban/rural, district, or a 'national' line). "
            f"Details: {exc.problems[:3]}") from exc
    enc = encode(frame, draft, weight=weight, weighting="person", id_col=id_col)
    y = np.log(_survey_column(frame, consumption, "per-capita consumption"))
    psu_codes = _codes(frame, psu, "PSU (primary sampling unit)")
    district = enc.cell_district[enc.cell].astype(np.int64)
    urban = enc.cell_urban[enc.cell].astype(np.int64)
    strata_codes = (_codes(frame, strata, "stratum") if strata is not None
                    else district * 2 + urban)
    X, columns, term_pos, units = _design(enc, spec)
    return _Data(frame=frame, enc=enc, X=X, y=y, shift=enc.cell_shift[enc.cell].copy(),
                 pw=enc.person_weight.astype(np.float64), psu=psu_codes, strata=strata_codes,
                 district=district, urban=urban, columns=columns, term_pos=term_pos,
                 units=units, lines=lines, spec=spec, scheme=scheme,
                 names={"consumption": consumption, "weight": weight, "psu": psu,
                        "strata": strata or "(district x urban)", "id": id_col or "(none)"})


def _design(enc: Encoded, spec: VariableSpec
            ) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, tuple[tuple[str, np.ndarray], ...]]:
    """Design matrix from the encoder's arrays: one column per non-reference term.

    Columns: ``intercept``; for each lookup variable, one 0/1 column per code
    but the first (the reference, coefficient 0); the numeric terms as they are.
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


# --------------------------------------------------------------------------- screening

@dataclass
class _Screen:
    """Which design columns the models use, and why others are left out."""

    active: np.ndarray                       # bool (p,)
    unobserved: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (term, reason)


def _wmean(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w @ X) / w.sum()


def _screen(data: _Data, rows: np.ndarray, opts: Options) -> _Screen:
    """Unobserved codes, constant variables and collinear terms in the national sample."""
    X = data.X[rows]
    w = data.pw[rows] / data.pw[rows].mean()
    p = X.shape[1]
    active = np.ones(p, dtype=bool)
    screen = _Screen(active)
    mean = _wmean(X, w)
    var = _wmean((X - mean) ** 2, w)
    scale = np.maximum(np.abs(mean), 1.0)
    flat = var <= 1e-12 * scale**2
    flat[0] = False
    constants: list[tuple[str, str]] = []
    lookup = {v.name for v in data.spec.lookup_variables}
    for name, cols in data.units:
        if name in lookup:
            observed_ref = bool(((X[:, cols] == 0).all(axis=1)).any())
            observed = int(observed_ref) + int((X[:, cols] != 0).any(axis=0).sum())
            if observed <= 1:
                code = "the reference code" if observed_ref else data.columns[
                    cols[int(np.flatnonzero((X[:, cols] != 0).any(axis=0))[0])]]
                constants.append((name, f"every household has {code}"))
                active[cols] = False
                continue
            zero = cols[(X[:, cols] == 0).all(axis=0)]
            for c in zero:
                screen.unobserved.append(data.columns[c])
                active[c] = False
        elif flat[cols].all():
            constants.append((name, f"every household has the value {X[0, cols[0]]:g}"))
            active[cols] = False
    if constants:
        terms = [t for t, _ in constants]
        if opts.on_collinear == "raise":
            what = "; ".join(f"{t!r} ({why})" for t, why in constants)
            raise CollinearityError(
                f"constant variables in the survey (households fitted): {what}. Their effect "
                "cannot be estimated. "
                "Fix: remove them from the variable spec, or pass on_collinear='drop' to drop "
                "them (their coefficients are then 0, recorded in the weight set).", terms)
        screen.dropped += [(t, f"constant: {why}") for t, why in constants]
    # collinearity among the remaining columns, given the intercept
    cols = np.flatnonzero(active)[1:]
    if cols.size:
        Xc = (X[:, cols] - mean[cols]) * np.sqrt(w)[:, None]
        sd = np.sqrt(np.maximum(var[cols], 1e-300))
        C = (Xc.T @ Xc) / w.sum() / np.outer(sd, sd)
        keep_list, redundant_list = _sequential_rank(C)
        redundant = np.array(redundant_list, dtype=np.int64)
        if redundant.size:
            records = []
            for r in redundant:
                keep = np.array([k for k in keep_list if k < r], dtype=np.int64)
                a = np.linalg.lstsq(C[np.ix_(keep, keep)], C[keep, r], rcond=None)[0]
                a = a * sd[r] / sd[keep]
                partners = [(data.columns[cols[k]], a[i]) for i, k in enumerate(keep)
                            if abs(a[i]) > 1e-6]
                expr = " + ".join(f"{coef:.3g} x {name!r}" for name, coef in partners[:6])
                records.append((data.columns[cols[r]], expr or "a constant"))
            if opts.on_collinear == "raise":
                what = "; ".join(f"{t!r} = {expr} (+ constant)" for t, expr in records)
                raise CollinearityError(
                    f"collinear terms in the survey (households fitted): {what}. The survey "
                    "cannot separate their "
                    "effects (a questionnaire skip pattern often does this, e.g. a code 'not "
                    "working' in two variables). Fix: drop one of the variables from the spec "
                    "or merge codes, or pass on_collinear='drop' to drop each term listed first "
                    "(the last, in spec order, of its dependency; coefficient 0, recorded).",
                    [t for t, _ in records])
            for (t, expr), r in zip(records, redundant, strict=True):
                screen.dropped.append((t, f"collinear: = {expr} (+ constant)"))
                active[cols[r]] = False
    return screen


def _sequential_rank(C: np.ndarray, tol: float = 1e-9) -> tuple[list[int], list[int]]:
    """Columns of a correlation matrix in order: kept, or redundant (in the span of the
    kept columns before them), by an incremental Cholesky factorisation."""
    p = C.shape[0]
    L = np.zeros((p, p))
    keep: list[int] = []
    redundant: list[int] = []
    for j in range(p):
        k = len(keep)
        if k:
            from scipy.linalg import solve_triangular

            idx = np.array(keep)
            v = solve_triangular(L[:k, :k], C[idx, j], lower=True, check_finite=False)
            r = C[j, j] - v @ v
        else:
            v = np.zeros(0)
            r = C[j, j]
        if r <= tol * max(C[j, j], 1e-300):
            redundant.append(j)
            continue
        L[k, :k] = v
        L[k, k] = math.sqrt(r)
        keep.append(j)
    return keep, redundant


# --------------------------------------------------------------------------- node fits

@dataclass
class _Model:
    """One fitted model of the tree."""

    key: str
    level: str
    beta: np.ndarray                     # (p,) over design columns
    fit: str                             # "root", "shrunk", "own", "naive"
    parent: str | None
    households: int
    psus: int
    lam: float = math.nan
    lam0: float = math.nan
    se: np.ndarray | None = None
    result: Any = None
    unobserved: int = 0
    dropped: int = 0


def _groups(codes: np.ndarray) -> dict[int, np.ndarray]:
    """Positions of each distinct code (positions into ``codes``)."""
    if codes.size == 0:
        return {}
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    cut = np.flatnonzero(sc[1:] != sc[:-1]) + 1
    return {int(codes[s[0]]): s for s in (order[a:b] for a, b in
                                       zip(np.r_[0, cut], np.r_[cut, sc.size], strict=True))}


def _parents(level: str, code: int) -> list[tuple[str, int]]:
    """Candidate parents of a node, nearest first (the tree, then the fallback)."""
    if level == "province":
        return [("national", 0)]
    if level == "province_urban":
        return [("province", code // 2), ("national", 0)]
    if level == "district":
        return [("province", code // 100), ("national", 0)]
    return [("province_urban", (code // 200) * 2 + code % 2), ("province", code // 200),
            ("national", 0)]


def _wls_sm(X: np.ndarray, y: np.ndarray, w: np.ndarray, psu: np.ndarray,
            names: Sequence[str]) -> Any:
    import statsmodels.api as sm

    exog = pd.DataFrame(X, columns=list(names))
    model = sm.WLS(pd.Series(y, name="log_consumption"), exog, weights=w)
    if np.unique(psu).size >= 2 and X.shape[0] > X.shape[1]:
        return model.fit(cov_type="cluster", cov_kwds={"groups": psu}, use_t=True)
    return model.fit()


def _bse(result: Any) -> np.ndarray | None:
    """Standard errors of a statsmodels result, None when it has no residual freedom."""
    if result.df_resid <= 0:
        return None
    return np.asarray(result.bse)


def _rank_keep(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns (of a design without intercept) kept by a rank-revealing pivoted QR, given
    the intercept."""
    from scipy.linalg import qr

    if X.shape[1] == 0:
        return np.zeros(0, dtype=np.int64)
    sw = np.sqrt(w / w.sum())
    Xc = (X - _wmean(X, w)) * sw[:, None]
    norms = np.sqrt((Xc**2).sum(0))
    Xs = Xc / np.where(norms > 0, norms, 1.0)
    _, R, piv = qr(Xs, pivoting=True, mode="economic")
    diag = np.abs(np.diag(R))
    if diag.size == 0 or diag[0] == 0:
        return np.zeros(0, dtype=np.int64)
    rank = int((diag > 1e-9 * diag[0]).sum())
    return np.sort(piv[:rank])


class _Fitter:
    """Fits the tree of models on a subset of the survey's rows."""

    def __init__(self, data: _Data, opts: Options, active: np.ndarray, *,
                 keep_results: bool = True, with_se: bool = True) -> None:
        self.data = data
        self.opts = opts
        self.active = active
        self.slopes = np.flatnonzero(active)[1:]
        self.keep_results = keep_results
        self.with_se = with_se
        self.n_coef = int(active.sum())

    # ---------------------------------------------------------------- rows
    def fit_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows an estimator learns from (poverty_wls: the poorest share).

        The poorest share of people by observed welfare is pmt's desil rule
        (:func:`pmt.assign_desil`, ties never split), as in ``pmt.evaluate``'s quotas.
        """
        if self.opts.estimator != "poverty_wls" or self.opts.truncate >= 1.0:
            return rows
        return rows[_poorest(self.data.welfare[rows], self.data.pw[rows], self.opts.truncate)]

    def scale(self, rows: np.ndarray) -> np.ndarray:
        """Penalty scale: the national weighted variance of each slope column."""
        X = self.data.X[np.ix_(rows, self.slopes)]
        w = self.data.pw[rows]
        mean = _wmean(X, w)
        var = _wmean((X - mean) ** 2, w)
        return np.maximum(var, 1e-12)

    # ---------------------------------------------------------------- root
    def root(self, rows: np.ndarray) -> _Model:
        d, o = self.data, self.opts
        cols = np.flatnonzero(self.active)
        X, y = d.X[np.ix_(rows, cols)], d.y[rows]
        w = d.pw[rows] / d.pw[rows].mean()
        beta = np.zeros(d.X.shape[1])
        se = np.full(d.X.shape[1], np.nan)
        if o.estimator == "quantile":
            fit = fit_quantile(X, y, w, tau=o.tau, solver=o.solver)
            if self.with_se:
                cov = cluster_cov(X, y, w, fit.params, o.tau, d.psu[rows])
                fit = dataclasses.replace(fit, cov=cov, bse=np.sqrt(np.clip(np.diag(cov), 0,
                                                                           None)))
                se[cols] = fit.bse
            beta[cols] = fit.params
            result: Any = fit
        elif self.keep_results or self.with_se:
            result = _wls_sm(X, y, w, d.psu[rows], [d.columns[c] for c in cols])
            beta[cols] = np.asarray(result.params)
            se[cols] = np.asarray(result.bse)
        else:
            beta[cols] = _wls_np(X, y, w)
            result = None
        return _Model("national", "national", beta, "root", None, int(rows.size),
                      int(np.unique(d.psu[rows]).size), se=se if self.with_se else None,
                      result=result if self.keep_results else None)

    # ---------------------------------------------------------------- tree
    def tree(self, rows: np.ndarray, lambdas: Mapping[str, tuple[float, float]] | None
             ) -> dict[str, _Model]:
        """Every model of the tree fitted on ``rows`` (the estimator's own rows inside)."""
        d, o = self.data, self.opts
        rows = self.fit_rows(rows)
        if rows.size == 0:
            raise SmallSampleError("no households to fit the national model on.")
        models: dict[tuple[str, int], _Model] = {("national", 0): self.root(rows)}
        scale = self.scale(rows) if o.pooling == "shrink" else None
        fhat = None
        if o.estimator == "quantile" and o.pooling == "shrink":
            beta = models[("national", 0)].beta
            u = d.y[rows] - d.X[rows] @ beta
            fhat = density_at_zero(u, d.pw[rows] / d.pw[rows].mean(), o.tau)
        min_h = o.min_households_for(self.n_coef)
        levels = LEVEL_ORDER if o.pooling != "none" else ("district_urban",)
        for level in levels:
            codes = d.level_codes(level)[rows]
            for code, pos in sorted(_groups(codes).items()):
                node_rows = rows[pos]
                n_psu = int(np.unique(d.psu[node_rows]).size)
                key = _KEY_FORMAT[level](code)
                if node_rows.size < min_h or n_psu < o.min_psus:
                    if o.pooling == "none":
                        raise SmallSampleError(
                            f"region {key} has {node_rows.size} households in {n_psu} PSUs: "
                            f"too few for a model of its own (min_households={min_h}, "
                            f"min_psus={o.min_psus}) and pooling='none' has no fallback. Fix: "
                            "use pooling='shrink' (partial pooling) or 'fallback', or lower "
                            "min_households.", [key])
                    continue
                parent = (next(pk for pk in _parents(level, code) if pk in models)
                          if o.pooling != "none" else ("national", 0))
                pm = models[parent]
                if o.pooling == "shrink":
                    assert lambdas is not None and scale is not None
                    lam, lam0 = lambdas[level]
                    model = self._shrunk(level, key, node_rows, pm, scale, lam, lam0, fhat)
                else:
                    model = self._own(level, key, node_rows, pm, naive=o.pooling == "none")
                if model is not None:
                    model.psus = n_psu
                    models[(level, code)] = model
        return {m.key: m for m in models.values()}

    # ---------------------------------------------------------------- shrunk
    def _shrunk(self, level: str, key: str, rows: np.ndarray, pm: _Model, scale: np.ndarray,
                lam: float, lam0: float, fhat: float | None) -> _Model | None:
        d = self.data
        if math.isinf(lam) and math.isinf(lam0):
            return None  # the parent itself: households fall back to it
        X = d.X[rows]
        y = d.y[rows]
        w = d.pw[rows] / d.pw[rows].mean()
        s = self.slopes
        beta = np.zeros(d.X.shape[1])
        xbar = _wmean(X[:, s], w)
        m_parent = pm.beta[0] + xbar @ pm.beta[s]
        se = None
        if self.opts.estimator == "quantile":
            assert fhat is not None
            slopes, level_at_mean = _qr_shrunk(X[:, s] - xbar, y, w, pm.beta[s], m_parent,
                                               scale, lam * fhat, lam0 * fhat, self.opts.tau)
            beta[s] = slopes
            beta[0] = level_at_mean - xbar @ slopes
        else:
            path, _, ybar = _ridge_path(X[:, s], y, w, pm.beta[s], np.sqrt(scale), (lam,))
            beta[s] = path[0]
            shrink = rows.size / (rows.size + lam0) if math.isfinite(lam0) else 0.0
            level_at_mean = m_parent + shrink * (ybar - m_parent)
            beta[0] = level_at_mean - xbar @ beta[s]
            if self.with_se and math.isfinite(lam):
                se = np.full(d.X.shape[1], np.nan)
                se[s] = _ridge_se(X[:, s] - xbar, y - X @ beta, w, d.psu[rows], lam * scale)
        unobserved = int(((X[:, s] != 0).sum(0) == 0).sum())
        return _Model(key, level, beta, "shrunk", pm.key, int(rows.size), 0, lam=lam,
                      lam0=lam0, se=se, unobserved=unobserved)

    # ---------------------------------------------------------------- own / naive
    def _own(self, level: str, key: str, rows: np.ndarray, pm: _Model, *, naive: bool
             ) -> _Model | None:
        d, o = self.data, self.opts
        s = self.slopes
        X = d.X[np.ix_(rows, s)]
        y = d.y[rows]
        w = d.pw[rows] / d.pw[rows].mean()
        mean = _wmean(X, w)
        const = _wmean((X - mean) ** 2, w) <= 1e-12 * np.maximum(np.abs(mean), 1.0) ** 2
        free = np.flatnonzero(~const)
        beta = np.zeros(d.X.shape[1])
        offset = np.zeros(rows.size)
        if not naive:  # constant columns keep the parent's coefficient
            beta[s[const]] = pm.beta[s[const]]
            offset = X[:, const] @ pm.beta[s[const]]
        keep = free[_rank_keep(X[:, free], w)]
        dropped = free.size - keep.size
        if dropped and not naive:
            return None  # rank-deficient: the node falls back along the chain
        Xf = np.column_stack([np.ones(rows.size), X[:, keep]])
        names = ["intercept"] + [d.columns[c] for c in s[keep]]
        se = np.full(d.X.shape[1], np.nan) if self.with_se else None
        if o.estimator == "quantile":
            fit = fit_quantile(Xf, y - offset, w, tau=o.tau, solver=o.solver)
            if self.with_se:
                cov = cluster_cov(Xf, y - offset, w, fit.params, o.tau, d.psu[rows])
                fit = dataclasses.replace(fit, cov=cov, bse=np.sqrt(np.clip(np.diag(cov), 0,
                                                                           None)))
            params, bse, result = fit.params, fit.bse, fit
        elif self.keep_results or self.with_se:
            result = _wls_sm(Xf, y - offset, w, d.psu[rows], names)
            params, bse = np.asarray(result.params), _bse(result)
        else:
            params, bse, result = _wls_np(Xf, y - offset, w), None, None
        beta[0] = params[0]
        beta[s[keep]] = params[1:]
        if se is not None and bse is not None:
            se[0] = bse[0]
            se[s[keep]] = bse[1:]
        return _Model(key, level, beta, "naive" if naive else "own", pm.key, int(rows.size), 0,
                      se=se, result=result if self.keep_results else None,
                      unobserved=int(((X != 0).sum(0) == 0).sum()), dropped=int(dropped))


def _wls_np(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]


def _ridge_path(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, d: np.ndarray,
                lambdas: Sequence[float]) -> tuple[np.ndarray, np.ndarray, float]:
    """Slopes of ``min sum w (y - a - X beta)^2 + lam sum d_j^2 (beta_j - b_j)^2`` per lambda.

    The intercept ``a`` is free (the problem is solved on weighted-centred
    columns); ``d_j^2`` is the national variance of column ``j``, so ``lam`` counts
    households: a coefficient is pulled halfway to the parent when the node's
    information about it equals ``lam`` households' worth. Returns
    ``(slopes (L, k), xbar (k,), ybar)``; ``lam = 0`` is least squares
    (minimum norm if rank-deficient), ``lam = inf`` the parent's slopes.
    """
    sw = w.sum()
    xbar = (w @ X) / sw
    ybar = float(w @ y) / sw
    Xc = X - xbar
    r = (y - ybar) - Xc @ b
    sq = np.sqrt(w)
    Z = Xc * (sq[:, None] / d)
    t = r * sq
    m, k = Z.shape
    if m < k:  # through the m x m kernel: Z = U S V', V = Z'U / S
        e, U = np.linalg.eigh(Z @ Z.T)
        pos = e > max(float(e.max(initial=0.0)), 1e-300) * 1e-10
        e, U = e[pos], U[:, pos]
        sv = np.sqrt(e)
        g = sv * (U.T @ t)
        V = (Z.T @ U) / sv
    else:
        e, V = np.linalg.eigh(Z.T @ Z)
        g = V.T @ (Z.T @ t)
    tol = max(float(e.max(initial=0.0)), 1e-300) * 1e-10
    ok = e > tol
    out = np.empty((len(lambdas), k))
    for i, lam in enumerate(lambdas):
        if math.isinf(lam):
            out[i] = b
            continue
        coef = np.where(ok, g / np.where(ok, e + lam, 1.0), 0.0) if lam == 0 else g / (e + lam)
        out[i] = b + (V @ coef) / d
    return out, xbar, ybar


def _ridge_se(Xc: np.ndarray, resid: np.ndarray, w: np.ndarray, psu: np.ndarray,
              penalty: np.ndarray) -> np.ndarray:
    """Cluster-robust sandwich SEs of ridge-to-parent slopes (conditional on the parent)."""
    H = (Xc.T * w) @ Xc
    H[np.diag_indices_from(H)] += penalty
    Hinv = np.linalg.pinv(H, hermitian=True)
    scores = Xc * (w * resid)[:, None]
    order = np.argsort(psu, kind="stable")
    cut = np.flatnonzero(np.r_[True, psu[order][1:] != psu[order][:-1]])
    S = np.add.reduceat(scores[order], cut, axis=0)
    G = S.shape[0]
    V = Hinv @ (S.T @ S) @ Hinv * (G / (G - 1) if G > 1 else 1.0)
    return np.sqrt(np.clip(np.diag(V), 0, None))


def _qr_shrunk(Xc: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, m_parent: float,
               scale: np.ndarray, kappa: float, kappa0: float, tau: float
               ) -> tuple[np.ndarray, float]:
    """Penalised quantile regression of a node on centred columns: (slopes, level at mean)."""
    n = y.size
    if math.isinf(kappa):  # parent's slopes; only the level is fitted
        design = np.ones((n, 1))
        target = y - Xc @ b
        pen = np.array([0.0 if math.isinf(kappa0) else kappa0])
        prior = np.array([m_parent])
        if math.isinf(kappa0):
            return b.copy(), m_parent
        fit = fit_quantile(design, target, w, tau=tau, penalty=pen, prior=prior)
        return b.copy(), float(fit.params[0])
    if math.isinf(kappa0):  # parent's level at the node's mean; slopes fitted
        fit = fit_quantile(Xc, y - m_parent, w, tau=tau, penalty=kappa * scale, prior=b)
        return fit.params, m_parent
    design = np.column_stack([np.ones(n), Xc])
    pen = np.r_[kappa0, kappa * scale]
    fit = fit_quantile(design, y, w, tau=tau, penalty=pen, prior=np.r_[m_parent, b])
    return fit.params[1:], float(fit.params[0])


# --------------------------------------------------------------------------- folds, lambdas

def _psu_folds(data: _Data, rows: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold of each row: whole PSUs, dealt round-robin in random order within each stratum."""
    rng = np.random.default_rng(seed)
    psus, first = np.unique(data.psu[rows], return_index=True)
    if psus.size < k:
        raise SmallSampleError(f"cross-validation with {k} folds needs at least {k} PSUs; the "
                               f"sample has {psus.size}. Fix: use fewer folds.")
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


def _choose_lambdas(fitter: _Fitter, rows: np.ndarray
                    ) -> tuple[dict[str, tuple[float, float]], pd.DataFrame]:
    """Pooling strengths per level by K-fold CV over PSUs (least squares on ``y``).

    Levels are chosen from the top: for each fold, the models above the level
    are refitted on the training part with the strengths already chosen; each
    node of the level is fitted on its training households for every
    ``(lambda, lambda_intercept)`` of the grids and scored on its held-out
    households. The pair with the smallest weighted squared error over all
    nodes and folds wins (ties: the stronger pooling).
    """
    d, o = fitter.data, fitter.opts
    rows = fitter.fit_rows(rows)
    K = o.pooling_folds
    folds = _psu_folds(d, rows, K, o.seed + 7919)
    s = fitter.slopes
    lam_grid = LAMBDA_GRID
    lam0_grid = INTERCEPT_GRID
    # least squares throughout (quantile regression reuses these strengths, see _shrunk)
    inner = _Fitter(d, dataclasses.replace(
        o, pooling="shrink", estimator="wls" if o.estimator == "quantile" else o.estimator),
        fitter.active, keep_results=False, with_se=False)
    fits: list[dict[tuple[str, int], np.ndarray]] = []
    scales = []
    train_sets = []
    for k in range(K):
        train = rows[folds != k]
        train_sets.append(train)
        fits.append({("national", 0): inner.root(train).beta})
        scales.append(np.sqrt(inner.scale(train)))
    wglob = d.pw / d.pw[rows].mean()
    min_h = o.min_households_for(fitter.n_coef)
    chosen: dict[str, tuple[float, float]] = {}
    records = []
    for level in LEVEL_ORDER:
        sse = np.zeros((len(lam_grid), len(lam0_grid)))
        kept: list[list[tuple[int, np.ndarray, float, float, np.ndarray, int]]] = []
        for k in range(K):
            train, test = train_sets[k], rows[folds == k]
            tg = _groups(d.level_codes(level)[train])
            sg = _groups(d.level_codes(level)[test])
            level_fits = []
            for code, pos in tg.items():
                node = train[pos]
                if node.size < min_h or np.unique(d.psu[node]).size < o.min_psus:
                    continue
                parent = next(pk for pk in _parents(level, code) if pk in fits[k])
                b = fits[k][parent]
                w = d.pw[node] / d.pw[node].mean()
                path, xbar, ybar = _ridge_path(d.X[np.ix_(node, s)], d.y[node], w, b[s],
                                               scales[k], lam_grid)
                m_parent = b[0] + xbar @ b[s]
                level_fits.append((code, path, ybar, m_parent, xbar, node.size))
                if code in sg:
                    te = test[sg[code]]
                    wt = wglob[te]
                    e = d.y[te][:, None] - (d.X[np.ix_(te, s)] - xbar) @ path.T  # (m, L)
                    s0, s1, s2 = wt.sum(), wt @ e, wt @ e**2
                    shrink = np.array([node.size / (node.size + l0) if math.isfinite(l0)
                                       else 0.0 for l0 in lam0_grid])
                    m = m_parent + shrink * (ybar - m_parent)          # (L0,)
                    sse += s2[:, None] - 2 * np.outer(s1, m) + s0 * m[None, :] ** 2
            kept.append(level_fits)
        if o.lambdas is not None and level in dict((lv, 0) for lv, _, _ in o.lambdas):
            lam, lam0 = next((a0, a1) for lv, a0, a1 in o.lambdas if lv == level)
        elif not sse.any():
            lam, lam0 = math.inf, math.inf
        else:
            best = sse.min()
            cands = [(i, j) for i in range(len(lam_grid)) for j in range(len(lam0_grid))
                     if sse[i, j] <= best * (1 + 1e-12)]
            i, j = max(cands, key=lambda ij: (lam_grid[ij[0]], lam0_grid[ij[1]]))
            lam, lam0 = lam_grid[i], lam0_grid[j]
        chosen[level] = (lam, lam0)
        for i, a in enumerate(lam_grid):
            for j, b0 in enumerate(lam0_grid):
                records.append({"level": level, "lambda": a, "lambda_intercept": b0,
                                "cv_sse": float(sse[i, j]) if sse.any() else math.nan})
        # refit this level at the chosen strengths, for the levels below
        at: int | None = lam_grid.index(lam) if lam in lam_grid else None
        for k in range(K):
            for code, path, ybar, m_parent, xbar, size in kept[k]:
                if math.isinf(lam) and math.isinf(lam0):
                    continue
                if at is None:
                    node_rows = train_sets[k][_groups(d.level_codes(level)[train_sets[k]])[code]]
                    parent = next(pk for pk in _parents(level, code) if pk in fits[k])
                    b = fits[k][parent]
                    w = d.pw[node_rows] / d.pw[node_rows].mean()
                    slopes = _ridge_path(d.X[np.ix_(node_rows, s)], d.y[node_rows], w, b[s],
                                         scales[k], (lam,))[0][0]
                else:
                    slopes = path[at]
                frac = size / (size + lam0) if math.isfinite(lam0) else 0.0
                beta = np.zeros(d.X.shape[1])
                beta[s] = slopes
                beta[0] = m_parent + frac * (ybar - m_parent) - xbar @ slopes
                fits[k][(level, code)] = beta
    return chosen, pd.DataFrame.from_records(records)


# --------------------------------------------------------------------------- the fit

@dataclass(frozen=True, eq=False)
class _Fit:
    models: dict[str, _Model]
    screen: _Screen
    active: np.ndarray
    selection: pd.DataFrame | None
    lambdas: dict[str, tuple[float, float]] | None
    lambda_path: pd.DataFrame | None


def _fit(data: _Data, rows: np.ndarray, opts: Options, *, keep_results: bool = True,
         with_se: bool = True) -> _Fit:
    """Screening, selection, pooling strengths and the tree, on ``rows``."""
    with single_threaded():
        return _fit_inner(data, rows, opts, keep_results=keep_results, with_se=with_se)


def _fit_inner(data: _Data, rows: np.ndarray, opts: Options, *, keep_results: bool,
               with_se: bool) -> _Fit:
    # screened on the households the estimator learns from (poverty_wls: the poorest)
    screen = _screen(data, _Fitter(data, opts, np.ones(data.X.shape[1], bool)).fit_rows(rows),
                     opts)
    active = screen.active.copy()
    selection = None
    if opts.select == "stepwise":
        active, selection = _select(data, rows, opts, active)
    fitter = _Fitter(data, opts, active, keep_results=keep_results, with_se=with_se)
    if fitter.n_coef >= rows.size:
        raise SmallSampleError(f"the survey has {rows.size} households for {fitter.n_coef} "
                               "coefficients of the national model. Fix: a larger survey or "
                               "fewer variables.", ["national"])
    lambdas = path = None
    if opts.pooling == "shrink":
        given = {lv: (a, b) for lv, a, b in (opts.lambdas or ())}
        if all(lv in given for lv in LEVEL_ORDER):
            lambdas = given
        else:
            lambdas, path = _choose_lambdas(fitter, rows)
    models = fitter.tree(rows, lambdas)
    return _Fit(models, screen, active, selection, lambdas, path)


def _select(data: _Data, rows: np.ndarray, opts: Options, active: np.ndarray
            ) -> tuple[np.ndarray, pd.DataFrame]:
    """Stepwise selection on the national sample, district x urban means absorbed."""
    units = [(name, cols[active[cols]]) for name, cols in data.units]
    names = [u for u, c in units if c.size]
    unit_cols = [c for _, c in units if c.size]
    known = {u for u, _ in data.units}
    unknown = [k for k in opts.keep if k not in known]
    if unknown:
        raise ValueError(f"keep: {unknown} are not variables of the spec (or derived "
                         f"features); known: {sorted(known)[:12]} ...")
    forced = [names.index(k) for k in opts.keep if k in names]
    fit_rows = _Fitter(data, opts, active).fit_rows(rows)
    cols = np.concatenate(unit_cols) if unit_cols else np.zeros(0, dtype=np.int64)
    X = data.X[np.ix_(fit_rows, cols)]
    y = data.y[fit_rows]
    w = data.pw[fit_rows] / data.pw[fit_rows].mean()
    cells = data.level_codes("district_urban")[fit_rows]
    Xd, yd, n_cells = _demean(X, y, w, cells)
    local, start = [], 0
    for c in unit_cols:
        local.append(np.arange(start, start + c.size))
        start += c.size
    res = stepwise(Xd, yd, w, data.psu[fit_rows], local, p_enter=opts.p_enter,
                   p_remove=opts.p_remove, forced=forced, n_absorbed=n_cells)
    keep = np.zeros_like(active)
    keep[0] = True
    for u in res.selected:
        keep[unit_cols[u]] = True
    steps = pd.DataFrame([{**s, "variable": names[s["unit"]]}  # type: ignore[call-overload]
                          for s in res.steps],
                         columns=["step", "action", "variable", "p_value", "statistic", "df"])
    steps.attrs.update({"stopped": res.stopped, "selected": [names[u] for u in res.selected],
                        "final_p_values": {names[u]: p for u, p in res.final_pvalues.items()},
                        "candidates": names, "fixed_effects": "district x urban (absorbed)"})
    return active & keep, steps


def _demean(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, int]:
    """Subtract weighted group means (fixed effects absorbed)."""
    codes, uniq = pd.factorize(groups)
    sw = np.bincount(codes, weights=w)
    order = np.argsort(codes, kind="stable")
    cut = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]])
    mx = np.add.reduceat((X * w[:, None])[order], cut, axis=0) / sw[:, None]
    my = np.bincount(codes, weights=w * y) / sw
    return X - mx[codes], y - my[codes], len(uniq)


# --------------------------------------------------------------------------- scoring the survey
# Every prediction for the survey's households — the models' in-sample fit, the reference
# cutoffs, cross-validation — comes from pmt's one scorer (score_encoded) on the encoder's
# arrays. Only fitting uses the design matrix.

def _scoring_set(data: _Data, models: Mapping[str, _Model]) -> WeightSet:
    """The fitted models as a weight set, for scoring the survey (no cutoffs)."""
    keys, coef = _coefficients(data, models)
    return WeightSet(_draft(data.spec, data.lines, data.scheme).manifest, keys, coef,
                     dict(data.lines))


def _encode_for(data: _Data, ws: WeightSet) -> Encoded:
    """The survey encoded for ``ws`` (its cells resolved to ws's models), survey order."""
    return encode(data.frame, ws, id_col=_id(data))


def _log_consumption(enc: Encoded, ws: WeightSet) -> np.ndarray:
    """Predicted log per-capita consumption: :func:`pmt.rank.score_encoded`, no poverty line."""
    return score_encoded(dataclasses.replace(enc, cell_shift=np.zeros_like(enc.cell_shift)), ws)


def _by_level(data: _Data, ws: WeightSet, level: str) -> np.ndarray:
    """Predicted log consumption of each household by the model of its node at ``level``
    (NaN where that node has none): the encoder's arrays with every cell pointed at the
    node's model, scored by :func:`pmt.rank.score_encoded`."""
    enc = data.enc
    index = ws.model_index()
    cell_code = np.zeros(enc.cell_district.shape[0], dtype=np.int64)
    cell_code[enc.cell] = data.level_codes(level)
    fmt = _KEY_FORMAT[level]
    cell_model = np.array([index.get(fmt(c), -1) for c in cell_code.tolist()], dtype=np.int32)
    has = cell_model >= 0
    out = _log_consumption(dataclasses.replace(enc, cell_model=np.where(has, cell_model, 0)
                                               .astype(np.int32)), ws)
    out[~has[enc.cell]] = np.nan
    return out


def _r2(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """Weighted R² of ``yhat`` for ``y``, from exactly rounded sums (:func:`math.fsum`): the
    value depends on the numbers only, not on their order or memory layout."""
    total = math.fsum(w.tolist())
    mean = math.fsum((w * y).tolist()) / total
    sst = math.fsum((w * (y - mean) ** 2).tolist())
    return 1.0 - math.fsum((w * (y - yhat) ** 2).tolist()) / sst if sst > 0 else math.nan


def _rmse(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """Weighted root mean squared error (exactly rounded sums, as :func:`_r2`)."""
    return math.sqrt(math.fsum((w * (y - yhat) ** 2).tolist()) / math.fsum(w.tolist()))


# --------------------------------------------------------------------------- assembly

def _coefficients(data: _Data, models: Mapping[str, _Model]) -> tuple[tuple[str, ...],
                                                                      np.ndarray]:
    keys = tuple(sorted(models, key=_key_order))
    coef = np.zeros((len(keys), len(data.spec.terms)))
    for i, k in enumerate(keys):
        coef[i, data.term_pos] = models[k].beta
    return keys, coef


def _key_order(key: str) -> tuple[int, str]:
    if key == "national":
        return (0, "")
    code = key.split("-")[0]
    return (1 if len(code) == 2 else 2, key)


def _assemble(data: _Data, fit: _Fit, opts: Options, manifest: Manifest,
              with_cutoffs: bool = True) -> WeightSet:
    keys, coef = _coefficients(data, fit.models)
    # the manifest as save_weights writes it, so that the hash in memory is the hash on disk
    files = WeightFiles(poverty_lines=WeightFiles().poverty_lines if data.lines else None,
                        cutoffs=WeightFiles().cutoffs if with_cutoffs else None)
    manifest = manifest.model_copy(update={
        "files": files, "cutoff_classes": opts.n_classes if with_cutoffs else None})
    ws = WeightSet(manifest, keys, coef, dict(data.lines))
    if not with_cutoffs:
        return ws
    welfare = score_encoded(_encode_for(data, ws), ws)  # what pmt.score gives
    province = data.district // 100
    cut = {"national": reference_cutoffs(welfare, data.pw, n=opts.n_classes)[None]}
    for p, c in sorted(reference_cutoffs(welfare, data.pw, groups=province,
                                         n=opts.n_classes).items()):
        cut[f"{int(p):02d}"] = c
    return WeightSet(manifest, keys, coef, dict(data.lines), cut)


def _id(data: _Data) -> str | None:
    return None if data.names["id"] == "(none)" else data.names["id"]


def _node_code(key: str) -> int:
    """The level code of a model key (inverse of ``_KEY_FORMAT``)."""
    if key == "national":
        return 0
    code, _, urb = key.partition("-")
    return int(code) * 2 + (urb == "urban") if urb else int(code)


def _models_table(data: _Data, fit: _Fit, rows: np.ndarray) -> pd.DataFrame:
    """Diagnostics of every model: sample, in-sample fit, pooling.

    A model's fit is over its node's households, each scored by that model
    through the one scorer (:func:`_by_level`).
    """
    recs = []
    levels = ("national", *LEVEL_ORDER)
    groups = {lvl: _groups(data.level_codes(lvl)[rows]) for lvl in levels}
    ws = _scoring_set(data, fit.models)
    scored = {lvl: _by_level(data, ws, lvl) for lvl in levels
              if any(m.level == lvl for m in fit.models.values())}
    for key in sorted(fit.models, key=_key_order):
        m = fit.models[key]
        lvl = m.level
        sel = rows[groups[lvl][_node_code(key)]]
        yhat = scored[lvl][sel]
        w = data.pw[sel]
        y = data.y[sel]
        recs.append({
            "model_key": key, "level": lvl, "fit": m.fit, "parent": m.parent,
            "households": int(sel.size), "psus": int(np.unique(data.psu[sel]).size),
            "households_fitted": m.households, "people": float(w.sum()),
            "r2": _r2(y, yhat, w), "rmse": _rmse(y, yhat, w),
            "lambda": m.lam, "lambda_intercept": m.lam0,
            "unobserved_terms": m.unobserved, "dropped_terms": m.dropped,
        })
    return pd.DataFrame.from_records(recs).set_index("model_key")


def _coef_table(data: _Data, fit: _Fit) -> pd.DataFrame:
    keys = sorted(fit.models, key=_key_order)
    p = len(data.columns)
    nan = np.full(p, np.nan)
    return pd.DataFrame({
        "model_key": np.repeat(np.array(keys, dtype=object), p),
        "term": np.tile(np.array(data.columns, dtype=object), len(keys)),
        "coef": np.concatenate([fit.models[k].beta for k in keys]),
        "se": np.concatenate([nan if fit.models[k].se is None else fit.models[k].se
                              for k in keys]),
        "active": np.tile(fit.active, len(keys)),
    })


# --------------------------------------------------------------------------- result

@dataclass(frozen=True, eq=False)
class Calibration:
    """The result of :func:`calibrate`: a new weight set and how it was made.

    Attributes
    ----------
    weights : WeightSet
        The calibrated weight set (reference cutoffs included), ready for
        :func:`pmt.rank`.
    models : pandas.DataFrame
        One row per model key: ``level``, ``fit`` (``root`` / ``shrunk`` /
        ``own`` / ``naive``), ``parent``, ``households``, ``psus``,
        ``households_fitted`` (rows the estimator learnt from), ``people``,
        in-sample person-weighted ``r2`` and ``rmse`` of log consumption,
        ``lambda`` and ``lambda_intercept`` (pooling strengths),
        ``unobserved_terms``, ``dropped_terms``.
    coefficients : pandas.DataFrame
        Long table ``model_key``, ``term``, ``coef``, ``se`` (cluster-robust;
        for shrunk models conditional on the parent and lambda, intercept
        NaN), ``active`` (used by the models), over the design columns
        (reference codes are not listed: their coefficient is 0).
    results : dict of str to object
        The untouched statsmodels results (``RegressionResultsWrapper``) of
        every least-squares model fitted on its own (the national model
        always), or :class:`pmt._qreg.QuantRegFit` for quantile regression.
    selection : pandas.DataFrame or None
        The steps of stepwise selection (``attrs``: selected variables,
        final p-values, why it stopped).
    lambdas : dict or None
        ``level -> (lambda, lambda_intercept)`` of partial pooling.
    lambda_path : pandas.DataFrame or None
        Cross-validated squared error over the grids, per level.
    dropped : pandas.DataFrame
        Terms left out of every model (``term``, ``reason``): codes never
        observed, constant or collinear terms dropped on request, variables
        not selected.
    options : Options
    survey : dict
        Households, PSUs, strata, column names and a hash of the data.
    """

    weights: WeightSet
    models: pd.DataFrame
    coefficients: pd.DataFrame
    results: dict[str, Any]
    selection: pd.DataFrame | None
    lambdas: dict[str, tuple[float, float]] | None
    lambda_path: pd.DataFrame | None
    dropped: pd.DataFrame
    options: Options
    survey: dict[str, Any]

    @property
    def national(self) -> Any:
        """The national model's results object (statsmodels, or QuantRegFit)."""
        return self.results.get("national")

    def levels(self) -> pd.Series:
        """Number of models at each level."""
        return self.models["level"].value_counts().reindex(
            ("national", *LEVEL_ORDER), fill_value=0)

    def summary(self) -> str:
        """A readable account of the calibration."""
        o, s, ws = self.options, self.survey, self.weights
        est = {"wls": "weighted least squares (person weights, PSU-clustered SEs)",
               "quantile": f"weighted quantile regression, tau={o.tau:g} ({o.solver})",
               "poverty_wls": f"poverty-weighted least squares: the poorest {o.truncate:.0%} "
                              "of people by observed welfare"}[o.estimator]
        nat = self.models.loc["national"]
        national = self.coefficients[self.coefficients["model_key"] == "national"]
        n_active = int(national["active"].sum()) - 1
        lines = [
            f"Calibration of weight set {ws.id} "
            f"({'synthetic' if ws.manifest.synthetic else 'survey'})",
            f"  survey      {s.get('name') or '(unnamed)'} {s.get('period') or ''}".rstrip(),
            f"              {s['households']:,} households, {s['psus']:,} PSUs, "
            f"{s['strata']:,} strata, {s['people']:,.0f} people (weighted)",
            f"  estimator   {est}",
            f"  variables   {n_active} coefficients of {len(ws.spec.terms) - 1} terms"
            + (f"; stepwise kept {len(self.selection.attrs['selected'])} of "
               f"{len(self.selection.attrs['candidates'])} variables (p_enter={o.p_enter:g}, "
               f"p_remove={o.p_remove:g})" if self.selection is not None else ""),
            f"  national    R2 {nat['r2']:.3f}, RMSE {nat['rmse']:.3f} (log consumption, "
            "in sample)",
            f"  pooling     {o.pooling}: " + ", ".join(f"{lv} {n}" for lv, n in
                                                     self.levels().items()),
        ]
        if self.lambdas:
            lines.append("  strengths   " + "; ".join(
                f"{lv} lambda={_fmt_lam(a)}, level={_fmt_lam(b)}"
                for lv, (a, b) in self.lambdas.items()))
        if len(self.dropped):
            counts = self.dropped["reason"].str.split(":").str[0].value_counts()
            lines.append("  left out    " + ", ".join(f"{n} {r}" for r, n in counts.items()))
        lines.append(f"  cutoffs     national + {len(ws.cutoffs) - 1} provinces, "
                     f"n={ws.cutoff_classes}")
        lines.append(f"  hash        {ws.content_hash}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Calibration {self.weights.id}: {self.options.estimator}, pooling="
                f"{self.options.pooling}, {len(self.models)} models, "
                f"{self.survey['households']:,} households>")

    def save(self, folder: str | Path) -> WeightSet:
        """Write the weight set (with its provenance and hash) and the diagnostics.

        The folder gets the weight set's files, plus ``diagnostics.csv`` (the
        :attr:`models` table) and ``calibration.txt`` (:meth:`summary`), which
        :func:`pmt.load_weights` ignores. Returns the weight set as loaded
        back from disk.
        """
        from .io import atomic_output

        folder = Path(folder)
        ws = save_weights(self.weights, folder)
        with atomic_output(folder / "diagnostics.csv") as tmp:
            self.models.to_csv(tmp, float_format="%.6g", lineterminator="\n")
        with atomic_output(folder / "calibration.txt") as tmp:
            tmp.write_text(self.summary() + "\n", encoding="utf-8", newline="\n")
        return ws


def _fmt_lam(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:g}"


def calibrate(survey: pd.DataFrame, spec: VariableSpec | None = None, *,
              poverty_lines: Any = None, consumption: str = "consumption",
              weight: str = "weight", psu: str = "psu", strata: str | None = "strata",
              id_col: str | None = "hh_id", region_scheme: Scheme = "BPS",
              name: str = "calibrated", version: str = "1.0.0",
              description: str | None = None, created: _dt.date | None = None,
              region_vintage: str = "as coded in the survey", synthetic: bool | None = None,
              survey_name: str | None = None, survey_period: str | None = None,
              provenance: Mapping[str, Any] | None = None,
              **options: Any) -> Calibration:
    """Calibrate a weight set on a household survey.

    Parameters
    ----------
    survey : pandas.DataFrame
        One row per household: ``hh_id``, ``district_code``, ``urban``,
        ``hh_size``, the spec's variables (as for :func:`pmt.rank`), and the
        survey columns named below.
    spec : VariableSpec, optional
        The variables; :func:`pmt.default_spec` if None.
    poverty_lines : mapping or DataFrame or path, optional
        Rupiah per person per month, per region: a mapping ``region_key ->
        line`` (``"31-urban"``, ``"3171"``, ``"national"`` …) or a table with
        ``poverty_line`` and ``region_key``, or ``province_code`` /
        ``district_code`` (optionally with ``urban``). Welfare is then
        ``log(consumption / line)``; without lines the raw prediction.
    consumption, weight, psu, strata, id_col : str
        Survey column names: per-capita consumption (> 0), survey weight
        (> 0), primary sampling unit, stratum (None: district x urban), id.
    region_scheme : {"BPS", "Kemendagri"}
    name, version, description, created, region_vintage, synthetic
        Manifest fields of the new weight set; ``synthetic`` defaults to the
        survey's ``attrs["synthetic"]`` (set by :func:`pmt.synth.survey`).
    survey_name, survey_period : str, optional
        Recorded in the provenance (e.g. ``"SUSENAS"``, ``"2024-03"``).
    provenance : mapping, optional
        Extra provenance entries (e.g. the script that ran the calibration).
    **options
        The fields of :class:`Options`:

        ``estimator`` ({"wls", "quantile", "poverty_wls"}, default "wls"),
        ``tau`` (quantile, default 0.5), ``truncate`` (poverty_wls: the
        poorest share of people kept, default 0.5), ``solver`` ({"ipm",
        "highs"}), ``select`` (None or "stepwise"), ``p_enter`` (0.05),
        ``p_remove`` (0.10), ``keep`` (variables always in), ``pooling``
        ({"shrink", "fallback", "none"}), ``min_households`` (per model;
        default 30 for shrink and none, 5 x coefficients for fallback),
        ``min_psus`` (2), ``lambdas`` (``{level: (lambda,
        lambda_intercept)}`` to skip their cross-validation), ``pooling_folds`` (5,
        PSU folds choosing the pooling strengths), ``seed`` (0), ``on_collinear`` ({"raise",
        "drop"}), ``n_classes`` (10, for the reference cutoffs).

    Returns
    -------
    Calibration

    Raises
    ------
    pmt.errors.InputError
        Missing columns, missing or non-positive consumption, zero or
        negative weights, missing PSU, invalid codes, … (the encoder's rules).
    CollinearityError
        Constant or collinear terms (unless ``on_collinear="drop"``).
    SmallSampleError
        Too few households for the national model, or a district too small
        for any model under ``pooling="none"``.
    CalibrationError
        Poverty lines that do not cover every region, and similar.

    Warns
    -----
    CalibrationWarning
        Codes never observed in the survey (their coefficient is 0, the
        reference's).
    """
    opts = _options(options)
    data = _prepare(survey, spec, poverty_lines=poverty_lines, consumption=consumption,
                    weight=weight, psu=psu, strata=strata, id_col=id_col,
                    scheme=region_scheme)
    rows = np.arange(data.n)
    fit = _fit(data, rows, opts)
    if fit.screen.unobserved:
        warnings.warn(
            f"{len(fit.screen.unobserved)} codes are never observed in the survey (in the "
            f"households the estimator fits) and get "
            f"coefficient 0 (the reference code's) in every model: "
            f"{fit.screen.unobserved[:8]}{' ...' if len(fit.screen.unobserved) > 8 else ''}. "
            "Households with these codes are scored as if they had the reference code; "
            "see Calibration.dropped.", CalibrationWarning, stacklevel=2)
    dropped = _dropped(data, fit)
    synthetic = bool(survey.attrs.get("synthetic", False)) if synthetic is None else synthetic
    created = created or _dt.date.today()
    info = {"name": survey_name, "period": survey_period, "households": data.n,
            "psus": int(np.unique(data.psu).size), "strata": int(np.unique(data.strata).size),
            "people": float(data.pw.sum()), "columns": data.names, "data_hash": data.data_hash}
    from . import __version__

    models = _models_table(data, fit, rows)
    prov: dict[str, Any] = {
        "method": "pmt.calibrate",
        "survey": {k: v for k, v in info.items()},
        "estimator": opts.record(),
        "target": "log per-capita consumption; fits weighted by hh_size x survey weight",
        "poverty_lines": "given per region" if data.lines else "none (welfare is the raw "
                                                                "prediction)",
        "pooling": {
            "mode": opts.pooling,
            "tree": "national > province > province x urban > district x urban; "
                    "province > district",
            "lambdas": None if fit.lambdas is None else
            {lv: {"lambda": _json_num(a), "lambda_intercept": _json_num(b)}
             for lv, (a, b) in fit.lambdas.items()},
        },
        "selection": None if fit.selection is None else {
            "selected": fit.selection.attrs["selected"], "stopped": fit.selection.attrs["stopped"],
            "fixed_effects": fit.selection.attrs["fixed_effects"]},
        "left_out_terms": [[t, r] for t, r in zip(dropped["term"], dropped["reason"],
                                                   strict=True)],
        "reference_cutoffs": f"survey population, person-weighted (hh_size x {weight}), "
                             f"n={opts.n_classes}, national and per province",
        "models": {"columns": ["model_key", "level", "fit", "parent", "households", "psus",
                               "lambda", "lambda_intercept"],
                   "rows": [[k, r.level, r.fit, r.parent, int(r.households), int(r.psus),
                             _json_num(r["lambda"]) if not math.isnan(r["lambda"]) else None,
                             _json_num(r.lambda_intercept)
                             if not math.isnan(r.lambda_intercept) else None]
                            for k, r in models.iterrows()]},
        "created": created.isoformat(),
        "pmt_version": __version__,
    }
    if provenance:
        prov.update(dict(provenance))
    manifest = Manifest(
        name=name, version=version, created=created,
        description=description or (
            f"Calibrated by pmt.calibrate ({opts.estimator}, pooling={opts.pooling}) on "
            f"{survey_name or 'a survey'}{' ' + survey_period if survey_period else ''}"
            + (" — SYNTHETIC survey: not for targeting anyone." if synthetic else ".")),
        synthetic=synthetic, region_scheme=region_scheme, region_vintage=region_vintage,
        model_level="district_urban",
        spec=data.spec, provenance=_jsonable(prov))
    ws = _assemble(data, fit, opts, manifest)
    results = {k: m.result for k, m in fit.models.items() if m.result is not None}
    return Calibration(weights=ws, models=models, coefficients=_coef_table(data, fit),
                       results=results, selection=fit.selection, lambdas=fit.lambdas,
                       lambda_path=fit.lambda_path, dropped=dropped, options=opts,
                       survey=info)


def _dropped(data: _Data, fit: _Fit) -> pd.DataFrame:
    recs = [(t, "unobserved: never in the households fitted") for t in fit.screen.unobserved]
    recs += list(fit.screen.dropped)
    if fit.selection is not None:
        chosen = set(fit.selection.attrs["selected"])
        for name in fit.selection.attrs["candidates"]:
            if name not in chosen:
                recs.append((name, "not selected: stepwise"))
    return pd.DataFrame(recs, columns=["term", "reason"])


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else ("inf" if v > 0 else None if math.isnan(v) else "-inf")
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


# --------------------------------------------------------------------------- cross-validation

@dataclass(frozen=True, eq=False)
class CrossValidation:
    """Out-of-sample comparison of estimators (:func:`cross_validate`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per estimator: out-of-sample ``r2`` and ``rmse`` of log
        consumption, ``spearman`` of welfare, then per quota ``H``:
        ``exclusion_error_H``, ``inclusion_error_H`` (share of the targeted
        who are not poor), ``inclusion_error_nonpoor_H`` (share of the
        non-poor targeted, Alatas et al. 2012), ``targeting_differential_H``,
        ``cgh_H``, ``auc_H`` and ``ee_fold_sd_H`` (spread of the exclusion error
        across folds); and ``in_sample_r2`` (mean over the training parts).
        Under a quota the targeted share equals the poor share, so
        ``inclusion_error_H`` equals ``exclusion_error_H`` (see ``docs/evaluation.md``).
        Metrics are person-weighted (``hh_size x survey weight``); the poor
        are the poorest ``H`` of people by observed welfare, the targeted the
        poorest ``H`` by predicted welfare (pmt.evaluate's quota rule).
    folds : pandas.DataFrame
        The same metrics per estimator and fold, with each fold's ``in_sample_r2``.
    predictions : pandas.DataFrame
        One row per household (survey order): ``fold``, ``true_welfare``,
        ``person_weight`` and one predicted-welfare column per estimator
        (``pmt.score`` of the household under its held-out fold's weight set).
    evaluations : dict of str to pmt.evaluate.Evaluation
        The full targeting evaluation of each estimator's pooled out-of-fold
        predictions.
    fold_weights : dict of str to tuple of WeightSet
        Per estimator, the weight set fitted on each fold's training part
        (without reference cutoffs): ``pmt.score(survey, fold_weights[label][k])``
        reproduces the predictions of fold ``k``.
    """

    table: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame
    evaluations: dict[str, Any]
    settings: dict[str, Any]
    fold_weights: dict[str, tuple[WeightSet, ...]] = field(default_factory=dict)

    def to_markdown(self, columns: Sequence[str] | None = None, digits: int = 3) -> str:
        """The comparison table (or some of its ``columns``) as a Markdown table."""
        t = (self.table if columns is None else self.table[list(columns)]).reset_index()
        head = "| " + " | ".join(t.columns) + " |"
        sep = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(t.columns))) + "|"
        body = []
        for _, row in t.iterrows():
            cells = [str(v) if isinstance(v, str) else f"{v:.{digits}f}" for v in row]
            body.append("| " + " | ".join(cells) + " |")
        return "\n".join([head, sep, *body])

    def headline(self) -> list[str]:
        """The columns worth reading first: fit, ranking, and errors at each quota."""
        cols = ["r2", "spearman"]
        for q in self.settings["quotas"]:
            cols += [f"exclusion_error_{q:g}", f"inclusion_error_nonpoor_{q:g}", f"cgh_{q:g}"]
        return [*cols, "in_sample_r2"]

    def __repr__(self) -> str:
        return (f"<CrossValidation {len(self.table)} estimators, {self.settings['folds']} "
                f"PSU folds, {len(self.predictions):,} households>")


def cross_validate(survey: pd.DataFrame, spec: VariableSpec | None = None, *,
                   estimators: Mapping[str, Mapping[str, Any]] | None = None,
                   folds: int = 5, quotas: Iterable[float] = (0.2, 0.4), seed: int = 0,
                   poverty_lines: Any = None, consumption: str = "consumption",
                   weight: str = "weight", psu: str = "psu", strata: str | None = "strata",
                   id_col: str | None = "hh_id", region_scheme: Scheme = "BPS",
                   **options: Any) -> CrossValidation:
    """K-fold cross-validation by PSU of one or several estimators, in one table.

    The survey's PSUs are dealt into ``folds`` folds (whole clusters, in
    random order within each stratum). For each fold and estimator the whole
    calibration — screening, stepwise selection, pooling strengths, every
    model — is refitted on the other folds, turned into a weight set, and the
    survey is scored with it through the registry's code path (the encoder and
    :func:`pmt.rank.score_encoded`, i.e. :func:`pmt.score`): the held-out
    households for the out-of-sample metrics, the training households for the
    in-sample R². Metrics are computed on the pooled out-of-fold predictions.

    Parameters
    ----------
    survey, spec, poverty_lines, consumption, weight, psu, strata, id_col, region_scheme
        As for :func:`calibrate`.
    estimators : mapping of str to mapping, optional
        Label -> calibration options (e.g. ``{"WLS": {}, "QR 0.3": {"estimator":
        "quantile", "tau": 0.3}}``), each on top of ``**options``. Default: one
        estimator from ``**options``.
    folds : int
    quotas : iterable of float
        Targeting quotas ``H`` (poorest shares of people).
    seed : int
        Seed of the fold assignment (and, unless an estimator sets its own, of the
        inner folds that choose pooling strengths).

    Returns
    -------
    CrossValidation
    """
    from .evaluate import evaluate

    quotas = tuple(float(q) for q in quotas)
    data = _prepare(survey, spec, poverty_lines=poverty_lines, consumption=consumption,
                    weight=weight, psu=psu, strata=strata, id_col=id_col,
                    scheme=region_scheme)
    specs = {"estimator": {}} if estimators is None else dict(estimators)
    opts_of = {label: _options({"seed": seed, **options, **dict(kw)})
               for label, kw in specs.items()}
    rows = np.arange(data.n)
    fold = _psu_folds(data, rows, folds, seed)
    true = data.welfare
    pred = {label: np.full(data.n, np.nan) for label in specs}
    logc = {label: np.full(data.n, np.nan) for label in specs}  # predicted log consumption
    in_r2: dict[str, list[float]] = {label: [] for label in specs}
    fold_ws: dict[str, list[WeightSet]] = {label: [] for label in specs}
    manifest = Manifest(name="cv-fold", version="0", created=_dt.date(2000, 1, 1),
                        description="cross-validation fold", synthetic=True,
                        region_scheme=region_scheme, region_vintage="calibration",
                        spec=data.spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        for label, opts in opts_of.items():
            for k in range(folds):
                train, test = rows[fold != k], rows[fold == k]
                fit = _fit(data, train, opts, keep_results=False, with_se=False)
                ws = _assemble(data, fit, opts, manifest, with_cutoffs=False)
                enc = _encode_for(data, ws)
                pred[label][test] = score_encoded(enc, ws)[test]  # what pmt.score gives
                hat = _log_consumption(enc, ws)
                logc[label][test] = hat[test]
                in_r2[label].append(_r2(data.y[train], hat[train], data.pw[train]))
                fold_ws[label].append(ws)
    recs, fold_recs = [], []
    evaluations = {}
    for label in specs:
        p = pred[label]
        ev = evaluate(true, p, weight=data.pw, quotas=quotas)
        evaluations[label] = ev
        rec = _metrics(data, logc[label], ev, quotas)
        for k in range(folds):
            sel = fold == k
            evk = evaluate(true[sel], p[sel], weight=data.pw[sel], quotas=quotas)
            fold_recs.append({"estimator": label, "fold": k,
                              **_metrics(data, logc[label], evk, quotas, sel),
                              "in_sample_r2": in_r2[label][k]})
        rec["in_sample_r2"] = float(np.mean(in_r2[label]))
        recs.append({"estimator": label, **rec})
    folds_frame = pd.DataFrame(fold_recs)
    table = pd.DataFrame(recs).set_index("estimator")
    for q in quotas:
        table[f"ee_fold_sd_{q:g}"] = folds_frame.groupby("estimator", sort=False)[
            f"exclusion_error_{q:g}"].std().reindex(table.index)
    order = (["r2", "rmse", "spearman"]
             + [f"{m}_{q:g}" for q in quotas for m in (*_QUOTA_METRICS, "ee_fold_sd")]
             + ["in_sample_r2"])
    table = table[order]
    predictions = pd.DataFrame({"fold": fold, "true_welfare": true, "person_weight": data.pw,
                                **{f"pred_{label}": pred[label] for label in specs}},
                               index=data.enc.index)
    settings = {"folds": folds, "quotas": quotas, "seed": seed,
                "options": {label: o.record() for label, o in opts_of.items()}}
    return CrossValidation(table, folds_frame, predictions, evaluations, settings,
                           {label: tuple(v) for label, v in fold_ws.items()})


def _metrics(data: _Data, logc: np.ndarray, ev: Any, quotas: Sequence[float],
             sel: np.ndarray | None = None) -> dict[str, float]:
    """Fit of the predicted log consumption ``logc`` and the targeting metrics of ``ev``."""
    keep = slice(None) if sel is None else sel
    w, y, yhat = data.pw[keep], data.y[keep], logc[keep]
    t = ev.table
    rec = {"r2": _r2(y, yhat, w), "rmse": _rmse(y, yhat, w),
           "spearman": float(t["spearman"].iloc[0])}
    for q in quotas:
        row = t.loc[f"quota {q:g}"]
        for name, metric in _QUOTA_METRICS.items():
            rec[f"{name}_{q:g}"] = float(row[metric])
    return rec


#: Columns of the comparison table per quota -> pmt.evaluate metric.
_QUOTA_METRICS = {"exclusion_error": "exclusion_error",
                  "inclusion_error": "inclusion_error_beneficiaries",
                  "inclusion_error_nonpoor": "inclusion_error_nonpoor",
                  "targeting_differential": "targeting_differential", "cgh": "cgh",
                  "auc": "auc"}


# --------------------------------------------------------------------------- command line

def _spec_arg(value: str | None) -> VariableSpec | None:
    if value in (None, "default"):
        return None
    path = Path(value)
    if path.suffix.lower() == ".json" and path.is_file():
        import json

        raw = json.loads(path.read_text(encoding="utf-8"))
        return VariableSpec.model_validate(raw.get("spec", raw))
    from .weights import load_weights

    return load_weights(value, verify_hash=False).spec


def _estimator_arg(text: str) -> tuple[str, dict[str, Any]]:
    """``wls`` / ``quantile:tau=0.3`` / ``poverty_wls:truncate=0.4,pooling=fallback``."""
    label = text
    kind, _, rest = text.partition(":")
    kw: dict[str, Any] = {"estimator": kind}
    for part in filter(None, rest.split(",")):
        k, _, v = part.partition("=")
        kw[k.strip()] = _parse_value(v.strip())
    return label, kw


def _parse_value(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return None if v.lower() == "none" else v


def _cmd_calibrate(args: argparse.Namespace, progress: Any = None) -> int:
    from .cli import check_paths
    from .io import read_households
    from .weights import WeightFiles

    if args.out is not None:  # before any work: no output is an input, the folder is writable
        names = WeightFiles()
        written = ("manifest.json", names.coefficients, names.poverty_lines, names.cutoffs,
                   "diagnostics.csv", "calibration.txt")
        spec_file = args.spec if args.spec and Path(args.spec).is_file() else None
        check_paths(inputs={"INPUT": args.input, "--poverty-lines": args.poverty_lines,
                            "--spec": spec_file},
                    outputs=[("--out", Path(args.out) / n) for n in written if n],
                    weights=args.spec, folders={"--out": args.out})
    survey = read_households(args.input)
    spec = _spec_arg(args.spec)
    common = {"consumption": args.consumption, "weight": args.weight, "psu": args.psu,
              "strata": None if args.strata.lower() == "none" else args.strata,
              "id_col": None if args.id_col.lower() == "none" else args.id_col,
              "poverty_lines": args.poverty_lines, "region_scheme": args.scheme}
    opts: dict[str, Any] = {"estimator": args.estimator, "tau": args.tau,
                            "truncate": args.truncate, "pooling": args.pooling,
                            "min_psus": args.min_psus, "pooling_folds": args.pooling_folds,
                            "seed": args.seed,
                            "on_collinear": args.on_collinear, "solver": args.solver}
    if args.min_households is not None:
        opts["min_households"] = args.min_households
    if args.stepwise:
        opts.update(select="stepwise", p_enter=args.p_enter, p_remove=args.p_remove,
                    keep=tuple(args.keep or ()))
    out = sys.stdout
    if args.compare:
        estimators = dict(_estimator_arg(t) for t in args.compare)
        cv = cross_validate(survey, spec, estimators=estimators, folds=args.cv or 5,
                            quotas=args.quota or (0.2, 0.4), seed=args.seed, **common,
                            **{k: v for k, v in opts.items() if k not in ("estimator", "seed")})
        out.write(f"Out-of-sample comparison ({cv.settings['folds']} PSU folds):\n\n")
        out.write(cv.to_markdown(cv.headline()) + "\n")
        if args.out is None:
            return 0
    if args.out is None:
        raise ValueError("pmt calibrate needs --out FOLDER (or --compare to only compare "
                         "estimators)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalibrationWarning)
        cal = calibrate(survey, spec, name=args.name, version=args.version,
                        description=args.description, survey_name=args.survey_name,
                        survey_period=args.survey_period, region_vintage=args.region_vintage,
                        synthetic=True if args.synthetic else None,
                        provenance={"command": "pmt calibrate", "arguments": {
                            k: v for k, v in vars(args).items()
                            if k not in ("handler", "command")}},
                        **common, **opts)
    for w in caught:
        sys.stderr.write(f"pmt: warning: {w.message}\n")
    ws = cal.save(args.out)
    out.write(cal.summary() + "\n")
    if args.cv and not args.compare:
        cv = cross_validate(survey, spec, folds=args.cv, quotas=args.quota or (0.2, 0.4),
                            seed=args.seed, **common,
                            **{k: v for k, v in opts.items() if k != "seed"})
        out.write(f"\nOut-of-sample ({args.cv} PSU folds):\n\n"
                  f"{cv.to_markdown(cv.headline())}\n")
    out.write(f"\nwrote weight set {ws.id} to {args.out}\n")
    return 0


def add_cli(subparsers: Any) -> None:
    """Register ``pmt calibrate`` on the main parser's subparsers.

    Sets ``handler`` (a function of ``(args, progress=None)`` returning the
    exit status); errors are raised as ValueError / TypeError / OSError.
    """
    c = subparsers.add_parser(
        "calibrate", help="calibrate a weight set on a survey (CSV, Parquet or Stata .dta)",
        description="Recalibrate PMT weights from a household survey: per-capita consumption, "
                    "survey weight, PSU, strata and the spec's variables. Writes a weight set "
                    "folder that `pmt rank --weights FOLDER` loads. See docs/calibration.md.")
    c.add_argument("input", help="survey file: .csv, .parquet or .dta")
    c.add_argument("--out", help="folder to write the weight set to")
    c.add_argument("--spec", default="default",
                   help="variable spec: 'default', a spec .json, or a weight set to copy it from")
    c.add_argument("--poverty-lines", help="CSV: poverty_line with region_key, or "
                                           "province_code/district_code [+ urban]")
    c.add_argument("--consumption", default="consumption", help="per-capita consumption column")
    c.add_argument("--weight", default="weight", help="survey weight column")
    c.add_argument("--psu", default="psu", help="PSU column")
    c.add_argument("--strata", default="strata", help="strata column ('none': district x urban)")
    c.add_argument("--id-col", default="hh_id")
    c.add_argument("--scheme", choices=["BPS", "Kemendagri"], default="BPS")
    c.add_argument("--estimator", choices=list(ESTIMATORS), default="wls")
    c.add_argument("--tau", type=float, default=0.5, help="quantile (estimator quantile)")
    c.add_argument("--truncate", type=float, default=0.5,
                   help="poorest share kept (estimator poverty_wls)")
    c.add_argument("--solver", choices=["ipm", "highs"], default="ipm")
    c.add_argument("--stepwise", action="store_true", help="stepwise variable selection")
    c.add_argument("--p-enter", type=float, default=0.05)
    c.add_argument("--p-remove", type=float, default=0.10)
    c.add_argument("--keep", nargs="*", help="variables always kept by stepwise selection")
    c.add_argument("--pooling", choices=list(POOLING), default="shrink")
    c.add_argument("--min-households", type=int)
    c.add_argument("--min-psus", type=int, default=2)
    c.add_argument("--pooling-folds", type=int, default=5,
                   help="PSU folds choosing the pooling strengths (default 5)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--on-collinear", choices=["raise", "drop"], default="raise")
    c.add_argument("--name", default="calibrated")
    c.add_argument("--version", default="1.0.0")
    c.add_argument("--description")
    c.add_argument("--survey-name")
    c.add_argument("--survey-period")
    c.add_argument("--region-vintage", default="as coded in the survey")
    c.add_argument("--synthetic", action="store_true", help="label the set synthetic")
    c.add_argument("--cv", type=int, help="also report K-fold out-of-sample metrics")
    c.add_argument("--compare", nargs="+", metavar="ESTIMATOR",
                   help="compare estimators out of sample, e.g. wls quantile:tau=0.3 "
                        "poverty_wls:truncate=0.4 wls:pooling=fallback")
    c.add_argument("--quota", type=float, action="append",
                   help="targeting quota H for the comparison (repeatable; default 0.2, 0.4)")
    c.set_defaults(handler=_cmd_calibrate)
