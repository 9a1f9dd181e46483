"""The tree of models on a set of households: the national root, then every level's nodes.

:class:`Fitter` fits the models of the tree (:mod:`pmt.calibration.tree`) on
some rows of the survey with the estimator of the options, under the regional
structure ``pooling=``:

``"shrink"``
    every node with enough households and PSUs gets a model pulled toward its
    parent's (:meth:`~pmt.calibration.estimators.Estimator.fit_pooled`) with
    the strengths of its level (:mod:`pmt.calibration.strengths`);
``"fallback"``
    a node gets an unpooled model of its own only with enough households and a
    full-rank design; otherwise its households use the next level of the chain;
``"none"``
    naive per-district x urban models (plus the national one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SmallSampleError
from ._arrays import groups, rank_keep, wmean
from .data import SurveyData
from .estimators import ESTIMATORS, PooledNode
from .options import Options
from .tree import KEY_FORMAT, levels, parents

__all__ = ["Fitter", "Model"]


@dataclass
class Model:
    """One fitted model of the tree."""

    key: str
    level: str
    beta: np.ndarray  # (p,) over design columns
    fit: str  # "root", "shrunk", "own", "naive"
    parent: str | None
    households: int
    psus: int
    lam: float = math.nan
    lam0: float = math.nan
    se: np.ndarray | None = None
    result: Any = None
    unobserved: int = 0
    dropped: int = 0


class Fitter:
    """Fits the tree of models on a subset of the survey's rows.

    Parameters
    ----------
    data : SurveyData
    opts : Options
    active : (p,) bool
        The design columns the models use (intercept first).
    keep_results : bool
        Keep the estimator's result objects (for :attr:`Calibration.results`).
    with_se : bool
        Compute standard errors.
    """

    def __init__(
        self,
        data: SurveyData,
        opts: Options,
        active: np.ndarray,
        *,
        keep_results: bool = True,
        with_se: bool = True,
    ) -> None:
        self.data = data
        self.opts = opts
        self.estimator = ESTIMATORS[opts.estimator]
        self.active = active
        self.slopes = np.flatnonzero(active)[1:]
        self.keep_results = keep_results
        self.with_se = with_se
        self.n_coef = int(active.sum())

    # ---------------------------------------------------------------- rows
    def fit_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows the estimator learns from (poverty_wls: the poorest share)."""
        return self.estimator.learning_rows(self.data, rows, self.opts)

    def scale(self, rows: np.ndarray) -> np.ndarray:
        """Penalty scale: the national weighted variance of each slope column."""
        X = self.data.X[np.ix_(rows, self.slopes)]
        w = self.data.pw[rows]
        mean = wmean(X, w)
        var = wmean((X - mean) ** 2, w)
        return np.maximum(var, 1e-12)

    # ---------------------------------------------------------------- root
    def root(self, rows: np.ndarray) -> Model:
        """The national model on ``rows`` (already the estimator's own rows)."""
        d = self.data
        cols = np.flatnonzero(self.active)
        X, y = d.X[np.ix_(rows, cols)], d.y[rows]
        w = d.pw[rows] / d.pw[rows].mean()
        beta = np.zeros(d.X.shape[1])
        se = np.full(d.X.shape[1], np.nan)
        fitted = self.estimator.fit(
            X,
            y,
            w,
            clusters=d.psu[rows],
            names=[d.columns[c] for c in cols],
            options=self.opts,
            with_se=self.with_se,
            keep_result=self.keep_results,
        )
        beta[cols] = fitted.params
        if fitted.bse is not None:
            se[cols] = fitted.bse
        return Model(
            "national",
            "national",
            beta,
            "root",
            None,
            int(rows.size),
            int(np.unique(d.psu[rows]).size),
            se=se if self.with_se else None,
            result=fitted.result if self.keep_results else None,
        )

    # ---------------------------------------------------------------- tree
    def tree(
        self, rows: np.ndarray, lambdas: Mapping[str, tuple[float, float]] | None
    ) -> dict[str, Model]:
        """Every model of the tree fitted on ``rows`` (the estimator's own rows inside)."""
        d, o = self.data, self.opts
        rows = self.fit_rows(rows)
        if rows.size == 0:
            raise SmallSampleError("no households to fit the national model on.")
        models: dict[tuple[str, int], Model] = {("national", 0): self.root(rows)}
        scale = self.scale(rows) if o.pooling == "shrink" else None
        context = None
        if o.pooling == "shrink":
            context = self.estimator.pooling_context(
                d.X[rows],
                d.y[rows],
                d.pw[rows] / d.pw[rows].mean(),
                models[("national", 0)].beta,
                o,
            )
        min_h = o.min_households_for(self.n_coef)
        own = levels(d.spec.urban)  # no urban x rural levels without an urban split
        for level in own if o.pooling != "none" else own[-1:]:
            codes = d.level_codes(level)[rows]
            for code, pos in sorted(groups(codes).items()):
                node_rows = rows[pos]
                n_psu = int(np.unique(d.psu[node_rows]).size)
                key = KEY_FORMAT[level](code)
                if node_rows.size < min_h or n_psu < o.min_psus:
                    if o.pooling == "none":
                        raise SmallSampleError(
                            f"region {key} has {node_rows.size} households in {n_psu} PSUs: "
                            f"too few for a model of its own (min_households={min_h}, "
                            f"min_psus={o.min_psus}) and pooling='none' has no fallback. Fix: "
                            "use pooling='shrink' (partial pooling) or 'fallback', or lower "
                            "min_households.",
                            [key],
                        )
                    continue
                parent = (
                    next(pk for pk in parents(level, code) if pk in models)
                    if o.pooling != "none"
                    else ("national", 0)
                )
                pm = models[parent]
                if o.pooling == "shrink":
                    assert lambdas is not None and scale is not None
                    lam, lam0 = lambdas[level]
                    model = self._shrunk(level, key, node_rows, pm, scale, lam, lam0, context)
                else:
                    model = self._own(level, key, node_rows, pm, naive=o.pooling == "none")
                if model is not None:
                    model.psus = n_psu
                    models[(level, code)] = model
        return {m.key: m for m in models.values()}

    # ---------------------------------------------------------------- shrunk
    def _shrunk(
        self,
        level: str,
        key: str,
        rows: np.ndarray,
        pm: Model,
        scale: np.ndarray,
        lam: float,
        lam0: float,
        context: Any,
    ) -> Model | None:
        d = self.data
        if math.isinf(lam) and math.isinf(lam0):
            return None  # the parent itself: households fall back to it
        X = d.X[rows]
        w = d.pw[rows] / d.pw[rows].mean()
        s = self.slopes
        xbar = wmean(X[:, s], w)
        node = PooledNode(
            design=X,
            y=d.y[rows],
            weights=w,
            clusters=d.psu[rows],
            slopes=s,
            parent=pm.beta,
            xbar=xbar,
            parent_level=pm.beta[0] + xbar @ pm.beta[s],
            scale=scale,
            lam=lam,
            lam0=lam0,
        )
        beta, se = self.estimator.fit_pooled(
            node, options=self.opts, context=context, with_se=self.with_se
        )
        unobserved = int(((X[:, s] != 0).sum(0) == 0).sum())
        return Model(
            key,
            level,
            beta,
            "shrunk",
            pm.key,
            int(rows.size),
            0,
            lam=lam,
            lam0=lam0,
            se=se,
            unobserved=unobserved,
        )

    # ---------------------------------------------------------------- own / naive
    def _own(
        self, level: str, key: str, rows: np.ndarray, pm: Model, *, naive: bool
    ) -> Model | None:
        d = self.data
        s = self.slopes
        X = d.X[np.ix_(rows, s)]
        y = d.y[rows]
        w = d.pw[rows] / d.pw[rows].mean()
        mean = wmean(X, w)
        const = wmean((X - mean) ** 2, w) <= 1e-12 * np.maximum(np.abs(mean), 1.0) ** 2
        free = np.flatnonzero(~const)
        beta = np.zeros(d.X.shape[1])
        offset = np.zeros(rows.size)
        if not naive:  # constant columns keep the parent's coefficient
            beta[s[const]] = pm.beta[s[const]]
            offset = X[:, const] @ pm.beta[s[const]]
        keep = free[rank_keep(X[:, free], w)]
        dropped = free.size - keep.size
        if dropped and not naive:
            return None  # rank-deficient: the node falls back along the chain
        Xf = np.column_stack([np.ones(rows.size), X[:, keep]])
        names = ["intercept"] + [d.columns[c] for c in s[keep]]
        se = np.full(d.X.shape[1], np.nan) if self.with_se else None
        fitted = self.estimator.fit(
            Xf,
            y - offset,
            w,
            clusters=d.psu[rows],
            names=names,
            options=self.opts,
            with_se=self.with_se,
            keep_result=self.keep_results,
        )
        params, bse = fitted.params, fitted.bse
        beta[0] = params[0]
        beta[s[keep]] = params[1:]
        if se is not None and bse is not None:
            se[0] = bse[0]
            se[s[keep]] = bse[1:]
        return Model(
            key,
            level,
            beta,
            "naive" if naive else "own",
            pm.key,
            int(rows.size),
            0,
            se=se,
            result=fitted.result if self.keep_results else None,
            unobserved=int(((X != 0).sum(0) == 0).sum()),
            dropped=int(dropped),
        )
