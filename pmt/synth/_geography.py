"""The synthetic geography: provinces, districts, and their illustrative shares.

Province tables (relative population, urban share, welfare effect) and
province tilts of single variables, all ILLUSTRATIVE and keyed by province
name so that both region-code schemes agree; from them a fixed table of 514
SYNTHETIC districts (:func:`districts`: numbered after the BPS convention,
kabupaten ``PP01``-``PP69`` and kota ``PP71``-``PP99``, not the official
list) and its array form :class:`_Geography`, which the household generator
draws from. Nothing here depends on a registry or survey seed.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .._kernels import libm
from ..regions import province_table

__all__ = ["districts"]

# --------------------------------------------------------------------------------------
# Illustrative geography. The numbers below shape SYNTHETIC data only: they are of the
# right order (population and urbanisation of the 2020 census, the ranking of provincial
# poverty rates) but rounded, partly guessed for the 2022 Papua provinces, and must not
# be read as statistics. Keyed by province name so that both code schemes agree.
# --------------------------------------------------------------------------------------

#: Relative household weight (about the population in millions).
_POPULATION: dict[str, float] = {
    "Aceh": 5.3,
    "Sumatera Utara": 14.8,
    "Sumatera Barat": 5.5,
    "Riau": 6.4,
    "Jambi": 3.5,
    "Sumatera Selatan": 8.5,
    "Bengkulu": 2.0,
    "Lampung": 9.0,
    "Kepulauan Bangka Belitung": 1.5,
    "Kepulauan Riau": 2.1,
    "DKI Jakarta": 10.6,
    "Jawa Barat": 48.3,
    "Jawa Tengah": 36.5,
    "DI Yogyakarta": 3.7,
    "Jawa Timur": 40.7,
    "Banten": 11.9,
    "Bali": 4.3,
    "Nusa Tenggara Barat": 5.3,
    "Nusa Tenggara Timur": 5.3,
    "Kalimantan Barat": 5.4,
    "Kalimantan Tengah": 2.7,
    "Kalimantan Selatan": 4.1,
    "Kalimantan Timur": 3.8,
    "Kalimantan Utara": 0.7,
    "Sulawesi Utara": 2.6,
    "Sulawesi Tengah": 3.0,
    "Sulawesi Selatan": 9.1,
    "Sulawesi Tenggara": 2.6,
    "Gorontalo": 1.2,
    "Sulawesi Barat": 1.4,
    "Maluku": 1.8,
    "Maluku Utara": 1.3,
    "Papua Barat": 0.56,
    "Papua Barat Daya": 0.6,
    "Papua": 1.05,
    "Papua Selatan": 0.52,
    "Papua Tengah": 1.35,
    "Papua Pegunungan": 1.45,
}

#: Share of households living in urban areas.
_URBAN: dict[str, float] = {
    "Aceh": 0.31,
    "Sumatera Utara": 0.54,
    "Sumatera Barat": 0.45,
    "Riau": 0.40,
    "Jambi": 0.32,
    "Sumatera Selatan": 0.37,
    "Bengkulu": 0.33,
    "Lampung": 0.31,
    "Kepulauan Bangka Belitung": 0.58,
    "Kepulauan Riau": 0.84,
    "DKI Jakarta": 1.0,
    "Jawa Barat": 0.73,
    "Jawa Tengah": 0.51,
    "DI Yogyakarta": 0.70,
    "Jawa Timur": 0.54,
    "Banten": 0.68,
    "Bali": 0.67,
    "Nusa Tenggara Barat": 0.48,
    "Nusa Tenggara Timur": 0.24,
    "Kalimantan Barat": 0.33,
    "Kalimantan Tengah": 0.37,
    "Kalimantan Selatan": 0.46,
    "Kalimantan Timur": 0.66,
    "Kalimantan Utara": 0.55,
    "Sulawesi Utara": 0.50,
    "Sulawesi Tengah": 0.27,
    "Sulawesi Selatan": 0.40,
    "Sulawesi Tenggara": 0.32,
    "Gorontalo": 0.38,
    "Sulawesi Barat": 0.24,
    "Maluku": 0.38,
    "Maluku Utara": 0.29,
    "Papua Barat": 0.35,
    "Papua Barat Daya": 0.45,
    "Papua": 0.45,
    "Papua Selatan": 0.25,
    "Papua Tengah": 0.15,
    "Papua Pegunungan": 0.10,
}

#: Province effect on the latent welfare (standard deviations of z; richer > 0).
_WELFARE: dict[str, float] = {
    "Aceh": -0.21,
    "Sumatera Utara": 0.00,
    "Sumatera Barat": 0.10,
    "Riau": 0.14,
    "Jambi": 0.03,
    "Sumatera Selatan": -0.10,
    "Bengkulu": -0.17,
    "Lampung": -0.10,
    "Kepulauan Bangka Belitung": 0.21,
    "Kepulauan Riau": 0.32,
    "DKI Jakarta": 0.52,
    "Jawa Barat": 0.07,
    "Jawa Tengah": -0.08,
    "DI Yogyakarta": 0.00,
    "Jawa Timur": -0.07,
    "Banten": 0.14,
    "Bali": 0.28,
    "Nusa Tenggara Barat": -0.21,
    "Nusa Tenggara Timur": -0.42,
    "Kalimantan Barat": -0.03,
    "Kalimantan Tengah": 0.14,
    "Kalimantan Selatan": 0.17,
    "Kalimantan Timur": 0.32,
    "Kalimantan Utara": 0.14,
    "Sulawesi Utara": 0.03,
    "Sulawesi Tengah": -0.14,
    "Sulawesi Selatan": 0.00,
    "Sulawesi Tenggara": -0.10,
    "Gorontalo": -0.24,
    "Sulawesi Barat": -0.14,
    "Maluku": -0.32,
    "Maluku Utara": 0.00,
    "Papua Barat": -0.39,
    "Papua Barat Daya": -0.32,
    "Papua": -0.35,
    "Papua Selatan": -0.42,
    "Papua Tengah": -0.59,
    "Papua Pegunungan": -0.70,
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

# --------------------------------------------------------------------------------------
# Province tilts of single variables (latent SD units; > 0 = richer code / owns more).
# They model what welfare alone does not: electrification in Papua, pigs where few
# people are Muslim, boats on islands and rivers, timber houses outside Java.
# --------------------------------------------------------------------------------------
_PAPUA_ALL = (
    "Papua Barat",
    "Papua Barat Daya",
    "Papua",
    "Papua Selatan",
    "Papua Tengah",
    "Papua Pegunungan",
)
_JAVA = ("DKI Jakarta", "Jawa Barat", "Jawa Tengah", "DI Yogyakarta", "Jawa Timur", "Banten")
_KALIMANTAN = (
    "Kalimantan Barat",
    "Kalimantan Tengah",
    "Kalimantan Selatan",
    "Kalimantan Timur",
    "Kalimantan Utara",
)


def _tilt(*groups: tuple[Sequence[str], float]) -> dict[str, float]:
    """One tilt for every province of each ``(names, value)`` group."""
    out: dict[str, float] = {}
    for names, value in groups:
        out.update(dict.fromkeys(names, value))
    return out


_SHIFT: dict[str, dict[str, float]] = {
    "lighting": {
        "Papua Pegunungan": -1.3,
        "Papua Tengah": -1.0,
        "Papua Selatan": -0.7,
        "Papua": -0.5,
        "Papua Barat": -0.5,
        "Papua Barat Daya": -0.4,
        "Nusa Tenggara Timur": -0.6,
        "Maluku": -0.4,
        "Maluku Utara": -0.4,
        "Kalimantan Barat": -0.2,
        "Kalimantan Tengah": -0.2,
        "Sulawesi Tengah": -0.2,
    },
    "cooking_fuel": {
        **_tilt((_PAPUA_ALL, -0.6)),
        "Papua Pegunungan": -1.0,
        "Nusa Tenggara Timur": -0.6,
        "Maluku": -0.4,
        "Maluku Utara": -0.3,
        "Kalimantan Barat": -0.2,
        "Sulawesi Barat": -0.3,
        "Gorontalo": -0.2,
        "DKI Jakarta": 0.3,
    },
    "toilet_ownership": {
        **_tilt((_PAPUA_ALL, -0.5)),
        "Papua Pegunungan": -0.9,
        "Nusa Tenggara Timur": -0.3,
        "Maluku": -0.3,
        "Sulawesi Barat": -0.3,
        "Gorontalo": -0.3,
        "Nusa Tenggara Barat": -0.2,
    },
    "floor_material": {"Nusa Tenggara Timur": -0.5, "Papua Pegunungan": -0.8, "Papua Tengah": -0.5},
    "wall_material": _tilt(
        (_KALIMANTAN, -0.6),
        (_PAPUA_ALL, -0.6),
        (("Maluku", "Maluku Utara"), -0.5),
        (
            (
                "Sulawesi Utara",
                "Sulawesi Tengah",
                "Sulawesi Selatan",
                "Sulawesi Tenggara",
                "Gorontalo",
                "Sulawesi Barat",
            ),
            -0.3,
        ),
        (("Riau", "Jambi", "Kepulauan Bangka Belitung"), -0.2),
    ),
    "has_boat": {
        **_tilt((_JAVA, -0.4), (_KALIMANTAN, 0.5)),
        "DKI Jakarta": -0.6,
        "Kepulauan Riau": 0.8,
        "Maluku": 0.9,
        "Maluku Utara": 0.9,
        "Kepulauan Bangka Belitung": 0.5,
        "Sulawesi Tenggara": 0.6,
        "Sulawesi Utara": 0.5,
        "Sulawesi Tengah": 0.4,
        "Sulawesi Barat": 0.4,
        "Sulawesi Selatan": 0.3,
        "Gorontalo": 0.3,
        "Papua Barat": 0.6,
        "Papua Barat Daya": 0.7,
        "Papua Selatan": 0.3,
        "Papua": 0.3,
        "Papua Pegunungan": -1.0,
        "Nusa Tenggara Timur": 0.3,
        "Riau": 0.3,
        "Jambi": 0.3,
        "Sumatera Selatan": 0.3,
    },
    "n_cattle": {
        "Nusa Tenggara Timur": 0.3,
        "Nusa Tenggara Barat": 0.4,
        "Bali": 0.3,
        "Sulawesi Selatan": 0.2,
        "Jawa Timur": 0.2,
        "Gorontalo": 0.3,
        "DKI Jakarta": -2.0,
        "Kepulauan Riau": -1.0,
    },
    "n_buffalo": {
        "Sumatera Barat": 0.5,
        "Aceh": 0.5,
        "Nusa Tenggara Barat": 0.5,
        "Nusa Tenggara Timur": 0.6,
        "Sulawesi Selatan": 0.5,
        "Banten": 0.4,
        "Sumatera Utara": 0.3,
        "Kalimantan Selatan": 0.3,
        "DKI Jakarta": -2.0,
    },
    "n_horse": {
        "Nusa Tenggara Timur": 0.9,
        "Nusa Tenggara Barat": 0.7,
        "Sulawesi Selatan": 0.6,
        "Sulawesi Utara": 0.3,
        "DKI Jakarta": -2.0,
    },
    "n_pig": {
        **_tilt((_PAPUA_ALL, 1.3)),
        "Nusa Tenggara Timur": 1.3,
        "Bali": 1.3,
        "Sulawesi Utara": 0.9,
        "Sumatera Utara": 0.6,
        "Kalimantan Barat": 0.4,
        "Maluku": 0.3,
        "Kalimantan Tengah": 0.0,
        "Sulawesi Tengah": -0.3,
        "Kalimantan Utara": -0.3,
        "Sulawesi Selatan": -0.8,
        "Sulawesi Barat": -0.8,
    },
    "n_goat": {
        "Jawa Tengah": 0.3,
        "Jawa Timur": 0.2,
        "Jawa Barat": 0.1,
        "Nusa Tenggara Barat": 0.2,
        "Aceh": 0.2,
        "DKI Jakarta": -1.5,
    },
}
_SHIFT["has_motor_boat"] = _SHIFT["has_boat"]
#: Tilt of provinces a variable's table does not list (pigs: Muslim-majority provinces).
_SHIFT_DEFAULT = {"n_pig": -2.5}


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
    """The district table of ``scheme`` (cached and shared: :func:`districts` copies it)."""
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
        urban: np.ndarray = np.empty(n_kab + n_kota)
        urban[n_kab:] = 1.0 - (1.0 - kota_mean) * rng.lognormal(0.0, 0.3, n_kota)
        kota_part = float(share[n_kab:] @ urban[n_kab:])
        kab_mass = float(share[:n_kab].sum())
        kab_mean = (target - kota_part) / kab_mass if kab_mass > 0 else 0.0
        kab_mean = min(max(kab_mean, 0.02), 0.90)
        logit = math.log(kab_mean / (1.0 - kab_mean)) + rng.normal(0.0, 0.6, n_kab)
        urban[:n_kab] = 1.0 / (1.0 + libm.of(libm.exp, -logit))
        urban = np.clip(urban, 0.0, 1.0)
        effect = _WELFARE[p.name] + rng.normal(0.0, _DISTRICT_WELFARE_SD, n_kab + n_kota)
        effect[n_kab:] += _KOTA_WELFARE
        numbers = list(range(1, n_kab + 1)) + list(range(71, 71 + n_kota))
        for i, num in enumerate(numbers):
            rows.append(
                {
                    "district_code": p.code * 100 + num,
                    "province_code": p.code,
                    "province_name": p.name,
                    "kind": "kabupaten" if i < n_kab else "kota",
                    "household_share": share[i] * _POPULATION[p.name] / total,
                    "urban_share": float(urban[i]),
                    "welfare_effect": float(effect[i]),
                }
            )
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
    """The district table of ``scheme`` as arrays, with the national moments of ``z``."""
    frame = _district_frame(scheme)
    w = frame["household_share"].to_numpy()
    u = frame["urban_share"].to_numpy()
    e = frame["welfare_effect"].to_numpy()
    mean = float(w @ (e + _URBAN_WELFARE * u))
    second = float(w @ (u * (e + _URBAN_WELFARE) ** 2 + (1.0 - u) * e**2)) + 1.0
    cum = np.cumsum(w)
    cum[-1] = 1.0
    names = frame["province_name"].to_numpy()
    shift = {
        var: np.array([table.get(name, _SHIFT_DEFAULT.get(var, 0.0)) for name in names])
        for var, table in _SHIFT.items()
    }
    return _Geography(
        code=frame["district_code"].to_numpy(),
        cum_share=cum,
        urban_share=u,
        effect=e,
        z_mean=mean,
        z_sd=math.sqrt(second - mean**2),
        shift=shift,
    )
