"""Recalibrate PMT weights from a household survey (SUSENAS-like).

:func:`calibrate` turns a survey — the household characteristics of a
variable spec, per-capita consumption, a survey weight, PSU and strata,
district code and urban/rural — into a :class:`~pmt.WeightSet` in exactly the
format :func:`pmt.rank` loads; :func:`cross_validate` compares estimators out
of sample in targeting terms. The survey goes through the same encoder
(:func:`pmt.encode.encode`) as a registry does, and every prediction for it is
made by pmt's one scorer (:func:`pmt.score`). ``docs/calibration.md`` is the
guide.

The modules, in the order the data flows through them:

``data``, ``coverage``
    survey checks, the regions covered, poverty lines, the design matrix
    (:func:`.data.prepare`).
``screening``
    unobserved codes, constant and collinear terms.
``selection`` (and ``stepwise``, the algorithm)
    ``select="stepwise"``: which variables every model uses.
``estimators``
    one module per estimator behind one protocol
    (:class:`~pmt.calibration.estimators.Estimator`), registered in
    :data:`ESTIMATORS`; ``qreg``, ``ridge`` and ``penalised`` are their
    numerical solvers.
``tree``, ``pooling``, ``strengths``
    the regional tree of models, fitted under ``pooling=`` with strengths
    chosen by cross-validation.
``fit``
    one whole fit on a set of households (screen, select, strengths, tree).
``scoring``, ``assembly``
    the fitted models as a weight set, scored by pmt's scorer; the tables.
``candidates``
    :func:`expand_terms`: a spec widened with candidate non-linear terms.
``build``, ``cv``, ``compare``, ``results``
    :func:`calibrate`, :func:`cross_validate`, the ranking of estimators by a
    metric, and their result objects.

The command line ``pmt calibrate`` lives in :mod:`pmt.cli.calibrate`.
"""

from __future__ import annotations

from ..errors import CalibrationError, CalibrationWarning, CollinearityError, SmallSampleError
from .build import calibrate
from .candidates import expand_terms
from .cv import cross_validate
from .estimators import ESTIMATORS, Estimator, Fitted, PooledNode
from .options import POOLING, Options
from .results import Calibration, CrossValidation
from .strengths import INTERCEPT_GRID, LAMBDA_GRID
from .tree import LEVEL_ORDER

__all__ = [
    "ESTIMATORS",
    "INTERCEPT_GRID",
    "LAMBDA_GRID",
    "LEVEL_ORDER",
    "POOLING",
    "Calibration",
    "CalibrationError",
    "CalibrationWarning",
    "CollinearityError",
    "CrossValidation",
    "Estimator",
    "Fitted",
    "Options",
    "PooledNode",
    "SmallSampleError",
    "calibrate",
    "cross_validate",
    "expand_terms",
]
