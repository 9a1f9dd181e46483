"""``estimator="wls"``: weighted least squares with PSU-clustered standard errors.

statsmodels ``WLS(y, X, weights=w).fit(cov_type="cluster", groups=PSU)``
whenever standard errors or the result object are wanted (the result is kept
untouched), plain ``numpy.linalg.lstsq`` on ``sqrt(w)``-scaled rows otherwise
(cross-validation). Partial pooling: the least-squares ridge toward the
parent (:meth:`Estimator.fit_pooled`'s default).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import Estimator, Fitted

if TYPE_CHECKING:
    from ..options import Options

__all__ = ["WLS"]


class WLS(Estimator):
    """Weighted least squares (person weights), cluster-robust SEs by PSU. No options."""

    name = "wls"

    def describe(self, options: Options) -> str:
        """One line for the calibration report: the estimator and its SEs."""
        return "weighted least squares (person weights, PSU-clustered SEs)"

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
        """Fit by statsmodels when SEs or the result are wanted, by ``lstsq`` otherwise."""
        if keep_result or with_se:
            result = _statsmodels_wls(design, y, weights, clusters, names)
            return Fitted(np.asarray(result.params), _bse(result), result)
        return Fitted(_lstsq(design, y, weights))


def _statsmodels_wls(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, psu: np.ndarray, names: Sequence[str]
) -> Any:
    import pandas as pd
    import statsmodels.api as sm

    exog = pd.DataFrame(X, columns=list(names))
    model = sm.WLS(pd.Series(y, name="log_consumption"), exog, weights=w)
    if np.unique(psu).size >= 2 and X.shape[0] > X.shape[1]:
        return model.fit(cov_type="cluster", cov_kwds={"groups": psu}, use_t=True)
    return model.fit()


def _bse(result: Any) -> np.ndarray | None:
    """Standard errors of a statsmodels result, None when it has no residual freedom."""
    if result.df_resid <= 0:
        return None
    return np.asarray(result.bse)


def _lstsq(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
