"""Ranking the estimators of a cross-validation by one metric, with its fold-to-fold spread.

:meth:`pmt.calibration.CrossValidation.compare` is :func:`compare`: the
pooled out-of-fold value of the metric the user names, its mean, standard
deviation, minimum and maximum over the folds, and the paired difference to
the best estimator fold by fold — so that a winner by less than the folds'
spread is seen to be one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ArgumentError

__all__ = ["compare"]

_PLAIN = ("r2", "rmse", "spearman")


def compare(
    table: pd.DataFrame,
    folds: pd.DataFrame,
    quotas: Sequence[float],
    metric: str = "exclusion_error",
    quota: float | None = None,
) -> pd.DataFrame:
    """The estimators ranked by ``metric`` (at ``quota``), best first.

    Parameters
    ----------
    table, folds : pandas.DataFrame
        :attr:`CrossValidation.table` and :attr:`CrossValidation.folds`.
    quotas : sequence of float
        The quotas of the cross-validation.
    metric : str, default "exclusion_error"
        ``r2``, ``rmse``, ``spearman``, or a per-quota metric of
        :data:`pmt.calibration.cv.QUOTA_METRICS` (``exclusion_error``,
        ``inclusion_error``, ``inclusion_error_nonpoor``, ``total_error``,
        ``targeting_differential``, ``cgh``, ``auc``).
    quota : float, optional
        The quota of a per-quota metric; required when the study has several.

    Returns
    -------
    pandas.DataFrame
        Indexed by estimator, best first by ``fold_mean`` (the mean over the
        folds, so that one lucky fold cannot decide): ``rank``, ``value`` (the metric on
        the pooled out-of-fold predictions), ``fold_mean``, ``fold_sd``,
        ``fold_min``, ``fold_max`` (over the folds), ``diff_best_mean`` and
        ``diff_best_sd`` (the fold-by-fold difference to the best estimator's
        value, paired by fold), ``folds``, ``fit_seconds``. Estimators with
        failed folds come last, unranked. ``attrs`` name the metric, quota and
        direction.
    """
    from .cv import HIGHER_IS_BETTER, QUOTA_METRICS

    if metric in _PLAIN:
        if quota is not None:
            raise ArgumentError(
                f"quota={quota!r}: {metric!r} does not depend on a quota. Fix: leave quota out.",
                argument="quota",
            )
        column = metric
    elif metric in QUOTA_METRICS:
        if quota is None:
            if len(quotas) != 1:
                raise ArgumentError(
                    f"metric={metric!r} needs a quota: the study has {list(quotas)}. Fix: "
                    f"pass quota=, e.g. quota={quotas[0]:g}.",
                    argument="quota",
                )
            quota = quotas[0]
        if not any(np.isclose(float(quota), q) for q in quotas):
            raise ArgumentError(
                f"quota={quota!r}: the cross-validation measured quotas {list(quotas)} only. "
                f"Fix: pass one of them, or rerun cross_validate with quotas=(..., {quota}).",
                argument="quota",
            )
        q = next(q for q in quotas if np.isclose(float(quota), q))
        column = f"{metric}_{q:g}"
    else:
        raise ArgumentError(
            f"metric={metric!r}: not a metric of the comparison; choose from "
            f"{[*_PLAIN, *QUOTA_METRICS]}.",
            argument="metric",
        )
    higher = metric in HIGHER_IS_BETTER
    per = folds.pivot(index="fold", columns="estimator", values=column)
    out = pd.DataFrame(index=table.index)
    out["value"] = table[column]
    out["fold_mean"] = per.mean().reindex(out.index)
    out["fold_sd"] = per.std().reindex(out.index)
    out["fold_min"] = per.min().reindex(out.index)
    out["fold_max"] = per.max().reindex(out.index)
    out["folds"] = per.count().reindex(out.index).fillna(0).astype(int)
    out["fit_seconds"] = table["fit_seconds"]
    ok = table["failed_folds"] == 0
    key = out["fold_mean"].where(ok)
    order = key.sort_values(ascending=not higher, na_position="last", kind="stable").index
    out = out.loc[order]
    out.insert(
        0, "rank", pd.array([i + 1 if ok[e] else pd.NA for i, e in enumerate(order)], "Int64")
    )
    best = order[0]
    if ok[best]:
        diff = per.sub(per[best], axis=0)
        out["diff_best_mean"] = diff.mean().reindex(out.index)
        out["diff_best_sd"] = diff.std().reindex(out.index)
    else:
        out["diff_best_mean"] = out["diff_best_sd"] = np.nan
    out = out[
        [
            "rank",
            "value",
            "fold_mean",
            "fold_sd",
            "fold_min",
            "fold_max",
            "diff_best_mean",
            "diff_best_sd",
            "folds",
            "fit_seconds",
        ]
    ]
    out.attrs.update(
        {"metric": metric, "quota": quota, "column": column, "higher_is_better": higher}
    )
    return out
