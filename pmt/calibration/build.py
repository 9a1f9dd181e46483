"""``calibrate()``: a survey in, a calibrated weight set and its account out.

The steps, each in its own module: check and encode the survey
(:mod:`.data`), fit (:mod:`.fit`: screening, selection, pooling strengths, the
tree of models), write the models as a weight set with reference cutoffs and
its provenance (:mod:`.assembly`), and the diagnostic tables
(:class:`~pmt.calibration.Calibration`).
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._log import get_logger, timed
from .._progress import ProgressCallback, check_progress, report
from .._version import __version__
from ..errors import CalibrationWarning
from ..spec import VariableSpec
from ..weights import Manifest
from .assembly import assemble, coefficient_table, dropped_table, models_table
from .coverage import coverage_fields
from .data import Scheme, prepare
from .estimators import ESTIMATORS
from .fit import STEPS
from .fit import fit as fit_survey
from .options import json_num, options_from
from .results import Calibration

__all__ = ["calibrate"]
_log = get_logger(__name__)


def calibrate(
    survey: pd.DataFrame,
    spec: VariableSpec | None = None,
    *,
    poverty_lines: Any = None,
    consumption: str = "consumption",
    weight: str | None = "weight",
    psu: str = "psu",
    strata: str | None = "strata",
    id_col: str | None = "hh_id",
    region_scheme: Scheme = "BPS",
    coverage: Any = None,
    coverage_fallback: str | None = None,
    estimator: str = "wls",
    tau: float = 0.5,
    truncate: float = 0.5,
    solver: Literal["ipm", "highs"] = "ipm",
    estimator_options: Mapping[str, Any] | None = None,
    select: Literal["stepwise"] | None = None,
    p_enter: float = 0.05,
    p_remove: float = 0.10,
    keep: Iterable[str] = (),
    pooling: Literal["shrink", "fallback", "none"] = "shrink",
    min_households: int | None = None,
    min_psus: int = 2,
    lambdas: Mapping[str, float | tuple[float, float]] | None = None,
    pooling_folds: int = 5,
    seed: int = 0,
    on_collinear: Literal["raise", "drop"] = "raise",
    n_classes: int = 10,
    name: str = "calibrated",
    version: str = "1.0.0",
    description: str | None = None,
    created: _dt.date | None = None,
    region_vintage: str = "as coded in the survey",
    synthetic: bool | None = None,
    survey_name: str | None = None,
    survey_period: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> Calibration:
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
    consumption, weight, psu, strata, id_col : str or None
        Survey column names: per-capita consumption (Rp per person per month,
        > 0), survey weight (> 0; None: an unweighted survey, every household
        weighs its ``hh_size`` people), primary sampling unit, stratum (None: a
        survey without strata, district x urban is used), id (None: no ids).
        A missing column is a :class:`~pmt.errors.MissingColumnError` naming
        the argument that fixes it.
    region_scheme : {"BPS", "Kemendagri"}
        The scheme of the survey's district codes.
    coverage : None, "national" or list of region codes, default None
        The regions the set is for. None infers them: the provinces the survey
        has households in — all of them gives a national set, fewer a
        ``coverage: "partial"`` set listing them in the manifest's ``covers``.
        ``"national"``: a national set whatever the survey holds (its models
        then score every province). A list of province (``"31"``) and district
        (``"3171"``) codes: exactly those (every survey household must lie in
        one). Poverty lines are required for the covered regions only.
    coverage_fallback : {None, "national"}, default None
        What scores a registry household outside a partial coverage: None, no
        model (an ``UnknownRegionError``, or a reject with
        ``on_invalid="reject"``); ``"national"``, the national model (its
        region still needs a poverty line when the set has lines).
    estimator : str, default "wls"
        A name of :data:`pmt.calibration.ESTIMATORS`: ``"wls"`` (weighted least
        squares, PSU-clustered SEs), ``"quantile"`` (weighted quantile
        regression at ``tau``) or ``"poverty_wls"`` (least squares on the
        poorest ``truncate`` share of people).
    tau : float, default 0.5
        The quantile, in (0, 1) (``estimator="quantile"``).
    truncate : float, default 0.5
        The poorest share of people by observed welfare kept, in (0, 1]
        (``estimator="poverty_wls"``).
    solver : {"ipm", "highs"}, default "ipm"
        Quantile regression by interior point (takes the pooling penalty) or
        by the HiGHS linear program (``pooling="fallback"`` or ``"none"`` only).
    estimator_options : mapping, optional
        Options of an added estimator that are not parameters here (see its
        ``options``); recorded in the provenance.
    select : {None, "stepwise"}, default None
        Stepwise variable selection (whole variables, on the national sample).
    p_enter, p_remove : float, default 0.05, 0.10
        Stepwise thresholds, ``0 < p_enter <= p_remove <= 1``.
    keep : iterable of str, default ()
        Variables stepwise selection always keeps.
    pooling : {"shrink", "fallback", "none"}, default "shrink"
        Regional structure: partial pooling toward the parent, own model where
        the data allow else the next level, or naive per district x urban models.
    min_households : int, optional
        Households a node needs for a model; default 30 for ``"shrink"`` and
        ``"none"``, 5 per coefficient for ``"fallback"``.
    min_psus : int, default 2
        PSUs a node needs for a model.
    lambdas : mapping, optional
        ``{level: (lambda, lambda_intercept)}`` (or ``{level: lambda}``) fixing
        pooling strengths instead of choosing them by cross-validation;
        levels ``"province"``, ``"province_urban"``, ``"district"``,
        ``"district_urban"``.
    pooling_folds : int, default 5
        PSU folds of the cross-validation that chooses the pooling strengths.
    seed : int, default 0
        Seed of those folds.
    on_collinear : {"raise", "drop"}, default "raise"
        Constant or collinear terms raise :class:`~pmt.errors.CollinearityError`,
        or are dropped (coefficient 0) and recorded.
    n_classes : int, default 10
        Number of classes of the reference cutoffs (2 to 100).
    name, version, description, created, region_vintage : str or date, optional
        Manifest fields of the new weight set (``created`` defaults to today).
    synthetic : bool, optional
        Label the set synthetic; defaults to the survey's ``attrs["synthetic"]``
        (set by :func:`pmt.synth.survey`).
    survey_name, survey_period : str, optional
        Recorded in the provenance (e.g. ``"SUSENAS"``, ``"2024-03"``).
    provenance : mapping, optional
        Extra provenance entries (e.g. the script that ran the calibration).
    progress : callable, optional
        Called as ``progress(done, total, "fitting")`` after each step of the
        calibration (the survey prepared, screening, selection, pooling
        strengths, the models, the weight set: ``total`` is 6); see
        :mod:`pmt._progress`.

    Returns
    -------
    Calibration

    Raises
    ------
    pmt.errors.InputError
        Missing columns, missing or non-positive consumption, zero or
        negative weights, missing PSU, invalid codes, … (the encoder's rules).
    pmt.errors.ArgumentError
        An option outside its rule (a ``ValueError``).
    pmt.errors.CollinearityError
        Constant or collinear terms (unless ``on_collinear="drop"``).
    pmt.errors.SmallSampleError
        Too few households for the national model, or a district too small
        for any model under ``pooling="none"``.
    pmt.errors.CalibrationError
        Poverty lines missing for covered regions (every one is listed),
        survey households outside a declared ``coverage``, and similar.

    Warns
    -----
    pmt.errors.CalibrationWarning
        Codes never observed in the survey (their coefficient is 0, the
        reference's).
    pmt.errors.ConsumptionUnitWarning
        The median consumption is outside
        :data:`pmt.calibration.data.CONSUMPTION_RANGE` (50,000 to 50,000,000
        Rp per person per month): a unit mistake, such as thousand rupiah.
    """
    progress = check_progress(progress)
    report(progress, 0, STEPS, "fitting")
    opts = options_from(
        {
            "estimator": estimator,
            "tau": tau,
            "truncate": truncate,
            "solver": solver,
            "estimator_options": estimator_options,
            "select": select,
            "p_enter": p_enter,
            "p_remove": p_remove,
            "keep": keep,
            "pooling": pooling,
            "min_households": min_households,
            "min_psus": min_psus,
            "lambdas": lambdas,
            "pooling_folds": pooling_folds,
            "seed": seed,
            "on_collinear": on_collinear,
            "n_classes": n_classes,
        }
    )
    data = prepare(
        survey,
        spec,
        poverty_lines=poverty_lines,
        consumption=consumption,
        weight=weight,
        psu=psu,
        strata=strata,
        id_col=id_col,
        scheme=region_scheme,
        coverage=coverage,
    )
    fields = coverage_fields(data.covers, coverage_fallback)
    report(progress, 1, STEPS, "fitting")
    rows = np.arange(data.n)
    with timed(_log, f"fitting ({opts.estimator}, pooling {opts.pooling}) on {data.n} households"):
        fit = fit_survey(data, rows, opts, progress=progress)
    if fit.screen.unobserved:
        warnings.warn(
            f"{len(fit.screen.unobserved)} codes are never observed in the survey (in the "
            f"households the estimator fits) and get "
            f"coefficient 0 (the reference code's) in every model: "
            f"{fit.screen.unobserved[:8]}{' ...' if len(fit.screen.unobserved) > 8 else ''}. "
            "Households with these codes are scored as if they had the reference code; "
            "see Calibration.dropped.",
            CalibrationWarning,
            stacklevel=2,
        )
    dropped = dropped_table(fit)
    synthetic = bool(survey.attrs.get("synthetic", False)) if synthetic is None else synthetic
    created = created or _dt.date.today()
    info = {
        "name": survey_name,
        "period": survey_period,
        "households": data.n,
        "psus": int(np.unique(data.psu).size),
        "strata": int(np.unique(data.strata).size),
        "people": float(data.pw.sum()),
        "columns": data.names,
        "data_hash": data.data_hash,
        "data_fingerprint": data.fingerprint,
    }
    models = models_table(data, fit, rows)
    prov: dict[str, Any] = {
        "method": "pmt.calibrate",
        "survey": {k: v for k, v in info.items()},
        "estimator": opts.record(),
        "target": "log per-capita consumption; fits weighted by hh_size x survey weight",
        "coverage": {
            "regions": "national" if data.covers is None else list(data.covers),
            "how": "inferred from the survey" if coverage is None else "declared",
            "fallback": coverage_fallback,
        },
        "poverty_lines": "given per region"
        if data.lines
        else "none (welfare is the raw prediction)",
        "pooling": {
            "mode": opts.pooling,
            "tree": "national > province > province x urban > district x urban; "
            "province > district",
            "lambdas": None
            if fit.lambdas is None
            else {
                lv: {"lambda": json_num(a), "lambda_intercept": json_num(b)}
                for lv, (a, b) in fit.lambdas.items()
            },
        },
        "selection": None
        if fit.selection is None
        else {
            "selected": fit.selection.attrs["selected"],
            "stopped": fit.selection.attrs["stopped"],
            "fixed_effects": fit.selection.attrs["fixed_effects"],
        },
        "left_out_terms": [[t, r] for t, r in zip(dropped["term"], dropped["reason"], strict=True)],
        "reference_cutoffs": f"survey population, person-weighted (hh_size x "
        f"{weight or 'no survey weight'}), "
        f"n={opts.n_classes}, national and per province",
        "models": {
            "columns": [
                "model_key",
                "level",
                "fit",
                "parent",
                "households",
                "psus",
                "lambda",
                "lambda_intercept",
            ],
            "rows": [
                [
                    k,
                    r.level,
                    r.fit,
                    r.parent,
                    int(r.households),
                    int(r.psus),
                    json_num(r["lambda"]) if not math.isnan(r["lambda"]) else None,
                    json_num(r.lambda_intercept) if not math.isnan(r.lambda_intercept) else None,
                ]
                for k, r in models.iterrows()
            ],
        },
        "created": created.isoformat(),
        "pmt_version": __version__,
    }
    if provenance:
        prov.update(dict(provenance))
    manifest = Manifest(
        name=name,
        version=version,
        created=created,
        description=description
        or (
            f"Calibrated by pmt.calibrate ({opts.estimator}, pooling={opts.pooling}) on "
            f"{survey_name or 'a survey'}{' ' + survey_period if survey_period else ''}"
            + (" — SYNTHETIC survey: not for targeting anyone." if synthetic else ".")
        ),
        synthetic=synthetic,
        region_scheme=region_scheme,
        region_vintage=region_vintage,
        model_level="district_urban" if data.spec.urban else "district",
        spec=data.spec,
        **fields,
        provenance=_jsonable(prov),
    )
    ws = assemble(data, fit, opts, manifest)
    report(progress, STEPS, STEPS, "fitting")
    results = {k: m.result for k, m in fit.models.items() if m.result is not None}
    return Calibration(
        weights=ws,
        models=models,
        coefficients=coefficient_table(data, fit),
        results=results,
        selection=fit.selection,
        lambdas=fit.lambdas,
        lambda_path=fit.lambda_path,
        dropped=dropped,
        options=opts,
        survey=info,
        method=ESTIMATORS[opts.estimator].describe(opts),
        provenance={
            "seed": opts.seed,
            "pmt_version": __version__,
            "data_fingerprint": data.fingerprint,
            "data_hash": data.data_hash,
        },
    )


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
