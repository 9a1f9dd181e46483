"""Stepwise selection of variables (groups of columns) by p-to-enter / p-to-remove.

statsmodels has no stepwise selection (statsmodels issues #1809, #4328). This
module selects *units* — a categorical variable's code columns together, a
binary or numeric term alone — for a weighted least-squares model with
cluster-robust inference:

* entry: the cluster-robust score (Lagrange multiplier) test of adding a unit
  to the current model, computed from the current model's residuals only;
* removal: the cluster-robust Wald test of a unit in the current model;
* both as ``F = statistic / k`` on ``(k, G - 1)`` degrees of freedom, ``k`` the
  unit's columns and ``G`` the number of clusters, with statsmodels'
  small-sample factor ``G/(G-1) * (N-1)/(N-K)``.

Score for entry and Wald for removal is what SAS ``PROC LOGISTIC`` does; the
Wald p-values equal statsmodels' ``WLS(...).fit(cov_type="cluster")``
``f_test`` on the same columns. The algorithm is Stata's ``stepwise, pe() pr()``
forward variant: from the forced units, add the unit with the smallest entry
p-value while it is below ``p_enter``; after every addition, remove the unit
with the largest removal p-value while it is above ``p_remove``; stop when
neither moves (or a set of units repeats). ``p_enter < p_remove`` avoids
cycling.

Everything runs on one Gram matrix and one pass over the rows per step, so a
step costs ``O(n p)``: plain arrays in, a table of steps out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["StepwiseResult", "stepwise", "wald_pvalues"]


@dataclass(frozen=True, eq=False)
class StepwiseResult:
    """Selected units and the record of every step.

    Attributes
    ----------
    selected : tuple of int
        Indices of the selected units, in the order they entered.
    steps : list of dict
        ``step``, ``action`` (``enter`` / ``remove``), ``unit``, ``p_value``,
        ``statistic``, ``df``.
    final_pvalues : dict of int to float
        Removal (Wald) p-value of each selected unit in the final model.
    stopped : str
        Why the search stopped.
    """

    selected: tuple[int, ...]
    steps: list[dict[str, object]]
    final_pvalues: dict[int, float]
    stopped: str


class _State:
    """Gram matrix, cluster layout and the current fit of a column subset."""

    def __init__(
        self, X: np.ndarray, y: np.ndarray, w: np.ndarray, clusters: np.ndarray, n_absorbed: int
    ) -> None:
        order = np.argsort(clusters, kind="stable")
        self.X = X[order]
        self.y = y[order]
        self.w = w[order]
        c = clusters[order]
        self.starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        self.G = self.starts.size
        self.N = X.shape[0]
        self.gram = (self.X.T * self.w) @ self.X
        self.rhs = self.X.T @ (self.w * self.y)
        self.n_absorbed = n_absorbed

    def fit(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(beta over cols, inverse Gram of cols, cluster score sums of ALL columns)."""
        if cols.size:
            A = self.gram[np.ix_(cols, cols)]
            Ainv = np.linalg.pinv(A)
            beta = Ainv @ self.rhs[cols]
            e = self.y - self.X[:, cols] @ beta
        else:
            Ainv = np.zeros((0, 0))
            beta = np.zeros(0)
            e = self.y
        S = np.add.reduceat(self.X * (self.w * e)[:, None], self.starts, axis=0)
        return beta, Ainv, S

    def factor(self, k: int) -> float:
        K = k + self.n_absorbed
        return (self.G / (self.G - 1)) * ((self.N - 1) / max(self.N - K, 1))


def _fstat(stat: float, k: int, G: int) -> float:
    """p-value of ``stat / k`` on F(k, G - 1); a unit without information gets 1."""
    from scipy.special import fdtrc

    if not np.isfinite(stat):
        return 1.0
    return float(fdtrc(k, G - 1, max(stat, 0.0) / k))


def _quad(v: np.ndarray, V: np.ndarray) -> float:
    """V' V^+ v, 0 when V carries no information."""
    if not np.isfinite(V).all() or np.abs(V).max(initial=0.0) <= 0:
        return float("nan")
    return float(v @ np.linalg.pinv(V, rcond=1e-10, hermitian=True) @ v)


def wald_pvalues(
    state: _State, cols: np.ndarray, units: Sequence[np.ndarray], members: Sequence[int]
) -> dict[int, tuple[float, float]]:
    """Cluster-robust Wald (p-value, F) of each unit in ``members`` in the model ``cols``."""
    beta, Ainv, S = state.fit(cols)
    SS = S[:, cols]
    V = Ainv @ (SS.T @ SS) @ Ainv * state.factor(cols.size)
    pos = {c: i for i, c in enumerate(cols.tolist())}
    out = {}
    for u in members:
        idx = np.array([pos[c] for c in units[u].tolist()])
        stat = _quad(beta[idx], V[np.ix_(idx, idx)])
        k = idx.size
        out[u] = (_fstat(stat, k, state.G), stat / k if np.isfinite(stat) else 0.0)
    return out


