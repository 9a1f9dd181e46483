"""How sure a desil is: probabilities under the model's error, and the verification list.

A PMT predicts welfare with an error. Each model of a weight set calibrated by
:func:`pmt.calibrate` records its residual variance ``s^2`` (of log
consumption, on the survey it was fitted on, corrected for the coefficients
fitted; a thin model records the pooled variance: see
:func:`residual_variances`). Treating a household's true welfare as ``welfare + e`` with
``e ~ N(0, s^2)`` of the model that scored it, and the cutoffs as fixed (an
adopted ranking's, the weight set's, or the ranking's own)::

    P(desil <= d)  = Phi((c_d - welfare) / s)         (c_n = +inf)
    P(desil == d)  = P(desil <= d) - P(desil <= d - 1)
    P(eligible)    = P(desil <= max_desil),  or  Phi((line - welfare) / s) under a line rule

``rank(..., uncertainty=True)`` adds these (``p_eligible``, ``p_desil_1`` …);
:func:`verification_list` orders households by how uncertain their
eligibility is; :func:`calibration_check` measures, on held-out survey
households whose welfare is observed, whether the probabilities are right
(Brier score and a reliability table); :func:`cv_calibration` does the same
for the held-out households of :func:`pmt.cross_validate`. The probabilities
leave out the error of the estimated coefficients.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .._kernels import libm
from ..errors import ArgumentError, WeightSetError
from ..results import RankResult
from ..weights import WeightSet

__all__ = [
    "MIN_HOUSEHOLDS",
    "CalibrationCheck",
    "calibration_check",
    "cv_calibration",
    "desil_probabilities",
    "model_sigma",
    "residual_variances",
    "verification_list",
    "with_uncertainty",
]

#: A model that scored fewer survey households than this records the pooled residual variance.
MIN_HOUSEHOLDS = 30


def residual_variances(
    residual: np.ndarray,
    weight: np.ndarray,
    model: np.ndarray,
    model_keys: tuple[str, ...],
    n_params: np.ndarray,
) -> tuple[dict[str, float], list[str]]:
    """Residual variance per model, corrected for the parameters fitted; pooled for thin models.

    A model that scored ``m >= MIN_HOUSEHOLDS`` survey households with ``k``
    non-zero coefficients gets ``sum(w r^2) / sum(w) * m / (m - k)``: the
    weighted mean squared residual, inflated as the unbiased OLS estimate is
    for the ``k`` coefficients fitted (in-sample residuals are smaller than the
    error on new households). Any other model gets the same over all survey
    households, with ``k`` the largest count of any model.

    Parameters
    ----------
    residual : (n,) observed minus predicted welfare of survey households
    weight : (n,) their person weights
    model : (n,) the row of the model that scored each
    model_keys : the weight set's model keys
    n_params : (n_models,) non-zero coefficients of each model

    Returns
    -------
    variances : dict model key -> variance
    pooled : list of the model keys given the pooled variance
    """
    n = residual.shape[0]
    k_max = int(np.max(n_params)) if len(n_params) else 0
    pooled_var = float(np.sum(weight * residual**2) / np.sum(weight)) * n / max(n - k_max, 1)
    count = np.bincount(model, minlength=len(model_keys))
    ss = np.bincount(model, weights=weight * residual**2, minlength=len(model_keys))
    sw = np.bincount(model, weights=weight, minlength=len(model_keys))
    out: dict[str, float] = {}
    pooled: list[str] = []
    for i, key in enumerate(model_keys):
        m, k = int(count[i]), int(n_params[i])
        if m >= MIN_HOUSEHOLDS and m > 2 * k and sw[i] > 0 and ss[i] > 0:
            out[key] = float(ss[i] / sw[i]) * m / (m - k)
        else:
            out[key] = pooled_var
            pooled.append(key)
    return out, pooled


def model_sigma(weights: WeightSet) -> np.ndarray:
    """Residual standard deviation of each model, in coefficient-row order.

    Raises
    ------
    pmt.errors.WeightSetError
        The weight set records no residual variances.
    """
    variances = weights.manifest.residual_variance
    if variances is None:
        raise WeightSetError(
            f"weight set {weights.id} records no residual variances, so the uncertainty of a "
            "desil cannot be computed (rule: the probabilities use each model's residual "
            "variance on its calibration survey). Fix: recalibrate with pmt.calibrate, which "
            "stores them, or rank without uncertainty=True."
        )
    return np.sqrt(np.array([variances[k] for k in weights.model_keys], dtype=np.float64))


def desil_probabilities(welfare: Any, sigma: Any, cutoffs: Any) -> np.ndarray:
    """``P(desil == d)`` for d = 1..n, shape (n_households, n), under normal errors.

    ``cutoffs`` are ``c_1 .. c_{n-1}`` (non-decreasing); ``sigma`` > 0 per household.
    """
    w = np.asarray(welfare, dtype=np.float64)[:, None]
    s = np.asarray(sigma, dtype=np.float64)[:, None]
    c = np.asarray(cutoffs, dtype=np.float64)[None, :]
    below = ndtr((c - w) / s)  # P(desil <= d), d = 1..n-1
    cdf = np.concatenate([np.zeros((w.shape[0], 1)), below, np.ones((w.shape[0], 1))], axis=1)
    return np.diff(cdf, axis=1)


def _national_cutoffs(result: RankResult, weights: WeightSet, table: Any) -> np.ndarray:
    if result.cutoff_mode == "reference":
        return np.asarray(weights.cutoffs["national"])
    if result.cutoff_mode == "given":
        return np.asarray(table["national"])
    return np.asarray(result.registry_cutoffs["national"])


def with_uncertainty(result: RankResult, weights: WeightSet, options: Any) -> RankResult:
    """``result`` with ``p_eligible`` and ``p_desil``: what ``rank(..., uncertainty=True)`` adds."""
    sigma = model_sigma(weights)[result.model]
    if result.n_households == 0:
        empty = np.zeros(0)
        return dataclasses.replace(
            result, p_eligible=empty, p_desil=np.zeros((0, result.n_classes))
        )
    cut = _national_cutoffs(result, weights, getattr(options, "table", None))
    p = desil_probabilities(result.welfare, sigma, cut)
    if result.line is not None:
        p_elig = ndtr((result.line - result.welfare) / sigma)
    else:
        k = int(result.max_desil or 4)
        p_elig = (
            ndtr((cut[k - 1] - result.welfare) / sigma)
            if k < result.n_classes
            else np.ones_like(sigma)
        )
    return dataclasses.replace(result, p_eligible=np.asarray(p_elig, dtype=np.float64), p_desil=p)


def verification_list(
    result: RankResult, *, limit: int | None = None, min_uncertainty: float = 0.0
) -> pd.DataFrame:
    """The households whose eligibility is least certain, most uncertain first.

    Uncertainty is ``1 - |2 p - 1|`` with ``p = P(eligible)``: 1 for a coin
    toss, 0 for a sure call. Rows are ordered by uncertainty (descending),
    then welfare, then id as text, so the list does not depend on row order.

    Parameters
    ----------
    result : RankResult
        Ranked with ``uncertainty=True``.
    limit : int, optional
        At most this many households (the field team's capacity).
    min_uncertainty : float, default 0
        Only households at least this uncertain (0 to 1).

    Returns
    -------
    pandas.DataFrame
        The id column, ``province_code``, ``welfare``, ``desil_national``,
        ``eligible``, ``p_eligible``, ``uncertainty``; the result's index.
    """
    if not isinstance(result, RankResult):
        raise TypeError(f"result must be a pmt.RankResult; got {type(result).__name__}.")
    if result.p_eligible is None:
        raise ArgumentError(
            "result: has no probabilities. Fix: rank with uncertainty=True (a weight set "
            "calibrated by pmt.calibrate records the residual variances it needs).",
            argument="result",
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ArgumentError(
            f"limit must be a whole number >= 0; got {limit!r}. Fix: limit=200, or None for all.",
            argument="limit",
        )
    if not 0.0 <= float(min_uncertainty) <= 1.0:
        raise ArgumentError(
            f"min_uncertainty must be from 0 to 1; got {min_uncertainty!r}. Fix: e.g. "
            "min_uncertainty=0.5.",
            argument="min_uncertainty",
        )
    p = result.p_eligible
    unc = 1.0 - np.abs(2.0 * p - 1.0)
    cols: dict[str, Any] = {}
    if result.id_col is not None:
        cols[result.id_col] = result.ids
    cols.update(
        {
            "province_code": result.province,
            "welfare": result.welfare,
            "desil_national": result.desil_national,
            "eligible": result.eligible,
            "p_eligible": p,
            "uncertainty": unc,
        }
    )
    frame = pd.DataFrame(cols, index=result.index)
    keep = unc >= min_uncertainty
    frame = frame.loc[keep]
    tie = (
        pd.Series(np.asarray(result.ids)[keep]).astype("string").to_numpy()
        if result.ids is not None
        else np.flatnonzero(keep)
    )
    order = np.lexsort((tie, frame["welfare"].to_numpy(), -frame["uncertainty"].to_numpy()))
    frame = frame.iloc[order]
    return frame if limit is None else frame.iloc[:limit]


@dataclass(frozen=True)
class CalibrationCheck:
    """How well ``P(eligible)`` matches who is poor, on survey households with observed welfare.

    Attributes
    ----------
    brier : float
        Person-weighted mean of ``(p - poor)^2``.
    brier_reference : float
        The same for the constant prediction ``p = share poor`` (a skill baseline).
    reliability : pandas.DataFrame
        One row per probability band: ``households``, ``people``,
        ``mean_predicted``, ``observed_share_poor``, ``standard_error`` (of the
        observed share, from the effective sample size of the band's weights).
    cutoff : float
        The welfare cutoff: observed ``poor = welfare <= cutoff``.
    """

    brier: float
    brier_reference: float
    reliability: pd.DataFrame
    cutoff: float


def calibration_check(
    weights: WeightSet,
    survey: pd.DataFrame,
    *,
    max_desil: int = 4,
    line: float | None = None,
    bands: int = 10,
    consumption: str = "consumption",
    weight: str = "weight",
    id_col: str | None = "hh_id",
) -> CalibrationCheck:
    """Brier score and reliability table of ``P(eligible)`` on held-out survey households.

    Each household's welfare is observed (``log(consumption / poverty line)``,
    the line of its region in ``weights``) and predicted by ``weights``; it is
    poor if its observed welfare is at or below the eligibility cutoff (the
    weight set's national reference cutoff ``c_{max_desil}``, or ``line``).
    Use households the weight set was *not* calibrated on.
    """
    from ..encode import encode
    from ..rank import score_encoded

    sigma_m = model_sigma(weights)
    if line is None:
        if not weights.cutoffs:
            raise WeightSetError(f"weight set {weights.id} has no reference cutoffs; pass line=.")
        cutoff = float(np.asarray(weights.cutoffs["national"])[max_desil - 1])
    else:
        cutoff = float(line)
    enc = encode(survey, weights, id_col=id_col)
    pred = score_encoded(enc, weights)
    shift = enc.cell_shift[enc.cell]
    spent = survey[consumption].to_numpy(dtype=np.float64)[enc.rows]
    observed = libm.of(libm.log, spent) - shift  # the C library's (pmt.terms)
    w = survey[weight].to_numpy(dtype=np.float64)[enc.rows] * enc.person_weight
    sigma = sigma_m[enc.cell_model[enc.cell]]
    p = ndtr((cutoff - pred) / sigma)
    poor = (observed <= cutoff).astype(np.float64)
    brier = float(np.sum(w * (p - poor) ** 2) / w.sum())
    base = float(np.sum(w * poor) / w.sum())
    brier_ref = float(np.sum(w * (base - poor) ** 2) / w.sum())
    table = _reliability(p, poor, w, bands)
    return CalibrationCheck(
        brier=brier, brier_reference=brier_ref, reliability=table, cutoff=cutoff
    )


def _reliability(p: np.ndarray, poor: np.ndarray, w: np.ndarray, bands: int) -> pd.DataFrame:
    """The reliability table of probabilities ``p`` against outcomes ``poor`` (weights ``w``)."""
    band = np.minimum((p * bands).astype(np.int64), bands - 1)
    recs = []
    for b in range(bands):
        m = band == b
        if not m.any():
            continue
        wb = w[m]
        share = float(np.sum(wb * poor[m]) / wb.sum())
        n_eff = wb.sum() ** 2 / np.sum(wb**2)
        recs.append(
            {
                "band": f"{b / bands:.2f}-{(b + 1) / bands:.2f}",
                "households": int(m.sum()),
                "people": float(wb.sum()),
                "mean_predicted": float(np.sum(wb * p[m]) / wb.sum()),
                "observed_share_poor": share,
                "standard_error": float(np.sqrt(max(share * (1 - share), 1e-12) / n_eff)),
            }
        )
    return pd.DataFrame.from_records(recs).set_index("band")


def cv_calibration(cv: Any, *, share: float = 0.4, bands: int = 10) -> dict[str, CalibrationCheck]:
    """Brier score and reliability table of each estimator of a cross-validation.

    For every held-out household of :func:`pmt.cross_validate`, ``P(poor) =
    Phi((c - predicted) / s)`` with ``s`` the residual standard deviation of the
    model that scored it in its fold's weight set (``sigma_<label>`` of
    ``cv.predictions``), and ``c`` the smallest observed welfare whose
    person-weighted CDF (household counted in) reaches ``share``. Poor means
    observed welfare at or below ``c``.

    Returns
    -------
    dict of estimator label -> CalibrationCheck
    """
    if not 0.0 < share < 1.0:
        raise ArgumentError(
            f"share must be in (0, 1); got {share!r}. Fix: e.g. share=0.4.", argument="share"
        )
    pred = cv.predictions
    true = pred["true_welfare"].to_numpy(dtype=np.float64)
    w = pred["person_weight"].to_numpy(dtype=np.float64)
    order = np.argsort(true, kind="stable")
    cum = np.cumsum(w[order])
    cutoff = float(true[order][np.searchsorted(cum, share * cum[-1])])
    poor = (true <= cutoff).astype(np.float64)
    out: dict[str, CalibrationCheck] = {}
    for col in pred.columns:
        if not col.startswith("pred_") or f"sigma_{col[5:]}" not in pred.columns:
            continue
        sd = pred[f"sigma_{col[5:]}"].to_numpy(dtype=np.float64)
        p = ndtr((cutoff - pred[col].to_numpy(dtype=np.float64)) / sd)
        ok = np.isfinite(p)
        brier = float(np.sum(w[ok] * (p[ok] - poor[ok]) ** 2) / w[ok].sum())
        base = float(np.sum(w[ok] * poor[ok]) / w[ok].sum())
        ref = float(np.sum(w[ok] * (base - poor[ok]) ** 2) / w[ok].sum())
        table = _reliability(p[ok], poor[ok], w[ok], bands)
        out[col[5:]] = CalibrationCheck(brier, ref, table, cutoff)
    return out
