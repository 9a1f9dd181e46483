"""The KNOWN consumption models of the synthetic survey, and its poverty lines.

A sparse national model of log per-capita consumption (only the variables of
``_TRUE_CATEGORICAL``, ``_TRUE_BINARY`` and ``_TRUE_NUMERIC`` matter), made
regional by a level per district x urban cell and multiplicative slope
deviations by province, province x urban and cell, all drawn from a fixed
seed (``_TRUTH_SEED``) that no survey seed changes; the national level is
centred on a target mean over a fixed registry sample; poverty lines per
province x urban/rural are ILLUSTRATIVE, not BPS figures. Everything here is
invented, so that :func:`pmt.calibrate` can be checked against a truth.
"""

from __future__ import annotations

import datetime as _dt
import math
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from .._kernels import libm
from ..rank import score
from ..regions import province_table
from ..spec import VariableSpec
from ..weights import Manifest, WeightSet
from ._geography import _district_frame
from ._registry import registry

_TRUTH_SEED = 20_261_127  # fixes the regional deviations of the true models
_TRUTH_CREATED = _dt.date(2026, 11, 27)  # creation date of the truth's manifests

#: True national effects on log per-capita consumption (log points). SPARSE: a variable
#: not listed here has no effect at all, so that variable selection can be checked.
#: Categorical effects are one value per code, in code order (the first is the reference).
_TRUE_CATEGORICAL: dict[str, tuple[float, ...]] = {
    "floor_material": (0.0, -0.05, -0.03, -0.08, -0.10, -0.15, -0.22, -0.20, -0.28),
    "wall_material": (0.0, -0.06, -0.08, -0.14, -0.12, -0.16, -0.15),
    "lighting": (0.0, -0.06, -0.10, -0.18),
    "cooking_fuel": (0.06, 0.10, 0.12, 0.0, 0.10, -0.04, -0.06, -0.08, -0.10, -0.16, -0.10, 0.04),
    "toilet_ownership": (0.0, -0.05, -0.07, -0.09, -0.10, -0.15),
    "head_education": (0.0, 0.06, 0.12, 0.22, 0.32, 0.45, 0.58),
    "head_sector": (0.0, -0.08, 0.05, 0.03, 0.0, 0.06, 0.05, 0.04, 0.12, 0.05),
}
_TRUE_BINARY: dict[str, float] = {
    "has_refrigerator": 0.12,
    "has_ac": 0.25,
    "has_computer": 0.15,
    "has_motorcycle": 0.10,
    "has_car": 0.35,
    "has_smartphone": 0.08,
    "has_bank_account": 0.10,
    "has_flat_tv": 0.08,
}
_TRUE_NUMERIC: dict[str, float] = {
    "log_hh_size": -0.35,
    "log_floor_area_pc": 0.15,
    "share_dependents": -0.20,
    "share_working": 0.15,
}
#: Every national effect above is multiplied by this (sets the spread of welfare: R² of the
#: true model about 0.5, as PMT studies report).
_TRUE_SCALE = 0.6
_TRUE_MEAN_LOG_CONSUMPTION = 14.0  # national mean of log Rp per person per month, about
_TRUE_URBAN_LEVEL = 0.08
_TRUE_DISTRICT_LEVEL = 0.25  # times the district's welfare effect (in SD of z)
_TRUE_LEVEL_SD = 0.04
_TRUE_SLOPE_SD = {"province": 0.15, "province_urban": 0.08, "district_urban": 0.12}

#: Non-linear effects of continuous variables (``survey(nonlinear=s)`` adds ``s`` times
#: these to log consumption): an inverted U in the head's age peaking at 50, and a kink
#: in floor area per person at 10 m² (log 10 ~ 2.303) above which each log point adds 0.10.
_NONLINEAR_AGE_PEAK = 50.0
_NONLINEAR_AGE_CURVE = -0.0004
_NONLINEAR_AREA_KNOT = math.log(10.0)
_NONLINEAR_AREA_SLOPE = 0.10


