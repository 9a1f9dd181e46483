"""Weighted quantile regression: two exact solvers and a cluster-robust covariance.

statsmodels' ``QuantReg`` takes no weights (statsmodels issue #5889), so this
module solves the survey-weighted problem itself::

    minimise  sum_i w_i * rho_tau(y_i - x_i' beta)  [+ 1/2 (beta - b)' Q (beta - b)]
    rho_tau(u) = u * (tau - 1{u < 0})

Two solvers give the same optimum:

``highs``
    The problem as a linear program (no penalty), ``min sum w (tau u + (1-tau) v)``
    subject to ``X beta + u - v = y``, ``u, v >= 0``, with sparse constraints, solved by
    scipy's HiGHS. Exact (a vertex of the LP), but slow beyond a few thousand rows.
``ipm``
    A primal-dual interior-point method (Mehrotra predictor-corrector, in the
    spirit of Portnoy & Koenker's Frisch-Newton algorithm, R ``quantreg::rq.fit.fnb``).
    Every iteration solves one ``p x p`` system ``X' diag(1/theta) X + Q``, so
    it handles hundreds of thousands of rows, and it accepts a quadratic
    penalty ``Q`` toward a prior ``b`` (the partial pooling of
    :mod:`pmt.calibration.estimators.quantile`), which an LP cannot express.

Weights enter through ``rho_tau(w u) = w rho_tau(u)`` for ``w > 0``: the
weighted problem is the unweighted one on rows scaled by ``w``. For integer
weights it is the unweighted problem on rows replicated ``w`` times.

Nothing here knows about surveys or weight sets: plain arrays in, arrays out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["QuantRegFit", "check_loss", "cluster_cov", "density_at_zero", "fit_quantile"]

_NORMAL = NormalDist()


@dataclass(frozen=True, eq=False)
class QuantRegFit:
    """A weighted quantile regression fit.

    Attributes
    ----------
    params : (p,) float64
        Coefficients.
    tau : float
        The quantile.
    objective : float
        ``sum w * rho_tau(y - X params)`` (without the penalty).
    solver : str
        ``"highs"`` or ``"ipm"``.
    iterations : int
    converged : bool
    bse : (p,) float64 or None
        Cluster-robust standard errors (:func:`cluster_cov`), if computed.
    cov : (p, p) float64 or None
    nobs : int
    """

    params: np.ndarray
    tau: float
    objective: float
    solver: str
    iterations: int
    converged: bool
    nobs: int
    bse: np.ndarray | None = None
    cov: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"<QuantRegFit tau={self.tau:g} solver={self.solver} n={self.nobs:,} "
            f"p={self.params.size} objective={self.objective:.6g} "
            f"{'converged' if self.converged else 'NOT converged'}>"
        )


def check_loss(u: np.ndarray, tau: float, w: np.ndarray | None = None) -> float:
    """``sum w * rho_tau(u)``, the quantile-regression objective of residuals ``u``."""
    loss = u * (tau - (u < 0))
    return float(loss.sum() if w is None else w @ loss)


def _check(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, tau: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, p) and y (n,); got {X.shape} and {y.shape}")
    w = np.ones(y.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    if w.shape != y.shape or not np.isfinite(w).all() or (w <= 0).any():
        raise ValueError("weights must be finite and > 0, one per row")
    if not 0.0 < tau < 1.0:
        raise ValueError(f"tau must lie strictly between 0 and 1; got {tau!r}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite")
    return X, y, w


def fit_quantile(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    tau: float = 0.5,
    solver: str = "ipm",
    penalty: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int = 200,
) -> QuantRegFit:
    """Weighted (optionally penalised) quantile regression.

    Parameters
    ----------
    X : (n, p) float
        Design matrix (include a column of ones for an intercept).
    y : (n,) float
    w : (n,) float, optional
        Positive weights (survey x person weights); default 1.
    tau : float in (0, 1)
    solver : {"ipm", "highs"}
        Interior point (fast, takes a penalty) or HiGHS linear program (exact
        vertex, no penalty).
    penalty : (p,) float, optional
        Diagonal of ``Q`` in ``+ 1/2 (beta - prior)' Q (beta - prior)``; ``ipm`` only.
    prior : (p,) float, optional
        The prior mean ``b`` (default 0).
    tol : float
        Relative tolerance of the interior point's duality gap and residuals.
    max_iter : int

    Returns
    -------
    QuantRegFit
    """
    X, y, w = _check(X, y, w, tau)
    p = X.shape[1]
    if penalty is not None:
        penalty = np.asarray(penalty, dtype=np.float64)
        if penalty.shape != (p,) or (penalty < 0).any() or not np.isfinite(penalty).all():
            raise ValueError("penalty must be (p,) finite and >= 0")
        if not penalty.any():
            penalty = None
    b = np.zeros(p) if prior is None else np.asarray(prior, dtype=np.float64)
    if solver == "highs":
        if penalty is not None:
            raise ValueError(
                "solver='highs' solves the linear program only; a penalty needs solver='ipm'"
            )
        beta, it, ok = _highs(X, y, w, tau)
    elif solver == "ipm":
        beta, it, ok = _ipm(X * w[:, None], y * w, tau, penalty, b, tol, max_iter)
    else:
        raise ValueError(f"solver must be 'ipm' or 'highs'; got {solver!r}")
    return QuantRegFit(
        params=beta,
        tau=tau,
        objective=check_loss(y - X @ beta, tau, w),
        solver=solver,
        iterations=it,
        converged=ok,
        nobs=int(y.size),
    )


def _highs(X: np.ndarray, y: np.ndarray, w: np.ndarray, tau: float) -> tuple[np.ndarray, int, bool]:
    import scipy.sparse as sp
    from scipy.optimize import linprog

    n, p = X.shape
    eye = sp.identity(n, format="csc")
    A = sp.hstack([sp.csc_matrix(X), eye, -eye], format="csc")
    c = np.concatenate([np.zeros(p), tau * w, (1.0 - tau) * w])
    lower = np.concatenate([np.full(p, -np.inf), np.zeros(2 * n)])
    upper = np.full(p + 2 * n, np.inf)
    res = linprog(c, A_eq=A, b_eq=y, bounds=np.column_stack([lower, upper]), method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS did not solve the quantile regression LP: {res.message}")
    return np.asarray(res.x[:p]), int(getattr(res, "nit", 0)), True


def _ipm(
    X: np.ndarray,
    y: np.ndarray,
    tau: float,
    Q: np.ndarray | None,
    b: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, int, bool]:
    """Primal-dual interior point for ``min sum rho_tau(y - X beta) + 1/2 (beta-b)'Q(beta-b)``.

    Rows are already scaled by the weights. Unknowns: ``beta``; ``up, um >= 0``
    with ``X beta + up - um = y``; the multiplier ``d`` in ``(tau - 1, tau)``
    with dual slacks ``zp = tau - d``, ``zm = 1 - tau + d``. Each Newton step
    solves ``(X' diag(1/theta) X + Q) dbeta = rhs``, ``theta = up/zp + um/zm``.
    """
    n, p = X.shape
    q = np.zeros(p) if Q is None else Q
    # start: penalised least squares, residual split into up - um, d in the middle of its box
    gram = X.T @ X
    scale = max(float(np.trace(gram)) / p, 1.0)
    jitter = 1e-10 * scale
    beta = _solve(gram + np.diag(q), X.T @ y + q * b, jitter)
    r = y - X @ beta
    delta = max(float(np.mean(np.abs(r))), 1e-8)
    up = np.maximum(r, 0.0) + delta
    um = np.maximum(-r, 0.0) + delta
    d = np.full(n, tau - 0.5)
    ynorm = 1.0 + float(np.abs(y).max(initial=0.0))
    woodbury = (X / q) @ X.T if (n < p and Q is not None and (q > 0).all()) else None
    converged = False
    it = 0
    xnorm = 1.0 + float(np.abs(X).sum(0).max())
    best = (math.inf, beta)
    stall = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        # floors keep the divisions finite once a bound is reached to machine precision
        zp, zm = np.maximum(tau - d, 1e-15), np.maximum(1.0 - tau + d, 1e-15)
        up, um = np.maximum(up, 1e-300), np.maximum(um, 1e-300)
        f1 = q * (beta - b) - X.T @ d
        f2 = X @ beta + up - um - y
        gap = float(up @ zp + um @ zm)
        primal = float(tau * up.sum() + (1 - tau) * um.sum())
        merit = max(
            gap / (1.0 + abs(primal)),
            float(np.abs(f2).max()) / ynorm,
            float(np.abs(f1).max()) / xnorm,
        )
        if merit <= tol:
            converged = True
            best = (merit, beta)
            break
        if merit < best[0]:
            best, stall = (merit, beta), 0
        else:
            stall += 1
            if stall >= 5:  # rounding errors dominate: keep the best iterate
                break
        theta = up / zp + um / zm
        newton = _newton(X, theta, q, woodbury, jitter)

        def direction(
            f3: np.ndarray,
            f4: np.ndarray,
            newton: _Solve = newton,
            theta: np.ndarray = theta,
            f1: np.ndarray = f1,
            f2: np.ndarray = f2,
            up: np.ndarray = up,
            um: np.ndarray = um,
            zp: np.ndarray = zp,
            zm: np.ndarray = zm,
        ) -> tuple[np.ndarray, ...]:
            g = -f2 + f3 / zp - f4 / zm
            dbeta = newton(-f1 + X.T @ (g / theta))
            dd = (g - X @ dbeta) / theta
            return dbeta, dd, (-f3 + up * dd) / zp, (-f4 - um * dd) / zm

        # predictor (affine scaling)
        dbeta, dd, dup, dum = direction(up * zp, um * zm)
        alpha = _step(up, um, zp, zm, dup, dum, dd)
        mu = gap / (2 * n)
        gap_aff = float(
            (up + alpha * dup) @ (zp - alpha * dd) + (um + alpha * dum) @ (zm + alpha * dd)
        )
        sigma = (gap_aff / gap) ** 3 if gap > 0 else 0.0
        # corrector (Mehrotra): centring plus the second-order term
        f3 = up * zp - dup * dd - sigma * mu  # d(zp) = -dd
        f4 = um * zm + dum * dd - sigma * mu  # d(zm) = +dd
        dbeta, dd, dup, dum = direction(f3, f4)
        alpha = min(1.0, 0.99995 * _step(up, um, zp, zm, dup, dum, dd, fraction=1.0))
        beta = beta + alpha * dbeta
        d = d + alpha * dd
        up = up + alpha * dup
        um = um + alpha * dum
    merit, beta = best
    return beta, it, converged or merit <= max(tol, 1e-7)


_Solve = Callable[[np.ndarray], np.ndarray]


def _newton(
    X: np.ndarray, theta: np.ndarray, q: np.ndarray, woodbury: np.ndarray | None, jitter: float
) -> _Solve:
    """A solver of ``(Q + X' diag(1/theta) X) x = r`` for one interior-point iteration."""
    if woodbury is None:
        M = (X.T * (1.0 / theta)) @ X
        M[np.diag_indices(X.shape[1])] += q
        chol = _cholesky(M, jitter)
        return lambda rhs: _chol_solve(chol, rhs)
    # few rows, positive-definite penalty: (Q + X' T^-1 X)^-1 r
    #   = Q^-1 r - Q^-1 X' (T + X Q^-1 X')^-1 X Q^-1 r, an n x n system
    K = woodbury.copy()
    K[np.diag_indices(X.shape[0])] += theta
    chol = _cholesky(K, jitter)

    def solve(rhs: np.ndarray) -> np.ndarray:
        qr_ = rhs / q
        return qr_ - (X.T @ _chol_solve(chol, X @ qr_)) / q

    def refined(rhs: np.ndarray) -> np.ndarray:
        x = solve(rhs)  # plus one step of iterative refinement with the exact operator
        return x + solve(rhs - q * x - X.T @ ((X @ x) / theta))

    return refined


def _step(
    up: np.ndarray,
    um: np.ndarray,
    zp: np.ndarray,
    zm: np.ndarray,
    dup: np.ndarray,
    dum: np.ndarray,
    dd: np.ndarray,
    fraction: float = 1.0,
) -> float:
    """Largest step in [0, 1] keeping up, um, zp = tau - d, zm = 1 - tau + d non-negative."""
    alpha = 1.0
    for v, dv in ((up, dup), (um, dum), (zp, -dd), (zm, dd)):
        neg = dv < 0
        if neg.any():
            alpha = min(alpha, float(np.min(-v[neg] / dv[neg])))
    return fraction * alpha


def _cholesky(M: np.ndarray, jitter: float) -> np.ndarray:
    try:
        return np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return np.linalg.cholesky(M + jitter * np.eye(M.shape[0]))


def _chol_solve(L: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    z = solve_triangular(L, rhs, lower=True, check_finite=False)
    return solve_triangular(L.T, z, lower=False, check_finite=False)


def _solve(A: np.ndarray, rhs: np.ndarray, jitter: float) -> np.ndarray:
    try:
        return np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A + jitter * np.eye(A.shape[0]), rhs, rcond=None)[0]


# --------------------------------------------------------------------------- inference


def bandwidth(n: int, tau: float, alpha: float = 0.05) -> float:
    """Hall-Sheather bandwidth on the probability scale (as statsmodels' ``hsheather``)."""
    x0 = _NORMAL.inv_cdf(tau)
    f0 = _NORMAL.pdf(x0)
    z = _NORMAL.inv_cdf(1 - alpha / 2)
    return n ** (-1 / 3) * z ** (2 / 3) * ((1.5 * f0**2) / (2 * x0**2 + 1)) ** (1 / 3)


def _residual_bandwidth(u: np.ndarray, w: np.ndarray, tau: float) -> float:
    """Bandwidth in residual units: the Hall-Sheather width mapped through a robust scale."""
    n = u.size
    h = bandwidth(n, tau)
    lo, hi = max(tau - h, 1e-6), min(tau + h, 1 - 1e-6)
    spread = _NORMAL.inv_cdf(hi) - _NORMAL.inv_cdf(lo)
    sd = math.sqrt(float(w @ (u - (w @ u) / w.sum()) ** 2) / w.sum())
    q25, q75 = _quartiles(u, w)
    scale = min(sd, (q75 - q25) / 1.34) if q75 > q25 else sd
    return max(scale * spread, 1e-12)


def _quartiles(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted first and third quartiles.

    The smallest ``x`` whose weighted CDF reaches 1/4 and 3/4 — pmt's
    reference-cutoff rule (:func:`pmt.reference_cutoffs`, 4 classes), not a
    second implementation of it.
    """
    from ..rank import reference_cutoffs

    c = reference_cutoffs(x, w, n=4)[None]
    return float(c[0]), float(c[2])


def density_at_zero(u: np.ndarray, w: np.ndarray | None, tau: float) -> float:
    """Weighted uniform-kernel density of residuals ``u`` at 0 (Powell's estimator)."""
    w = np.ones(u.size) if w is None else w
    h = _residual_bandwidth(u, w, tau)
    return float(w @ (np.abs(u) <= h)) / (2 * h * float(w.sum()))


def cluster_cov(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    beta: np.ndarray,
    tau: float,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Cluster-robust covariance of a weighted quantile regression.

    The sandwich ``A^-1 B A^-1`` of Parente & Santos Silva (2016):
    ``A = sum w_i f_i x_i x_i'`` with Powell's uniform-kernel density
    ``f_i = 1{|u_i| <= h} / (2h)`` (Hall-Sheather bandwidth), and
    ``B = sum_g s_g s_g'`` with cluster scores ``s_g = sum_{i in g} w_i psi(u_i) x_i``,
    ``psi(u) = tau - 1{u < 0}``; times ``G / (G - 1)``. Without ``groups``
    every row is its own cluster.
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    u = y - X @ beta
    h = _residual_bandwidth(u, w, tau)
    f = (np.abs(u) <= h) / (2 * h)
    A = (X.T * (w * f)) @ X
    scores = X * (w * (tau - (u < 0)))[:, None]
    if groups is None:
        S = scores
    else:
        codes, _ = _factorize(groups)
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        S = np.add.reduceat(scores[order], starts, axis=0)
    G = S.shape[0]
    B = S.T @ S * (G / (G - 1) if G > 1 else 1.0)
    Ainv = np.linalg.pinv(A)
    return Ainv @ B @ Ainv


def _factorize(groups: np.ndarray) -> tuple[np.ndarray, int]:
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(groups))
    return codes.astype(np.int64), len(uniques)
