"""Calibration estimators: one module each, behind one protocol, registered in one table.

:data:`ESTIMATORS` maps the names ``calibrate(estimator=...)`` takes to an
:class:`Estimator` (:mod:`.base` documents the protocol). Adding an estimator
is one module here and one line in the table (``docs/contributing.md``).
"""

from __future__ import annotations

from .base import Estimator, Fitted, PooledNode
from .elastic_net import ElasticNet
from .lasso import Lasso
from .poverty_wls import PovertyWLS
from .quantile import Quantile
from .wls import WLS

__all__ = [
    "ESTIMATORS",
    "WLS",
    "ElasticNet",
    "Estimator",
    "Fitted",
    "Lasso",
    "PooledNode",
    "PovertyWLS",
    "Quantile",
]

#: Name -> estimator: every value ``calibrate(estimator=...)`` accepts.
ESTIMATORS: dict[str, Estimator] = {
    "wls": WLS(),
    "quantile": Quantile(),
    "poverty_wls": PovertyWLS(),
    "lasso": Lasso(),
    "elastic_net": ElasticNet(),
}
