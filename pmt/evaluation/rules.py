"""The rules that make each table row's ``P`` (poor) and ``T`` (targeted): quota, line, given.

:func:`rules_of` turns :func:`pmt.evaluate`'s ``quotas``, ``lines`` and
``poor`` into the rows of its table, each with its two marks, by pmt's one
desil rule (:func:`~pmt.evaluation.shares.poorest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EvaluationError
from ._checks import as_line, as_share, thresholds
from .shares import poorest

__all__ = ["Rule", "rules_of"]


@dataclass(frozen=True)
class Rule:
    """One row of the table: how P and T are defined."""

    rule: str
    threshold: float
    target_threshold: float
    label: str
    poor_definition: str
    targeted_definition: str


def rules_of(
    true: np.ndarray,
    pred: np.ndarray,
    pw: np.ndarray,
    *,
    quotas: Any,
    lines: Any,
    poor: np.ndarray | None,
    given_t: np.ndarray | None,
    who: str,
) -> list[tuple[Rule, np.ndarray, np.ndarray]]:
    """The table's rows: each rule with its ``P`` and ``T`` (quotas, then lines, then given)."""
    q = thresholds(quotas, "quotas", as_share)
    ln = thresholds(lines, "lines", as_line)
    if quotas is None and lines is None and poor is None:
        q = [(0.2, None), (0.4, None)]
    if not q and not ln and poor is None:
        raise EvaluationError(
            "nothing to evaluate: quotas, lines and poor are all empty. Fix: "
            "e.g. quotas=(0.2, 0.4) or lines=0.0.",
            argument="quotas",
        )
    t_given = "given targeted mask"
    rules: list[tuple[Rule, np.ndarray, np.ndarray]] = []
    for h, hh in q:
        h_hat = h if hh is None else hh
        label = f"quota {h:g}" if hh is None else f"quota {h:g} target {h_hat:g}"
        P = poorest(true, pw, h)
        T = given_t if given_t is not None else poorest(pred, pw, h_hat)
        rules.append(
            (
                Rule(
                    "quota",
                    h,
                    h_hat,
                    label,
                    f"poorest {h:.0%} of {who} by true welfare (strictly poorer "
                    f"weight < {h:g} x total)",
                    t_given
                    if given_t is not None
                    else f"poorest {h_hat:.0%} of {who} by predicted welfare",
                ),
                P,
                T,
            )
        )
    for z, zz in ln:
        z_hat = z if zz is None else zz
        label = f"line {z:g}" if zz is None else f"line {z:g} predicted {z_hat:g}"
        rules.append(
            (
                Rule(
                    "line",
                    z,
                    z_hat,
                    label,
                    f"true welfare <= {z:g}",
                    t_given if given_t is not None else f"predicted welfare <= {z_hat:g}",
                ),
                true <= z,
                given_t if given_t is not None else pred <= z_hat,
            )
        )
    if poor is not None:
        P = poor
        h = float((pw * P).sum() / pw.sum())
        if given_t is None and not 0.0 < h < 1.0:
            raise EvaluationError(
                f"poor marks {h:.0%} of the weight as poor; targeting the "
                "same share by prediction needs 0 < share < 1. Fix: pass "
                "targeted= too.",
                argument="poor",
            )
        T = given_t if given_t is not None else poorest(pred, pw, h)
        rules.append(
            (
                Rule(
                    "given",
                    h,
                    h,
                    "given",
                    "given poor mask",
                    t_given
                    if given_t is not None
                    else f"poorest {h:.1%} of {who} by predicted welfare (share of P)",
                ),
                P,
                T,
            )
        )
    return rules