def nonlinear_effect(frame: pd.DataFrame, strength: float) -> np.ndarray:
    """The non-linear part of the true log consumption of :func:`pmt.synth.survey`.

    ``strength * (-0.0004 (head_age - 50)^2 + 0.10 max(log(floor_area / hh_size) -
    log 10, 0))``; 0 when ``strength`` is 0. It is not in the truth's weight set
    (a linear model of the spec's terms cannot hold it), which is why a model
    with the right terms (a square of age, a spline in floor area) can beat
    the linear truth.
    """
    if strength == 0:
        return np.zeros(len(frame))
    age = frame["head_age"].to_numpy(dtype=np.float64)
    area_pc = libm.of(
        libm.log,
        frame["floor_area"].to_numpy(dtype=np.float64) / frame["hh_size"].to_numpy(np.float64),
    )
    curve = _NONLINEAR_AGE_CURVE * (age - _NONLINEAR_AGE_PEAK) ** 2
    kink = _NONLINEAR_AREA_SLOPE * np.maximum(area_pc - _NONLINEAR_AREA_KNOT, 0.0)
    return strength * (curve + kink)


#: Illustrative poverty-line shifts (log points, richer > 0) of the demo weight set.
_LINE_RICHER = {31: 0.12, 51: 0.06, 64: 0.08, 21: 0.07, 36: 0.03, 14: 0.04, 65: 0.03}
_LINE_POORER = {
    53: -0.07,
    81: -0.05,
    82: -0.03,
    76: -0.03,
    75: -0.03,
    52: -0.03,
    91: -0.07,
    92: -0.07,
    94: -0.10,
    95: -0.10,
    96: -0.12,
    97: -0.13,
}


def _illustrative_lines(scheme: str) -> dict[str, float]:
    """Poverty lines per province x urban/rural: ILLUSTRATIVE values, not BPS figures."""
    lines: dict[str, float] = {}
    for code in province_table(scheme):
        level = 560_000 * math.exp(0.3 * _LINE_RICHER.get(code, _LINE_POORER.get(code, 0.0)))
        level *= 1.25 if code >= 91 else 1.0
        level *= 1.15 if code in (19, 21, 31, 64, 65) else 1.0
        lines[f"{code:02d}-urban"] = float(round(level * 1.06, -2))
        lines[f"{code:02d}-rural"] = float(round(level * 0.97, -2))
    return lines


def _true_national(spec: VariableSpec) -> np.ndarray:
    """The national true coefficients over ``spec.terms`` (intercept left at 0)."""
    row = dict.fromkeys(spec.terms, 0.0)
    for var in spec.lookup_variables:
        effects = (
            _TRUE_CATEGORICAL.get(var.name)
            if var.kind == "categorical"
            else (0.0, _TRUE_BINARY.get(var.name, 0.0))
        )
        if effects is not None and len(effects) == len(var.code_values):
            for code, e in zip(var.code_values, effects, strict=True):
                row[f"{var.name}={code}"] = e
    for term in spec.numeric_terms:
        row[term] = _TRUE_NUMERIC.get(term, 0.0)
    return _TRUE_SCALE * np.array([row[t] for t in spec.terms])


