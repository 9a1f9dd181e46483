"""The estimator protocol: what every estimator of :data:`pmt.calibration.ESTIMATORS` is.

An estimator turns a design matrix, a target and weights into coefficients.
It sees plain arrays only — never the survey table, the region tree or the
weight set: :mod:`pmt.calibration.pooling` decides which households each
model is fitted on and calls the estimator once per model.

A new estimator subclasses :class:`Estimator`, sets :attr:`~Estimator.name`
and implements :meth:`~Estimator.fit`; the other methods have working
defaults. Registering it is one line in :data:`pmt.calibration.ESTIMATORS`
(``docs/contributing.md`` shows the steps with a complete example).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..ridge import ridge_path, ridge_se

if TYPE_CHECKING:
    from ..data import SurveyData
    from ..options import Options

__all__ = ["Estimator", "Fitted", "PooledNode"]


@dataclass(frozen=True, eq=False)
class Fitted:
    """What :meth:`Estimator.fit` returns.

    Attributes
    ----------
    params : (p,) float64
        Coefficients, one per design column.
    bse : (p,) float64 or None
        Standard errors (cluster-robust by PSU), if asked for and available.
    result : object or None
        The estimator's own result object (a statsmodels result, a
        :class:`~pmt.calibration.qreg.QuantRegFit`), kept in
        :attr:`pmt.calibration.Calibration.results`.
    """

    params: np.ndarray
    bse: np.ndarray | None = None
    result: Any = None


@dataclass(frozen=True, eq=False)
class PooledNode:
    """One node's data for a partially pooled fit (:meth:`Estimator.fit_pooled`).

    Attributes
    ----------
    design : (n, p) float64
        The node's rows of the full design matrix (intercept first).
    y : (n,) float64
        Log per-capita consumption.
    weights : (n,) float64
        Person weights, normalised to mean 1.
    clusters : (n,) int
        PSU of each row.
    slopes : (k,) int
        The design columns the models use, intercept excluded.
    parent : (p,) float64
        The parent model's coefficients.
    xbar : (k,) float64
        Weighted mean of the slope columns.
    parent_level : float
        The parent's prediction at ``xbar``.
    scale : (k,) float64
        National weighted variance of each slope column (the penalty's scale).
    lam, lam0 : float
        Pooling strengths of the slopes and of the level, in household-equivalents
        (``inf``: the parent's).
    """

    design: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    clusters: np.ndarray
    slopes: np.ndarray
    parent: np.ndarray
    xbar: np.ndarray
    parent_level: float
    scale: np.ndarray
    lam: float
    lam0: float


class Estimator:
    """Base class of calibration estimators.

    Attributes
    ----------
    name : str
        The name ``calibrate(estimator=...)`` takes: its key in
        :data:`pmt.calibration.ESTIMATORS`.
    options : mapping of str to object
        Options of this estimator that are not parameters of ``calibrate``,
        with their defaults; callers give them as ``estimator_options={...}``
        and the estimator reads them with ``options.estimator_option(name)``.
    """

    name: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} estimator {self.name!r}>"

    def check(self, options: Options) -> None:
        """Refuse options this estimator cannot work with (raise ``ArgumentError``)."""

    def describe(self, options: Options) -> str:
        """One line for :meth:`pmt.calibration.Calibration.report`."""
        return self.name

    def learning_rows(self, data: SurveyData, rows: np.ndarray, options: Options) -> np.ndarray:
        """The rows (of ``rows``) the models learn from; default all of them."""
        return rows

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
        """Fit one unpooled model.

        Parameters
        ----------
        design : (n, p) float64
            Design matrix, intercept column first.
        y : (n,) float64
            Target: log per-capita consumption (minus any fixed offset).
        weights : (n,) float64
            Person weights, normalised to mean 1.
        clusters : (n,) int
            PSU of each row, for cluster-robust standard errors.
        names : sequence of str
            Name of each design column.
        options : Options
            The calibration options.
        with_se : bool
            Standard errors are wanted.
        keep_result : bool
            The estimator's own result object is wanted.

        Returns
        -------
        Fitted
        """
        raise NotImplementedError(f"estimator {self.name!r} does not implement fit()")

    def pooling_context(
        self,
        design: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        beta: np.ndarray,
        options: Options,
    ) -> Any:
        """Anything :meth:`fit_pooled` needs from the national model (``beta``).

        Computed once per tree; the default is None.
        """
        return None

    def fit_pooled(
        self, node: PooledNode, *, options: Options, context: Any, with_se: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Fit a node's model pulled toward its parent's: ``(coefficients (p,), SEs or None)``.

        The default is least squares: the slopes minimise ``sum w (y - a - X b)^2
        + lam sum_j scale_j (b_j - parent_j)^2`` (:func:`pmt.calibration.ridge.ridge_path`),
        and the level at the node's mean is the parent's plus ``n / (n + lam0)``
        of the difference. SEs: cluster-robust sandwich, conditional on the parent.
        """
        X, y, w, s = node.design, node.y, node.weights, node.slopes
        beta = np.zeros(X.shape[1])
        path, _, ybar = ridge_path(X[:, s], y, w, node.parent[s], np.sqrt(node.scale), (node.lam,))
        beta[s] = path[0]
        n = X.shape[0]
        shrink = n / (n + node.lam0) if math.isfinite(node.lam0) else 0.0
        level_at_mean = node.parent_level + shrink * (ybar - node.parent_level)
        beta[0] = level_at_mean - node.xbar @ beta[s]
        se = None
        if with_se and math.isfinite(node.lam):
            se = np.full(X.shape[1], np.nan)
            se[s] = ridge_se(
                X[:, s] - node.xbar, y - X @ beta, w, node.clusters, node.lam * node.scale
            )
        return beta, se
