"""The synthetic SUSENAS-like survey: a stratified two-stage sample with known consumption.

:func:`survey` allocates PSUs to district x urban strata (:func:`_design`),
draws the households with the registry's joint model, gives them survey
weights that gross up to the population, and a per-capita consumption from
the true models of :mod:`pmt.synth._truth`. The survey is SYNTHETIC: no row
describes a real household, and the frame is labelled so in ``attrs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from .._kernels import libm
from ..rank import score
from ..regions import province_table
from ..spec import VariableSpec
from ..weights import WeightSet
from ._args import _check_int, _check_spec
from ._geography import _district_frame, _geography
from ._households import _MAX_HH_SIZE, _draw_households, _plan
from ._truth import (
    _TRUE_MEAN_LOG_CONSUMPTION,
    _illustrative_lines,
    _national_mean,
    _true_models,
    _truth_manifest,
    nonlinear_effect,
)

__all__ = ["survey"]

#: Households in the population the survey weights gross up to (about Indonesia's).
_POPULATION_HOUSEHOLDS = 70_000_000


def survey(
    n: int,
    *,
    seed: int = 0,
    spec: VariableSpec | None = None,
    scheme: Literal["BPS", "Kemendagri"] = "BPS",
    households_per_psu: int = 10,
    provinces: Sequence[int] | None = None,
    heterogeneity: float = 1.0,
    noise_sd: float = 0.40,
    psu_sd: float = 0.15,
    nonlinear: float = 0.0,
    no_urban_split: Sequence[int] = (),
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, object]:
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

    The true models, exactly: for a household ``i`` of district ``d``, urban
    flag ``u``, PSU ``g``,

    ``log c_i = a_du + sum_t beta_du,t x_i,t + s g(age_i, area_i) + u_g + e_i``

    - ``x_i,t`` are the spec's terms as the encoder computes them (code
      indicators, counts, ``log_hh_size``, ``log_floor_area_pc``,
      ``share_dependents``, ``share_working``);
    - national slopes ``beta_t = 0.6 b_t`` with ``b_t`` the effects of
      ``_TRUE_CATEGORICAL``, ``_TRUE_BINARY`` and ``_TRUE_NUMERIC`` in
      :mod:`pmt.synth._truth` (e.g. ``has_car`` 0.35, ``log_hh_size`` -0.35), 0
      for every other term; the cell's ``beta_du,t = beta_t (1 + h (D_p,t +
      D_pu,t + D_du,t))``, ``D`` normal with sd 0.15, 0.08, 0.12, ``h =
      heterogeneity``, drawn once from a fixed seed;
    - the level ``a_du = L + h (0.25 z_d + N(0, 0.04) + 0.08 u)``, ``z_d`` the
      district's welfare effect, ``L`` centring the national mean of log
      consumption on 14.0;
    - in a province of ``no_urban_split``, ``a_d1 = a_d0`` and ``beta_d1 =
      beta_d0``: urban and rural households share one model;
    - ``g = -0.0004 (age - 50)^2 + 0.10 max(log(floor_area / hh_size) - log 10,
      0)``, the non-linear effects (an inverted U in the head's age, a kink in
      floor area per person at 10 m²), times ``s = nonlinear`` (default 0: none);
    - ``u_g ~ N(0, psu_sd)``, ``e_i ~ N(0, noise_sd)``.

    The truth returned (``return_truth=True``) holds ``a`` and ``beta`` as a
    weight set; ``pmt.score(survey, truth)`` is ``log c`` without ``s g``,
    ``u_g`` and ``e_i`` (minus the log poverty line), i.e. the true expected
    welfare when ``nonlinear=0``; ``pmt.synth._truth.nonlinear_effect(survey,
    s)`` is the ``s g`` term.

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
        Survey only these provinces (a regional survey, for a set of partial
        coverage); default all 38.
    heterogeneity : float
        Scale of the regional deviations of the true models (0 = none).
    noise_sd, psu_sd : float
        Standard deviations of the household and PSU terms of log consumption.
    nonlinear : float, default 0
        Strength ``s`` of the non-linear effects of the head's age and floor
        area per person (see above); 1 gives their full size.
    no_urban_split : sequence of int, default ()
        Provinces without an urban split: one true model for a district's
        urban and rural households, and strata by district
        (``district_code * 10``).
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
        ``strata`` (int32, ``district_code * 10 + urban``; ``district_code * 10``
        in a province of ``no_urban_split``). ``attrs`` marks the
        frame ``synthetic`` (read by :func:`pmt.calibrate`).

    Examples
    --------
    >>> s = survey(5000, seed=1)
    >>> len(s), bool(s.attrs["synthetic"]), bool((s["consumption"] > 0).all())
    (5000, True, True)
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    households_per_psu = _check_int("households_per_psu", households_per_psu, 1)
    spec = _check_spec(spec)
    if not spec.urban:  # the true models are per district x urban cell whatever is calibrated
        spec = spec.model_copy(update={"urban": True})
    if not (heterogeneity >= 0 and noise_sd >= 0 and psu_sd >= 0):
        raise ValueError("heterogeneity, noise_sd and psu_sd must be >= 0")
    if not (isinstance(nonlinear, (int, float)) and np.isfinite(nonlinear)):
        raise ValueError(f"nonlinear={nonlinear!r}: must be a finite number (0: none)")
    unsplit = frozenset(int(p) for p in no_urban_split)
    unknown = sorted(unsplit - set(province_table(scheme)))
    if unknown:
        raise ValueError(
            f"no_urban_split: {unknown} are not provinces of the {scheme} scheme; pass "
            "province codes such as 33"
        )
    frame = _district_frame(scheme)
    geo = _geography(scheme)
    district, urban, psu_id, total_psu = _design(
        frame, n, scheme=scheme, households_per_psu=households_per_psu, provinces=provinces
    )

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5355,)))
    plan = _plan(spec)
    max_size = min(_MAX_HH_SIZE, spec.max_household_size)
    cols, _ = _draw_households(
        rng, n, geo=geo, plan=plan, max_size=max_size, district=district, urban=urban
    )

    # survey weights: stratum population / stratum sample, varied by PSU
    stratum_pop = (
        _POPULATION_HOUSEHOLDS
        * frame["household_share"].to_numpy()[district]
        * np.where(
            urban,
            frame["urban_share"].to_numpy()[district],
            1 - frame["urban_share"].to_numpy()[district],
        )
    )
    psu_factor = rng.lognormal(0.0, 0.3, total_psu)[psu_id - 1]
    code = geo.code[district].astype(np.int64)
    cell = code * 10 + urban  # the design's strata; reported by district where unsplit
    stratum = np.where(np.isin(code // 100, list(unsplit)), code * 10, cell)
    factor_sum = pd.Series(psu_factor).groupby(cell).transform("sum").to_numpy()
    weight = stratum_pop * psu_factor / factor_sum

    out: dict[str, np.ndarray] = {"hh_id": np.arange(1, n + 1, dtype=np.int64)}
    out.update(cols)
    table = pd.DataFrame(out, copy=False)

    # the truth, and consumption from it through the scorer
    center = 0.0
    keys, coef = _true_models(spec, frame, heterogeneity, center, unsplit)
    manifest = _truth_manifest(
        spec,
        scheme,
        heterogeneity=heterogeneity,
        noise_sd=noise_sd,
        psu_sd=psu_sd,
        nonlinear=float(nonlinear),
        unsplit=unsplit,
    )
    raw = WeightSet(manifest, keys, coef)
    xb = score(table, raw).to_numpy()
    # centre the national level on the target mean (weighted by people), once per spec
    level = _TRUE_MEAN_LOG_CONSUMPTION - _national_mean(spec, scheme, heterogeneity)
    coef = coef.copy()
    coef[:, 0] += level
    xb = xb + level
    truth = WeightSet(manifest, keys, coef, _illustrative_lines(scheme))
    log_c = xb + rng.normal(0.0, psu_sd, total_psu)[psu_id - 1] + rng.normal(0.0, noise_sd, n)
    log_c = log_c + nonlinear_effect(table, float(nonlinear))
    table["consumption"] = np.round(libm.of(libm.exp, log_c), 2)
    table["weight"] = weight
    table["psu"] = psu_id.astype(np.int32)
    table["strata"] = stratum.astype(np.int32)
    table.attrs.update({"synthetic": True, "generator": "pmt.synth.survey", "seed": seed})
    return (table, truth) if return_truth else table


def _design(
    frame: pd.DataFrame,
    n: int,
    *,
    scheme: str,
    households_per_psu: int,
    provinces: Sequence[int] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The sample design: each household's district, urban flag and PSU.

    Every sampled district gets PSUs in proportion to the square root of its
    household share (at least 2; the remainder to the largest fractional
    quotas), split between its urban and rural strata by its urban share (at
    least one of each where both are at least 5 % of the district); the ``n``
    households are shared out among the PSUs as evenly as possible, in
    stratum order. Deterministic: no randomness.

    Parameters
    ----------
    frame : pandas.DataFrame
        The district table (:func:`pmt.synth._geography._district_frame`).
    n : int
        Households in the sample.
    scheme : str
        Region-code scheme of ``frame`` (for the province check).
    households_per_psu : int
        Households per PSU, about.
    provinces : sequence of int, optional
        Sample only these provinces; all if None.

    Returns
    -------
    district : (n,) int64
        Row positions in ``frame`` of the households' districts.
    urban : (n,) bool
    psu_id : (n,) int64
        PSU numbers ``1..n_psu`` in stratum order.
    n_psu : int
        Number of PSUs (a PSU may be left without households when the
        minimum of 2 per district exceeds ``n / households_per_psu``).

    Raises
    ------
    ValueError
        If a province is not one of the scheme, or ``n`` is smaller than the
        number of PSUs the design needs.
    """
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
        raise ValueError(
            f"n={n} is too small: the design has {n_psu} PSUs (2 per district at "
            f"least) and each needs a household. Fix: a larger n, or fewer "
            "provinces."
        )
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
    psu_district = np.repeat(np.repeat(pos, 2), np.ravel(np.column_stack([k - k_urban, k_urban])))
    psu_urban = np.repeat(
        np.tile([0, 1], pos.size), np.ravel(np.column_stack([k - k_urban, k_urban]))
    )
    total_psu = psu_district.size
    sizes = np.full(total_psu, n // total_psu)
    sizes[: n % total_psu] += 1
    district = np.repeat(psu_district, sizes)
    urban = np.repeat(psu_urban, sizes).astype(bool)
    psu_id = np.repeat(np.arange(1, total_psu + 1), sizes)
    return district, urban, psu_id, total_psu
