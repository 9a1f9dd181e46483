"""Ridge regression toward a parent's slopes, and its cluster-robust standard errors.

The least-squares side of partial pooling (plain arrays in, arrays out): the
pooled fit of least-squares estimators
(:meth:`pmt.calibration.estimators.Estimator.fit_pooled`) and the
cross-validation of pooling strengths (:mod:`pmt.calibration.strengths`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["ridge_path", "ridge_se"]


def ridge_path(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    lambdas: Sequence[float],
) -> tuple[np.ndarray, np.ndarray, float]:
    """Slopes of ``min sum w (y - a - X beta)^2 + lam sum d_j^2 (beta_j - b_j)^2`` per lambda.

    The intercept ``a`` is free (the problem is solved on weighted-centred
    columns); ``d_j^2`` is the national variance of column ``j``, so ``lam`` counts
    households: a coefficient is pulled halfway to the parent when the node's
    information about it equals ``lam`` households' worth. Returns
    ``(slopes (L, k), xbar (k,), ybar)``; ``lam = 0`` is least squares
    (minimum norm if rank-deficient), ``lam = inf`` the parent's slopes.
    """
    sw = w.sum()
    xbar = (w @ X) / sw
    ybar = float(w @ y) / sw
    Xc = X - xbar
    r = (y - ybar) - Xc @ b
    sq = np.sqrt(w)
    Z = Xc * (sq[:, None] / d)
    t = r * sq
    m, k = Z.shape
    if m < k:  # through the m x m kernel: Z = U S V', V = Z'U / S
        e, U = np.linalg.eigh(Z @ Z.T)
        pos = e > max(float(e.max(initial=0.0)), 1e-300) * 1e-10
        e, U = e[pos], U[:, pos]
        sv = np.sqrt(e)
        g = sv * (U.T @ t)
        V = (Z.T @ U) / sv
    else:
        e, V = np.linalg.eigh(Z.T @ Z)
        g = V.T @ (Z.T @ t)
    tol = max(float(e.max(initial=0.0)), 1e-300) * 1e-10
    ok = e > tol
    out = np.empty((len(lambdas), k))
    for i, lam in enumerate(lambdas):
        if math.isinf(lam):
            out[i] = b
            continue
        coef = np.where(ok, g / np.where(ok, e + lam, 1.0), 0.0) if lam == 0 else g / (e + lam)
        out[i] = b + (V @ coef) / d
    return out, xbar, float(ybar)


def ridge_se(
    Xc: np.ndarray, resid: np.ndarray, w: np.ndarray, psu: np.ndarray, penalty: np.ndarray
) -> np.ndarray:
    """Cluster-robust sandwich SEs of ridge-to-parent slopes (conditional on the parent)."""
    H = (Xc.T * w) @ Xc
    H[np.diag_indices_from(H)] += penalty
    Hinv = np.linalg.pinv(H, hermitian=True)
    scores = Xc * (w * resid)[:, None]
    order = np.argsort(psu, kind="stable")
    cut = np.flatnonzero(np.r_[True, psu[order][1:] != psu[order][:-1]])
    S = np.add.reduceat(scores[order], cut, axis=0)
    G = S.shape[0]
    V = Hinv @ (S.T @ S) @ Hinv * (G / (G - 1) if G > 1 else 1.0)
    return np.sqrt(np.clip(np.diag(V), 0, None))
