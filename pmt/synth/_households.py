"""Drawing synthetic households: the joint model shared by the registry and the survey.

How a household is made (:func:`_draw_households`, given a random generator):

1. a district, drawn with the illustrative household shares of
   :func:`pmt.synth.districts` (or given, as by a survey design), and an
   urban/rural flag with the district's urban share (or given);
2. a latent welfare ``z`` = province effect + district effect + urban effect
   + N(0, 1), standardised to mean 0 and variance 1 over the whole country;
3. every characteristic from ``z`` by an ordinal probit: a latent
   ``rho * z + sqrt(1 - rho**2) * eps`` (plus a province tilt for a few
   variables such as pigs, boats or electrification) is cut at the normal
   quantiles of base probabilities listed from the richest code to the
   poorest (:mod:`pmt.synth._catalogue`), with separate urban and rural
   probabilities where they obviously differ. Poorer households are
   therefore poorer on many variables at once;
4. a few rules keep households coherent (no PLN meter without PLN metered
   lighting, no toilet type without a toilet, a head who does not work has
   no industry, ``n_children + n_elderly <= hh_size``, ...).

Variables a spec has but the built-in catalogue does not (or has with other
codes or another kind) get a generic draw by kind, still driven by ``z``
(:func:`_generic`). :func:`_plan` fixes each variable's output dtype. The
households are SYNTHETIC: no row describes a real household.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._kernels import libm
from ..spec import Variable, VariableSpec, default_spec
from ._catalogue import _BINARY, _CUTS, _LIVESTOCK, _NORMAL, _Cut, _thresholds
from ._geography import _URBAN_WELFARE, _Geography


def _exp(x: object) -> np.ndarray:  # the C library's, as scoring's logs (pmt._kernels.libm)
    return libm.of(libm.exp, x)


def _log(x: object) -> np.ndarray:
    return libm.of(libm.log, x)


_ROW_OFFSET = 64.0  # see _ordinal
_MAX_HH_SIZE = 15


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
    """The narrowest signed integer dtype that holds ``[lo, hi]``."""
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return np.dtype(t)
    return np.dtype(np.int64)


def _plan(spec: VariableSpec) -> tuple[_Column, ...]:
    """How each variable of ``spec`` is drawn (built-in or generic) and stored (dtype)."""
    reference = {v.name: v for v in default_spec().variables}
    out = []
    for var in spec.variables:
        ref = reference.get(var.name)
        builtin = (
            ref is not None
            and ref.kind == var.kind
            and (var.kind != "categorical" or set(var.code_values) == set(ref.code_values))
        )
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


def _latent(
    rng: np.random.Generator, zs: np.ndarray, rho: float, shift: np.ndarray | float = 0.0
) -> np.ndarray:
    """``rho * zs + sqrt(1 - rho**2) * eps + shift``; high = rich."""
    lat = rng.standard_normal(zs.size, dtype=np.float32)
    lat *= np.float32(math.sqrt(1.0 - rho * rho))
    lat += np.float32(rho) * zs
    lat += np.asarray(shift, dtype=np.float32)
    return lat


def _ordinal(
    rng: np.random.Generator,
    zs: np.ndarray,
    flag: np.ndarray,
    cut: _Cut,
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
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


def _binary(
    rng: np.random.Generator,
    zs: np.ndarray,
    urban: np.ndarray,
    p_urban: float,
    p_rural: float,
    rho: float,
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
    """0/1 draws (bool) with ``P(1)`` by the urban flag; 1 is the richer value."""
    lat = _latent(rng, zs, rho, shift)
    cut_u = _NORMAL.inv_cdf(1.0 - p_urban)
    cut_r = _NORMAL.inv_cdf(1.0 - p_rural)
    return lat > np.where(urban, cut_u, cut_r)


def _reference(
    rng: np.random.Generator,
    zs: np.ndarray,
    urban: np.ndarray,
    district: np.ndarray,
    geo: _Geography,
    max_size: int,
) -> dict[str, np.ndarray]:
    """Every variable of the default catalogue, plus ``hh_size`` (unclipped dtypes)."""
    m = zs.size
    sh = {var: s[district] for var, s in geo.shift.items()}
    c: dict[str, np.ndarray] = {}

    # --- members -------------------------------------------------------------------
    lam = 2.95 * _exp(-0.12 * zs) * np.where(urban, 0.95, 1.02)
    size = 1 + rng.poisson(lam)
    single = rng.random(m) < 0.04
    size[single] = 1
    size = np.minimum(size, max_size)
    c["hh_size"] = size

    age = rng.normal(46.0, 12.5, m)
    one = size == 1
    old_single = rng.random(m) < 0.5
    age = np.where(
        one & old_single, rng.normal(66.0, 9.0, m), np.where(one, rng.normal(30.0, 8.0, m), age)
    )
    age = np.clip(np.rint(age), 16, 98).astype(np.int64)
    c["head_age"] = age
    p_female = np.where(one, 0.45, 0.12) + np.where(age >= 65, 0.15, 0.0)
    p_female = p_female * _exp(-0.10 * zs)
    c["head_female"] = rng.random(m) < p_female

    head_old = (age >= 65).astype(np.int64)
    others = size - 1
    p_eld = np.where(age >= 60, 0.30, 0.05)
    p_eld = np.where(others > 2, p_eld * 0.6, p_eld)
    n_elderly = head_old + rng.binomial(others, p_eld)
    young_others = size - n_elderly - (1 - head_old)  # non-elderly members besides the head
    p_child = np.select([age < 50, age < 60], [0.62, 0.35], 0.22) * _exp(-0.15 * zs)
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
    p_dis = np.minimum(0.015 * _exp(-0.25 * zs), 0.2)
    c["n_disabled"] = rng.binomial(not_old, p_dis) + rng.binomial(n_elderly, 0.12)
    c["n_chronic_ill"] = rng.binomial(not_old, 0.04) + rng.binomial(n_elderly, 0.35)
    school_age = rng.binomial(n_children, 0.55) + rng.binomial(
        np.maximum(size - n_children - n_elderly - 2, 0), 0.35
    )
    p_drop = np.minimum(0.08 * _exp(-0.6 * zs), 0.6)
    c["n_school_dropout"] = rng.binomial(school_age, p_drop)

    # --- housing -------------------------------------------------------------------
    tenure = _ordinal(rng, zs, urban, _CUTS["tenure"])
    c["tenure"] = tenure
    title = _ordinal(rng, zs, urban, _CUTS["land_title"])
    no_land = np.where(rng.random(m) < 0.9, 5, 6)
    c["land_title"] = np.where(tenure == 1, title, no_land)
    log_area = (
        math.log(55.0)
        + 0.38 * zs
        + 0.35 * _log(size / 3.8)
        - 0.05 * urban
        + rng.normal(0.0, 0.35, m)
    )
    c["floor_area"] = np.clip(np.rint(_exp(log_area)), 6.0, None)
    c["floor_material"] = _ordinal(
        rng, zs, urban, _CUTS["floor_material"], sh.get("floor_material", 0.0)
    )
    c["wall_material"] = _ordinal(
        rng, zs, urban, _CUTS["wall_material"], sh.get("wall_material", 0.0)
    )
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


def _generic(
    rng: np.random.Generator, var: Variable, zs: np.ndarray, size: np.ndarray
) -> np.ndarray:
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
        cut = _Cut(
            np.asarray(codes[::-1], dtype=np.int64), np.vstack([_thresholds([1.0] * k)] * 2), 0.4
        )
        return _ordinal(rng, zs, np.zeros(zs.size, dtype=bool), cut)
    if var.kind == "binary":
        return _binary(rng, zs, np.zeros(zs.size, dtype=bool), 0.3, 0.3, 0.4)
    lat = _latent(rng, zs, 0.4)
    lo = var.min
    hi = var.max
    if var.kind == "count":
        if var.max_hh_size:
            return rng.binomial(size, np.minimum(0.15 * _exp(-0.3 * zs), 0.9))
        return (0 if lo is None else math.ceil(lo)) + rng.poisson(_exp(0.3 * lat))
    if lo is not None and hi is not None:
        return lo + (hi - lo) / (1.0 + _exp(-lat))
    if lo is not None:
        return lo + _exp(lat)
    if hi is not None:
        return hi - _exp(-lat)
    return lat


def _draw_households(
    rng: np.random.Generator,
    n: int,
    *,
    geo: _Geography,
    plan: Sequence[_Column],
    max_size: int = _MAX_HH_SIZE,
    district: np.ndarray | None = None,
    urban: np.ndarray | None = None,
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
            values = (
                np.clip(values, var.min, var.max)
                if (var.min is not None or var.max is not None)
                else values
            )
            if var.max_hh_size:
                values = np.minimum(values, size)
            if var.kind == "count":
                values = np.rint(values)
        cols[var.name] = values.astype(col.dtype)
    return cols, zs
