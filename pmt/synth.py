"""Synthetic household registries with realistic joint structure.

:func:`registry` makes a household table in the canonical columns
(``hh_id``, ``district_code``, ``urban``, ``hh_size``) plus every variable of a
:class:`~pmt.spec.VariableSpec`, for tests, demos and benchmarks. It is
SYNTHETIC: no row describes a real household, and the district codes follow
the BPS convention (kabupaten ``PP01``-``PP69``, kota ``PP71``-``PP99``) but
are numbered here, not taken from the official list.

How a household is made (one block of rows at a time, see ``_BLOCK``):

1. a district, drawn with the illustrative household shares of
   :func:`districts`, and an urban/rural flag with the district's urban share;
2. a latent welfare ``z`` = province effect + district effect + urban effect
   + N(0, 1), standardised to mean 0 and variance 1 over the whole country;
3. every characteristic from ``z`` by an ordinal probit: a latent
   ``rho * z + sqrt(1 - rho**2) * eps`` (plus a province tilt for a few
   variables such as pigs, boats or electrification) is cut at the normal
   quantiles of base probabilities listed from the richest code to the
   poorest, with separate urban and rural probabilities where they obviously
   differ. Poorer households are therefore poorer on many variables at once;
4. a few rules keep households coherent (no PLN meter without PLN metered
   lighting, no toilet type without a toilet, a head who does not work has
   no industry, ``n_children + n_elderly <= hh_size``, ...).

Variables a spec has but the built-in catalogue does not (or has with other
codes or another kind) get a generic draw by kind, still driven by ``z``.

:func:`survey` draws households the same way within a stratified two-stage
sample (district x urban strata, PSUs, survey weights) and gives them a
per-capita consumption from KNOWN regional models, for recalibration
(:func:`pmt.calibrate`) and its tests.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

import numpy as np
import pandas as pd

from .regions import province_table
from .spec import Variable, VariableSpec, default_spec

__all__ = ["districts", "registry", "survey"]

# --------------------------------------------------------------------------------------
# Illustrative geography. The numbers below shape SYNTHETIC data only: they are of the
# right order (population and urbanisation of the 2020 census, the ranking of provincial
# poverty rates) but rounded, partly guessed for the 2022 Papua provinces, and must not
# be read as statistics. Keyed by province name so that both code schemes agree.
# --------------------------------------------------------------------------------------

#: Relative household weight (about the population in millions).
_POPULATION: dict[str, float] = {
    "Aceh": 5.3, "Sumatera Utara": 14.8, "Sumatera Barat": 5.5, "Riau": 6.4, "Jambi": 3.5,
    "Sumatera Selatan": 8.5, "Bengkulu": 2.0, "Lampung": 9.0,
    "Kepulauan Bangka Belitung": 1.5, "Kepulauan Riau": 2.1, "DKI Jakarta": 10.6,
    "Jawa Barat": 48.3, "Jawa Tengah": 36.5, "DI Yogyakarta": 3.7, "Jawa Timur": 40.7,
    "Banten": 11.9, "Bali": 4.3, "Nusa Tenggara Barat": 5.3, "Nusa Tenggara Timur": 5.3,
    "Kalimantan Barat": 5.4, "Kalimantan Tengah": 2.7, "Kalimantan Selatan": 4.1,
    "Kalimantan Timur": 3.8, "Kalimantan Utara": 0.7, "Sulawesi Utara": 2.6,
    "Sulawesi Tengah": 3.0, "Sulawesi Selatan": 9.1, "Sulawesi Tenggara": 2.6,
    "Gorontalo": 1.2, "Sulawesi Barat": 1.4, "Maluku": 1.8, "Maluku Utara": 1.3,
    "Papua Barat": 0.56, "Papua Barat Daya": 0.6, "Papua": 1.05, "Papua Selatan": 0.52,
    "Papua Tengah": 1.35, "Papua Pegunungan": 1.45,
}

#: Share of households living in urban areas.
_URBAN: dict[str, float] = {
    "Aceh": 0.31, "Sumatera Utara": 0.54, "Sumatera Barat": 0.45, "Riau": 0.40,
    "Jambi": 0.32, "Sumatera Selatan": 0.37, "Bengkulu": 0.33, "Lampung": 0.31,
    "Kepulauan Bangka Belitung": 0.58, "Kepulauan Riau": 0.84, "DKI Jakarta": 1.0,
    "Jawa Barat": 0.73, "Jawa Tengah": 0.51, "DI Yogyakarta": 0.70, "Jawa Timur": 0.54,
    "Banten": 0.68, "Bali": 0.67, "Nusa Tenggara Barat": 0.48, "Nusa Tenggara Timur": 0.24,
    "Kalimantan Barat": 0.33, "Kalimantan Tengah": 0.37, "Kalimantan Selatan": 0.46,
    "Kalimantan Timur": 0.66, "Kalimantan Utara": 0.55, "Sulawesi Utara": 0.50,
    "Sulawesi Tengah": 0.27, "Sulawesi Selatan": 0.40, "Sulawesi Tenggara": 0.32,
    "Gorontalo": 0.38, "Sulawesi Barat": 0.24, "Maluku": 0.38, "Maluku Utara": 0.29,
    "Papua Barat": 0.35, "Papua Barat Daya": 0.45, "Papua": 0.45, "Papua Selatan": 0.25,
    "Papua Tengah": 0.15, "Papua Pegunungan": 0.10,
}

#: Province effect on the latent welfare (standard deviations of z; richer > 0).
_WELFARE: dict[str, float] = {
    "Aceh": -0.21, "Sumatera Utara": 0.00, "Sumatera Barat": 0.10, "Riau": 0.14,
    "Jambi": 0.03, "Sumatera Selatan": -0.10, "Bengkulu": -0.17, "Lampung": -0.10,
    "Kepulauan Bangka Belitung": 0.21, "Kepulauan Riau": 0.32, "DKI Jakarta": 0.52,
    "Jawa Barat": 0.07, "Jawa Tengah": -0.08, "DI Yogyakarta": 0.00, "Jawa Timur": -0.07,
    "Banten": 0.14, "Bali": 0.28, "Nusa Tenggara Barat": -0.21,
    "Nusa Tenggara Timur": -0.42, "Kalimantan Barat": -0.03, "Kalimantan Tengah": 0.14,
    "Kalimantan Selatan": 0.17, "Kalimantan Timur": 0.32, "Kalimantan Utara": 0.14,
    "Sulawesi Utara": 0.03, "Sulawesi Tengah": -0.14, "Sulawesi Selatan": 0.00,
    "Sulawesi Tenggara": -0.10, "Gorontalo": -0.24, "Sulawesi Barat": -0.14,
    "Maluku": -0.32, "Maluku Utara": 0.00, "Papua Barat": -0.39, "Papua Barat Daya": -0.32,
    "Papua": -0.35, "Papua Selatan": -0.42, "Papua Tengah": -0.59, "Papua Pegunungan": -0.70,
}

#: Relative size of the kabupaten of a province where it differs from 1 (Jakarta's only
#: kabupaten, Kepulauan Seribu, is a few islands).
_KABUPATEN_SIZE = {"DKI Jakarta": 0.005}
_KOTA_SIZE = 0.8  # a kota's expected size relative to a kabupaten of the same province
_DISTRICT_SIZE_SD = 0.55  # lognormal spread of district sizes within a province
_DISTRICT_WELFARE_SD = 0.20
_KOTA_WELFARE = 0.15
_KOTA_URBAN = 0.90
_URBAN_WELFARE = 0.35
_TABLE_SEED = 20_240_514  # fixes the district table; independent of the registry seed

_NORMAL = NormalDist()

# --------------------------------------------------------------------------------------
# Province tilts of single variables (latent SD units; > 0 = richer code / owns more).
# They model what welfare alone does not: electrification in Papua, pigs where few
# people are Muslim, boats on islands and rivers, timber houses outside Java.
# --------------------------------------------------------------------------------------
_PAPUA_ALL = ("Papua Barat", "Papua Barat Daya", "Papua", "Papua Selatan", "Papua Tengah",
              "Papua Pegunungan")
_JAVA = ("DKI Jakarta", "Jawa Barat", "Jawa Tengah", "DI Yogyakarta", "Jawa Timur", "Banten")
_KALIMANTAN = ("Kalimantan Barat", "Kalimantan Tengah", "Kalimantan Selatan",
               "Kalimantan Timur", "Kalimantan Utara")


def _tilt(*groups: tuple[Sequence[str], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for names, value in groups:
        out.update(dict.fromkeys(names, value))
    return out


_SHIFT: dict[str, dict[str, float]] = {
    "lighting": {"Papua Pegunungan": -1.3, "Papua Tengah": -1.0, "Papua Selatan": -0.7,
                 "Papua": -0.5, "Papua Barat": -0.5, "Papua Barat Daya": -0.4,
                 "Nusa Tenggara Timur": -0.6, "Maluku": -0.4, "Maluku Utara": -0.4,
                 "Kalimantan Barat": -0.2, "Kalimantan Tengah": -0.2, "Sulawesi Tengah": -0.2},
    "cooking_fuel": {**_tilt((_PAPUA_ALL, -0.6)), "Papua Pegunungan": -1.0,
                     "Nusa Tenggara Timur": -0.6, "Maluku": -0.4, "Maluku Utara": -0.3,
                     "Kalimantan Barat": -0.2, "Sulawesi Barat": -0.3, "Gorontalo": -0.2,
                     "DKI Jakarta": 0.3},
    "toilet_ownership": {**_tilt((_PAPUA_ALL, -0.5)), "Papua Pegunungan": -0.9,
                         "Nusa Tenggara Timur": -0.3, "Maluku": -0.3, "Sulawesi Barat": -0.3,
                         "Gorontalo": -0.3, "Nusa Tenggara Barat": -0.2},
    "floor_material": {"Nusa Tenggara Timur": -0.5, "Papua Pegunungan": -0.8,
                       "Papua Tengah": -0.5},
    "wall_material": _tilt((_KALIMANTAN, -0.6), (_PAPUA_ALL, -0.6),
                           (("Maluku", "Maluku Utara"), -0.5),
                           (("Sulawesi Utara", "Sulawesi Tengah", "Sulawesi Selatan",
                             "Sulawesi Tenggara", "Gorontalo", "Sulawesi Barat"), -0.3),
                           (("Riau", "Jambi", "Kepulauan Bangka Belitung"), -0.2)),
    "has_boat": {**_tilt((_JAVA, -0.4), (_KALIMANTAN, 0.5)), "DKI Jakarta": -0.6,
                 "Kepulauan Riau": 0.8, "Maluku": 0.9, "Maluku Utara": 0.9,
                 "Kepulauan Bangka Belitung": 0.5, "Sulawesi Tenggara": 0.6,
                 "Sulawesi Utara": 0.5, "Sulawesi Tengah": 0.4, "Sulawesi Barat": 0.4,
                 "Sulawesi Selatan": 0.3, "Gorontalo": 0.3, "Papua Barat": 0.6,
                 "Papua Barat Daya": 0.7, "Papua Selatan": 0.3, "Papua": 0.3,
                 "Papua Pegunungan": -1.0, "Nusa Tenggara Timur": 0.3, "Riau": 0.3,
                 "Jambi": 0.3, "Sumatera Selatan": 0.3},
    "n_cattle": {"Nusa Tenggara Timur": 0.3, "Nusa Tenggara Barat": 0.4, "Bali": 0.3,
                 "Sulawesi Selatan": 0.2, "Jawa Timur": 0.2, "Gorontalo": 0.3,
                 "DKI Jakarta": -2.0, "Kepulauan Riau": -1.0},
    "n_buffalo": {"Sumatera Barat": 0.5, "Aceh": 0.5, "Nusa Tenggara Barat": 0.5,
                  "Nusa Tenggara Timur": 0.6, "Sulawesi Selatan": 0.5, "Banten": 0.4,
                  "Sumatera Utara": 0.3, "Kalimantan Selatan": 0.3, "DKI Jakarta": -2.0},
    "n_horse": {"Nusa Tenggara Timur": 0.9, "Nusa Tenggara Barat": 0.7,
                "Sulawesi Selatan": 0.6, "Sulawesi Utara": 0.3, "DKI Jakarta": -2.0},
    "n_pig": {**_tilt((_PAPUA_ALL, 1.3)), "Nusa Tenggara Timur": 1.3, "Bali": 1.3,
              "Sulawesi Utara": 0.9, "Sumatera Utara": 0.6, "Kalimantan Barat": 0.4,
              "Maluku": 0.3, "Kalimantan Tengah": 0.0, "Sulawesi Tengah": -0.3,
              "Kalimantan Utara": -0.3, "Sulawesi Selatan": -0.8, "Sulawesi Barat": -0.8},
    "n_goat": {"Jawa Tengah": 0.3, "Jawa Timur": 0.2, "Jawa Barat": 0.1,
               "Nusa Tenggara Barat": 0.2, "Aceh": 0.2, "DKI Jakarta": -1.5},
}
_SHIFT["has_motor_boat"] = _SHIFT["has_boat"]
#: Tilt of provinces a variable's table does not list (pigs: Muslim-majority provinces).
_SHIFT_DEFAULT = {"n_pig": -2.5}

# --------------------------------------------------------------------------------------
# Base probabilities of the built-in catalogue: codes from the RICHEST to the POOREST,
# urban probabilities, rural probabilities (normalised below), and rho (dependence on z).
# --------------------------------------------------------------------------------------
_ORDINAL: dict[str, tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...], float]] = {
    "tenure": ((1, 5, 2, 3, 6, 4), (0.70, 0.02, 0.04, 0.14, 0.02, 0.08),
               (0.88, 0.01, 0.01, 0.02, 0.02, 0.06), 0.15),
    "land_title": ((1, 2, 3, 4, 5), (0.56, 0.12, 0.16, 0.12, 0.04),
                   (0.37, 0.13, 0.26, 0.21, 0.03), 0.35),
    "floor_material": ((1, 3, 2, 4, 5, 6, 8, 7, 9),
                       (0.02, 0.01, 0.72, 0.03, 0.03, 0.16, 0.015, 0.003, 0.012),
                       (0.003, 0.003, 0.45, 0.02, 0.08, 0.32, 0.05, 0.01, 0.064), 0.60),
    "wall_material": ((1, 2, 3, 4, 5, 6, 7), (0.90, 0.01, 0.07, 0.01, 0.002, 0.005, 0.003),
                      (0.70, 0.02, 0.20, 0.05, 0.01, 0.015, 0.005), 0.50),
    "roof_material": ((1, 2, 4, 3, 6, 5, 8, 7),
                      (0.06, 0.36, 0.33, 0.23, 0.01, 0.002, 0.003, 0.005),
                      (0.01, 0.30, 0.48, 0.12, 0.04, 0.01, 0.01, 0.03), 0.45),
    "water_source": ((1, 12, 2, 3, 5, 4, 13, 6, 8, 11, 7, 9, 10),
                     (0.12, 0.10, 0.43, 0.04, 0.13, 0.01, 0.01, 0.10, 0.03, 0.005, 0.01,
                      0.005, 0.002),
                     (0.03, 0.05, 0.20, 0.03, 0.15, 0.01, 0.08, 0.20, 0.13, 0.03, 0.05,
                      0.04, 0.03), 0.45),
    "water_septic_distance": ((2, 3, 1), (0.60, 0.15, 0.25), (0.70, 0.10, 0.20), 0.15),
    "lighting": ((1, 2, 3, 4), (0.97, 0.025, 0.004, 0.001), (0.90, 0.05, 0.035, 0.015),
                 0.45),
    "power_va": ((5, 4, 3, 2, 1), (0.03, 0.07, 0.22, 0.45, 0.23),
                 (0.005, 0.015, 0.08, 0.42, 0.48), 0.60),
    "cooking_fuel": ((1, 3, 5, 2, 12, 4, 6, 7, 8, 9, 11, 10),
                     (0.01, 0.05, 0.02, 0.04, 0.03, 0.80, 0.002, 0.01, 0.001, 0.005, 0.002,
                      0.025),
                     (0.003, 0.01, 0.002, 0.01, 0.01, 0.68, 0.003, 0.02, 0.001, 0.01, 0.003,
                      0.25), 0.55),
    "toilet_ownership": ((1, 2, 3, 4, 5, 6), (0.88, 0.06, 0.02, 0.02, 0.005, 0.015),
                         (0.78, 0.07, 0.02, 0.01, 0.01, 0.11), 0.50),
    "toilet_type": ((1, 2, 3), (0.95, 0.03, 0.02), (0.85, 0.06, 0.09), 0.45),
    "faecal_disposal": ((2, 1, 5, 3, 4, 6), (0.02, 0.85, 0.06, 0.01, 0.05, 0.01),
                        (0.005, 0.65, 0.17, 0.04, 0.08, 0.055), 0.45),
    "head_education": ((6, 5, 4, 3, 2, 1, 0), (0.015, 0.12, 0.03, 0.35, 0.17, 0.24, 0.075),
                       (0.003, 0.04, 0.01, 0.18, 0.17, 0.42, 0.177), 0.60),
    "head_sector": ((8, 2, 9, 6, 5, 3, 7, 4, 1),
                    (0.12, 0.01, 0.12, 0.08, 0.25, 0.14, 0.08, 0.10, 0.10),
                    (0.05, 0.015, 0.05, 0.04, 0.12, 0.08, 0.03, 0.08, 0.535), 0.45),
    # head_status: first row for non-agriculture, second for agriculture (not urban/rural)
    "head_status": ((3, 4, 2, 1, 5, 6), (0.05, 0.50, 0.10, 0.25, 0.08, 0.02),
                    (0.01, 0.05, 0.40, 0.25, 0.25, 0.04), 0.40),
}

#: Binary assets: P(1) urban, P(1) rural, rho.
_BINARY: dict[str, tuple[float, float, float]] = {
    "has_gas_tank": (0.12, 0.04, 0.60), "has_refrigerator": (0.70, 0.42, 0.65),
    "has_ac": (0.14, 0.02, 0.75), "has_water_heater": (0.06, 0.01, 0.75),
    "has_landline": (0.04, 0.005, 0.50), "has_flat_tv": (0.35, 0.15, 0.60),
    "has_gold": (0.25, 0.15, 0.55), "has_computer": (0.25, 0.08, 0.70),
    "has_motorcycle": (0.85, 0.80, 0.50), "has_bicycle": (0.25, 0.25, 0.10),
    "has_car": (0.16, 0.06, 0.75), "has_boat": (0.01, 0.04, 0.0),
    "has_motor_boat": (0.005, 0.025, 0.20), "has_smartphone": (0.92, 0.80, 0.55),
    "has_internet": (0.60, 0.35, 0.60), "has_bank_account": (0.60, 0.35, 0.60),
    "owns_other_land": (0.15, 0.35, 0.35), "owns_house_elsewhere": (0.07, 0.04, 0.55),
}

#: Livestock: P(owns any) urban, rural, rho, and the geometric parameter of the herd size.
_LIVESTOCK: dict[str, tuple[float, float, float, float]] = {
    "n_cattle": (0.02, 0.12, 0.20, 0.45), "n_buffalo": (0.002, 0.015, 0.20, 0.45),
    "n_horse": (0.0005, 0.003, 0.10, 0.60), "n_pig": (0.01, 0.06, 0.10, 0.35),
    "n_goat": (0.02, 0.12, 0.15, 0.30),
}

_ROW_OFFSET = 64.0  # see _ordinal
_BLOCK = 1 << 16  # rows per random stream: block b uses default_rng([seed, b])
_MAX_HH_SIZE = 15


@dataclass(frozen=True)
class _Cut:
    """Ordinal-probit cut points of one variable (codes poorest first)."""

    codes: np.ndarray  # (K,) int16, poorest code first
    thr: np.ndarray  # (2, K - 1) thresholds; row 0 for flag False, row 1 for flag True
    rho: float


def _thresholds(probs: Sequence[float]) -> np.ndarray:
    """Normal cut points for probabilities listed poorest first."""
    p = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(p / p.sum())[:-1]
    return np.array([_NORMAL.inv_cdf(min(max(c, 1e-12), 1 - 1e-12)) for c in cum])


def _cut(codes_rich_first: Sequence[int], p_true: Sequence[float], p_false: Sequence[float],
         rho: float) -> _Cut:
    codes = np.asarray(codes_rich_first[::-1], dtype=np.int16)
    thr = np.vstack([_thresholds(p_false[::-1]), _thresholds(p_true[::-1])])
    return _Cut(codes, thr, rho)


_CUTS: dict[str, _Cut] = {
    k: _cut(codes, pu, pr, rho) for k, (codes, pu, pr, rho) in _ORDINAL.items()
}
# head_status: flag = agriculture, so the agricultural row is the "True" one
_c, _pn, _pa, _r = _ORDINAL["head_status"]
_CUTS["head_status"] = _cut(_c, _pa, _pn, _r)
del _c, _pn, _pa, _r


# --------------------------------------------------------------------------------------
# The district table
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Geography:
    """The district table as arrays, for drawing households."""

    code: np.ndarray  # (D,) int16 district codes
    cum_share: np.ndarray  # (D,) cumulative household shares, last = 1
    urban_share: np.ndarray  # (D,)
    effect: np.ndarray  # (D,) province + district welfare effect
    z_mean: float  # national mean of the raw latent welfare
    z_sd: float  # national standard deviation of the raw latent welfare
    shift: Mapping[str, np.ndarray]  # variable -> (D,) province tilt


@lru_cache(maxsize=4)
def _district_frame(scheme: str) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    provinces = province_table(scheme)
    total = sum(_POPULATION[p.name] for p in provinces.values())
    for p in provinces.values():
        rng = np.random.default_rng([_TABLE_SEED, zlib.crc32(p.name.encode())])
        n_kab, n_kota = p.n_kabupaten, p.n_kota
        size = rng.lognormal(0.0, _DISTRICT_SIZE_SD, n_kab + n_kota)
        size[:n_kab] *= _KABUPATEN_SIZE.get(p.name, 1.0)
        size[n_kab:] *= _KOTA_SIZE
        share = size / size.sum()
        target = _URBAN[p.name]
        kota_mean = max(_KOTA_URBAN, target)
        urban = np.empty(n_kab + n_kota)
        urban[n_kab:] = 1.0 - (1.0 - kota_mean) * rng.lognormal(0.0, 0.3, n_kota)
        kota_part = float(share[n_kab:] @ urban[n_kab:])
        kab_mass = float(share[:n_kab].sum())
        kab_mean = (target - kota_part) / kab_mass if kab_mass > 0 else 0.0
        kab_mean = min(max(kab_mean, 0.02), 0.90)
        logit = math.log(kab_mean / (1.0 - kab_mean)) + rng.normal(0.0, 0.6, n_kab)
        urban[:n_kab] = 1.0 / (1.0 + np.exp(-logit))
        urban = np.clip(urban, 0.0, 1.0)
        effect = _WELFARE[p.name] + rng.normal(0.0, _DISTRICT_WELFARE_SD, n_kab + n_kota)
        effect[n_kab:] += _KOTA_WELFARE
        numbers = list(range(1, n_kab + 1)) + list(range(71, 71 + n_kota))
        for i, num in enumerate(numbers):
            rows.append({
                "district_code": p.code * 100 + num, "province_code": p.code,
                "province_name": p.name, "kind": "kabupaten" if i < n_kab else "kota",
                "household_share": share[i] * _POPULATION[p.name] / total,
                "urban_share": float(urban[i]), "welfare_effect": float(effect[i]),
            })
    frame = pd.DataFrame(rows)
    frame["household_share"] /= frame["household_share"].sum()
    return frame.astype({"district_code": np.int16, "province_code": np.int8})


def districts(scheme: str = "BPS") -> pd.DataFrame:
    """The 514 synthetic districts and the illustrative shares the generator uses.

    Districts are numbered after the BPS convention, kabupaten ``PP01`` to
    ``PPnn`` and kota ``PP71`` onwards, with the number of kabupaten and kota
    of each province (:func:`pmt.regions.province_table`). The codes are
    SYNTHETIC: ``3201`` is "the first kabupaten of Jawa Barat" here, not
    necessarily the real district with that code. Household and urban shares
    and welfare effects are illustrative, fixed (independent of any seed) and
    the same in both schemes for the same province.

    Parameters
    ----------
    scheme : {"BPS", "Kemendagri"}
        Region-code scheme; they differ only in the Papua province codes.

    Returns
    -------
    pandas.DataFrame
        One row per district, in code order, with columns ``district_code``
        (int16, PPDD), ``province_code`` (int8), ``province_name``, ``kind``
        (``"kabupaten"`` or ``"kota"``), ``household_share`` (share of the
        national households; sums to 1), ``urban_share`` (share of the
        district's households that are urban) and ``welfare_effect`` (the
        province plus district shift of the latent welfare, in standard
        deviations of a household's idiosyncratic term).

    Raises
    ------
    ValueError
        If ``scheme`` is unknown.
    """
    return _district_frame(scheme).copy()


@lru_cache(maxsize=4)
def _geography(scheme: str) -> _Geography:
    frame = _district_frame(scheme)
    w = frame["household_share"].to_numpy()
    u = frame["urban_share"].to_numpy()
    e = frame["welfare_effect"].to_numpy()
    mean = float(w @ (e + _URBAN_WELFARE * u))
    second = float(w @ (u * (e + _URBAN_WELFARE) ** 2 + (1.0 - u) * e**2)) + 1.0
    cum = np.cumsum(w)
    cum[-1] = 1.0
    names = frame["province_name"].to_numpy()
    shift = {var: np.array([table.get(name, _SHIFT_DEFAULT.get(var, 0.0)) for name in names])
             for var, table in _SHIFT.items()}
    return _Geography(code=frame["district_code"].to_numpy(), cum_share=cum, urban_share=u,
                      effect=e, z_mean=mean, z_sd=math.sqrt(second - mean**2), shift=shift)


# --------------------------------------------------------------------------------------
# Drawing households
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
    """How one spec variable is produced and stored."""

    var: Variable
    dtype: np.dtype
    builtin: bool  # drawn by the catalogue's own model (else the generic one by kind)


def _int_dtype(lo: float, hi: float) -> np.dtype:
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return np.dtype(t)
    return np.dtype(np.int64)


def _plan(spec: VariableSpec) -> tuple[_Column, ...]:
    reference = {v.name: v for v in default_spec().variables}
    out = []
    for var in spec.variables:
        ref = reference.get(var.name)
        builtin = ref is not None and ref.kind == var.kind and (
            var.kind != "categorical" or set(var.code_values) == set(ref.code_values))
        dtype: np.dtype
        if var.kind == "binary":
            dtype = np.dtype(np.int8)
        elif var.kind == "categorical":
            codes = var.code_values
            dtype = _int_dtype(min(codes), max(codes))
        elif var.kind == "count":
            lo = 0.0 if var.min is None else var.min
            hi = float(np.iinfo(np.int16).max) if var.max is None else var.max
            dtype = _int_dtype(math.floor(lo), math.ceil(hi))
        else:
            dtype = np.dtype(np.float32)
        out.append(_Column(var, dtype, builtin))
    return tuple(out)


def _latent(rng: np.random.Generator, zs: np.ndarray, rho: float,
            shift: np.ndarray | float = 0.0) -> np.ndarray:
    """``rho * zs + sqrt(1 - rho**2) * eps + shift``; high = rich."""
    lat = rng.standard_normal(zs.size, dtype=np.float32)
    lat *= np.float32(math.sqrt(1.0 - rho * rho))
    lat += np.float32(rho) * zs
    lat += np.asarray(shift, dtype=np.float32)
    return lat


def _ordinal(rng: np.random.Generator, zs: np.ndarray, flag: np.ndarray, cut: _Cut,
             shift: np.ndarray | float = 0.0) -> np.ndarray:
    """Codes of an ordinal probit; thresholds from row ``flag`` of ``cut.thr``."""
    lat = _latent(rng, zs, cut.rho, shift)
    # one search over both rows: row 1 is moved far above row 0 (|lat| stays far below
    # _ROW_OFFSET), and so are the latents of flagged rows
    k = cut.thr.shape[1]
    both = np.concatenate([cut.thr[0], cut.thr[1] + _ROW_OFFSET]).astype(np.float32)
    lat += flag * np.float32(_ROW_OFFSET)
    idx = np.searchsorted(both, lat)
    idx -= flag * k
    return cut.codes[idx]


def _binary(rng: np.random.Generator, zs: np.ndarray, urban: np.ndarray, p_urban: float,
            p_rural: float, rho: float, shift: np.ndarray | float = 0.0) -> np.ndarray:
    lat = _latent(rng, zs, rho, shift)
    cut_u = _NORMAL.inv_cdf(1.0 - p_urban)
    cut_r = _NORMAL.inv_cdf(1.0 - p_rural)
    return lat > np.where(urban, cut_u, cut_r)


def _reference(rng: np.random.Generator, zs: np.ndarray, urban: np.ndarray,
               district: np.ndarray, geo: _Geography, max_size: int) -> dict[str, np.ndarray]:
    """Every variable of the default catalogue, plus ``hh_size`` (unclipped dtypes)."""
    m = zs.size
    sh = {var: s[district] for var, s in geo.shift.items()}
    c: dict[str, np.ndarray] = {}

    # --- members -------------------------------------------------------------------
    lam = 2.95 * np.exp(-0.12 * zs) * np.where(urban, 0.95, 1.02)
    size = 1 + rng.poisson(lam)
    single = rng.random(m) < 0.04
    size[single] = 1
    size = np.minimum(size, max_size)
    c["hh_size"] = size

    age = rng.normal(46.0, 12.5, m)
    one = size == 1
    old_single = rng.random(m) < 0.5
    age = np.where(one & old_single, rng.normal(66.0, 9.0, m),
                   np.where(one, rng.normal(30.0, 8.0, m), age))
    age = np.clip(np.rint(age), 16, 98).astype(np.int64)
    c["head_age"] = age
    p_female = np.where(one, 0.45, 0.12) + np.where(age >= 65, 0.15, 0.0)
    p_female = p_female * np.exp(-0.10 * zs)
    c["head_female"] = rng.random(m) < p_female

    head_old = (age >= 65).astype(np.int64)
    others = size - 1
    p_eld = np.where(age >= 60, 0.30, 0.05)
    p_eld = np.where(others > 2, p_eld * 0.6, p_eld)
    n_elderly = head_old + rng.binomial(others, p_eld)
    young_others = size - n_elderly - (1 - head_old)  # non-elderly members besides the head
    p_child = np.select([age < 50, age < 60], [0.62, 0.35], 0.22) * np.exp(-0.15 * zs)
    n_children = rng.binomial(np.maximum(young_others - 1, 0), np.minimum(p_child, 0.9))
    c["n_elderly"], c["n_children"] = n_elderly, n_children

    p_work = np.select([age < 60, age < 70], [0.93, 0.70], 0.40)
    p_work = p_work * np.where(c["head_female"], 0.75, 1.0)
    works = rng.random(m) < p_work
    sector = _ordinal(rng, zs, urban, _CUTS["head_sector"])
    c["head_sector"] = np.where(works, sector, 0)
    status = _ordinal(rng, zs, sector == 1, _CUTS["head_status"])
    c["head_status"] = np.where(works, status, 0)
    adults_other = size - 1 - n_children
    c["n_working"] = works + rng.binomial(adults_other, 0.45)

    edu_shift = -0.025 * (age - 45.0)
    c["head_education"] = _ordinal(rng, zs, urban, _CUTS["head_education"], edu_shift)

    not_old = size - n_elderly
    p_dis = np.minimum(0.015 * np.exp(-0.25 * zs), 0.2)
    c["n_disabled"] = rng.binomial(not_old, p_dis) + rng.binomial(n_elderly, 0.12)
    c["n_chronic_ill"] = rng.binomial(not_old, 0.04) + rng.binomial(n_elderly, 0.35)
    school_age = (rng.binomial(n_children, 0.55)
                  + rng.binomial(np.maximum(size - n_children - n_elderly - 2, 0), 0.35))
    p_drop = np.minimum(0.08 * np.exp(-0.6 * zs), 0.6)
    c["n_school_dropout"] = rng.binomial(school_age, p_drop)

    # --- housing -------------------------------------------------------------------
    tenure = _ordinal(rng, zs, urban, _CUTS["tenure"])
    c["tenure"] = tenure
    title = _ordinal(rng, zs, urban, _CUTS["land_title"])
    no_land = np.where(rng.random(m) < 0.9, 5, 6)
    c["land_title"] = np.where(tenure == 1, title, no_land)
    log_area = (math.log(55.0) + 0.38 * zs + 0.35 * np.log(size / 3.8)
                - 0.05 * urban + rng.normal(0.0, 0.35, m))
    c["floor_area"] = np.clip(np.rint(np.exp(log_area)), 6.0, None)
    c["floor_material"] = _ordinal(rng, zs, urban, _CUTS["floor_material"],
                                   sh.get("floor_material", 0.0))
    c["wall_material"] = _ordinal(rng, zs, urban, _CUTS["wall_material"],
                                  sh.get("wall_material", 0.0))
    c["roof_material"] = _ordinal(rng, zs, urban, _CUTS["roof_material"])

    # --- utilities -----------------------------------------------------------------
    c["water_source"] = _ordinal(rng, zs, urban, _CUTS["water_source"])
    c["water_septic_distance"] = _ordinal(rng, zs, urban, _CUTS["water_septic_distance"])
    lighting = _ordinal(rng, zs, urban, _CUTS["lighting"], sh["lighting"])
    c["lighting"] = lighting
    power = _ordinal(rng, zs, urban, _CUTS["power_va"])
    c["power_va"] = np.where(lighting == 1, power, 0)
    fuel = _ordinal(rng, zs, urban, _CUTS["cooking_fuel"], sh["cooking_fuel"])
    c["cooking_fuel"] = fuel
    own = _ordinal(rng, zs, urban, _CUTS["toilet_ownership"], sh["toilet_ownership"])
    c["toilet_ownership"] = own
    ttype = _ordinal(rng, zs, urban, _CUTS["toilet_type"])
    u = rng.random(m)
    ttype = np.where((own == 6) | ((own == 5) & (u < 0.5)), 4, ttype)
    c["toilet_type"] = ttype
    disposal = _ordinal(rng, zs, urban, _CUTS["faecal_disposal"])
    u = rng.random(m)
    disposal = np.where((ttype == 3) & (u < 0.8), 5, disposal)
    c["faecal_disposal"] = np.where(ttype == 4, np.where(u < 0.6, 6, 4), disposal)

    # --- assets --------------------------------------------------------------------
    for name, (pu, pr, rho) in _BINARY.items():
        c[name] = _binary(rng, zs, urban, pu, pr, rho, sh.get(name, 0.0))
    c["has_gas_tank"] |= (fuel == 2) | (fuel == 3)
    no_power = lighting == 4
    for name in ("has_refrigerator", "has_ac", "has_water_heater"):
        c[name] &= ~no_power
    c["has_ac"] &= c["power_va"] != 1  # no air conditioner on a 450 VA meter
    for name, (pu, pr, rho, q) in _LIVESTOCK.items():
        owns = _binary(rng, zs, urban, pu, pr, rho, sh.get(name, 0.0))
        c[name] = np.where(owns, rng.geometric(q, m), 0)
    return c


def _generic(rng: np.random.Generator, var: Variable, zs: np.ndarray,
             size: np.ndarray) -> np.ndarray:
    """A plausible draw for a variable the built-in catalogue does not know.

    categorical: ordinal probit with equal base probabilities, the lowest code
    the richest; binary: P(1) = 0.3, 1 richer; count: members of a kind
    (``max_hh_size``) Binomial(hh_size, p) with p higher when poorer, other
    counts Poisson(exp(0.3 z)) above ``min``; continuous: ``exp(latent)``
    mapped into ``[min, max]``.
    """
    if var.kind == "categorical":
        codes = var.code_values
        k = len(codes)
        cut = _Cut(np.asarray(codes[::-1], dtype=np.int64),
                   np.vstack([_thresholds([1.0] * k)] * 2), 0.4)
        return _ordinal(rng, zs, np.zeros(zs.size, dtype=bool), cut)
    if var.kind == "binary":
        return _binary(rng, zs, np.zeros(zs.size, dtype=bool), 0.3, 0.3, 0.4)
    lat = _latent(rng, zs, 0.4)
    lo = var.min
    hi = var.max
    if var.kind == "count":
        if var.max_hh_size:
            return rng.binomial(size, np.minimum(0.15 * np.exp(-0.3 * zs), 0.9))
        return (0 if lo is None else math.ceil(lo)) + rng.poisson(np.exp(0.3 * lat))
    if lo is not None and hi is not None:
        return lo + (hi - lo) / (1.0 + np.exp(-lat))
    if lo is not None:
        return lo + np.exp(lat)
    if hi is not None:
        return hi - np.exp(-lat)
    return lat


def _draw_households(rng: np.random.Generator, n: int, *, geo: _Geography,
                     plan: Sequence[_Column], max_size: int = _MAX_HH_SIZE,
                     district: np.ndarray | None = None, urban: np.ndarray | None = None,
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draw ``n`` households: the canonical columns and the spec's variables.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    n : int
        Number of households.
    geo : _Geography
        District table (:func:`_geography`).
    plan : sequence of _Column
        The spec's variables and output dtypes (:func:`_plan`).
    max_size : int
        Largest household size.
    district : (n,) int array, optional
        Row positions in ``geo`` of the households' districts (e.g. a
        stratified survey sample); drawn with the household shares if None.
    urban : (n,) bool array, optional
        Urban flags; drawn with the district's urban share if None.

    Returns
    -------
    columns : dict of str to (n,) arrays
        ``district_code``, ``urban``, ``hh_size`` and the plan's variables in
        their output dtypes (no ``hh_id``).
    z : (n,) float64
        The latent welfare, standardised to national mean 0 and variance 1.
    """
    if district is None:
        district = np.searchsorted(geo.cum_share, rng.random(n), side="right")
        district = np.minimum(district, geo.code.size - 1)
    if urban is None:
        urban = rng.random(n) < geo.urban_share[district]
    urban = np.asarray(urban, dtype=bool)
    z = geo.effect[district] + _URBAN_WELFARE * urban + rng.standard_normal(n)
    zs = (z - geo.z_mean) / geo.z_sd
    zs32 = zs.astype(np.float32)
    ref = _reference(rng, zs32, urban, district, geo, max_size)
    size = ref["hh_size"]
    cols: dict[str, np.ndarray] = {
        "district_code": geo.code[district],
        "urban": urban.astype(np.int8),
        "hh_size": size.astype(np.int8 if max_size <= 127 else np.int16),
    }
    for col in plan:
        var = col.var
        values = ref[var.name] if col.builtin else _generic(rng, var, zs32, size)
        if var.kind in ("count", "continuous"):
            values = np.clip(values, var.min, var.max) if (
                var.min is not None or var.max is not None) else values
            if var.max_hh_size:
                values = np.minimum(values, size)
            if var.kind == "count":
                values = np.rint(values)
        cols[var.name] = values.astype(col.dtype)
    return cols, zs


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------
class _ArgumentTypeError(ValueError, TypeError):
    """A wrong argument type: a TypeError that ``except ValueError`` also catches."""


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _ArgumentTypeError(f"{name} must be an int >= {minimum}; got {value!r} "
                             f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}")
    return int(value)


def registry(n: int, *, seed: int = 0, spec: VariableSpec | None = None,
             chunk_size: int = 1_000_000, scheme: str = "BPS",
             progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """A synthetic household registry of ``n`` households.

    Households are SYNTHETIC, with realistic joint structure: a latent welfare
    (province, district and urban effects plus an idiosyncratic term) drives
    housing, utilities, assets, household composition and the head's
    education and work, so that poor households are poor on many variables at
    once; Papua, NTT and Maluku are poorer, Jakarta, Bali, Kalimantan Timur
    and Kepulauan Riau richer, urban richer than rural. District codes are
    synthetic BPS-style codes (see :func:`districts`), not real districts.

    Parameters
    ----------
    n : int
        Number of households, at least 1.
    seed : int, default 0
        Non-negative seed. The result depends only on ``(n, seed, spec,
        scheme)``: rows are drawn in fixed blocks of 65,536, block ``b`` from
        ``numpy.random.default_rng([seed, b])``.
    spec : VariableSpec, optional
        Variables to produce; :func:`pmt.spec.default_spec` if None. Variables
        of the built-in catalogue (same name, kind and codes) use its model;
        others get a generic draw by kind driven by the latent welfare.
    chunk_size : int, default 1_000_000
        Rows between ``progress`` calls (rounded up to whole blocks). It does
        not change the result.
    scheme : {"BPS", "Kemendagri"}, default "BPS"
        Region-code scheme of ``district_code``.
    progress : callable, optional
        Called as ``progress(rows_done, n)`` after each chunk.

    Returns
    -------
    pandas.DataFrame
        ``(n, 4 + n_variables)``: ``hh_id`` (int64, 1..n), ``district_code``
        (int16, PPDD), ``urban`` (int8 0/1), ``hh_size`` (int8, 1 to 15 or
        the spec's ``max_household_size`` if smaller), then the spec's
        variables in spec order: binary int8 0/1, categorical int8 codes,
        count int8/int16 within ``[min, max]`` (and at most ``hh_size`` where
        ``max_hh_size``), continuous float32 within ``[min, max]``. Columns
        are the preallocated arrays themselves (about 70 bytes a household
        with the default spec).

    Raises
    ------
    TypeError
        If ``n``, ``seed`` or ``chunk_size`` is not an int, or ``spec`` is not
        a :class:`VariableSpec` (the int errors are also ValueErrors).
    ValueError
        If ``n < 1``, ``seed < 0``, ``chunk_size < 1`` or ``scheme`` is unknown.

    Examples
    --------
    >>> hh = registry(1000, seed=1)
    >>> hh.shape[0], int(hh["hh_id"].iloc[-1])
    (1000, 1000)
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    if spec is None:
        spec = default_spec()
    elif not isinstance(spec, VariableSpec):
        raise TypeError(f"spec must be a pmt.VariableSpec or None; got {type(spec).__name__}")
    geo = _geography(scheme)
    plan = _plan(spec)
    max_size = min(_MAX_HH_SIZE, spec.max_household_size)

    out: dict[str, np.ndarray] = {"hh_id": np.arange(1, n + 1, dtype=np.int64)}
    out["district_code"] = np.empty(n, dtype=np.int16)
    out["urban"] = np.empty(n, dtype=np.int8)
    out["hh_size"] = np.empty(n, dtype=np.int8 if max_size <= 127 else np.int16)
    for col in plan:
        out[col.var.name] = np.empty(n, dtype=col.dtype)

    blocks_per_chunk = max(1, -(-chunk_size // _BLOCK))
    n_blocks = -(-n // _BLOCK)
    for b in range(n_blocks):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        rng = np.random.default_rng([seed, b])
        cols, _ = _draw_households(rng, hi - lo, geo=geo, plan=plan, max_size=max_size)
        for name, values in cols.items():
            out[name][lo:hi] = values
        if progress is not None and ((b + 1) % blocks_per_chunk == 0 or b == n_blocks - 1):
            progress(hi, n)
    return pd.DataFrame(out, copy=False)


# --------------------------------------------------------------------------------------
# A synthetic household survey (SUSENAS-like) with a known truth
# --------------------------------------------------------------------------------------
#: Households in the population the survey weights gross up to (about Indonesia's).
_POPULATION_HOUSEHOLDS = 70_000_000
_TRUTH_SEED = 20_261_127  # fixes the regional deviations of the true models

#: True national effects on log per-capita consumption (log points). SPARSE: a variable
#: not listed here has no effect at all, so that variable selection can be checked.
#: Categorical effects are one value per code, in code order (the first is the reference).
_TRUE_CATEGORICAL: dict[str, tuple[float, ...]] = {
    "floor_material": (0.0, -0.05, -0.03, -0.08, -0.10, -0.15, -0.22, -0.20, -0.28),
    "wall_material": (0.0, -0.06, -0.08, -0.14, -0.12, -0.16, -0.15),
    "lighting": (0.0, -0.06, -0.10, -0.18),
    "cooking_fuel": (0.06, 0.10, 0.12, 0.0, 0.10, -0.04, -0.06, -0.08, -0.10, -0.16, -0.10,
                     0.04),
    "toilet_ownership": (0.0, -0.05, -0.07, -0.09, -0.10, -0.15),
    "head_education": (0.0, 0.06, 0.12, 0.22, 0.32, 0.45, 0.58),
    "head_sector": (0.0, -0.08, 0.05, 0.03, 0.0, 0.06, 0.05, 0.04, 0.12, 0.05),
}
_TRUE_BINARY: dict[str, float] = {
    "has_refrigerator": 0.12, "has_ac": 0.25, "has_computer": 0.15, "has_motorcycle": 0.10,
    "has_car": 0.35, "has_smartphone": 0.08, "has_bank_account": 0.10, "has_flat_tv": 0.08,
}
_TRUE_NUMERIC: dict[str, float] = {
    "log_hh_size": -0.35, "log_floor_area_pc": 0.15, "share_dependents": -0.20,
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

#: Illustrative poverty-line shifts (log points, richer > 0) of the demo weight set.
_LINE_RICHER = {31: 0.12, 51: 0.06, 64: 0.08, 21: 0.07, 36: 0.03, 14: 0.04, 65: 0.03}
_LINE_POORER = {53: -0.07, 81: -0.05, 82: -0.03, 76: -0.03, 75: -0.03, 52: -0.03,
                91: -0.07, 92: -0.07, 94: -0.10, 95: -0.10, 96: -0.12, 97: -0.13}


def _illustrative_lines(scheme: str) -> dict[str, float]:
    """Poverty lines per province x urban/rural: ILLUSTRATIVE values, not BPS figures."""
    lines: dict[str, float] = {}
    for code in province_table(scheme):
        level = 560_000 * np.exp(0.3 * _LINE_RICHER.get(code, _LINE_POORER.get(code, 0.0)))
        level *= 1.25 if code >= 91 else 1.0
        level *= 1.15 if code in (19, 21, 31, 64, 65) else 1.0
        lines[f"{code:02d}-urban"] = float(round(level * 1.06, -2))
        lines[f"{code:02d}-rural"] = float(round(level * 0.97, -2))
    return lines


def _true_national(spec: VariableSpec) -> np.ndarray:
    """The national true coefficients over ``spec.terms`` (intercept left at 0)."""
    row = dict.fromkeys(spec.terms, 0.0)
    for var in spec.lookup_variables:
        effects = (_TRUE_CATEGORICAL.get(var.name) if var.kind == "categorical"
                   else (0.0, _TRUE_BINARY.get(var.name, 0.0)))
        if effects is not None and len(effects) == len(var.code_values):
            for code, e in zip(var.code_values, effects, strict=True):
                row[f"{var.name}={code}"] = e
    for term in spec.numeric_terms:
        row[term] = _TRUE_NUMERIC.get(term, 0.0)
    return _TRUE_SCALE * np.array([row[t] for t in spec.terms])


def _true_models(spec: VariableSpec, geo_frame: pd.DataFrame, heterogeneity: float,
                 center: float) -> tuple[tuple[str, ...], np.ndarray]:
    """True coefficients of every district x urban cell, and of the nation."""
    rng = np.random.default_rng(_TRUTH_SEED)
    base = _true_national(spec)
    nz = base != 0
    nz[0] = False
    t = base.size
    h = heterogeneity
    prov_dev = {int(p): rng.normal(0, _TRUE_SLOPE_SD["province"], t)
                for p in geo_frame["province_code"].unique()}
    pu_dev = {(p, u): rng.normal(0, _TRUE_SLOPE_SD["province_urban"], t)
              for p in prov_dev for u in (0, 1)}
    keys = ["national"]
    rows = [np.r_[center, base[1:]]]
    for d in geo_frame.itertuples():
        p = int(d.province_code)
        level = center + h * (_TRUE_DISTRICT_LEVEL * d.welfare_effect
                              + rng.normal(0, _TRUE_LEVEL_SD))
        for u in (0, 1):
            dev = prov_dev[p] + pu_dev[(p, u)] + rng.normal(0, _TRUE_SLOPE_SD["district_urban"],
                                                            t)
            row = base * np.where(nz, 1.0 + h * dev, 1.0)
            row[0] = level + h * _TRUE_URBAN_LEVEL * u
            keys.append(f"{int(d.district_code):04d}-{'urban' if u else 'rural'}")
            rows.append(row)
    return tuple(keys), np.array(rows)


def survey(n: int, *, seed: int = 0, spec: VariableSpec | None = None,
           scheme: Literal["BPS", "Kemendagri"] = "BPS",
           households_per_psu: int = 10, provinces: Sequence[int] | None = None,
           heterogeneity: float = 1.0, noise_sd: float = 0.40, psu_sd: float = 0.15,
           return_truth: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, object]:
    """A synthetic SUSENAS-like household survey whose consumption model is known.

    The households are drawn by the registry generator (same variables, same
    joint distributions) within a stratified two-stage design:

    1. strata are district x urban/rural; every sampled district gets PSUs in
       proportion to the square root of its household share (at least 2), split
       between its urban and rural strata by its urban share, so that small
       districts have a few dozen to a few hundred households, as in SUSENAS;
    2. each PSU holds about ``households_per_psu`` households;
    3. survey weights are inverse inclusion probabilities: a stratum's
       households in the population (70 M households, shared out as in
       :func:`districts`) divided among its sample, varied by PSU (a lognormal
       factor, as PPS selection does), so that weights sum to the population.

    Per-capita consumption is ``exp(x' beta_c + u_psu + e)``: ``beta_c`` are
    the TRUE coefficients of the household's district x urban cell, ``u_psu ~
    N(0, psu_sd)`` a cluster effect and ``e ~ N(0, noise_sd)``. The true model
    is sparse — only the variables of ``_TRUE_CATEGORICAL``, ``_TRUE_BINARY``
    and ``_TRUE_NUMERIC`` matter (housing materials, lighting, cooking fuel,
    toilet, eight assets, the head's education and sector, household size,
    floor area per person, dependants and workers) — and regional: each cell's
    level follows the district's welfare effect plus noise, and each non-zero
    slope deviates multiplicatively by province, province x urban and cell
    (standard deviations 0.15, 0.08, 0.12, all times ``heterogeneity``;
    ``heterogeneity=0`` gives one national model everywhere). Variables outside
    the true model have no effect in any region.

    Parameters
    ----------
    n : int
        Households (exactly ``n`` rows).
    seed : int
        Seed of the sample; the true models do not depend on it.
    spec : VariableSpec, optional
        Default: :func:`pmt.spec.default_spec`. Variables unknown to the
        built-in catalogue get the registry's generic draw and no true effect.
    scheme : {"BPS", "Kemendagri"}
    households_per_psu : int
    provinces : sequence of int, optional
        Survey only these provinces (a regional survey); default all 38.
    heterogeneity : float
        Scale of the regional deviations of the true models (0 = none).
    noise_sd, psu_sd : float
        Standard deviations of the household and PSU terms of log consumption.
    return_truth : bool
        Also return the true models as a :class:`~pmt.WeightSet` (one model
        per district x urban cell and a ``national`` model with the national
        slopes, the illustrative poverty lines of the ``demo`` set): scoring
        the survey with it gives each household's true expected welfare.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, WeightSet)
        The registry columns (``hh_id``, ``district_code``, ``urban``,
        ``hh_size``, the spec's variables) plus ``consumption`` (Rp per person
        per month, float64), ``weight`` (float64), ``psu`` (int32) and
        ``strata`` (int32, ``district_code * 10 + urban``). ``attrs`` marks the
        frame ``synthetic`` (read by :func:`pmt.calibrate`).

    Examples
    --------
    >>> s = survey(5000, seed=1)
    >>> len(s), bool(s.attrs["synthetic"]), bool((s["consumption"] > 0).all())
    (5000, True, True)
    """
    import datetime as _dt

    from .weights import Manifest, WeightSet

    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    households_per_psu = _check_int("households_per_psu", households_per_psu, 1)
    if spec is None:
        spec = default_spec()
    elif not isinstance(spec, VariableSpec):
        raise TypeError(f"spec must be a pmt.VariableSpec or None; got {type(spec).__name__}")
    if not (heterogeneity >= 0 and noise_sd >= 0 and psu_sd >= 0):
        raise ValueError("heterogeneity, noise_sd and psu_sd must be >= 0")
    frame = _district_frame(scheme)
    geo = _geography(scheme)
    pos = np.arange(len(frame))
    if provinces is not None:
        wanted = {int(p) for p in provinces}
        unknown = sorted(wanted - set(province_table(scheme)))
        if unknown:
            raise ValueError(f"provinces {unknown} are not provinces of the {scheme} scheme")
        pos = pos[frame["province_code"].isin(wanted).to_numpy()]
    share = frame["household_share"].to_numpy()[pos]
    ushare = frame["urban_share"].to_numpy()[pos]
    n_psu = max(round(n / households_per_psu), 2 * pos.size)
    if n < n_psu:
        raise ValueError(f"n={n} is too small: the design has {n_psu} PSUs (2 per district at "
                         f"least) and each needs a household. Fix: a larger n, or fewer "
                         "provinces.")
    root = np.sqrt(share)
    quota = n_psu * root / root.sum()
    k = np.maximum(np.floor(quota).astype(np.int64), 2)
    short = n_psu - int(k.sum())
    if short > 0:
        k[np.argsort(-(quota - np.floor(quota)), kind="stable")[:short]] += 1
    k_urban = np.rint(k * ushare).astype(np.int64)
    k_urban = np.maximum(k_urban, np.where(ushare >= 0.05, 1, 0))
    k_urban = np.minimum(k_urban, k - np.where(ushare <= 0.95, 1, 0))
    # PSUs: (district position, urban) in stratum order
    psu_district = np.repeat(np.repeat(pos, 2), np.ravel(np.column_stack([k - k_urban,
                                                                          k_urban])))
    psu_urban = np.repeat(np.tile([0, 1], pos.size), np.ravel(np.column_stack([k - k_urban,
                                                                               k_urban])))
    total_psu = psu_district.size
    sizes = np.full(total_psu, n // total_psu)
    sizes[: n % total_psu] += 1
    district = np.repeat(psu_district, sizes)
    urban = np.repeat(psu_urban, sizes).astype(bool)
    psu_id = np.repeat(np.arange(1, total_psu + 1), sizes)

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5355,)))
    plan = _plan(spec)
    max_size = min(_MAX_HH_SIZE, spec.max_household_size)
    cols, _ = _draw_households(rng, n, geo=geo, plan=plan, max_size=max_size,
                               district=district, urban=urban)

    # survey weights: stratum population / stratum sample, varied by PSU
    stratum_pop = (_POPULATION_HOUSEHOLDS * frame["household_share"].to_numpy()[district]
                   * np.where(urban, frame["urban_share"].to_numpy()[district],
                              1 - frame["urban_share"].to_numpy()[district]))
    psu_factor = rng.lognormal(0.0, 0.3, total_psu)[psu_id - 1]
    stratum = geo.code[district].astype(np.int64) * 10 + urban
    factor_sum = pd.Series(psu_factor).groupby(stratum).transform("sum").to_numpy()
    weight = stratum_pop * psu_factor / factor_sum

    out: dict[str, np.ndarray] = {"hh_id": np.arange(1, n + 1, dtype=np.int64)}
    out.update(cols)
    table = pd.DataFrame(out, copy=False)

    # the truth, and consumption from it through the scorer
    center = 0.0
    keys, coef = _true_models(spec, frame, heterogeneity, center)
    manifest = Manifest(
        name="survey-truth", version="1", created=_dt.date(2026, 11, 27),
        description=("SYNTHETIC true consumption models of pmt.synth.survey (one per "
                     "district x urban cell); illustrative poverty lines. Not real data."),
        synthetic=True, region_scheme=scheme,
        region_vintage="synthetic district numbering (pmt.synth.districts)", spec=spec,
        provenance={"generator": "pmt.synth.survey", "truth_seed": _TRUTH_SEED,
                    "heterogeneity": heterogeneity, "noise_sd": noise_sd, "psu_sd": psu_sd})
    from .rank import score

    raw = WeightSet(manifest, keys, coef)
    xb = score(table, raw).to_numpy()
    # centre the national level on the target mean (weighted by people), once per spec
    level = _TRUE_MEAN_LOG_CONSUMPTION - _national_mean(spec, scheme, heterogeneity)
    coef = coef.copy()
    coef[:, 0] += level
    xb = xb + level
    truth = WeightSet(manifest, keys, coef, _illustrative_lines(scheme))
    log_c = xb + rng.normal(0.0, psu_sd, total_psu)[psu_id - 1] + rng.normal(0.0, noise_sd, n)
    table["consumption"] = np.round(np.exp(log_c), 2)
    table["weight"] = weight
    table["psu"] = psu_id.astype(np.int32)
    table["strata"] = stratum.astype(np.int32)
    table.attrs.update({"synthetic": True, "generator": "pmt.synth.survey", "seed": seed})
    return (table, truth) if return_truth else table


def _national_mean(spec: VariableSpec, scheme: Literal["BPS", "Kemendagri"],
                   heterogeneity: float) -> float:
    """Person-weighted mean of the true x'beta (level 0) over a fixed registry sample."""
    return _national_mean_cached(spec.model_dump_json(), scheme, float(heterogeneity))


@lru_cache(maxsize=8)
def _national_mean_cached(spec_json: str, scheme: Literal["BPS", "Kemendagri"],
                          heterogeneity: float) -> float:
    import datetime as _dt

    from .rank import score
    from .weights import Manifest, WeightSet

    spec = VariableSpec.model_validate_json(spec_json)
    frame = _district_frame(scheme)
    keys, coef = _true_models(spec, frame, heterogeneity, 0.0)
    manifest = Manifest(name="truth-level", version="1", created=_dt.date(2026, 11, 27),
                        description="internal", synthetic=True, region_scheme=scheme,
                        region_vintage="synthetic", spec=spec)
    sample = registry(50_000, seed=_TRUTH_SEED % 1000, spec=spec, scheme=scheme)
    xb = score(sample, WeightSet(manifest, keys, coef)).to_numpy()
    w = sample["hh_size"].to_numpy(dtype=np.float64)
    return float(w @ xb / w.sum())
