"""Checks of the evaluation functions' arguments, each raising the one error of its rule.

Every function takes the argument and its name (for the message) and returns
it canonical: float64 arrays of one value per household, boolean masks,
quota shares, lines, units. Bad values raise :class:`~pmt.errors.EvaluationError`
naming the argument; wrong types raise :class:`TypeError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import ColumnTypeError, EvaluationError

#: What the metrics count: sums of person weights, or of household weights.
Unit = Literal["people", "households"]

__all__ = [
    "Unit",
    "as_array",
    "as_line",
    "as_mask",
    "as_share",
    "as_units",
    "as_weight",
    "thresholds",
]


def as_array(x: Any, name: str, n: int | None = None, *, finite: bool = True) -> np.ndarray:
    """A 1-D float64 array of length ``n`` (finite unless told otherwise)."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(
            f"{name} must be an array of numbers, shape (n_households,); got "
            f"{type(x).__name__}. Fix: pass a numpy array or a pandas Series."
        )
    if isinstance(x, pd.Series):
        x = x.to_numpy(dtype="float64", na_value=np.nan)
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        cells = np.asarray(x, dtype=object).reshape(-1)
        bad = np.flatnonzero(pd.isna(pd.to_numeric(pd.Series(cells), errors="coerce")))
        bad = bad[~pd.isna(pd.Series(cells[bad])).to_numpy()]
        shown = ", ".join(f"{int(i)} ({cells[i]!r:.24})" for i in bad[:5])
        raise ColumnTypeError(
            f"{name} must hold numbers; {bad.size:,} value(s) are not, e.g. at positions "
            f"{shown} ({exc}). Fix: convert it with pd.to_numeric first (and correct "
            "those values).",
            column=name,
            rows=bad[:5],
        ) from exc
    if a.ndim != 1:
        raise EvaluationError(
            f"{name} must be one-dimensional, shape (n_households,); got "
            f"shape {a.shape}. Fix: pass one value per household.",
            argument=name,
        )
    if n is not None and a.shape[0] != n:
        raise EvaluationError(
            f"{name} has {a.shape[0]:,} values but true_welfare has {n:,} "
            "(rule: one value per household, same order). Fix: align the "
            "arrays.",
            argument=name,
        )
    if finite and not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a))
        raise EvaluationError(
            f"{name} must be finite; {bad.size:,} values are NaN or inf, e.g. "
            f"at positions {bad[:5].tolist()}. Fix: drop or fill those "
            "households first.",
            argument=name,
        )
    return a


def as_weight(x: Any, name: str, n: int, *, positive: bool = False) -> np.ndarray:
    """Finite weights with a positive total (1 per household if ``x`` is None).

    Weights must be ``>= 0``, or ``> 0`` with ``positive`` (a household of
    weight 0 would drop out of every sum silently).
    """
    if x is None:
        return np.ones(n)
    w = as_array(x, name, n)
    bad = np.flatnonzero(w <= 0 if positive else w < 0)
    if bad.size:
        rule = "> 0" if positive else ">= 0"
        raise EvaluationError(
            f"{name} must be {rule} (rule: every household evaluated counts); "
            f"{bad.size:,} of {n:,} break it, at positions {bad[:5].tolist()} "
            f"(values {w[bad[:5]].tolist()}). Fix: correct those weights, or drop "
            "those households before evaluating.",
            argument=name,
        )
    if not w.sum() > 0:
        raise EvaluationError(
            f"{name} sums to 0, so shares are undefined. Fix: give the "
            "households positive weights.",
            argument=name,
        )
    return w


def as_mask(x: Any, name: str, n: int) -> np.ndarray:
    """A boolean array of length ``n`` (bool, or numbers that are all 0 or 1)."""
    if isinstance(x, pd.Series):
        x = x.to_numpy()
    a = np.asarray(x)
    if a.dtype != bool:
        f = as_array(a, name, n)
        if not np.isin(f, (0.0, 1.0)).all():
            bad = np.flatnonzero(~np.isin(f, (0.0, 1.0)))
            raise EvaluationError(
                f"{name} must be True/False (or 0/1) per household; got "
                f"{f[bad[:5]].tolist()} at positions {bad[:5].tolist()}. Fix: pass a "
                "boolean mask (e.g. welfare <= line).",
                argument=name,
            )
        a = f == 1.0
    if a.shape != (n,):
        raise EvaluationError(
            f"{name} has shape {a.shape}; it must be ({n},), one value per household. "
            "Fix: pass one mark per household, in the order of true_welfare.",
            argument=name,
        )
    return a


def as_share(h: Any, name: str) -> float:
    """A quota: a population share strictly between 0 and 1."""
    if isinstance(h, bool) or not isinstance(h, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{name}: each quota must be a number; got {h!r} "
            f"({type(h).__name__}). Fix: e.g. {name}=(0.2, 0.4)."
        )
    h = float(h)
    if not 0.0 < h < 1.0:
        raise EvaluationError(
            f"{name}: a quota is a population share with 0 < H < 1; got "
            f"{h!r}. Fix: pass shares, e.g. {name}=(0.2, 0.4) for the "
            "poorest 20 % and 40 %.",
            argument=name,
        )
    return h


def as_line(z: Any, name: str) -> float:
    """A line: a finite welfare value."""
    if (
        isinstance(z, bool)
        or not isinstance(z, (int, float, np.integer, np.floating))
        or not math.isfinite(float(z))
    ):
        raise EvaluationError(
            f"{name}: a line is a finite welfare value (log ratio to the "
            f"poverty line; 0 = at the line); got {z!r}. Fix: pass a finite number, "
            "e.g. 0.0.",
            argument=name,
        )
    return float(z)


def thresholds(
    x: Any, name: str, check: Callable[[Any, str], float]
) -> list[tuple[float, float | None]]:
    """Thresholds as ``(true, predicted or None)``, each checked by ``check``.

    ``x`` is a scalar, or an iterable whose items are scalars or ``(true,
    predicted)`` pairs: ``(0.2, 0.4)`` is two quotas, ``[(0.2, 0.4)]`` one
    quota of 0.2 targeted at the poorest 0.4.
    """
    if x is None:
        return []
    items = [x] if isinstance(x, (int, float, np.integer, np.floating)) else list(x)
    out: list[tuple[float, float | None]] = []
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise EvaluationError(
                    f"{name}: a pair must be (true threshold, predicted threshold); got "
                    f"{item!r}. Fix: e.g. {name}=[(0.2, 0.4)].",
                    argument=name,
                )
            out.append((check(item[0], name), check(item[1], name)))
        else:
            out.append((check(item, name), None))
    return out


def as_units(unit: Any, have_weight: bool) -> tuple[str, ...]:
    """The units the metrics sum over: ``people``, ``households`` or both."""
    if unit is None:
        return ("people",) if have_weight else ("households",)
    units = (unit,) if isinstance(unit, str) else tuple(unit)
    bad = [u for u in units if u not in ("people", "households")]
    if bad or not units or len(set(units)) != len(units):
        raise EvaluationError(
            f"unit must be 'people', 'households' or both; got {unit!r}. Fix: e.g. "
            "unit='people' or unit=('people', 'households').",
            argument="unit",
        )
    if "people" in units and not have_weight:
        raise EvaluationError(
            "unit 'people' needs weight= (person weights, e.g. hh_size); "
            "without it every household weighs 1. Fix: pass weight=hh_size "
            "or unit='households'.",
            argument="unit",
        )
    return units
