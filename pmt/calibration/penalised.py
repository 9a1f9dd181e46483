"""Penalised least squares: the elastic net on the person-weighted objective.

The solver of :mod:`pmt.calibration.estimators.lasso` and
:mod:`~pmt.calibration.estimators.elastic_net`. It minimises

    ``sum w (y - a - X b)^2 / (2 sum w) + alpha * sum_j s_j (l1 |b_j| + (1 - l1) s_j b_j^2 / 2)``

with ``s_j`` the weighted standard deviation of column ``j`` (so the penalty
treats every column on the same scale, as glmnet's default standardisation
does) and the intercept ``a`` unpenalised. With ``l1 = 1`` it is the lasso.
The objective is statsmodels' ``WLS(y, X, weights=w).fit_regularized(alpha,
L1_wt=l1)`` on standardised columns (a test checks it), solved here by cyclic
coordinate descent on the weighted Gram matrix: one ``p x p`` matrix per
training part, so the cost does not grow with the households once the Gram
is formed. :func:`cv_alpha` chooses ``alpha`` by K-fold cross-validation over
PSUs (whole clusters held out), by held-out weighted squared error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

__all__ = ["Moments", "PenalisedFit", "alpha_grid", "cv_alpha", "elastic_net_path", "moments"]


@dataclass(frozen=True)
class Moments:
    """Weighted first and second moments of ``[1, X, y]`` over some rows."""

    sw: float  # sum of weights
    sx: np.ndarray  # (p,) sum w x
    sy: float  # sum w y
    sxx: np.ndarray  # (p, p) sum w x x'
    sxy: np.ndarray  # (p,) sum w x y

    def __sub__(self, other: Moments) -> Moments:
        """The moments of the rows of ``self`` that are not in ``other``."""
        return Moments(
            self.sw - other.sw,
            self.sx - other.sx,
            self.sy - other.sy,
            self.sxx - other.sxx,
            self.sxy - other.sxy,
        )


def moments(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Moments:
    """The weighted moments of ``X`` (no intercept column) and ``y``."""
    Xw = X * w[:, None]
    return Moments(float(w.sum()), Xw.sum(0), float(w @ y), X.T @ Xw, Xw.T @ y)


@dataclass(frozen=True, eq=False)
class PenalisedFit:
    """What the penalised estimators keep in ``Calibration.results``.

    Attributes
    ----------
    params : (p,) float64
        Coefficients, intercept first.
    alpha : float
        The penalty used.
    l1_ratio : float
        The L1 share of the penalty (1: lasso).
    cv : dict or None
        ``{"alphas": [...], "cv_mse": [...], "folds": K}`` when ``alpha`` was
        chosen by cross-validation over PSUs.
    """

    params: np.ndarray
    alpha: float
    l1_ratio: float
    cv: dict[str, list[float] | int] | None = None

    @property
    def nonzero(self) -> int:
        """Number of non-zero slopes."""
        return int(np.count_nonzero(self.params[1:]))


def _standardised(m: Moments) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Gram matrix and cross-products of the standardised, centred columns."""
    xbar = m.sx / m.sw
    ybar = m.sy / m.sw
    cov = m.sxx / m.sw - np.outer(xbar, xbar)
    var = np.clip(np.diag(cov), 0.0, None)
    scale = np.sqrt(var)
    live = scale > 1e-12 * np.maximum(np.abs(xbar), 1.0)
    s = np.where(live, scale, 1.0)
    G = cov / np.outer(s, s)
    c = (m.sxy / m.sw - xbar * ybar) / s
    G[~live, :] = 0.0
    G[:, ~live] = 0.0
    c[~live] = 0.0
    return G, c, s, xbar, ybar


def alpha_grid(m: Moments, l1_ratio: float, n: int = 20, ratio: float = 1e-3) -> np.ndarray:
    """``n`` penalties, log-spaced from the smallest that zeroes every slope down by ``ratio``."""
    _, c, _, _, _ = _standardised(m)
    top = float(np.abs(c).max()) / max(l1_ratio, 1e-3)
    if not top > 0:
        return np.zeros(1)
    return top * np.geomspace(1.0, ratio, n)


