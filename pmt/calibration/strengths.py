"""Pooling strengths per level, chosen by K-fold cross-validation over PSUs.

Partial pooling (``pooling="shrink"``) pulls each node's slopes toward its
parent's with strength ``lambda`` and its level toward the parent's
prediction with strength ``lambda_intercept`` (both in household-equivalents).
:func:`choose_lambdas` picks the pair of each level from the grids
:data:`LAMBDA_GRID` x :data:`INTERCEPT_GRID` by held-out squared error of
least squares, whatever the estimator (quantile regression reuses the
strengths with its own penalty scale, see
:mod:`pmt.calibration.estimators.quantile`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from ._arrays import groups
from .data import psu_folds
from .pooling import Fitter
from .ridge import ridge_path
from .tree import levels, parents

__all__ = ["INTERCEPT_GRID", "LAMBDA_GRID", "choose_lambdas"]

#: Candidate ridge-to-parent strengths (household-equivalents per coefficient).
LAMBDA_GRID = (
    0.0,
    3.0,
    10.0,
    30.0,
    100.0,
    300.0,
    1000.0,
    3000.0,
    10000.0,
    30000.0,
    100000.0,
    math.inf,
)
#: Candidate strengths pulling a model's level toward its parent's prediction.
INTERCEPT_GRID = (0.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, math.inf)


def choose_lambdas(
    fitter: Fitter, rows: np.ndarray
) -> tuple[dict[str, tuple[float, float]], pd.DataFrame]:
    """Pooling strengths per level by K-fold CV over PSUs (least squares on ``y``).

    Levels are chosen from the top: for each fold, the models above the level
    are refitted on the training part with the strengths already chosen; each
    node of the level is fitted on its training households for every
    ``(lambda, lambda_intercept)`` of the grids and scored on its held-out
    households. The pair with the smallest weighted squared error over all
    nodes and folds wins (ties: the stronger pooling). Returns the chosen
    strengths and the error over the grids (``level``, ``lambda``,
    ``lambda_intercept``, ``cv_sse``).
    """
    d, o = fitter.data, fitter.opts
    rows = fitter.fit_rows(rows)
    K = o.pooling_folds
    folds = psu_folds(d, rows, K, o.seed + 7919)
    s = fitter.slopes
    lam_grid = LAMBDA_GRID
    lam0_grid = INTERCEPT_GRID
    # least squares throughout, on the estimator's own rows (chosen above)
    inner = Fitter(
        d,
        dataclasses.replace(o, pooling="shrink", estimator="wls", estimator_options=()),
        fitter.active,
        keep_results=False,
        with_se=False,
    )
    fits: list[dict[tuple[str, int], np.ndarray]] = []
    scales = []
    train_sets = []
    for k in range(K):
        train = rows[folds != k]
        train_sets.append(train)
        fits.append({("national", 0): inner.root(train).beta})
        scales.append(np.sqrt(inner.scale(train)))
    wglob = d.pw / d.pw[rows].mean()
    min_h = o.min_households_for(fitter.n_coef)
    chosen: dict[str, tuple[float, float]] = {}
    records = []
    for level in levels(d.spec.urban):
        sse = np.zeros((len(lam_grid), len(lam0_grid)))
        kept: list[list[tuple[int, np.ndarray, float, float, np.ndarray, int]]] = []
        for k in range(K):
            train, test = train_sets[k], rows[folds == k]
            tg = groups(d.level_codes(level)[train])
            sg = groups(d.level_codes(level)[test])
            level_fits = []
            for code, pos in tg.items():
                node = train[pos]
                if node.size < min_h or np.unique(d.psu[node]).size < o.min_psus:
                    continue
                parent = next(pk for pk in parents(level, code) if pk in fits[k])
                b = fits[k][parent]
                w = d.pw[node] / d.pw[node].mean()
                path, xbar, ybar = ridge_path(
                    d.X[np.ix_(node, s)], d.y[node], w, b[s], scales[k], lam_grid
                )
                m_parent = b[0] + xbar @ b[s]
                level_fits.append((code, path, ybar, m_parent, xbar, node.size))
                if code in sg:
                    te = test[sg[code]]
                    wt = wglob[te]
                    e = d.y[te][:, None] - (d.X[np.ix_(te, s)] - xbar) @ path.T  # (m, L)
                    s0, s1, s2 = wt.sum(), wt @ e, wt @ e**2
                    shrink = np.array(
                        [
                            node.size / (node.size + l0) if math.isfinite(l0) else 0.0
                            for l0 in lam0_grid
                        ]
                    )
                    m = m_parent + shrink * (ybar - m_parent)  # (L0,)
                    sse += s2[:, None] - 2 * np.outer(s1, m) + s0 * m[None, :] ** 2
            kept.append(level_fits)
        if o.lambdas is not None and level in dict((lv, 0) for lv, _, _ in o.lambdas):
            lam, lam0 = next((a0, a1) for lv, a0, a1 in o.lambdas if lv == level)
        elif not sse.any():
            lam, lam0 = math.inf, math.inf
        else:
            best = np.min(sse)
            cands = [
                (i, j)
                for i in range(len(lam_grid))
                for j in range(len(lam0_grid))
                if sse[i, j] <= best * (1 + 1e-12)
            ]
            i, j = max(cands, key=lambda ij: (lam_grid[ij[0]], lam0_grid[ij[1]]))
            lam, lam0 = lam_grid[i], lam0_grid[j]
        chosen[level] = (lam, lam0)
        for i, a in enumerate(lam_grid):
            for j, b0 in enumerate(lam0_grid):
                records.append(
                    {
                        "level": level,
                        "lambda": a,
                        "lambda_intercept": b0,
                        "cv_sse": float(sse[i, j]) if sse.any() else math.nan,
                    }
                )
        # refit this level at the chosen strengths, for the levels below
        at: int | None = lam_grid.index(lam) if lam in lam_grid else None
        for k in range(K):
            for code, path, ybar, m_parent, xbar, size in kept[k]:
                if math.isinf(lam) and math.isinf(lam0):
                    continue
                if at is None:
                    node_rows = train_sets[k][groups(d.level_codes(level)[train_sets[k]])[code]]
                    parent = next(pk for pk in parents(level, code) if pk in fits[k])
                    b = fits[k][parent]
                    w = d.pw[node_rows] / d.pw[node_rows].mean()
                    slopes = ridge_path(
                        d.X[np.ix_(node_rows, s)], d.y[node_rows], w, b[s], scales[k], (lam,)
                    )[0][0]
                else:
                    slopes = path[at]
                frac = size / (size + lam0) if math.isfinite(lam0) else 0.0
                beta = np.zeros(d.X.shape[1])
                beta[s] = slopes
                beta[0] = m_parent + frac * (ybar - m_parent) - xbar @ slopes
                fits[k][(level, code)] = beta
    return chosen, pd.DataFrame.from_records(records)
