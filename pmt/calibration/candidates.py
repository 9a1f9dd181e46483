"""Candidate terms: a spec widened with the usual non-linear forms, for a penalised fit to choose.

A PMT's continuous variables (the head's age, floor area per person,
household size) rarely act linearly on log consumption. Which form a survey
supports is a question for the data, out of sample: :func:`expand_terms`
adds the usual candidates — logs, squares, piecewise-linear knots at the
survey's quantiles, interactions with urban — as derived terms of the spec
(:mod:`pmt.terms`: computed by the one encoder, when calibrating and when
scoring), and the lasso or elastic net (``estimator="lasso"``) keeps the
ones that help. :func:`pmt.cross_validate` on the widened and the original
spec, with the same folds, tells whether the survey can carry them
(``docs/calibration.md``, section 8).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from ..spec import CANONICAL_COLUMNS, VariableSpec
from ..terms import Derived, fill

__all__ = ["expand_terms"]

_LOGS = ("log", "log1p", "log_per_capita")


def expand_terms(
    spec: VariableSpec,
    survey: pd.DataFrame | None = None,
    *,
    squares: bool = True,
    logs: bool = True,
    knots: int = 0,
    hh_size: bool = True,
    urban: bool = False,
) -> VariableSpec:
    """The spec with candidate derived terms added, for a penalised estimator to choose from.

    The *bases* are the spec's numeric model terms that take many values:
    its count and continuous variables in the model, its derived terms of op
    ``value``, ``log``, ``log1p``, ``per_capita`` and ``log_per_capita``, and
    household size (``hh_size=True``). For each base it adds:

    - ``squares``: the square, ``<base>_sq`` (op ``power``, 2);
    - ``knots`` (a number, needs ``survey``): a spline with that many knots at
      the survey's quantiles ``1/(k+1) ... k/(k+1)`` of the base (unweighted,
      distinct values only), ``<base>_knot_1 ...``;
    - ``urban`` (specs with an urban split): the product with ``urban``,
      ``<base>_x_urban``.

    ``logs`` adds ``log_<var>`` (``log1p_<var>`` when the variable's ``min``
    is 0) for each count or continuous variable in the model that the spec
    does not already log and whose ``min`` is set and not negative. With
    ``hh_size``, household size enters linearly (``hh_size_linear``) and as
    a log (``log_hh_size``) unless the spec has those already. A candidate
    whose name the spec uses, or that the spec has under another name (same
    op, args, power and knots), is skipped; nothing of the spec is removed.

    Parameters
    ----------
    spec : VariableSpec
    survey : DataFrame, optional
        The survey the knots are placed on (its columns as the spec names
        them). Only ``knots`` reads it.
    squares, logs, knots, hh_size, urban
        Which candidates to add (above).

    Returns
    -------
    VariableSpec
        Named ``<spec.name>+expanded``, same version and variables; the
        variables come first in its terms, so a weight set fitted with it
        still scores any table that the original spec scores.

    Raises
    ------
    ValueError
        ``knots`` above 0 without a ``survey``, or a negative ``knots``.
    """
    if knots < 0:
        raise ValueError(f"knots must be 0 or more; got {knots}")
    if knots and survey is None:
        raise ValueError(
            "expand_terms: knots are placed at the survey's quantiles. Fix: pass the survey, "
            "expand_terms(spec, survey, knots=...), or knots=0."
        )
    new: list[Derived] = []
    taken = {v.name for v in spec.variables} | set(spec.terms) | set(CANONICAL_COLUMNS)
    same = {(d.op, d.args, d.power, d.knots) for d in spec.derived}

    def add(d: Derived) -> bool:
        """Add ``d`` unless its name is taken or the spec has the same term under another."""
        if set(d.outputs) & taken or (d.op, d.args, d.power, d.knots) in same:
            return False
        new.append(d)
        taken.update(d.outputs)
        return True

    numeric = [v for v in spec.variables if v.kind in ("count", "continuous") and v.in_model]
    logged = {d.args[0] for d in spec.derived if d.op in _LOGS}
    if logs:
        for v in numeric:
            if v.name in logged or v.min is None or v.min < 0:
                continue
            op: Literal["log", "log1p"] = "log" if v.min > 0 else "log1p"
            add(Derived(name=f"{op}_{v.name}", op=op, args=(v.name,), label=f"{op} of {v.name}"))
    bases = [v.name for v in numeric]
    bases += [d.name for d in spec.derived if d.op in ("value", *_LOGS, "per_capita")]
    if hh_size:
        linear = Derived(name="hh_size_linear", op="value", args=("hh_size",), label="hh_size")
        has_linear = any(d.op == "value" and d.args == ("hh_size",) for d in spec.derived)
        if not has_linear and add(linear):
            bases.append(linear.name)
        if "hh_size" not in logged:
            add(Derived(name="log_hh_size", op="log", args=("hh_size",), label="log of hh_size"))
    values = _values(spec, new, survey) if knots else {}
    for base in bases:
        if squares:
            add(Derived(name=f"{base}_sq", op="power", args=(base,), power=2, label=f"{base}²"))
        if knots:
            qs = _quantile_knots(values[base], knots)
            if qs:
                add(Derived(name=f"{base}_knot", op="spline", args=(base,), knots=qs))
        if urban and spec.urban:
            add(Derived(name=f"{base}_x_urban", op="product", args=(base, "urban")))
    data = spec.model_dump()
    data["name"] = f"{spec.name}+expanded"
    data["derived"] = [*data["derived"], *(d.model_dump() for d in new)]
    return VariableSpec.model_validate(data)


def _values(spec: VariableSpec, new: list[Derived], survey: Any) -> dict[str, np.ndarray]:
    """Each numeric variable and derived term on the survey's rows (NaN where undefined)."""
    columns: dict[str, np.ndarray] = {}
    numeric = [v.name for v in spec.variables if v.kind != "categorical"]
    for name in [*numeric, "hh_size", "urban"]:
        if name in survey.columns:
            columns[name] = pd.to_numeric(survey[name], errors="coerce").to_numpy(np.float64)
    derived = (*spec.derived, *new)
    out = {t: np.empty(len(survey)) for d in derived for t in d.outputs}
    missing = {a for d in derived for a in d.args} - set(columns) - set(out)
    if missing:
        raise ValueError(
            f"expand_terms: the survey has no column {sorted(missing)[0]!r}, which the spec's "
            "terms use. Fix: pass the survey with the spec's columns (as for calibrate)."
        )
    fill(derived, columns, out)
    return columns


def _quantile_knots(x: np.ndarray, k: int) -> tuple[float, ...]:
    """Up to ``k`` distinct knots at the quantiles ``j/(k+1)``, strictly inside ``x``'s range."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return ()
    lo, hi = float(x.min()), float(x.max())
    q = np.quantile(x, np.arange(1, k + 1) / (k + 1))
    return tuple(float(v) for v in np.unique(np.round(q, 6)) if lo < v < hi)