def elastic_net_path(
    m: Moments,
    alphas: np.ndarray,
    l1_ratio: float,
    *,
    tol: float = 1e-10,
    max_sweeps: int = 100_000,
) -> np.ndarray:
    """Coefficients ``(len(alphas), 1 + p)`` (intercept first) along ``alphas``, warm-started."""
    G, c, s, xbar, ybar = _standardised(m)
    B = _descent(
        np.ascontiguousarray(G),
        c,
        np.asarray(alphas, dtype=np.float64),
        float(l1_ratio),
        tol,
        max_sweeps,
    )
    out = np.zeros((len(alphas), 1 + c.size))
    out[:, 1:] = B / s
    out[:, 0] = ybar - out[:, 1:] @ xbar
    return out


def _descent_py(
    G: np.ndarray, c: np.ndarray, alphas: np.ndarray, l1_ratio: float, tol: float, max_sweeps: int
) -> np.ndarray:
    """Cyclic coordinate descent on the standardised problem, warm-started along ``alphas``."""
    p = c.size
    b = np.zeros(p)
    grad = c.copy()  # c - G b
    out = np.zeros((alphas.size, p))
    for i in range(alphas.size):
        l1 = alphas[i] * l1_ratio
        l2 = alphas[i] * (1.0 - l1_ratio)
        for _ in range(max_sweeps):
            delta = 0.0
            for j in range(p):
                d = G[j, j]
                if d == 0.0:
                    continue
                rho = grad[j] + d * b[j]
                mag = abs(rho) - l1
                new = (mag if rho > 0 else -mag) / (d + l2) if mag > 0 else 0.0
                step = new - b[j]
                if step != 0.0:
                    for k in range(p):
                        grad[k] -= G[k, j] * step
                    b[j] = new
                    delta = max(delta, abs(step) * np.sqrt(d))
            if delta < tol:
                break
        out[i] = b
    return out


#: The descent compiled by numba (pmt's kernels need it anyway), cached on disk.
_descent: Any = njit(cache=True, nogil=True)(_descent_py)


def _psu_folds(clusters: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold of each row: whole clusters, dealt in a random order."""
    labels, inverse = np.unique(clusters, return_inverse=True)
    order = np.random.default_rng(seed).permutation(labels.size)
    fold_of = np.empty(labels.size, dtype=np.int64)
    fold_of[order] = np.arange(labels.size) % k
    return fold_of[inverse]


def cv_alpha(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    clusters: np.ndarray,
    *,
    l1_ratio: float,
    folds: int,
    seed: int,
    n_alphas: int = 20,
) -> tuple[float, dict[str, list[float] | int]]:
    """The penalty with the smallest held-out weighted squared error, folds by PSU.

    ``X`` has no intercept column. With fewer than 2 clusters the households
    themselves are dealt into folds. Ties go to the larger penalty.
    """
    total = moments(X, y, w)
    alphas = alpha_grid(total, l1_ratio, n_alphas)
    groups = clusters if np.unique(clusters).size >= 2 else np.arange(y.size)
    k = int(min(folds, np.unique(groups).size))
    fold = _psu_folds(groups, k, seed)
    sse = np.zeros(alphas.size)
    for f in range(k):
        test = fold == f
        held = moments(X[test], y[test], w[test])
        path = elastic_net_path(total - held, alphas, l1_ratio)
        resid = y[test][:, None] - path[:, 0][None, :] - X[test] @ path[:, 1:].T
        sse += w[test] @ resid**2
    mse = sse / total.sw
    best = int(np.flatnonzero(mse <= np.min(mse) * (1 + 1e-12))[0])  # alphas decrease
    return float(alphas[best]), {"alphas": alphas.tolist(), "cv_mse": mse.tolist(), "folds": k}
