"""``estimator="poverty_wls"``: poverty-weighted least squares.

After Brown, Ravallion & van de Walle (2018): weighted least squares
(:class:`~pmt.calibration.estimators.wls.WLS`) on the households whose
observed welfare ``log(consumption / poverty line)`` is in the poorest
``truncate`` share of people, chosen by pmt's desil rule
(:func:`pmt.assign_desil`: ties never split), as the quotas of :func:`pmt.evaluate`.
Its predictions are biased for the better-off by construction: only the
ranking at the bottom matters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .wls import WLS

if TYPE_CHECKING:
    from ..data import SurveyData
    from ..options import Options

__all__ = ["PovertyWLS"]


class PovertyWLS(WLS):
    """WLS on the poorest ``truncate`` share of people (``calibrate(truncate=...)``)."""

    name = "poverty_wls"

    def describe(self, options: Options) -> str:
        """One line for the calibration report: the share of people learnt from."""
        return (
            f"poverty-weighted least squares: the poorest {options.truncate:.0%} of people "
            "by observed welfare"
        )

    def learning_rows(self, data: SurveyData, rows: np.ndarray, options: Options) -> np.ndarray:
        """The poorest ``truncate`` share of people by observed welfare (the desil rule)."""
        from ...evaluation.shares import poorest as _poorest

        if options.truncate >= 1.0:
            return rows
        return rows[_poorest(data.welfare[rows], data.pw[rows], options.truncate)]
