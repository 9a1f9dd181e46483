"""The targeting metrics: one small function each, registered in one table, :data:`METRICS`.

A metric is a function of one :class:`Confusion` — the households of one row
of :attr:`Evaluation.table <pmt.evaluation.Evaluation.table>`: who is poor
(``P``), who is targeted (``T``), their weights, and the weighted sums every
metric shares — returning a float. :func:`measure` computes every metric of
the table, in its order, as the columns of that row. Formulas and the
literature are in ``docs/evaluation.md``.

Adding a metric is one function and one line of :data:`METRICS`
(``docs/contributing.md``)::

    def poor_missed_people(c: Confusion) -> float:
        return float(c.poor_excluded)

    METRICS["poor_missed_people"] = poor_missed_people
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import EvaluationWarning
from .shares import midrank

__all__ = [
    "COUNTS",
    "METRICS",
    "NOT_IN_SUMMARY",
    "Confusion",
    "Metric",
    "measure",
    "summary_columns",
    "warn_undefined",
]


def ratio(a: float, b: float) -> float:
    """``a / b`` as a float, NaN unless ``b > 0``."""
    return float(a / b) if b > 0 else math.nan


def pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """Weighted Pearson correlation (NaN without weight or without variance)."""
    total = w.sum()
    if not total > 0:
        return math.nan
    da = a - (w * a).sum() / total
    db = b - (w * b).sum() / total
    va, vb = (w * da * da).sum(), (w * db * db).sum()
    if not (va > 0 and vb > 0):
        return math.nan
    return float((w * da * db).sum() / math.sqrt(va * vb))


def weighted_spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Spearman: weighted Pearson of weighted mid-ranks (= scipy's for w = 1)."""
    return pearson(midrank(x, w), midrank(y, w), w)


def weighted_auc(score: np.ndarray, poor: np.ndarray, w: np.ndarray) -> float:
    """Pr(score of a poor < score of a non-poor), weighted, ties count 1/2 (Mann–Whitney).

    Equal to one minus the poor's mean mid-rank among the non-poor: for each
    poor household the non-poor weight strictly below its score plus half the
    tied non-poor weight, by :func:`~pmt.evaluation.shares.midrank` with the
    non-poor's weights (the desil rule's shares and ties).
    """
    wp, wn = w * poor, w * ~poor
    tot_p = wp.sum()
    if not (tot_p > 0 and wn.sum() > 0):
        return math.nan
    return float(1.0 - (wp * midrank(score, wn)).sum() / tot_p)


def levels(welfare: np.ndarray, line: float) -> np.ndarray:
    """Welfare ratio to the line, ``exp(welfare − line)`` (inf where it overflows: not poor)."""
    with np.errstate(over="ignore"):
        return np.exp(welfare - line)


def fgt(y: np.ndarray, pw: np.ndarray) -> tuple[float, float, float]:
    """FGT0, FGT1 and Watts of welfare ratios ``y`` (line = 1), person-weighted."""
    total = pw.sum()
    poor = y < 1.0
    gap = np.where(poor, 1.0 - y, 0.0)
    with np.errstate(divide="ignore"):
        watts = np.where(poor, -np.log(np.where(poor, y, 1.0)), 0.0)
    return (
        ratio(float((pw * poor).sum()), float(total)),
        ratio(float((pw * gap).sum()), float(total)),
        ratio(float((pw * watts).sum()), float(total)),
    )


