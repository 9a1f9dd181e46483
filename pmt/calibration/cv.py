"""``cross_validate()``: K-fold cross-validation by PSU of one or several estimators.

For each fold and estimator the whole calibration (:func:`pmt.calibration.fit.fit`)
is refitted on the other folds, written as a weight set, and the survey is
scored with it through pmt's one scorer; the targeting metrics come from
:func:`pmt.evaluation.evaluate`.
"""

from __future__ import annotations

import datetime as _dt
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import errors as E
from .._progress import ProgressCallback, check_progress, report
from .._version import __version__
from ..errors import ArgumentError, CalibrationWarning, FoldError
from ..operations.uncertainty import model_sigma
from ..rank import score_encoded
from ..spec import VariableSpec
from ..weights import Manifest, WeightSet
from .assembly import assemble
from .coverage import coverage_fields
from .data import Scheme, SurveyData, prepare, psu_folds
from .fit import fit as fit_survey
from .options import options_from
from .results import CrossValidation
from .scoring import encode_for, log_consumption, r2, rmse

__all__ = ["MIN_FOLD_HOUSEHOLDS", "QUOTA_METRICS", "cross_validate", "fold_assignment"]

#: Households a fold needs to be scored (R², Spearman, AUC of a handful are
#: undefined or noise); a smaller fold is an :class:`~pmt.errors.ArgumentError`.
MIN_FOLD_HOUSEHOLDS = 10

#: Whether a larger value of a comparison-table metric is better (the others: smaller).
HIGHER_IS_BETTER = frozenset(
    {"r2", "spearman", "targeting_differential", "cgh", "auc", "in_sample_r2"}
)

#: Columns of the comparison table per quota -> metric of :func:`pmt.evaluation.evaluate`
#: (``total_error`` is one minus ``total_accuracy``: the share of people misclassified).
QUOTA_METRICS = {
    "exclusion_error": "exclusion_error",
    "inclusion_error": "inclusion_error_beneficiaries",
    "inclusion_error_nonpoor": "inclusion_error_nonpoor",
    "total_error": "total_accuracy",
    "targeting_differential": "targeting_differential",
    "cgh": "cgh",
    "auc": "auc",
}


