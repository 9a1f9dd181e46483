"""``estimator="quantile"``: survey-weighted quantile regression at ``tau``.

``min sum w rho_tau(y - X b)``, solved exactly by :mod:`pmt.calibration.qreg`
(``solver="ipm"``: interior point, takes a pooling penalty; ``"highs"``: the
linear program, no penalty), with the cluster-robust sandwich of Parente &
Santos Silva (2016) for standard errors. Partial pooling: the same strengths
as least squares, the quadratic penalty scaled by the density of the national
model's residuals at zero (the ratio of the two losses' curvatures).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ArgumentError
from ..qreg import cluster_cov, density_at_zero, fit_quantile
from .base import Estimator, Fitted, PooledNode

if TYPE_CHECKING:
    from ..options import Options

__all__ = ["Quantile"]


class Quantile(Estimator):
    """Weighted quantile regression (``calibrate(tau=..., solver=...)``)."""

    name = "quantile"

    def check(self, options: Options) -> None:
        """Refuse ``solver="highs"`` with ``pooling="shrink"`` (``ArgumentError``)."""
        if options.solver == "highs" and options.pooling == "shrink":
            raise ArgumentError(
                f"solver={options.solver!r}: the HiGHS linear program takes no pooling "
                "penalty; use solver='ipm' with pooling='shrink'",
                argument="solver",
            )

    def describe(self, options: Options) -> str:
        """One line for the calibration report: ``tau`` and the solver."""
        return f"weighted quantile regression, tau={options.tau:g} ({options.solver})"

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
        """Fit at ``options.tau``; SEs by the cluster-robust sandwich when wanted."""
        fit = fit_quantile(design, y, weights, tau=options.tau, solver=options.solver)
        if with_se:
            cov = cluster_cov(design, y, weights, fit.params, options.tau, clusters)
            fit = dataclasses.replace(fit, cov=cov, bse=np.sqrt(np.clip(np.diag(cov), 0, None)))
        return Fitted(fit.params, fit.bse, fit)

    def pooling_context(
        self,
        design: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        beta: np.ndarray,
        options: Options,
    ) -> Any:
        """The density of the national model's residuals at zero."""
        return density_at_zero(y - design @ beta, weights, options.tau)

    def fit_pooled(
        self, node: PooledNode, *, options: Options, context: Any, with_se: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Penalised quantile regression toward the parent; no standard errors."""
        s, fhat = node.slopes, context
        beta = np.zeros(node.design.shape[1])
        slopes, level_at_mean = _penalised(
            node.design[:, s] - node.xbar,
            node.y,
            node.weights,
            node.parent[s],
            node.parent_level,
            node.scale,
            node.lam * fhat,
            node.lam0 * fhat,
            options.tau,
        )
        beta[s] = slopes
        beta[0] = level_at_mean - node.xbar @ slopes
        return beta, None


def _penalised(
    Xc: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    m_parent: float,
    scale: np.ndarray,
    kappa: float,
    kappa0: float,
    tau: float,
) -> tuple[np.ndarray, float]:
    """Penalised quantile regression of a node on centred columns: (slopes, level at mean)."""
    n = y.size
    if math.isinf(kappa):  # parent's slopes; only the level is fitted
        design = np.ones((n, 1))
        target = y - Xc @ b
        pen = np.array([0.0 if math.isinf(kappa0) else kappa0])
        prior = np.array([m_parent])
        if math.isinf(kappa0):
            return b.copy(), m_parent
        fit = fit_quantile(design, target, w, tau=tau, penalty=pen, prior=prior)
        return b.copy(), float(fit.params[0])
    if math.isinf(kappa0):  # parent's level at the node's mean; slopes fitted
        fit = fit_quantile(Xc, y - m_parent, w, tau=tau, penalty=kappa * scale, prior=b)
        return fit.params, m_parent
    design = np.column_stack([np.ones(n), Xc])
    pen = np.r_[kappa0, kappa * scale]
    fit = fit_quantile(design, y, w, tau=tau, penalty=pen, prior=np.r_[m_parent, b])
    return fit.params[1:], float(fit.params[0])
