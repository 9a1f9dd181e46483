"""Scoring the survey with fitted models, through pmt's one scorer.

Every prediction for the survey's households — the models' in-sample fit, the
reference cutoffs, cross-validation — comes from pmt's one scorer
(:func:`pmt.rank.score_encoded`, what :func:`pmt.score` runs) on the encoder's
arrays. Only fitting uses the design matrix.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from ..encode import Encoded, encode
from ..rank import score_encoded
from ..weights import WeightSet
from .data import SurveyData, draft
from .pooling import Model
from .tree import KEY_FORMAT, key_order

__all__ = ["by_level", "coefficients", "encode_for", "log_consumption", "r2", "rmse", "scoring_set"]


def coefficients(
    data: SurveyData, models: Mapping[str, Model]
) -> tuple[tuple[str, ...], np.ndarray]:
    """Model keys (national, provinces, districts) and their coefficients over the spec's terms."""
    keys = tuple(sorted(models, key=key_order))
    coef = np.zeros((len(keys), len(data.spec.terms)))
    for i, k in enumerate(keys):
        coef[i, data.term_pos] = models[k].beta
    return keys, coef


def scoring_set(data: SurveyData, models: Mapping[str, Model]) -> WeightSet:
    """The fitted models as a weight set, for scoring the survey (no cutoffs)."""
    keys, coef = coefficients(data, models)
    return WeightSet(
        draft(data.spec, data.lines, data.scheme, data.covers).manifest,
        keys,
        coef,
        dict(data.lines),
    )


def encode_for(data: SurveyData, ws: WeightSet) -> Encoded:
    """The survey encoded for ``ws`` (its cells resolved to ws's models), survey order."""
    return encode(data.frame, ws, id_col=data.id_col)


def log_consumption(enc: Encoded, ws: WeightSet) -> np.ndarray:
    """Predicted log per-capita consumption: :func:`pmt.rank.score_encoded`, no poverty line."""
    return score_encoded(dataclasses.replace(enc, cell_shift=np.zeros_like(enc.cell_shift)), ws)


def by_level(data: SurveyData, ws: WeightSet, level: str) -> np.ndarray:
    """Predicted log consumption of each household by the model of its node at ``level``.

    NaN where that node has none. The encoder's arrays with every cell pointed
    at the node's model, scored by :func:`pmt.rank.score_encoded`.
    """
    enc = data.enc
    index = ws.model_index()
    cell_code = np.zeros(enc.cell_district.shape[0], dtype=np.int64)
    cell_code[enc.cell] = data.level_codes(level)
    fmt = KEY_FORMAT[level]
    cell_model = np.array([index.get(fmt(c), -1) for c in cell_code.tolist()], dtype=np.int32)
    has = cell_model >= 0
    out = log_consumption(
        dataclasses.replace(enc, cell_model=np.where(has, cell_model, 0).astype(np.int32)), ws
    )
    out[~has[enc.cell]] = np.nan
    return out


def r2(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """Weighted R² of ``yhat`` for ``y``, from exactly rounded sums (:func:`math.fsum`).

    The value depends on the numbers only, not on their order or memory layout.
    """
    total = math.fsum(w.tolist())
    mean = math.fsum((w * y).tolist()) / total
    sst = math.fsum((w * (y - mean) ** 2).tolist())
    return 1.0 - math.fsum((w * (y - yhat) ** 2).tolist()) / sst if sst > 0 else math.nan


def rmse(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """Weighted root mean squared error (exactly rounded sums, as :func:`r2`)."""
    return math.sqrt(math.fsum((w * (y - yhat) ** 2).tolist()) / math.fsum(w.tolist()))
