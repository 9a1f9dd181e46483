"""From a fit to a weight set and its diagnostic tables.

:func:`assemble` writes the fitted models as a :class:`~pmt.WeightSet` and
computes its reference cutoffs by scoring the survey with it
(:mod:`pmt.calibration.scoring`); :func:`models_table`,
:func:`coefficient_table` and :func:`dropped_table` are the tables of
:class:`~pmt.calibration.Calibration`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import CalibrationError
from ..operations.uncertainty import residual_variances
from ..rank import reference_cutoffs, score_encoded
from ..weights import Manifest, WeightFiles, WeightSet
from ._arrays import groups
from .data import SurveyData
from .fit import Fit
from .options import Options
from .scoring import by_level, coefficients, encode_for, r2, rmse, scoring_set
from .tree import LEVEL_ORDER, key_order, node_code

__all__ = ["assemble", "coefficient_table", "dropped_table", "models_table"]


def assemble(
    data: SurveyData, fit: Fit, opts: Options, manifest: Manifest, with_cutoffs: bool = True
) -> WeightSet:
    """The fit's models as a weight set under ``manifest``.

    With reference cutoffs (national and per province, ``opts.n_classes``
    classes) computed on the survey population.
    """
    keys, coef = coefficients(data, fit.models)
    # the manifest as save_weights writes it, so that the hash in memory is the hash on disk
    files = WeightFiles(
        poverty_lines=WeightFiles().poverty_lines if data.lines else None,
        cutoffs=WeightFiles().cutoffs if with_cutoffs else None,
    )
    manifest = manifest.model_copy(
        update={"files": files, "cutoff_classes": opts.n_classes if with_cutoffs else None}
    )
    ws = WeightSet(manifest, keys, coef, dict(data.lines))
    enc = encode_for(data, ws)
    welfare = score_encoded(enc, ws)  # what pmt.score gives
    # each model's residual variance on the households it scores (pooled where thin)
    variances, _ = residual_variances(
        data.welfare - welfare,
        data.pw,
        enc.cell_model[enc.cell],
        ws.model_keys,
        np.count_nonzero(coef, axis=1),
    )
    flat = sorted(k for k, v in variances.items() if not (math.isfinite(v) and v > 0))
    if flat:
        raise CalibrationError(
            f"models {flat[:10]}{' ...' if len(flat) > 10 else ''}: the residual variance is "
            "zero (rule: a model must leave some variation of log consumption unexplained; "
            "these predict every survey household's consumption exactly, so the probability "
            "of being poor and every fit statistic are undefined). Fix: pass the survey's "
            "measured per-capita consumption, not a value computed from the spec's variables."
        )
    manifest = manifest.model_copy(update={"residual_variance": variances})
    ws = WeightSet(manifest, keys, coef, dict(data.lines))
    if not with_cutoffs:
        return ws
    province = data.district // 100
    cut = {"national": reference_cutoffs(welfare, data.pw, n=opts.n_classes)[None]}
    for p, c in sorted(
        reference_cutoffs(welfare, data.pw, groups=province, n=opts.n_classes).items()
    ):
        cut[f"{int(p):02d}"] = c
    return WeightSet(manifest, keys, coef, dict(data.lines), cut)


def models_table(data: SurveyData, fit: Fit, rows: np.ndarray) -> pd.DataFrame:
    """Diagnostics of every model: sample, in-sample fit, pooling.

    A model's fit is over its node's households, each scored by that model
    through the one scorer (:func:`pmt.calibration.scoring.by_level`).
    """
    recs = []
    levels = ("national", *LEVEL_ORDER)
    nodes = {lvl: groups(data.level_codes(lvl)[rows]) for lvl in levels}
    ws = scoring_set(data, fit.models)
    scored = {
        lvl: by_level(data, ws, lvl)
        for lvl in levels
        if any(m.level == lvl for m in fit.models.values())
    }
    for key in sorted(fit.models, key=key_order):
        m = fit.models[key]
        lvl = m.level
        sel = rows[nodes[lvl][node_code(key)]]
        yhat = scored[lvl][sel]
        w = data.pw[sel]
        y = data.y[sel]
        recs.append(
            {
                "model_key": key,
                "level": lvl,
                "fit": m.fit,
                "parent": m.parent,
                "households": int(sel.size),
                "psus": int(np.unique(data.psu[sel]).size),
                "households_fitted": m.households,
                "people": float(w.sum()),
                "r2": r2(y, yhat, w),
                "rmse": rmse(y, yhat, w),
                "lambda": m.lam,
                "lambda_intercept": m.lam0,
                "unobserved_terms": m.unobserved,
                "dropped_terms": m.dropped,
            }
        )
    return pd.DataFrame.from_records(recs).set_index("model_key")


def coefficient_table(data: SurveyData, fit: Fit) -> pd.DataFrame:
    """Long table model x design column: ``model_key``, ``term``, ``coef``, ``se``, ``active``."""
    keys = sorted(fit.models, key=key_order)
    p = len(data.columns)
    nan = np.full(p, np.nan)
    return pd.DataFrame(
        {
            "model_key": np.repeat(np.array(keys, dtype=object), p),
            "term": np.tile(np.array(data.columns, dtype=object), len(keys)),
            "coef": np.concatenate([fit.models[k].beta for k in keys]),
            "se": np.concatenate(
                [nan if fit.models[k].se is None else fit.models[k].se for k in keys]
            ),
            "active": np.tile(fit.active, len(keys)),
        }
    )


def dropped_table(fit: Fit) -> pd.DataFrame:
    """Terms left out of every model (``term``, ``reason``)."""
    recs = [(t, "unobserved: never in the households fitted") for t in fit.screen.unobserved]
    recs += list(fit.screen.dropped)
    if fit.selection is not None:
        chosen = set(fit.selection.attrs["selected"])
        for name in fit.selection.attrs["candidates"]:
            if name not in chosen:
                recs.append((name, "not selected: stepwise"))
    return pd.DataFrame(recs, columns=["term", "reason"])
