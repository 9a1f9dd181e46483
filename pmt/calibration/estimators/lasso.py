"""``estimator="lasso"``: L1-penalised person-weighted least squares, penalty chosen by PSU folds.

``min sum w (y - a - X b)^2 / (2 sum w) + alpha sum_j s_j |b_j|`` (``s_j`` the
weighted standard deviation of column ``j``; the intercept unpenalised), the
objective of statsmodels' ``WLS.fit_regularized(L1_wt=1)`` on standardised
columns (Tibshirani 1996; Friedman, Hastie & Tibshirani 2010 for the
coordinate descent), solved by :mod:`pmt.calibration.penalised`. ``alpha`` is
chosen for each model by K-fold cross-validation over its PSUs (whole
clusters held out) on a log grid of 20 penalties, by held-out weighted squared
error, unless fixed with ``estimator_options={"alpha": ...}``. Partial
pooling: the least-squares ridge toward the parent (the default), so the
regional models shrink toward the penalised national one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...errors import ArgumentError
from ..penalised import PenalisedFit, cv_alpha, elastic_net_path, moments
from .base import Estimator, Fitted

if TYPE_CHECKING:
    from ..options import Options

__all__ = ["Lasso"]


class Lasso(Estimator):
    """The lasso (``estimator_options``: ``alpha``, ``penalty_folds``)."""

    name = "lasso"
    options: ClassVar[dict[str, Any]] = {"alpha": None, "penalty_folds": 5}

    def l1_ratio(self, options: Options) -> float:
        """The L1 share of the penalty: 1 for the lasso."""
        return 1.0

    def check(self, options: Options) -> None:
        """Refuse a negative or non-finite ``alpha`` and fewer than 2 ``penalty_folds``."""
        alpha = options.estimator_option("alpha")
        if alpha is not None and not (
            isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0
        ):
            raise ArgumentError(
                f"alpha={alpha!r}: the penalty must be a finite number >= 0, or None to "
                "choose it by cross-validation over PSUs. Fix: pass "
                "estimator_options={'alpha': None}.",
                argument="estimator_options",
            )
        k = options.estimator_option("penalty_folds")
        if not (isinstance(k, int) and not isinstance(k, bool) and k >= 2):
            raise ArgumentError(
                f"penalty_folds={k!r}: choosing the penalty needs a whole number of folds "
                ">= 2. Fix: pass estimator_options={'penalty_folds': 5}.",
                argument="estimator_options",
            )

    def describe(self, options: Options) -> str:
        """One line for the calibration report: the penalty and how it is chosen."""
        alpha = options.estimator_option("alpha")
        how = (
            f"alpha={alpha:g}"
            if alpha is not None
            else f"penalty by {options.estimator_option('penalty_folds')}-fold CV over PSUs"
        )
        return f"{self._what(options)}, person-weighted least squares ({how})"

    def _what(self, options: Options) -> str:
        return "lasso"

    def fit(
        self,
        design: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        *,
        clusters: np.ndarray,
        names: Sequence[str],
        options: Options,
        with_se: bool = False,
        keep_result: bool = False,
    ) -> Fitted:
        """Choose the penalty (unless fixed) and fit; no standard errors."""
        X = design[:, 1:]  # the intercept is the solver's own, unpenalised
        l1 = self.l1_ratio(options)
        alpha = options.estimator_option("alpha")
        cv = None
        if alpha is None:
            alpha, cv = cv_alpha(
                X,
                y,
                weights,
                clusters,
                l1_ratio=l1,
                folds=options.estimator_option("penalty_folds"),
                seed=options.seed + 104_729,
            )
        params = elastic_net_path(moments(X, y, weights), np.array([alpha]), l1)[0]
        return Fitted(params, None, PenalisedFit(params, float(alpha), l1, cv))