@dataclass(frozen=True, eq=False)
class Confusion:
    """The households of one table row, and the weighted sums every metric shares.

    Attributes
    ----------
    poor, targeted : (n_households,) bool
        ``P`` and ``T``.
    w : (n_households,) float64
        Unit weights: what the metrics sum (person or household weights).
    pw : (n_households,) float64
        Person weights (population shares for CGH and poverty).
    benefit_mass : (n_households,) float64
        What each household would receive if targeted, times its weight.
    true, predicted : (n_households,) float64
        True and predicted welfare.
    y : (n_households,) float64
        True welfare as a ratio to the impact line.
    tau : float
        Transfer per targeted person (NaN without a budget).
    rho : float, optional
        Spearman's correlation, precomputed (it depends on neither P nor T).
    """

    poor: np.ndarray
    targeted: np.ndarray
    w: np.ndarray
    pw: np.ndarray
    benefit_mass: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    y: np.ndarray
    tau: float
    rho: float | None = None

    @cached_property
    def total(self) -> float:
        """Σw."""
        return float(self.w.sum())

    @cached_property
    def poor_targeted(self) -> float:
        """Σw·P·T."""
        return (self.w * (self.poor & self.targeted)).sum()

    @cached_property
    def poor_excluded(self) -> float:
        """Σw·P·(1−T)."""
        return (self.w * (self.poor & ~self.targeted)).sum()

    @cached_property
    def nonpoor_targeted(self) -> float:
        """Σw·(1−P)·T."""
        return (self.w * (~self.poor & self.targeted)).sum()

    @cached_property
    def nonpoor_excluded(self) -> float:
        """Σw·(1−P)·(1−T)."""
        return (self.w * (~self.poor & ~self.targeted)).sum()

    @cached_property
    def poor_total(self) -> float:
        """Σw·P."""
        return self.poor_targeted + self.poor_excluded

    @cached_property
    def targeted_total(self) -> float:
        """Σw·T."""
        return self.poor_targeted + self.nonpoor_targeted

    @cached_property
    def nonpoor_total(self) -> float:
        """Σw·(1−P)."""
        return self.nonpoor_excluded + self.nonpoor_targeted

    @cached_property
    def poor_share(self) -> float:
        """H = Σw·P / Σw."""
        return ratio(self.poor_total, self.total)

    @cached_property
    def targeted_share(self) -> float:
        """Ĥ = Σw·T / Σw."""
        return ratio(self.targeted_total, self.total)

    @cached_property
    def benefit(self) -> np.ndarray:
        """Benefit received per household: ``benefit_mass`` where targeted, else 0."""
        return self.benefit_mass * self.targeted

    @cached_property
    def benefit_total(self) -> float:
        """Σb·T."""
        return float(self.benefit.sum())

    @cached_property
    def poverty_before(self) -> tuple[float, float, float]:
        """FGT0, FGT1, Watts of the true welfare."""
        return fgt(self.y, self.pw)

    @cached_property
    def poverty_after(self) -> tuple[float, float, float]:
        """FGT0, FGT1, Watts after ``tau`` is given to each targeted person (NaN without)."""
        if not math.isfinite(self.tau):
            return (math.nan,) * 3
        return fgt(self.y + self.tau * self.targeted, self.pw)


#: A metric: a function of one row's :class:`Confusion`, returning a float.
Metric = Callable[[Confusion], float]


# =========================================================================== the metrics


def exclusion_error(c: Confusion) -> float:
    """Σw·P·(1−T) / Σw·P: the share of the poor left out."""
    return ratio(c.poor_excluded, c.poor_total)


def coverage(c: Confusion) -> float:
    """1 − exclusion error: the share of the poor reached."""
    return 1.0 - exclusion_error(c)


def inclusion_error_beneficiaries(c: Confusion) -> float:
    """Σw·(1−P)·T / Σw·T: the share of beneficiaries who are not poor."""
    return ratio(c.nonpoor_targeted, c.targeted_total)


def inclusion_error_nonpoor(c: Confusion) -> float:
    """Σw·(1−P)·T / Σw·(1−P): the share of the non-poor included (Alatas et al. 2012)."""
    return ratio(c.nonpoor_targeted, c.nonpoor_total)


def leakage_benefit(c: Confusion) -> float:
    """Σb·T·(1−P) / Σb·T: the share of the benefit value going to the non-poor."""
    return ratio((c.benefit * ~c.poor).sum(), c.benefit_total)


def targeting_differential(c: Confusion) -> float:
    """Pr(T | P) − Pr(T | not P) (Ravallion)."""
    return ratio(c.poor_targeted, c.poor_total) - ratio(c.nonpoor_targeted, c.nonpoor_total)


def targeting_differential_closed_form(c: Confusion) -> float:
    """(1 − Ĥ − EE) / (1 − H): the targeting differential from the identity."""
    return ratio(1.0 - c.targeted_share - exclusion_error(c), 1.0 - c.poor_share)


def cgh(c: Confusion) -> float:
    """Share of benefits to the poor ÷ the poor's population share (Coady, Grosh, Hoddinott)."""
    return ratio(
        ratio(float((c.benefit * c.poor).sum()), c.benefit_total),
        ratio(float((c.pw * c.poor).sum()), float(c.pw.sum())),
    )


def total_accuracy(c: Confusion) -> float:
    """Σw·[P·T + (1−P)·(1−T)] / Σw: the share classified right."""
    return ratio(c.poor_targeted + c.nonpoor_excluded, c.total)


def spearman(c: Confusion) -> float:
    """Weighted Spearman correlation of predicted and true welfare (unit weights)."""
    return weighted_spearman(c.predicted, c.true, c.w) if c.rho is None else c.rho


def auc(c: Confusion) -> float:
    """Pr(predicted of a poor < predicted of a non-poor), unit-weighted, ties 1/2."""
    return weighted_auc(c.predicted, c.poor, c.w)


def fgt0_before(c: Confusion) -> float:
    """Headcount ratio of the true welfare (people)."""
    return c.poverty_before[0]


def fgt0_after(c: Confusion) -> float:
    """Headcount ratio after the transfer."""
    return c.poverty_after[0]


def fgt1_before(c: Confusion) -> float:
    """Poverty gap of the true welfare (people)."""
    return c.poverty_before[1]


def fgt1_after(c: Confusion) -> float:
    """Poverty gap after the transfer."""
    return c.poverty_after[1]