def _true_models(
    spec: VariableSpec,
    geo_frame: pd.DataFrame,
    heterogeneity: float,
    center: float,
    unsplit: frozenset[int] = frozenset(),
) -> tuple[tuple[str, ...], np.ndarray]:
    """True coefficients of every district x urban cell, and of the nation.

    In the provinces of ``unsplit`` a district's urban cell has the rural
    cell's model (no urban split); the random draws are the same either way,
    so every other cell's model is unchanged.
    """
    rng = np.random.default_rng(_TRUTH_SEED)
    base = _true_national(spec)
    nz = base != 0
    nz[0] = False
    t = base.size
    h = heterogeneity
    prov_dev = {
        int(p): rng.normal(0, _TRUE_SLOPE_SD["province"], t)
        for p in geo_frame["province_code"].unique()
    }
    pu_dev = {
        (p, u): rng.normal(0, _TRUE_SLOPE_SD["province_urban"], t) for p in prov_dev for u in (0, 1)
    }
    keys = ["national"]
    rows = [np.r_[center, base[1:]]]
    for d in geo_frame.itertuples():
        p = int(d.province_code)
        level = center + h * (
            _TRUE_DISTRICT_LEVEL * d.welfare_effect + rng.normal(0, _TRUE_LEVEL_SD)
        )
        for u in (0, 1):
            dev = prov_dev[p] + pu_dev[(p, u)] + rng.normal(0, _TRUE_SLOPE_SD["district_urban"], t)
            row = base * np.where(nz, 1.0 + h * dev, 1.0)
            row[0] = level + h * _TRUE_URBAN_LEVEL * u
            if u and p in unsplit:
                row = rows[-1].copy()  # the rural cell's model
            keys.append(f"{int(d.district_code):04d}-{'urban' if u else 'rural'}")
            rows.append(row)
    return tuple(keys), np.array(rows)


def _truth_manifest(
    spec: VariableSpec,
    scheme: Literal["BPS", "Kemendagri"],
    *,
    heterogeneity: float,
    noise_sd: float,
    psu_sd: float,
    nonlinear: float = 0.0,
    unsplit: frozenset[int] = frozenset(),
) -> Manifest:
    """The manifest of the true models of one :func:`pmt.synth.survey` call (SYNTHETIC)."""
    return Manifest(
        name="survey-truth",
        version="1",
        created=_TRUTH_CREATED,
        description=(
            "SYNTHETIC true consumption models of pmt.synth.survey (one per "
            "district x urban cell); illustrative poverty lines. Not real data."
        ),
        synthetic=True,
        region_scheme=scheme,
        region_vintage="synthetic district numbering (pmt.synth.districts)",
        spec=spec,
        provenance={
            "generator": "pmt.synth.survey",
            "truth_seed": _TRUTH_SEED,
            "heterogeneity": heterogeneity,
            "noise_sd": noise_sd,
            "psu_sd": psu_sd,
            **(
                {
                    "nonlinear": nonlinear,
                    "nonlinear_effect": "not in these models: nonlinear x (-0.0004 (head_age "
                    "- 50)^2 + 0.10 max(log(floor_area / hh_size) - log 10, 0)) is added to "
                    "log consumption",
                }
                if nonlinear
                else {}
            ),
            **({"no_urban_split": [int(p) for p in sorted(unsplit)]} if unsplit else {}),
        },
    )


def _national_mean(
    spec: VariableSpec, scheme: Literal["BPS", "Kemendagri"], heterogeneity: float
) -> float:
    """Person-weighted mean of the true x'beta (level 0) over a fixed registry sample."""
    return _national_mean_cached(spec.model_dump_json(), scheme, float(heterogeneity))


@lru_cache(maxsize=8)
def _national_mean_cached(
    spec_json: str, scheme: Literal["BPS", "Kemendagri"], heterogeneity: float
) -> float:
    """:func:`_national_mean` keyed by the spec's JSON (hashable, for the cache)."""
    spec = VariableSpec.model_validate_json(spec_json)
    frame = _district_frame(scheme)
    keys, coef = _true_models(spec, frame, heterogeneity, 0.0)
    manifest = Manifest(
        name="truth-level",
        version="1",
        created=_TRUTH_CREATED,
        description="internal",
        synthetic=True,
        region_scheme=scheme,
        region_vintage="synthetic",
        spec=spec,
    )
    sample = registry(50_000, seed=_TRUTH_SEED % 1000, spec=spec, scheme=scheme)
    xb = score(sample, WeightSet(manifest, keys, coef)).to_numpy()
    w = sample["hh_size"].to_numpy(dtype=np.float64)
    return float(w @ xb / w.sum())
