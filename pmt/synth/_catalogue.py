"""Base probabilities of the built-in variable catalogue, as ordinal-probit cut points.

For every variable of :func:`pmt.spec.default_spec` the household generator
models itself: its codes from the richest to the poorest with urban and rural
base probabilities (``_ORDINAL``; ``head_status`` by agriculture instead of
urban), binary assets (``_BINARY``) and livestock (``_LIVESTOCK``), each with
its dependence ``rho`` on the latent welfare. The probabilities are
illustrative and shape SYNTHETIC data only. ``_CUTS`` holds the normal cut
points derived from them, computed once at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()  # the standard normal, for cut points

# --------------------------------------------------------------------------------------
# Base probabilities of the built-in catalogue: codes from the RICHEST to the POOREST,
# urban probabilities, rural probabilities (normalised below), and rho (dependence on z).
# --------------------------------------------------------------------------------------
_ORDINAL: dict[str, tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...], float]] = {
    "tenure": (
        (1, 5, 2, 3, 6, 4),
        (0.70, 0.02, 0.04, 0.14, 0.02, 0.08),
        (0.88, 0.01, 0.01, 0.02, 0.02, 0.06),
        0.15,
    ),
    "land_title": (
        (1, 2, 3, 4, 5),
        (0.56, 0.12, 0.16, 0.12, 0.04),
        (0.37, 0.13, 0.26, 0.21, 0.03),
        0.35,
    ),
    "floor_material": (
        (1, 3, 2, 4, 5, 6, 8, 7, 9),
        (0.02, 0.01, 0.72, 0.03, 0.03, 0.16, 0.015, 0.003, 0.012),
        (0.003, 0.003, 0.45, 0.02, 0.08, 0.32, 0.05, 0.01, 0.064),
        0.60,
    ),
    "wall_material": (
        (1, 2, 3, 4, 5, 6, 7),
        (0.90, 0.01, 0.07, 0.01, 0.002, 0.005, 0.003),
        (0.70, 0.02, 0.20, 0.05, 0.01, 0.015, 0.005),
        0.50,
    ),
    "roof_material": (
        (1, 2, 4, 3, 6, 5, 8, 7),
        (0.06, 0.36, 0.33, 0.23, 0.01, 0.002, 0.003, 0.005),
        (0.01, 0.30, 0.48, 0.12, 0.04, 0.01, 0.01, 0.03),
        0.45,
    ),
    "water_source": (
        (1, 12, 2, 3, 5, 4, 13, 6, 8, 11, 7, 9, 10),
        (0.12, 0.10, 0.43, 0.04, 0.13, 0.01, 0.01, 0.10, 0.03, 0.005, 0.01, 0.005, 0.002),
        (0.03, 0.05, 0.20, 0.03, 0.15, 0.01, 0.08, 0.20, 0.13, 0.03, 0.05, 0.04, 0.03),
        0.45,
    ),
    "water_septic_distance": ((2, 3, 1), (0.60, 0.15, 0.25), (0.70, 0.10, 0.20), 0.15),
    "lighting": ((1, 2, 3, 4), (0.97, 0.025, 0.004, 0.001), (0.90, 0.05, 0.035, 0.015), 0.45),
    "power_va": (
        (5, 4, 3, 2, 1),
        (0.03, 0.07, 0.22, 0.45, 0.23),
        (0.005, 0.015, 0.08, 0.42, 0.48),
        0.60,
    ),
    "cooking_fuel": (
        (1, 3, 5, 2, 12, 4, 6, 7, 8, 9, 11, 10),
        (0.01, 0.05, 0.02, 0.04, 0.03, 0.80, 0.002, 0.01, 0.001, 0.005, 0.002, 0.025),
        (0.003, 0.01, 0.002, 0.01, 0.01, 0.68, 0.003, 0.02, 0.001, 0.01, 0.003, 0.25),
        0.55,
    ),
    "toilet_ownership": (
        (1, 2, 3, 4, 5, 6),
        (0.88, 0.06, 0.02, 0.02, 0.005, 0.015),
        (0.78, 0.07, 0.02, 0.01, 0.01, 0.11),
        0.50,
    ),
    "toilet_type": ((1, 2, 3), (0.95, 0.03, 0.02), (0.85, 0.06, 0.09), 0.45),
    "faecal_disposal": (
        (2, 1, 5, 3, 4, 6),
        (0.02, 0.85, 0.06, 0.01, 0.05, 0.01),
        (0.005, 0.65, 0.17, 0.04, 0.08, 0.055),
        0.45,
    ),
    "head_education": (
        (6, 5, 4, 3, 2, 1, 0),
        (0.015, 0.12, 0.03, 0.35, 0.17, 0.24, 0.075),
        (0.003, 0.04, 0.01, 0.18, 0.17, 0.42, 0.177),
        0.60,
    ),
    "head_sector": (
        (8, 2, 9, 6, 5, 3, 7, 4, 1),
        (0.12, 0.01, 0.12, 0.08, 0.25, 0.14, 0.08, 0.10, 0.10),
        (0.05, 0.015, 0.05, 0.04, 0.12, 0.08, 0.03, 0.08, 0.535),
        0.45,
    ),
    # head_status: first row for non-agriculture, second for agriculture (not urban/rural)
    "head_status": (
        (3, 4, 2, 1, 5, 6),
        (0.05, 0.50, 0.10, 0.25, 0.08, 0.02),
        (0.01, 0.05, 0.40, 0.25, 0.25, 0.04),
        0.40,
    ),
}

#: Binary assets: P(1) urban, P(1) rural, rho.
_BINARY: dict[str, tuple[float, float, float]] = {
    "has_gas_tank": (0.12, 0.04, 0.60),
    "has_refrigerator": (0.70, 0.42, 0.65),
    "has_ac": (0.14, 0.02, 0.75),
    "has_water_heater": (0.06, 0.01, 0.75),
    "has_landline": (0.04, 0.005, 0.50),
    "has_flat_tv": (0.35, 0.15, 0.60),
    "has_gold": (0.25, 0.15, 0.55),
    "has_computer": (0.25, 0.08, 0.70),
    "has_motorcycle": (0.85, 0.80, 0.50),
    "has_bicycle": (0.25, 0.25, 0.10),
    "has_car": (0.16, 0.06, 0.75),
    "has_boat": (0.01, 0.04, 0.0),
    "has_motor_boat": (0.005, 0.025, 0.20),
    "has_smartphone": (0.92, 0.80, 0.55),
    "has_internet": (0.60, 0.35, 0.60),
    "has_bank_account": (0.60, 0.35, 0.60),
    "owns_other_land": (0.15, 0.35, 0.35),
    "owns_house_elsewhere": (0.07, 0.04, 0.55),
}

#: Livestock: P(owns any) urban, rural, rho, and the geometric parameter of the herd size.
_LIVESTOCK: dict[str, tuple[float, float, float, float]] = {
    "n_cattle": (0.02, 0.12, 0.20, 0.45),
    "n_buffalo": (0.002, 0.015, 0.20, 0.45),
    "n_horse": (0.0005, 0.003, 0.10, 0.60),
    "n_pig": (0.01, 0.06, 0.10, 0.35),
    "n_goat": (0.02, 0.12, 0.15, 0.30),
}


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


def _cut(
    codes_rich_first: Sequence[int], p_true: Sequence[float], p_false: Sequence[float], rho: float
) -> _Cut:
    """Cut points from codes listed richest first and their probabilities by flag."""
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