def watts_before(c: Confusion) -> float:
    """Watts index of the true welfare (people)."""
    return c.poverty_before[2]


def watts_after(c: Confusion) -> float:
    """Watts index after the transfer."""
    return c.poverty_after[2]


#: The metric columns of :attr:`Evaluation.table`, in order: name -> function of a
#: :class:`Confusion`. Adding a metric is one function and one line here.
METRICS: dict[str, Metric] = {
    "exclusion_error": exclusion_error,
    "coverage": coverage,
    "inclusion_error_beneficiaries": inclusion_error_beneficiaries,
    "inclusion_error_nonpoor": inclusion_error_nonpoor,
    "leakage_benefit": leakage_benefit,
    "targeting_differential": targeting_differential,
    "targeting_differential_closed_form": targeting_differential_closed_form,
    "cgh": cgh,
    "total_accuracy": total_accuracy,
    "spearman": spearman,
    "auc": auc,
    "fgt0_before": fgt0_before,
    "fgt0_after": fgt0_after,
    "fgt1_before": fgt1_before,
    "fgt1_after": fgt1_after,
    "watts_before": watts_before,
    "watts_after": watts_after,
}

#: The columns before the metrics: sizes, measured shares and the weighted confusion counts.
COUNTS = (
    "n_households",
    "population",
    "poor_share",
    "targeted_share",
    "poor_targeted",
    "poor_excluded",
    "nonpoor_targeted",
    "nonpoor_excluded",
)

#: Metrics in the table that :meth:`Evaluation.summary` leaves out (checks, not headlines).
NOT_IN_SUMMARY = frozenset({"targeting_differential_closed_form"})


def measure(c: Confusion) -> dict[str, float]:
    """One table row: :data:`COUNTS`, every metric of :data:`METRICS`, the transfer per person."""
    row: dict[str, float] = {
        "n_households": int(c.poor.shape[0]),
        "population": float(c.total),
        "poor_share": c.poor_share,
        "targeted_share": c.targeted_share,
        "poor_targeted": float(c.poor_targeted),
        "poor_excluded": float(c.poor_excluded),
        "nonpoor_targeted": float(c.nonpoor_targeted),
        "nonpoor_excluded": float(c.nonpoor_excluded),
    }
    for name, metric in METRICS.items():
        row[name] = metric(c)
    row["transfer_per_person"] = c.tau
    return row


def summary_columns() -> list[str]:
    """The columns :meth:`Evaluation.summary` shows: the two shares, then the metrics."""
    return [
        "poor_share",
        "targeted_share",
        *(name for name in METRICS if name not in NOT_IN_SUMMARY),
    ]


#: The metrics computed only with a budget (NaN without one, as documented: no warning).
AFTER_TRANSFER = frozenset({"fgt0_after", "fgt1_after", "watts_after"})


def _why_undefined(row: pd.Series, nan: list[str]) -> str:
    """Why a row's metrics are NaN, from its confusion counts."""
    why = []
    if row["poor_targeted"] + row["poor_excluded"] == 0:
        why.append("no household is poor")
    if row["nonpoor_targeted"] + row["nonpoor_excluded"] == 0:
        why.append("every household is poor")
    if row["poor_targeted"] + row["nonpoor_targeted"] == 0:
        why.append("nobody is targeted")
    elif "leakage_benefit" in nan:
        why.append("the targeted receive no benefit")
    if "spearman" in nan:
        why.append("predicted or true welfare does not vary, so neither do its ranks")
    return "; ".join(why) or "a ratio with a zero denominator"


def warn_undefined(table: pd.DataFrame, where: str) -> None:
    """Warn (:class:`~pmt.errors.EvaluationWarning`) of every metric of ``table`` that is NaN.

    A metric is NaN when it is undefined for the households of its row (no
    poor household, nobody targeted, constant welfare, …); the warning names
    each row, its NaN metrics and the reason. The ``*_after`` columns without
    a budget (``transfer_per_person`` NaN) are not computed, not undefined.
    """
    parts = []
    for label, row in table.iterrows():
        skip = AFTER_TRANSFER if math.isnan(row["transfer_per_person"]) else frozenset()
        nan = [m for m in METRICS if m in row.index and m not in skip and math.isnan(row[m])]
        if nan:
            parts.append(f"row {label!r}: {', '.join(nan)} ({_why_undefined(row, nan)})")
    if parts:
        warnings.warn(
            f"{where}: {len(parts)} row(s) have metrics that are undefined for their "
            "households and are NaN: "
            + "; ".join(parts[:5])
            + (f"; and {len(parts) - 5} more rows" if len(parts) > 5 else "")
            + ". These metrics divide by an empty group (or by a variance of 0); "
            "choose a rule under which some households are poor, some not poor and "
            "some targeted, or read these metrics as not applicable.",
            EvaluationWarning,
            stacklevel=3,
        )
