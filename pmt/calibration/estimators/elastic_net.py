"""``estimator="elastic_net"``: the elastic net on person-weighted least squares.

``min sum w (y - a - X b)^2 / (2 sum w) + alpha sum_j s_j (l1 |b_j| + (1 - l1)
s_j b_j^2 / 2)`` with ``l1 = l1_ratio`` (Zou & Hastie 2005), the objective of
statsmodels' ``WLS.fit_regularized(L1_wt=l1_ratio)`` on standardised columns;
everything else as the lasso (:mod:`pmt.calibration.estimators.lasso`):
``alpha`` chosen by cross-validation over PSUs unless given.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import ArgumentError
from .lasso import Lasso

if TYPE_CHECKING:
    from ..options import Options

__all__ = ["ElasticNet"]


class ElasticNet(Lasso):
    """The elastic net (``estimator_options``: ``l1_ratio``, ``alpha``, ``penalty_folds``)."""

    name = "elastic_net"
    options: ClassVar[dict[str, Any]] = {"l1_ratio": 0.5, "alpha": None, "penalty_folds": 5}

    def l1_ratio(self, options: Options) -> float:
        """The L1 share of the penalty, ``l1_ratio``."""
        return float(options.estimator_option("l1_ratio"))

    def check(self, options: Options) -> None:
        """The lasso's checks, and ``0 < l1_ratio <= 1``."""
        ratio = options.estimator_option("l1_ratio")
        if not (isinstance(ratio, (int, float)) and math.isfinite(ratio) and 0 < ratio <= 1):
            raise ArgumentError(
                f"l1_ratio={ratio!r}: the L1 share of the penalty must lie in (0, 1] (1 is "
                "the lasso; for a pure ridge use pooling's own ridge). Fix: pass "
                "estimator_options={'l1_ratio': 0.5}.",
                argument="estimator_options",
            )
        super().check(options)

    def _what(self, options: Options) -> str:
        return f"elastic net (l1_ratio={self.l1_ratio(options):g})"
