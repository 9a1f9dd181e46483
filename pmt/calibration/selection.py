"""Stepwise selection of the survey's variables (``select="stepwise"``).

Selection is not an estimator: it chooses which variables every model uses,
then any estimator fits them. It runs once, on the national sample the
estimator learns from, with district x urban fixed effects absorbed (so that
regional differences in level cannot pass for the effect of a regionally
concentrated variable), by :func:`pmt.calibration.stepwise.stepwise` on whole
variables (a categorical variable's codes enter and leave together).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from .data import SurveyData
from .options import Options
from .pooling import Fitter
from .stepwise import stepwise

__all__ = ["demean", "select"]


def select(
    data: SurveyData, rows: np.ndarray, opts: Options, active: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame]:
    """Stepwise selection on the national sample, district x urban means absorbed.

    Returns the active design columns after selection and the table of steps
    (``step``, ``action``, ``variable``, ``p_value``, ``statistic``, ``df``; its
    ``attrs``: ``selected``, ``final_p_values``, ``stopped``, ``candidates``,
    ``fixed_effects``).
    """
    units = [(name, cols[active[cols]]) for name, cols in data.units]
    names = [u for u, c in units if c.size]
    unit_cols = [c for _, c in units if c.size]
    known = {u for u, _ in data.units}
    unknown = [k for k in opts.keep if k not in known]
    if unknown:
        raise ArgumentError(
            f"keep: {unknown} are not variables of the spec (or derived "
            f"features); known: {sorted(known)[:12]} ...",
            argument="keep",
        )
    forced = [names.index(k) for k in opts.keep if k in names]
    fit_rows = Fitter(data, opts, active).fit_rows(rows)
    cols = np.concatenate(unit_cols) if unit_cols else np.zeros(0, dtype=np.int64)
    X = data.X[np.ix_(fit_rows, cols)]
    y = data.y[fit_rows]
    w = data.pw[fit_rows] / data.pw[fit_rows].mean()
    cells = data.level_codes("district_urban")[fit_rows]
    Xd, yd, n_cells = demean(X, y, w, cells)
    local, start = [], 0
    for c in unit_cols:
        local.append(np.arange(start, start + c.size))
        start += c.size
    res = stepwise(
        Xd,
        yd,
        w,
        data.psu[fit_rows],
        local,
        p_enter=opts.p_enter,
        p_remove=opts.p_remove,
        forced=forced,
        n_absorbed=n_cells,
    )
    keep = np.zeros_like(active)
    keep[0] = True
    for u in res.selected:
        keep[unit_cols[u]] = True
    steps = pd.DataFrame(
        [
            {**s, "variable": names[s["unit"]]}  # type: ignore[call-overload]
            for s in res.steps
        ],
        columns=["step", "action", "variable", "p_value", "statistic", "df"],
    )
    steps.attrs.update(
        {
            "stopped": res.stopped,
            "selected": [names[u] for u in res.selected],
            "final_p_values": {names[u]: p for u, p in res.final_pvalues.items()},
            "candidates": names,
            "fixed_effects": "district x urban (absorbed)",
        }
    )
    return active & keep, steps


def demean(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Subtract weighted group means (fixed effects absorbed); also the number of groups."""
    codes, uniq = pd.factorize(groups)
    sw = np.bincount(codes, weights=w)
    order = np.argsort(codes, kind="stable")
    cut = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]])
    mx = np.add.reduceat((X * w[:, None])[order], cut, axis=0) / sw[:, None]
    my = np.bincount(codes, weights=w * y) / sw
    return X - mx[codes], y - my[codes], len(uniq)
