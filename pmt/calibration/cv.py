"""``cross_validate()``: K-fold cross-validation by PSU of one or several estimators.

For each fold and estimator the whole calibration (:func:`pmt.calibration.fit.fit`)
is refitted on the other folds, written as a weight set, and the survey is
scored with it through pmt's one scorer; the targeting metrics come from
:func:`pmt.evaluation.evaluate`.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import CalibrationWarning
from ..rank import score_encoded
from ..spec import VariableSpec
from ..weights import Manifest, WeightSet
from .assembly import assemble
from .data import Scheme, SurveyData, prepare, psu_folds
from .fit import fit as fit_survey
from .options import options_from
from .results import CrossValidation
from .scoring import encode_for, log_consumption, r2, rmse

__all__ = ["QUOTA_METRICS", "cross_validate"]

#: Columns of the comparison table per quota -> metric of :func:`pmt.evaluation.evaluate`.
QUOTA_METRICS = {
    "exclusion_error": "exclusion_error",
    "inclusion_error": "inclusion_error_beneficiaries",
    "inclusion_error_nonpoor": "inclusion_error_nonpoor",
    "targeting_differential": "targeting_differential",
    "cgh": "cgh",
    "auc": "auc",
}


def cross_validate(
    survey: pd.DataFrame,
    spec: VariableSpec | None = None,
    *,
    estimators: Mapping[str, Mapping[str, Any]] | None = None,
    folds: int = 5,
    quotas: Iterable[float] = (0.2, 0.4),
    seed: int = 0,
    poverty_lines: Any = None,
    consumption: str = "consumption",
    weight: str = "weight",
    psu: str = "psu",
    strata: str | None = "strata",
    id_col: str | None = "hh_id",
    region_scheme: Scheme = "BPS",
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
    on_collinear: Literal["raise", "drop"] = "raise",
    n_classes: int = 10,
) -> CrossValidation:
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
        "quantile", "tau": 0.3}}``), each on top of the options below. Default:
        one estimator, labelled ``"estimator"``, with the options below.
    folds : int, default 5
        Number of PSU folds.
    quotas : iterable of float, default (0.2, 0.4)
        Targeting quotas ``H`` (poorest shares of people).
    seed : int, default 0
        Seed of the fold assignment (and, unless an estimator sets its own, of the
        inner folds that choose pooling strengths).
    estimator, tau, truncate, solver, estimator_options, select, p_enter, p_remove, keep
        As for :func:`calibrate`; the default of every estimator compared.
    pooling, min_households, min_psus, lambdas, pooling_folds, on_collinear, n_classes
        As for :func:`calibrate`; the default of every estimator compared.

    Returns
    -------
    CrossValidation
    """
    from ..evaluation import evaluate

    quotas = tuple(float(q) for q in quotas)
    common = {
        "seed": seed,
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
        "on_collinear": on_collinear,
        "n_classes": n_classes,
    }
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
    )
    specs = {"estimator": {}} if estimators is None else dict(estimators)
    opts_of = {label: options_from({**common, **dict(kw)}) for label, kw in specs.items()}
    rows = np.arange(data.n)
    fold = psu_folds(data, rows, folds, seed)
    true = data.welfare
    pred = {label: np.full(data.n, np.nan) for label in specs}
    logc = {label: np.full(data.n, np.nan) for label in specs}  # predicted log consumption
    in_r2: dict[str, list[float]] = {label: [] for label in specs}
    fold_ws: dict[str, list[WeightSet]] = {label: [] for label in specs}
    manifest = Manifest(
        name="cv-fold",
        version="0",
        created=_dt.date(2000, 1, 1),
        description="cross-validation fold",
        synthetic=True,
        region_scheme=region_scheme,
        region_vintage="calibration",
        spec=data.spec,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        for label, opts in opts_of.items():
            for k in range(folds):
                train, test = rows[fold != k], rows[fold == k]
                fit = fit_survey(data, train, opts, keep_results=False, with_se=False)
                ws = assemble(data, fit, opts, manifest, with_cutoffs=False)
                enc = encode_for(data, ws)
                pred[label][test] = score_encoded(enc, ws)[test]  # what pmt.score gives
                hat = log_consumption(enc, ws)
                logc[label][test] = hat[test]
                in_r2[label].append(r2(data.y[train], hat[train], data.pw[train]))
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
            fold_recs.append(
                {
                    "estimator": label,
                    "fold": k,
                    **_metrics(data, logc[label], evk, quotas, sel),
                    "in_sample_r2": in_r2[label][k],
                }
            )
        rec["in_sample_r2"] = float(np.mean(in_r2[label]))
        recs.append({"estimator": label, **rec})
    folds_frame = pd.DataFrame(fold_recs)
    table = pd.DataFrame(recs).set_index("estimator")
    for q in quotas:
        table[f"ee_fold_sd_{q:g}"] = (
            folds_frame.groupby("estimator", sort=False)[f"exclusion_error_{q:g}"]
            .std()
            .reindex(table.index)
        )
    order = (
        ["r2", "rmse", "spearman"]
        + [f"{m}_{q:g}" for q in quotas for m in (*QUOTA_METRICS, "ee_fold_sd")]
        + ["in_sample_r2"]
    )
    table = table[order]
    predictions = pd.DataFrame(
        {
            "fold": fold,
            "true_welfare": true,
            "person_weight": data.pw,
            **{f"pred_{label}": pred[label] for label in specs},
        },
        index=data.enc.index,
    )
    settings = {
        "folds": folds,
        "quotas": quotas,
        "seed": seed,
        "options": {label: o.record() for label, o in opts_of.items()},
    }
    return CrossValidation(
        table,
        folds_frame,
        predictions,
        evaluations,
        settings,
        {label: tuple(v) for label, v in fold_ws.items()},
    )


def _metrics(
    data: SurveyData,
    logc: np.ndarray,
    ev: Any,
    quotas: Sequence[float],
    sel: np.ndarray | None = None,
) -> dict[str, float]:
    """Fit of the predicted log consumption ``logc`` and the targeting metrics of ``ev``."""
    keep = slice(None) if sel is None else sel
    w, y, yhat = data.pw[keep], data.y[keep], logc[keep]
    t = ev.table
    rec = {"r2": r2(y, yhat, w), "rmse": rmse(y, yhat, w), "spearman": float(t["spearman"].iloc[0])}
    for q in quotas:
        row = t.loc[f"quota {q:g}"]
        for name, metric in QUOTA_METRICS.items():
            rec[f"{name}_{q:g}"] = float(row[metric])
    return rec