def cross_validate(
    survey: pd.DataFrame,
    spec: VariableSpec | None = None,
    *,
    estimators: Mapping[str, Mapping[str, Any]] | None = None,
    folds: int | str | Sequence[Any] | np.ndarray | pd.Series = 5,
    errors: Literal["raise", "skip"] = "raise",
    quotas: Iterable[float] = (0.2, 0.4),
    seed: int = 0,
    poverty_lines: Any = None,
    consumption: str = "consumption",
    weight: str | None = "weight",
    psu: str = "psu",
    strata: str | None = "strata",
    id_col: str | None = "hh_id",
    region_scheme: Scheme = "BPS",
    coverage: Any = None,
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
    progress: ProgressCallback | None = None,
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
    survey, spec, poverty_lines, consumption, weight, psu, strata, id_col, region_scheme, coverage
        As for :func:`calibrate`.
    estimators : mapping of str to mapping, optional
        Label -> calibration options (e.g. ``{"WLS": {}, "QR 0.3": {"estimator":
        "quantile", "tau": 0.3}}``), each on top of the options below. Default:
        one estimator, labelled ``"estimator"``, with the options below.
    folds : int, str or array-like, default 5
        The folds: a number of folds (PSUs dealt whole into that many folds,
        at random within each stratum, by ``seed``); the name of a survey
        column holding each household's fold; or an array of fold labels, one
        per survey row in survey order (an external study's folds). At least
        2 folds, none empty (:func:`fold_assignment`).
    errors : {"raise", "skip"}, default "raise"
        What a failing fit does: ``"raise"`` a :class:`~pmt.errors.FoldError`
        naming the estimator and the fold (the original error is its cause);
        ``"skip"`` carry on — the failure is recorded in
        :attr:`~pmt.calibration.CrossValidation.failures` and the estimator's
        metrics are NaN (``failed_folds`` counts them).
    quotas : iterable of float, default (0.2, 0.4)
        Targeting quotas ``H`` (poorest shares of people).
    seed : int, default 0
        Seed of the fold assignment (and, unless an estimator sets its own, of the
        inner folds that choose pooling strengths).
    estimator, tau, truncate, solver, estimator_options, select, p_enter, p_remove, keep
        As for :func:`calibrate`; the default of every estimator compared.
    pooling, min_households, min_psus, lambdas, pooling_folds, on_collinear, n_classes
        As for :func:`calibrate`; the default of every estimator compared.
    progress : callable, optional
        Called as ``progress(done, total, "fitting")`` before each fit and when
        the last ends, ``total`` being estimators x folds; see :mod:`pmt._progress`.

    Returns
    -------
    CrossValidation
    """
    progress = check_progress(progress)
    from ..evaluation import evaluate

    if errors not in ("raise", "skip"):
        raise ArgumentError(
            f"errors={errors!r}: must be 'raise' or 'skip'. Fix: pass errors='skip' to carry "
            "on past a failing estimator.",
            argument="errors",
        )
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
        coverage=coverage,
    )
    if estimators is not None and not isinstance(estimators, Mapping):
        raise ArgumentError(
            f"estimators: must be a mapping label -> options; got {type(estimators).__name__}. "
            'Fix: pass e.g. estimators={"WLS": {}, "lasso": {"estimator": "lasso"}}.',
            argument="estimators",
        )
    specs = {"estimator": {}} if estimators is None else dict(estimators)
    if not specs:
        raise ArgumentError(
            "estimators={}: no estimator to compare (rule: at least one label -> options). "
            'Fix: pass e.g. estimators={"WLS": {}}, or leave estimators=None for the '
            "options given here.",
            argument="estimators",
        )
    opts_of = {label: options_from({**common, **dict(kw)}) for label, kw in specs.items()}
    rows = np.arange(data.n)
    fold, fold_labels = fold_assignment(folds, data, seed)
    n_folds = len(fold_labels)
    true = data.welfare
    pred = {label: np.full(data.n, np.nan) for label in specs}
    logc = {label: np.full(data.n, np.nan) for label in specs}  # predicted log consumption
    sigma = {label: np.full(data.n, np.nan) for label in specs}  # residual sd of the model used
    in_r2: dict[str, list[float]] = {label: [] for label in specs}
    fold_ws: dict[str, list[WeightSet | None]] = {label: [] for label in specs}
    seconds = {label: np.full((n_folds, 2), np.nan) for label in specs}  # fit, score
    failed: list[dict[str, Any]] = []
    manifest = Manifest(
        **coverage_fields(data.covers, None),
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
        for j, (label, opts) in enumerate(opts_of.items()):
            for k in range(n_folds):
                report(progress, j * n_folds + k, len(opts_of) * n_folds, "fitting")
                train, test = rows[fold != k], rows[fold == k]
                try:
                    start = time.perf_counter()
                    fit = fit_survey(data, train, opts, keep_results=False, with_se=False)
                    ws = assemble(data, fit, opts, manifest, with_cutoffs=False)
                    fitted = time.perf_counter()
                    enc = encode_for(data, ws)
                    score = score_encoded(enc, ws)  # what pmt.score gives
                    hat = log_consumption(enc, ws)
                    sd = model_sigma(ws)[enc.cell_model[enc.cell]]
                    scored = time.perf_counter()
                except Exception as exc:
                    if errors == "raise":
                        raise FoldError(
                            f"cross_validate: estimator {label!r} failed on fold "
                            f"{fold_labels[k]!r} (fitted on the other folds): "
                            f"{type(exc).__name__}: {exc} Fix: correct that estimator's "
                            "options or the data the error names, or pass errors='skip' to "
                            "compare the other estimators and record this failure.",
                            estimator=label,
                            fold=fold_labels[k],
                            error=exc,
                        ) from exc
                    failed.append(
                        {
                            "estimator": label,
                            "fold": fold_labels[k],
                            "error": type(exc).__name__,
                            "message": str(exc),
                        }
                    )
                    in_r2[label].append(np.nan)
                    fold_ws[label].append(None)
                    continue
                pred[label][test] = score[test]
                logc[label][test] = hat[test]
                sigma[label][test] = sd[test]
                in_r2[label].append(r2(data.y[train], hat[train], data.pw[train]))
                fold_ws[label].append(ws)
                seconds[label][k] = (fitted - start, scored - fitted)
    report(progress, len(opts_of) * n_folds, len(opts_of) * n_folds, "fitting")
    recs, fold_recs = [], []
    evaluations = {}
    failures = pd.DataFrame(failed, columns=["estimator", "fold", "error", "message"])
    for label in specs:
        p = pred[label]
        n_failed = int(np.isnan(np.asarray(in_r2[label])).sum())
        if n_failed:
            rec = dict.fromkeys(_metric_names(quotas), np.nan)
        else:
            ev = evaluate(true, p, weight=data.pw, quotas=quotas)
            evaluations[label] = ev
            rec = _metrics(data, logc[label], ev, quotas)
        for k in range(n_folds):
            if fold_ws[label][k] is None:
                continue
            sel = fold == k
            evk = evaluate(true[sel], p[sel], weight=data.pw[sel], quotas=quotas)
            fold_recs.append(
                {
                    "estimator": label,
                    "fold": fold_labels[k],
                    **_metrics(data, logc[label], evk, quotas, sel),
                    "in_sample_r2": in_r2[label][k],
                    "fit_seconds": seconds[label][k, 0],
                    "score_seconds": seconds[label][k, 1],
                }
            )
        rec["in_sample_r2"] = float(np.mean(in_r2[label])) if not n_failed else np.nan
        rec["failed_folds"] = n_failed
        rec["fit_seconds"] = float(np.nansum(seconds[label][:, 0]))
        rec["score_seconds"] = float(np.nansum(seconds[label][:, 1]))
        recs.append({"estimator": label, **rec})
    fold_columns = [
        "estimator",
        "fold",
        *_metric_names(quotas),
        "in_sample_r2",
        "fit_seconds",
        "score_seconds",
    ]
    folds_frame = pd.DataFrame(fold_recs, columns=fold_columns)
    table = pd.DataFrame(recs).set_index("estimator")
    for q in quotas:
        sd = folds_frame.groupby("estimator", sort=False)[f"exclusion_error_{q:g}"].std()
        table[f"ee_fold_sd_{q:g}"] = sd.reindex(table.index).where(table["failed_folds"] == 0)
    order = (
        ["r2", "rmse", "spearman"]
        + [f"{m}_{q:g}" for q in quotas for m in (*QUOTA_METRICS, "ee_fold_sd")]
        + ["in_sample_r2", "fit_seconds", "score_seconds", "failed_folds"]
    )
    table = table[order]
    predictions = pd.DataFrame(
        {
            "fold": pd.Series(fold_labels).to_numpy()[fold],
            "true_welfare": true,
            "person_weight": data.pw,
            **{f"pred_{label}": pred[label] for label in specs},
            **{f"sigma_{label}": sigma[label] for label in specs},
        },
        index=data.enc.index,
    )
    predictions = data.to_input_order(predictions)  # fitted in the canonical order
    settings = {
        "folds": n_folds,
        "fold_labels": list(fold_labels),
        "fold_source": folds if isinstance(folds, str) else _fold_source(folds),
        "errors": errors,
        "quotas": quotas,
        "seed": seed,
        "options": {label: o.record() for label, o in opts_of.items()},
    }
    provenance = {
        "seed": seed,
        "pmt_version": __version__,
        "data_fingerprint": data.fingerprint,
        "data_hash": data.data_hash,
        "folds_fingerprint": _folds_fingerprint(fold, fold_labels),
        "columns": dict(data.names),
        "covers": None if data.covers is None else list(data.covers),
    }
    return CrossValidation(
        table,
        folds_frame,
        predictions,
        evaluations,
        settings,
        {label: tuple(v) for label, v in fold_ws.items()},
        failures=failures,
        provenance=provenance,
    )


def _folds_fingerprint(fold: np.ndarray, labels: tuple[Any, ...]) -> str:
    """``sha256:…`` of each household's fold label, in the survey's canonical order."""
    import hashlib

    values = pd.Series(pd.Series(labels, dtype=object).to_numpy()[fold].astype(str))
    digest = hashlib.sha256(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def _fold_source(folds: Any) -> str:
    """How the folds were given, for the settings."""
    if isinstance(folds, (int, np.integer)):
        return f"{int(folds)} PSU folds dealt by the seed"
    return "an assignment array"


def fold_assignment(folds: Any, data: SurveyData, seed: int) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Each household's fold position ``0..K-1`` and the folds' labels.

    ``folds`` is a number of folds (whole PSUs dealt at random within each
    stratum by :func:`~pmt.calibration.data.psu_folds`; labels ``0..K-1``), the
    name of a survey column, or an array of labels, one per survey row. Rules:
    one label per household, none missing, at least 2 folds, each of at least
    :data:`MIN_FOLD_HOUSEHOLDS` households (a categorical's unused category is
    an empty fold). Array labels are in the survey's row order; the returned
    positions are in its canonical order (:attr:`SurveyData.order`).

    Raises
    ------
    TypeError
        ``folds`` is neither a whole number, a column name nor a 1-d array.
    pmt.errors.ArgumentError, pmt.errors.MissingColumnError, pmt.errors.MissingValueError
        The folds break a rule (the message names it and the fix).
    """
    n = data.n
    if isinstance(folds, (bool, np.bool_)) or isinstance(folds, (float, np.floating)):
        raise TypeError(
            f"folds={folds!r}: a number of folds must be a whole number (int); or pass a "
            "column name or an array of fold labels"
        )
    if isinstance(folds, (int, np.integer)):
        k = int(folds)
        if k < 2:
            raise ArgumentError(
                f"folds={k}: cross-validation needs at least 2 folds. Fix: pass folds=5 "
                "(the default) or another whole number >= 2.",
                argument="folds",
            )
        fold = psu_folds(data, np.arange(n), k, seed)
        sizes = np.bincount(fold, minlength=k)
        empty = np.flatnonzero(sizes == 0).tolist()
        if empty:
            raise ArgumentError(
                f"folds={k}: dealing the PSUs stratum by stratum left folds {empty} empty "
                f"(the survey has {np.unique(data.psu).size} PSUs). Fix: use fewer folds.",
                argument="folds",
            )
        _check_fold_sizes(fold, tuple(range(k)), f"folds={k}")
        return fold, tuple(range(k))
    if isinstance(folds, str):
        if folds not in data.frame.columns:
            raise E.MissingColumnError(
                f"folds={folds!r}: the survey has no such column (rule: a string names the "
                "column holding each household's fold). Fix: pass folds= an existing column, "
                "an array of fold labels (one per row) or a number of folds.",
                column=folds,
            )
        values = data.frame[folds]
        what = f"column {folds!r}"
    else:
        if isinstance(folds, pd.Series):
            values = folds.reset_index(drop=True)
        else:
            try:
                arr = np.asarray(folds)
            except Exception as exc:  # pragma: no cover - numpy accepts nearly anything
                raise TypeError(f"folds: cannot read {type(folds).__name__} as an array") from exc
            if arr.ndim != 1:
                raise TypeError(
                    f"folds: an assignment must be a 1-d array of fold labels, one per "
                    f"household; got a {arr.ndim}-d {type(folds).__name__}"
                )
            values = pd.Series(arr)
        what = "folds"
        if len(values) != n:
            raise ArgumentError(
                f"folds: {len(values):,} fold labels for {n:,} households (rule: one label "
                "per survey row, in survey order). Fix: pass an array as long as the survey, "
                "or the name of a survey column.",
                argument="folds",
            )
    if what == "folds" and data.order is not None:
        values = values.iloc[data.order].reset_index(drop=True)  # to the canonical order
    missing = values.isna().to_numpy()
    if missing.any():
        rows = data.input_rows(np.flatnonzero(missing))
        raise E.MissingValueError(
            f"{what}: every household needs a fold (rule: no missing label); {rows.size:,} "
            f"of {n:,} rows have none, e.g. {E.format_examples(rows[:5].tolist())}. Fix: "
            "assign those households to a fold.",
            column=what,
            rows=rows[:5].tolist(),
        )
    if isinstance(values.dtype, pd.CategoricalDtype):
        counts = values.value_counts(sort=False)
        empty = [c for c, m in counts.items() if m == 0]
        if empty:
            raise ArgumentError(
                f"{what}: folds {empty[:10]} have no households (rule: every fold non-empty; "
                "unused categories count as folds). Fix: drop them with "
                ".cat.remove_unused_categories().",
                argument="folds",
            )
        values = values.astype(object)
    codes, labels = pd.factorize(values, sort=True)
    if labels.size < 2:
        raise ArgumentError(
            f"{what}: {labels.size} fold (rule: at least 2 folds; cross-validation fits on "
            "the others). Fix: assign the households to two folds or more.",
            argument="folds",
        )
    out = tuple(x.item() if hasattr(x, "item") else x for x in labels.tolist())
    _check_fold_sizes(codes, out, what)
    return codes.astype(np.int64), out


def _check_fold_sizes(fold: np.ndarray, labels: tuple[Any, ...], what: str) -> None:
    """Refuse folds of fewer than :data:`MIN_FOLD_HOUSEHOLDS` households."""
    sizes = np.bincount(fold, minlength=len(labels))
    small = np.flatnonzero(sizes < MIN_FOLD_HOUSEHOLDS)
    if small.size:
        named = ", ".join(f"fold {labels[i]!r} has {sizes[i]:,}" for i in small[:10])
        raise ArgumentError(
            f"{what}: folds too small to score: {named} (rule: every fold holds at "
            f"least {MIN_FOLD_HOUSEHOLDS} households; R², Spearman and AUC of fewer are "
            "undefined or noise). Fix: merge those households into other folds, or use fewer "
            "folds.",
            argument="folds",
        )


def _metric_names(quotas: Sequence[float]) -> list[str]:
    """The metric columns of :func:`_metrics`, in its order."""
    return ["r2", "rmse", "spearman"] + [f"{m}_{q:g}" for q in quotas for m in QUOTA_METRICS]


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
            value = float(row[metric])
            rec[f"{name}_{q:g}"] = 1.0 - value if name == "total_error" else value
    return rec
