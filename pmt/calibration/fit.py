"""One calibration fit on a set of households: screen, select, choose strengths, fit the tree.

:func:`fit` is what :func:`pmt.calibration.calibrate` runs once on the whole
survey and :func:`pmt.calibration.cross_validate` once per training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._blas import single_threaded
from .._progress import ProgressCallback, report
from ..errors import SmallSampleError
from .data import SurveyData
from .options import Options
from .pooling import Fitter, Model
from .screening import Screen, screen
from .selection import select
from .strengths import choose_lambdas
from .tree import levels

__all__ = ["STEPS", "Fit", "fit"]


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
    progress: ProgressCallback | None = None,
) -> Fit:
    """Screening, selection, pooling strengths and the tree, on ``rows``.

    ``progress(done, STEPS, "fitting")`` is called after each of these steps
    (steps 2 to 5 of :data:`STEPS`; the caller reports the others).
    """
    with single_threaded():
        return _fit(data, rows, opts, keep_results=keep_results, with_se=with_se, progress=progress)


#: Steps of one calibration, as counted by its progress callback: the survey
#: prepared, screening, selection, pooling strengths, the models, the weight set.
STEPS = 6


def _fit(
    data: SurveyData,
    rows: np.ndarray,
    opts: Options,
    *,
    keep_results: bool,
    with_se: bool,
    progress: ProgressCallback | None = None,
) -> Fit:
    # screened on the households the estimator learns from (poverty_wls: the poorest)
    screened = screen(data, Fitter(data, opts, np.ones(data.X.shape[1], bool)).fit_rows(rows), opts)
    active = screened.active.copy()
    report(progress, 2, STEPS, "fitting")
    selection = None
    if opts.select == "stepwise":
        active, selection = select(data, rows, opts, active)
    report(progress, 3, STEPS, "fitting")
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
        if all(lv in given for lv in levels(data.spec.urban)):
            lambdas = given
        else:
            lambdas, path = choose_lambdas(fitter, rows)
    report(progress, 4, STEPS, "fitting")
    models = fitter.tree(rows, lambdas)
    report(progress, 5, STEPS, "fitting")
    return Fit(models, screened, active, selection, lambdas, path)