def _score_pvalues(
    state: _State, cols: np.ndarray, units: Sequence[np.ndarray], candidates: Sequence[int]
) -> dict[int, tuple[float, float]]:
    _, Ainv, S = state.fit(cols)
    out = {}
    for u in candidates:
        z = units[u]
        if cols.size:
            B = Ainv @ state.gram[np.ix_(cols, z)]
            U = S[:, z] - S[:, cols] @ B
        else:
            U = S[:, z]
        k = z.size
        V = U.T @ U * state.factor(cols.size + k)
        stat = _quad(U.sum(axis=0), V)
        out[u] = (_fstat(stat, k, state.G), stat / k if np.isfinite(stat) else 0.0)
    return out


def stepwise(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    clusters: np.ndarray,
    units: Sequence[np.ndarray],
    *,
    p_enter: float = 0.05,
    p_remove: float = 0.10,
    forced: Sequence[int] = (),
    n_absorbed: int = 0,
    max_steps: int = 500,
) -> StepwiseResult:
    """Forward-backward stepwise selection of column groups.

    Parameters
    ----------
    X : (n, p) float
        Candidate columns (already demeaned if fixed effects are absorbed; no intercept
        column — pass demeaned data, or include a constant in a forced unit).
    y : (n,) float
    w : (n,) float
        Positive weights.
    clusters : (n,) int
        Cluster (PSU) of each row.
    units : sequence of int arrays
        Column indices of each selection unit.
    p_enter, p_remove : float
        Thresholds, ``0 < p_enter < p_remove <= 1``... or equal.
    forced : sequence of int
        Units always in the model.
    n_absorbed : int
        Parameters absorbed before (fixed effects), for the small-sample factor.
    """
    if not 0.0 < p_enter <= p_remove <= 1.0:
        raise ValueError(
            f"stepwise needs 0 < p_enter <= p_remove <= 1; got p_enter={p_enter}, "
            f"p_remove={p_remove}"
        )
    state = _State(
        np.asarray(X, dtype=np.float64),
        np.asarray(y, dtype=np.float64),
        np.asarray(w, dtype=np.float64),
        np.asarray(clusters),
        n_absorbed,
    )
    if state.G < 2:
        raise ValueError("stepwise selection needs at least 2 clusters (PSUs)")
    selected: list[int] = list(dict.fromkeys(int(u) for u in forced))
    forced_set = set(selected)
    steps: list[dict[str, object]] = []
    seen = {frozenset(selected)}

    def cols_of(sel: Sequence[int]) -> np.ndarray:
        return (
            np.sort(np.concatenate([units[u] for u in sel])) if sel else np.zeros(0, dtype=np.int64)
        )

    stopped = "no unit meets p_enter and none meets p_remove"
    for _ in range(max_steps):
        candidates = [u for u in range(len(units)) if u not in selected]
        if not candidates:
            stopped = "every unit is in the model"
            break
        scores = _score_pvalues(state, cols_of(selected), units, candidates)
        best = min(candidates, key=lambda u: (scores[u][0], -scores[u][1], u))
        if scores[best][0] >= p_enter:
            break
        selected.append(best)
        steps.append(
            {
                "step": len(steps) + 1,
                "action": "enter",
                "unit": best,
                "p_value": scores[best][0],
                "statistic": scores[best][1],
                "df": int(units[best].size),
            }
        )
        cycled = False
        while True:
            removable = [u for u in selected if u not in forced_set]
            if not removable:
                break
            walds = wald_pvalues(state, cols_of(selected), units, removable)
            worst = max(removable, key=lambda u: (walds[u][0], u))
            if walds[worst][0] <= p_remove:
                break
            selected.remove(worst)
            steps.append(
                {
                    "step": len(steps) + 1,
                    "action": "remove",
                    "unit": worst,
                    "p_value": walds[worst][0],
                    "statistic": walds[worst][1],
                    "df": int(units[worst].size),
                }
            )
        key = frozenset(selected)
        if key in seen and steps and steps[-1]["action"] == "remove":
            cycled = True
        seen.add(key)
        if cycled:
            stopped = "a set of units repeated (cycle); stopped at the last set"
            break
    else:
        stopped = f"max_steps={max_steps} reached"
    final = wald_pvalues(state, cols_of(selected), units, selected) if selected else {}
    return StepwiseResult(tuple(selected), steps, {u: p for u, (p, _) in final.items()}, stopped)
