"""One calibration fit on a set of households: screen, select, choose strengths, fit the tree.

:func:`fit` is what :func:`pmt.calibration.calibrate` runs once on the whole
survey and :func:`pmt.calibration.cross_validate` once per training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._blas import single_threaded
from ..errors import SmallSampleError
from .data import SurveyData
from .options import Options
from .pooling import Fitter, Model
from .screening import Screen, screen
from .selection import select
from .strengths import choose_lambdas
from .tree import LEVEL_ORDER

__all__ = ["Fit", "fit"]


@dataclass(frozen=True, eq=False)
class Fit:
    """Every model of one fit, and how they were chosen."""

    models: dict[str, Model]
    screen: Screen
    active: np.ndarray
    selection: pd.DataFrame | None
    lambdas: dict[str, tuple[float, float]] | None
    lambda_path: pd.DataFrame | None


def fit(
    data: SurveyData,
    rows: np.ndarray,
    opts: Options,
    *,
    keep_results: bool = True,
    with_se: bool = True,
) -> Fit:
    """Screening, selection, pooling strengths and the tree, on ``rows``."""
    with single_threaded():
        return _fit(data, rows, opts, keep_results=keep_results, with_se=with_se)


def _fit(
    data: SurveyData, rows: np.ndarray, opts: Options, *, keep_results: bool, with_se: bool
) -> Fit:
    # screened on the households the estimator learns from (poverty_wls: the poorest)
    screened = screen(data, Fitter(data, opts, np.ones(data.X.shape[1], bool)).fit_rows(rows), opts)
    active = screened.active.copy()
    selection = None
    if opts.select == "stepwise":
        active, selection = select(data, rows, opts, active)
    fitter = Fitter(data, opts, active, keep_results=keep_results, with_se=with_se)
    if fitter.n_coef >= rows.size:
        raise SmallSampleError(
            f"the survey has {rows.size} households for {fitter.n_coef} "
            "coefficients of the national model. Fix: a larger survey or "
            "fewer variables.",
            ["national"],
        )
    lambdas = path = None
    if opts.pooling == "shrink":
        given = {lv: (a, b) for lv, a, b in (opts.lambdas or ())}
        if all(lv in given for lv in LEVEL_ORDER):
            lambdas = given
        else:
            lambdas, path = choose_lambdas(fitter, rows)
    models = fitter.tree(rows, lambdas)
    return Fit(models, screened, active, selection, lambdas, path)
