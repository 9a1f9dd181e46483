"""Which design columns the models can use: unobserved codes, constant and collinear terms.

Run once on the households the estimator learns from, before selection and
fitting. Constant variables and exact linear dependences raise
:class:`~pmt.errors.CollinearityError` naming them, or are dropped and recorded
(``on_collinear="drop"``); codes never observed get coefficient 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import CollinearityError
from ._arrays import wmean
from .data import SurveyData
from .options import Options

__all__ = ["Screen", "screen", "sequential_rank"]


@dataclass
class Screen:
    """Which design columns the models use, and why others are left out."""

    active: np.ndarray  # bool (p,)
    unobserved: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (term, reason)


def screen(data: SurveyData, rows: np.ndarray, opts: Options) -> Screen:
    """Unobserved codes, constant variables and collinear terms in the national sample."""
    X = data.X[rows]
    w = data.pw[rows] / data.pw[rows].mean()
    p = X.shape[1]
    active = np.ones(p, dtype=bool)
    out = Screen(active)
    mean = wmean(X, w)
    var = wmean((X - mean) ** 2, w)
    scale = np.maximum(np.abs(mean), 1.0)
    flat = var <= 1e-12 * scale**2
    flat[0] = False
    constants: list[tuple[str, str]] = []
    lookup = {v.name for v in data.spec.lookup_variables}
    for name, cols in data.units:
        if name in lookup:
            observed_ref = bool(((X[:, cols] == 0).all(axis=1)).any())
            observed = int(observed_ref) + int((X[:, cols] != 0).any(axis=0).sum())
            if observed <= 1:
                code = (
                    "the reference code"
                    if observed_ref
                    else data.columns[cols[int(np.flatnonzero((X[:, cols] != 0).any(axis=0))[0])]]
                )
                constants.append((name, f"every household has {code}"))
                active[cols] = False
                continue
            zero = cols[(X[:, cols] == 0).all(axis=0)]
            for c in zero:
                out.unobserved.append(data.columns[c])
                active[c] = False
        elif flat[cols].all():
            constants.append((name, f"every household has the value {X[0, cols[0]]:g}"))
            active[cols] = False
    if constants:
        terms = [t for t, _ in constants]
        if opts.on_collinear == "raise":
            what = "; ".join(f"{t!r} ({why})" for t, why in constants)
            raise CollinearityError(
                f"constant variables in the survey (households fitted): {what}. Their effect "
                "cannot be estimated. "
                "Fix: remove them from the variable spec, or pass on_collinear='drop' to drop "
                "them (their coefficients are then 0, recorded in the weight set).",
                terms,
            )
        out.dropped += [(t, f"constant: {why}") for t, why in constants]
    # collinearity among the remaining columns, given the intercept
    cols = np.flatnonzero(active)[1:]
    if cols.size:
        Xc = (X[:, cols] - mean[cols]) * np.sqrt(w)[:, None]
        sd = np.sqrt(np.maximum(var[cols], 1e-300))
        C = (Xc.T @ Xc) / w.sum() / np.outer(sd, sd)
        keep_list, redundant_list = sequential_rank(C)
        redundant = np.array(redundant_list, dtype=np.int64)
        if redundant.size:
            records = []
            for r in redundant:
                keep = np.array([k for k in keep_list if k < r], dtype=np.int64)
                a = np.linalg.lstsq(C[np.ix_(keep, keep)], C[keep, r], rcond=None)[0]
                a = a * sd[r] / sd[keep]
                partners = [
                    (data.columns[cols[k]], a[i]) for i, k in enumerate(keep) if abs(a[i]) > 1e-6
                ]
                expr = " + ".join(f"{coef:.3g} x {name!r}" for name, coef in partners[:6])
                records.append((data.columns[cols[r]], expr or "a constant"))
            if opts.on_collinear == "raise":
                what = "; ".join(f"{t!r} = {expr} (+ constant)" for t, expr in records)
                raise CollinearityError(
                    f"collinear terms in the survey (households fitted): {what}. The survey "
                    "cannot separate their "
                    "effects (a questionnaire skip pattern often does this, e.g. a code 'not "
                    "working' in two variables). Fix: drop one of the variables from the spec "
                    "or merge codes, or pass on_collinear='drop' to drop each term listed first "
                    "(the last, in spec order, of its dependency; coefficient 0, recorded).",
                    [t for t, _ in records],
                )
            for (t, expr), r in zip(records, redundant, strict=True):
                out.dropped.append((t, f"collinear: = {expr} (+ constant)"))
                active[cols[r]] = False
    return out


def sequential_rank(C: np.ndarray, tol: float = 1e-9) -> tuple[list[int], list[int]]:
    """Columns of a correlation matrix in order, kept or redundant.

    A column is redundant when it is in the span of the kept columns before
    it, found by an incremental Cholesky factorisation.
    """
    p = C.shape[0]
    L = np.zeros((p, p))
    keep: list[int] = []
    redundant: list[int] = []
    for j in range(p):
        k = len(keep)
        if k:
            from scipy.linalg import solve_triangular

            idx = np.array(keep)
            v = solve_triangular(L[:k, :k], C[idx, j], lower=True, check_finite=False)
            r = C[j, j] - v @ v
        else:
            v = np.zeros(0)
            r = C[j, j]
        if r <= tol * max(C[j, j], 1e-300):
            redundant.append(j)
            continue
        L[k, :k] = v
        L[k, k] = math.sqrt(r)
        keep.append(j)
    return keep, redundant
