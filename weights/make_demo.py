"""Build the synthetic ``demo`` weight set, reproducibly.

    python weights/make_demo.py            # rewrites weights/demo/

The coefficients are SYNTHETIC: a hand-written national model with signs and
magnitudes of the kind PMT studies report (housing quality, assets and
education raise predicted consumption; dependants lower it), plus seeded
random province, district and urban/rural deviations. They are not official
Indonesian PMT weights (none are public) and must not be used to target
anyone. Poverty lines are illustrative values of the right order (Rupiah per
person per month), not BPS figures. The reference cutoffs are computed, with
the exact rule of ``docs/desil.md``, on a synthetic reference sample of
households from :func:`pmt.synth.registry` scored by these models.

Which models exist mimics a real calibration: every district has a district
model; a district x urban/rural model exists only where such a survey would
have enough households (never for the rural part of a kota, and not for a
seeded 8 % of kabupaten x urban cells); a seeded 2 % of districts (think of
newly split districts) have no model of their own and fall back to the
province x urban/rural model.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pmt  # noqa: E402
from pmt.rank import reference_cutoffs  # noqa: E402
from pmt.regions import province_table  # noqa: E402
from pmt.weights import Manifest, WeightSet, save_weights  # noqa: E402

SEED = 20261127
CREATED = dt.date(2026, 11, 27)
REFERENCE_HOUSEHOLDS = 400_000

# national effects of the lookup variables: one value per code, in code order
CATEGORICAL = {
    "tenure": [0.0, -0.02, -0.01, -0.06, 0.03, -0.04],
    "land_title": [0.0, -0.02, -0.04, -0.07, -0.03, -0.05],
    "floor_material": [0.0, -0.08, -0.05, -0.10, -0.12, -0.17, -0.24, -0.22, -0.29],
    "wall_material": [0.0, -0.07, -0.08, -0.14, -0.12, -0.16, -0.15],
    "roof_material": [0.0, -0.03, -0.06, -0.05, -0.14, -0.10, -0.18, -0.12],
    "water_source": [0.0, -0.03, -0.02, -0.06, -0.05, -0.08, -0.13, -0.09, -0.14, -0.17,
                     -0.15, -0.01, -0.07],
    "water_septic_distance": [0.0, 0.03, -0.02],
    "lighting": [0.0, -0.08, -0.12, -0.20],
    "power_va": [-0.05, -0.07, 0.0, 0.10, 0.18, 0.28],
    "cooking_fuel": [0.08, 0.12, 0.15, 0.0, 0.12, -0.03, -0.06, -0.08, -0.10, -0.16, -0.10,
                     0.05],
    "toilet_ownership": [0.0, -0.06, -0.08, -0.10, -0.11, -0.16],
    "toilet_type": [0.0, -0.05, -0.09, -0.12],
    "faecal_disposal": [0.0, 0.02, -0.06, -0.07, -0.05, -0.10],
    "head_education": [0.0, 0.05, 0.11, 0.20, 0.30, 0.42, 0.55],
    "head_sector": [0.0, -0.06, 0.04, 0.03, 0.0, 0.06, 0.05, 0.04, 0.12, 0.05],
    "head_status": [0.0, 0.02, 0.05, 0.25, 0.08, -0.05, -0.06],
}
BINARY = {
    "has_gas_tank": 0.10, "has_refrigerator": 0.12, "has_ac": 0.25, "has_water_heater": 0.15,
    "has_landline": 0.06, "has_flat_tv": 0.10, "has_gold": 0.12, "has_computer": 0.15,
    "has_motorcycle": 0.10, "has_bicycle": 0.02, "has_car": 0.35, "has_boat": 0.05,
    "has_motor_boat": 0.12, "has_smartphone": 0.08, "has_internet": 0.09,
    "has_bank_account": 0.10, "owns_other_land": 0.07, "owns_house_elsewhere": 0.12,
    "head_female": -0.03,
}
NUMERIC = {
    "n_cattle": 0.02, "n_buffalo": 0.02, "n_horse": 0.015, "n_pig": 0.01, "n_goat": 0.008,
    "n_children": -0.02, "n_elderly": -0.01, "n_working": 0.03, "n_disabled": -0.03,
    "n_chronic_ill": -0.02, "n_school_dropout": -0.05, "head_age": 0.002,
    "log_floor_area_pc": 0.15, "log_hh_size": -0.30, "share_dependents": -0.20,
    "share_working": 0.10,
}
#: Every national effect above is multiplied by this (tunes the spread of welfare).
SCALE = 0.55
INTERCEPT = 13.65
# illustrative provincial level shifts of log consumption (richer > 0)
RICHER = {31: 0.12, 51: 0.06, 64: 0.08, 21: 0.07, 36: 0.03, 14: 0.04, 65: 0.03}
POORER = {53: -0.07, 81: -0.05, 82: -0.03, 76: -0.03, 75: -0.03, 52: -0.03,
          91: -0.07, 92: -0.07, 94: -0.10, 95: -0.10, 96: -0.12, 97: -0.13}


def national_row(spec: pmt.VariableSpec) -> np.ndarray:
    values: dict[str, float] = {"intercept": INTERCEPT}
    for v in spec.lookup_variables:
        effects = CATEGORICAL[v.name] if v.kind == "categorical" else [0.0, BINARY[v.name]]
        for code, e in zip(v.code_values, effects, strict=True):
            values[f"{v.name}={code}"] = e
    values.update(NUMERIC)
    return np.array([values[t] * (1.0 if t == "intercept" else SCALE) for t in spec.terms])


def build() -> WeightSet:
    rng = np.random.default_rng(SEED)
    spec = pmt.default_spec()
    base = national_row(spec)
    n_terms = base.size
    districts = pmt.synth.districts("BPS")
    rows: dict[str, np.ndarray] = {"national": base}

    def deviate(parent: np.ndarray, level_shift: float, slope_sd: float) -> np.ndarray:
        row = parent * (1.0 + rng.normal(0.0, slope_sd, n_terms))
        row[0] = parent[0] + level_shift
        return row

    for code in province_table("BPS"):
        p = f"{code:02d}"
        shift = RICHER.get(code, POORER.get(code, 0.0)) + rng.normal(0, 0.03)
        rows[p] = deviate(base, shift, 0.10)
        for u, du in (("urban", 0.10), ("rural", -0.05)):
            rows[f"{p}-{u}"] = deviate(rows[p], du, 0.05)
    for d in districts.itertuples():
        code = f"{d.district_code:04d}"
        p = code[:2]
        if rng.random() < 0.02:
            continue  # no model of its own: falls back to the province x urban model
        rows[code] = deviate(rows[p], rng.normal(0, 0.08), 0.08)
        for u in ("urban", "rural"):
            if u == "rural" and d.kind == "kota":
                continue
            if d.kind == "kabupaten" and rng.random() < 0.08:
                continue
            rows[f"{code}-{u}"] = deviate(rows[f"{p}-{u}"], rows[code][0] - rows[p][0], 0.06)
    keys = tuple(rows)
    coef = np.round(np.array([rows[k] for k in keys]), 6)

    lines: dict[str, float] = {}
    for code in province_table("BPS"):
        level = 560_000 * np.exp(0.3 * RICHER.get(code, POORER.get(code, 0.0)))
        level *= 1.25 if code >= 91 else 1.0
        level *= 1.15 if code in (19, 21, 31, 64, 65) else 1.0
        lines[f"{code:02d}-urban"] = float(round(level * 1.06, -2))
        lines[f"{code:02d}-rural"] = float(round(level * 0.97, -2))

    manifest = Manifest(
        name="demo", version="1.0.0", created=CREATED,
        description=("SYNTHETIC demonstration weight set: invented coefficients, illustrative "
                     "poverty lines. Not official Indonesian PMT weights (none are public); "
                     "do not use it to target anyone."),
        synthetic=True, region_scheme="BPS",
        region_vintage="2023 (synthetic district numbering; Papua codes 92/95/96/97 unconfirmed)",
        model_level="district_urban", spec=spec,
        provenance={"method": "synthetic", "script": "weights/make_demo.py", "seed": SEED,
                    "reference_sample": f"pmt.synth.registry({REFERENCE_HOUSEHOLDS}, "
                                        f"seed={SEED}), person-weighted by hh_size",
                    "pmt_version": pmt.__version__})
    draft = WeightSet(manifest, keys, coef, lines)

    sample = pmt.synth.registry(REFERENCE_HOUSEHOLDS, seed=SEED)
    welfare = pmt.score(sample, draft).to_numpy()
    weight = sample["hh_size"].to_numpy(dtype=np.float64)
    province = (sample["district_code"].to_numpy() // 100)
    national = reference_cutoffs(welfare, weight)[None]
    provincial = reference_cutoffs(welfare, weight, groups=province)
    cutoffs = {"national": national}
    cutoffs.update({f"{int(p):02d}": c for p, c in sorted(provincial.items())})
    return WeightSet(manifest, keys, coef, lines, cutoffs)


if __name__ == "__main__":
    ws = save_weights(build(), HERE / "demo")
    print(ws, ws.content_hash)
