"""Targeting metrics of predicted against true welfare: :func:`evaluate` and :class:`Evaluation`.

Rules make the 0/1 marks ``P`` (poor) and ``T`` (targeted) of each table row
(quota, line or given); :func:`pmt.evaluation.metrics.measure` turns each row
into its metrics. :class:`Evaluation` keeps the arrays, so breakdowns (by
group, by true desil, by percentile) and curves are computed from the same
``P`` and ``T``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EvaluationError
from ..rank import RankResult, assign_desil
from ..results import html_repr
from ._checks import Unit, as_array, as_line, as_mask, as_units, as_weight
from .comparison import desil_confusion
from .metrics import (
    Confusion,
    levels,
    measure,
    ratio,
    summary_columns,
    warn_undefined,
    weighted_spearman,
)
from .rules import rules_of
from .shares import canonical_order, cdf_runs, midrank, quantiles_by_bin, thin

__all__ = ["Evaluation", "evaluate"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Targeting metrics of predicted against true welfare (``docs/evaluation.md``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per rule × threshold × unit, indexed by ``label``: the rule's
        definitions, the measured shares ``H`` (``poor_share``) and ``Ĥ``
        (``targeted_share``), the weighted confusion counts, and every metric
        of :data:`pmt.evaluation.metrics.METRICS`. ``attrs`` holds the conventions.
    true_welfare, predicted_welfare : (n_households,) float64
    weight : (n_households,) float64
        Person weight (quota boundaries, people unit, FGT, CGH population shares).
    household_weight : (n_households,) float64
        Weight of each household as a unit.
    poor, targeted : (n_rows, n_households) bool
        ``P`` and ``T`` of each table row.
    groups : (n_households,) array or None
        Labels for :meth:`by_group` (e.g. province codes).
    """

    table: pd.DataFrame
    true_welfare: np.ndarray
    predicted_welfare: np.ndarray
    weight: np.ndarray
    household_weight: np.ndarray
    poor: np.ndarray
    targeted: np.ndarray
    units: tuple[str, ...]
    benefit_mass: np.ndarray
    impact_line: float
    groups: np.ndarray | None
    conventions: dict[str, str]

    @property
    def n_households(self) -> int:
        """Households evaluated."""
        return int(self.true_welfare.shape[0])

    @property
    def n(self) -> int:
        """Households evaluated (deprecated: use :attr:`n_households`)."""
        warnings.warn(
            "Evaluation.n is deprecated and will be removed in pmt 0.3 (in pmt, n is "
            "a number of classes); use Evaluation.n_households",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.n_households

    @property
    def labels(self) -> list[str]:
        """Row labels of :attr:`table`."""
        return list(self.table.index)

    def _unit_weight(self, unit: str) -> np.ndarray:
        return self.weight if unit == "people" else self.household_weight

    @cached_property
    def _order(self) -> np.ndarray:
        """The canonical order every sum runs in (as in :func:`evaluate`), input positions."""
        return canonical_order(
            self.true_welfare,
            self.predicted_welfare,
            self.weight,
            self.household_weight,
            self.benefit_mass,
            self.poor,
            self.targeted,
        )

    def _rows_over(self, idx: np.ndarray) -> list[dict[str, float]]:
        """The table's rows over the households at ``idx`` (in canonical order)."""
        out = []
        y = levels(self.true_welfare, self.impact_line)

        def sub(a: np.ndarray) -> np.ndarray:
            return a[idx]

        for r, label in enumerate(self.table.index):
            unit = self.table.at[label, "unit"]
            out.append(
                measure(
                    Confusion(
                        sub(self.poor[r]),
                        sub(self.targeted[r]),
                        sub(self._unit_weight(unit)),
                        sub(self.weight),
                        sub(self.benefit_mass),
                        sub(self.true_welfare),
                        sub(self.predicted_welfare),
                        sub(y),
                        float(self.table.at[label, "transfer_per_person"]),
                    )
                )
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """The headline metrics, one column per row of :attr:`table` (metrics down)."""
        cols = [c for c in summary_columns() if c in self.table.columns]
        return self.table[cols].T.rename_axis("metric")

    def by_group(self, groups: Any = None, *, name: str = "group") -> pd.DataFrame:
        """The metrics within each group (e.g. province), with the national P and T.

        ``P`` and ``T`` stay as defined on the whole population (a household
        poor nationally is poor in its province's row); each group's metrics
        are sums over its own households. The transfer per person is the
        national one.

        Parameters
        ----------
        groups : array-like, shape (n_households,), optional
            Labels; default the ``groups`` given to :func:`evaluate`.
        name : str
            Name of the group level of the index.

        Returns
        -------
        pandas.DataFrame indexed by (``name``, ``label``), columns as :attr:`table`.
        """
        n = self.n_households
        g = self.groups if groups is None else np.asarray(groups)
        if g is None:
            raise EvaluationError(
                "by_group needs groups: pass them here or to evaluate(..., groups=province_codes).",
                argument="groups",
            )
        if g.shape != (n,):
            raise EvaluationError(
                f"groups has shape {g.shape}; it must be ({n},).", argument="groups"
            )
        codes, uniques = pd.factorize(g, sort=True)
        if (codes < 0).any():
            bad = np.flatnonzero(codes < 0)
            raise EvaluationError(
                f"groups must not contain missing labels; {bad.size:,} are missing, at "
                f"positions {bad[:5].tolist()}. Fix: give those households a label "
                "(e.g. 'unknown'), or evaluate without them.",
                argument="groups",
            )
        canon = self._order
        order = canon[np.argsort(codes[canon], kind="stable")]
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        frames = []
        defs = self.table[
            [
                "rule",
                "unit",
                "threshold",
                "target_threshold",
                "poor_definition",
                "targeted_definition",
            ]
        ]
        for k, label in enumerate(uniques):
            idx = order[bounds[k] : bounds[k + 1]]
            rows = pd.DataFrame(self._rows_over(idx), index=self.table.index)
            part = pd.concat([defs, rows], axis=1)[self.table.columns]
            part.insert(0, name, label)
            frames.append(part)
        out = pd.concat(frames).reset_index().set_index([name, "label"])
        out.attrs.update(self.table.attrs)
        warn_undefined(out, "by_group")
        return out

    def by_desil(self, n: int = 10) -> pd.DataFrame:
        """Who is poor and who is targeted, by true desil (person-weighted, the desil rule).

        Parameters
        ----------
        n : int, default 10
            Number of classes.

        Returns
        -------
        pandas.DataFrame indexed by ``true_desil`` (1..n): ``households``,
        ``people``, ``mean_true_welfare``, ``mean_predicted_welfare``,
        ``mean_error`` (predicted − true, person-weighted), then for each row of
        :attr:`table` ``poor[label]`` and ``targeted[label]``: person-weighted
        shares within the desil.
        """
        o = self._order
        d = assign_desil(self.true_welfare[o], self.weight[o], n=n).desil.astype(np.int64) - 1
        return self._binned(d, n, pd.RangeIndex(1, n + 1, name="true_desil"))

    def error_by_percentile(self, bins: int = 20) -> pd.DataFrame:
        """Prediction error and targeting by true-welfare percentile bin.

        A household's percentile is its person-weighted mid-CDF
        ``(S + tie/2) / W`` of true welfare (``S`` and the ties of pmt's desil
        rule); ``bins`` equal-width bins. The error quantiles are the smallest
        error whose person-weighted CDF within the bin reaches ``q`` (the rule
        of :func:`pmt.reference_cutoffs`).

        Returns
        -------
        pandas.DataFrame indexed by the bin's midpoint ``percentile`` (0–100):
        ``households``, ``people``, ``mean_error``, ``error_p10``, ``error_p25``,
        ``error_p50``, ``error_p75``, ``error_p90`` (predicted − true,
        person-weighted), then ``poor[label]`` and ``targeted[label]`` shares.
        """
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
            raise EvaluationError(
                f"bins must be a whole number >= 2; got {bins!r}.", argument="bins"
            )
        o = self._order
        pct = midrank(self.true_welfare[o], self.weight[o])
        b = np.minimum((pct * bins).astype(np.int64), bins - 1)
        mids = (np.arange(bins) + 0.5) * 100.0 / bins
        out = self._binned(b, bins, pd.Index(mids, name="percentile"))
        err = (self.predicted_welfare - self.true_welfare)[o]
        qs = (10, 25, 50, 75, 90)
        table = quantiles_by_bin(err, self.weight[o], b, bins, qs)
        for j, q in enumerate(qs):
            out.insert(3 + j, f"error_p{q}", table[:, j])
        return out

    def _binned(self, b: np.ndarray, m: int, index: pd.Index) -> pd.DataFrame:
        """Person-weighted means by bin ``b`` (one per household, in canonical order)."""
        o = self._order
        pw = self.weight[o]
        people = np.bincount(b, weights=pw, minlength=m)

        def mean(v: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.bincount(b, weights=pw * v[o], minlength=m) / people

        cols: dict[str, Any] = {
            "households": np.bincount(b, minlength=m),
            "people": people,
            "mean_error": mean(self.predicted_welfare - self.true_welfare),
            "mean_true_welfare": mean(self.true_welfare),
            "mean_predicted_welfare": mean(self.predicted_welfare),
        }
        for r, label in enumerate(self.table.index):
            cols[f"poor[{label}]"] = mean(self.poor[r].astype(np.float64))
            cols[f"targeted[{label}]"] = mean(self.targeted[r].astype(np.float64))
        return pd.DataFrame(cols, index=index)

    def desil_confusion(self, n: int = 10, *, unit: Unit = "people") -> pd.DataFrame:
        """Predicted desil against true desil; see :func:`pmt.desil_confusion`."""
        o = self._order
        hw = self.household_weight[o] if unit == "households" else None
        return desil_confusion(
            self.true_welfare[o],
            self.predicted_welfare[o],
            weight=self.weight[o],
            household_weight=hw,
            n=n,
            unit=unit,
        )

    def coverage_curve(self, points: int = 1000) -> pd.DataFrame:
        """Coverage of the poor against the share targeted, for each row's definition of poor.

        Targeting the poorest ``x`` by predicted welfare (ties entered together,
        joined linearly), ``coverage`` is the share of the poor's weight
        reached. Weights are each row's unit weights; both shares are the
        desil rule's share at or below each predicted welfare.

        Returns
        -------
        pandas.DataFrame: ``label``, ``share_targeted``, ``coverage`` (≤ ``points``
        points per label, from (0, 0) to (1, 1)).
        """
        frames = []
        o = self._order
        pred = self.predicted_welfare[o]
        for r, label in enumerate(self.table.index):
            w = self._unit_weight(self.table.at[label, "unit"])[o]
            x = np.append(0.0, cdf_runs(pred, w)[2])
            y = np.append(0.0, cdf_runs(pred, w * self.poor[r][o])[2])
            x, y = thin(x, y, points=points)
            frames.append(pd.DataFrame({"label": label, "share_targeted": x, "coverage": y}))
        return pd.concat(frames, ignore_index=True)

    def roc_curve(self, points: int = 1000) -> pd.DataFrame:
        """ROC of predicted welfare as a score for each row's ``P``.

        Returns
        -------
        pandas.DataFrame: ``label``, ``false_positive_rate`` (share of the
        non-poor targeted), ``true_positive_rate`` (coverage of the poor), as
        the predicted-welfare cutoff rises (≤ ``points`` points per label).
        """
        frames = []
        o = self._order
        pred = self.predicted_welfare[o]
        for r, label in enumerate(self.table.index):
            w = self._unit_weight(self.table.at[label, "unit"])[o]
            tpr = np.append(0.0, cdf_runs(pred, w * self.poor[r][o])[2])
            fpr = np.append(0.0, cdf_runs(pred, w * ~self.poor[r][o])[2])
            fpr, tpr = thin(fpr, tpr, points=points)
            frames.append(
                pd.DataFrame(
                    {"label": label, "false_positive_rate": fpr, "true_positive_rate": tpr}
                )
            )
        return pd.concat(frames, ignore_index=True)

    def __repr__(self) -> str:
        t = self.table
        parts = [
            f"{label}: EE {t.at[label, 'exclusion_error']:.3f}, IE(non-poor) "
            f"{t.at[label, 'inclusion_error_nonpoor']:.3f}"
            for label in t.index
        ]
        return (
            f"<Evaluation of {self.n_households:,} households; "
            + "; ".join(parts)
            + (f"; spearman {t['spearman'].iloc[0]:.3f}>" if len(t) else ">")
        )

    def _repr_html_(self) -> str:
        return html_repr(self)


def evaluate(
    true_welfare: Any,
    predicted_welfare: Any,
    *,
    weight: Any = None,
    household_weight: Any = None,
    quotas: Any = None,
    lines: Any = None,
    poor: Any = None,
    targeted: Any = None,
    unit: Unit | Sequence[Unit] | None = None,
    benefit: Any = None,
    budget: float | None = None,
    impact_line: float = 0.0,
    groups: Any = None,
) -> Evaluation:
    """Targeting metrics of predicted against true welfare (``docs/evaluation.md``).

    Every per-household argument is an array (arrays in, arrays out: no
    table is passed, so no argument is a column name).

    Parameters
    ----------
    true_welfare : array-like of float, shape (n_households,)
        Observed welfare, in pmt's units: ``log(per-capita consumption / poverty line)``.
    predicted_welfare : array-like of float, shape (n_households,), or RankResult
        The PMT's prediction in the same units. A :class:`~pmt.RankResult`
        gives its ``welfare`` (and, unless passed, its person weights as
        ``weight`` and provinces as ``groups``).
    weight : array-like of float, shape (n_households,), optional
        Person weight of each household: ``hh_size``, or ``hh_size × survey
        weight``. Quota boundaries, the ``people`` unit, CGH population shares
        and poverty measures use it. Default 1 per household.
    household_weight : array-like of float, shape (n_households,), optional
        Weight of each household as a unit (survey weight); default 1. Used by
        the ``households`` unit and by ``benefit``.
    quotas : float or iterable of float or (H, Ĥ) pairs, optional
        Quota rules: ``P`` = the poorest share ``H`` by true welfare, ``T`` =
        the poorest ``Ĥ`` (default ``H``) by predicted welfare, both by the
        desil boundary rule (strictly poorer weight ``< H·W``). Default
        ``(0.2, 0.4)`` when neither ``lines`` nor ``poor`` is given.
    lines : float or iterable of float or (z, z_pred) pairs, optional
        Line rules: ``P = true <= z``, ``T = predicted <= z_pred`` (default z).
    poor : array-like of bool, shape (n_households,), optional
        An explicit ``P`` (one more row, rule ``given``); ``T`` is then the
        poorest ``Ĥ = `` person share of ``P`` by predicted welfare.
    targeted : array-like of bool, shape (n_households,), optional
        An explicit ``T`` for every row (e.g. ``RankResult.eligible``) instead
        of the predicted-welfare rule.
    unit : {"people", "households"} or a sequence of both, optional
        Which weights the metrics sum: default ``"people"`` when ``weight`` is
        given, else ``"households"``.
    benefit : float or array-like, shape (n_households,), optional
        What each household receives if targeted (any currency); times
        ``household_weight`` in sums. Default: the same amount per person
        (benefit mass ∝ ``weight``). Used by ``leakage_benefit`` and ``cgh``.
    budget : float, optional
        Total transfer, in poverty lines × people (the units of ``weight``),
        spread equally over the targeted people of each row:
        ``tau = budget / Σ weight·T`` is added to each targeted person's
        welfare ratio ``y = exp(true − impact_line)``. Without it the ``*_after``
        columns are NaN.
    impact_line : float, default 0.0
        The poverty line for FGT0/FGT1/Watts in welfare units (0 = the line
        pmt's welfare is relative to).
    groups : array-like, shape (n_households,), optional
        Labels for :meth:`Evaluation.by_group` (e.g. province codes).

    Returns
    -------
    Evaluation

    Raises
    ------
    EvaluationError, TypeError
        Naming the argument, the rule broken and the fix.
    """
    if isinstance(predicted_welfare, RankResult):
        res = predicted_welfare
        predicted_welfare = res.welfare
        weight = res.person_weight if weight is None else weight
        groups = res.province if groups is None else groups
    true = as_array(true_welfare, "true_welfare")
    n = true.shape[0]
    if n < 2:
        raise EvaluationError(
            f"true_welfare holds {n} household{'' if n == 1 else 's'} (rule: an evaluation "
            "compares households with each other, so it needs at least 2). Fix: pass the "
            "true and predicted welfare of all the households evaluated.",
            argument="true_welfare",
        )
    if true.min() == true.max():
        raise EvaluationError(
            f"true_welfare is {float(true[0])!r} for all {n:,} households (rule: the metrics rank "
            "households by true welfare, so it must vary). Fix: check the true welfare "
            "column (a fill value? the wrong column?).",
            argument="true_welfare",
        )
    pred = as_array(predicted_welfare, "predicted_welfare", n)
    pw = as_weight(weight, "weight", n, positive=True)
    hw = as_weight(household_weight, "household_weight", n, positive=True)
    units = as_units(unit, weight is not None)
    if benefit is None:
        bmass = pw.copy()
        benefit_def = "equal per person (benefit mass = person weight)"
    else:
        b = np.full(n, float(benefit)) if np.ndim(benefit) == 0 else as_array(benefit, "benefit", n)
        bad = np.flatnonzero(b < 0)
        if bad.size:
            raise EvaluationError(
                f"benefit must be >= 0; negative at positions {bad[:5].tolist()} (values "
                f"{b[bad[:5]].tolist()}). Fix: correct those benefits.",
                argument="benefit",
            )
        bmass = b * hw
        benefit_def = "given per household, times household_weight"
    if budget is not None and (
        not isinstance(budget, (int, float, np.integer, np.floating))
        or isinstance(budget, bool)
        or not budget >= 0
        or not math.isfinite(budget)
    ):
        raise EvaluationError(
            f"budget must be a finite number >= 0 (poverty lines × people); got {budget!r}.",
            argument="budget",
        )
    impact = as_line(impact_line, "impact_line")
    given_t = None if targeted is None else as_mask(targeted, "targeted", n)
    given_p = None if poor is None else as_mask(poor, "poor", n)
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape != (n,):
        raise EvaluationError(
            f"groups has shape {g.shape}; it must be ({n},), one label per household. "
            "Fix: pass one label per household, in the order of true_welfare.",
            argument="groups",
        )
    # Every sum runs over the households in one canonical order, so that the
    # results do not depend on the order they were given in (bit for bit).
    order = canonical_order(true, pred, pw, hw, bmass, given_p, given_t)
    true, pred, pw, hw, bmass = (a[order] for a in (true, pred, pw, hw, bmass))
    given_t = None if given_t is None else given_t[order]
    given_p = None if given_p is None else given_p[order]
    rules = rules_of(
        true,
        pred,
        pw,
        quotas=quotas,
        lines=lines,
        poor=given_p,
        given_t=given_t,
        who="people" if weight is not None else "households",
    )

    y = levels(true, impact)
    rho = {u: weighted_spearman(pred, true, pw if u == "people" else hw) for u in units}
    records, poor_rows, targ_rows, index = [], [], [], []
    for rule, P, T in rules:
        tau = math.nan if budget is None else ratio(float(budget), float((pw * T).sum()))
        if budget is not None and not math.isfinite(tau):
            tau = 0.0  # nobody targeted: nothing is spent
        for u in units:
            w = pw if u == "people" else hw
            label = rule.label if len(units) == 1 else f"{rule.label} ({u})"
            rec: dict[str, Any] = {
                "rule": rule.rule,
                "unit": u,
                "threshold": rule.threshold,
                "target_threshold": rule.target_threshold,
                "poor_definition": rule.poor_definition,
                "targeted_definition": rule.targeted_definition,
            }
            rec.update(measure(Confusion(P, T, w, pw, bmass, true, pred, y, tau, rho=rho[u])))
            records.append(rec)
            poor_rows.append(P)
            targ_rows.append(T)
            index.append(label)
    table = pd.DataFrame.from_records(records, index=pd.Index(index, name="label"))
    conventions = {
        "welfare": "log(per-capita consumption / poverty line); y = exp(welfare - impact_line)",
        "quota_boundary": "in the poorest share H if the weight strictly poorer is < H x "
        "total weight (pmt's desil rule), person-weighted",
        "line_rule": "poor if true welfare <= z; targeted if predicted welfare <= z",
        "units": "people = sums of person weights; households = sums of household weights",
        "benefit": benefit_def,
        "poverty": f"FGT0/FGT1/Watts over people, line at welfare {impact:g}; poor if y < 1",
        "budget": "none"
        if budget is None
        else f"{float(budget):g} poverty lines x people, equal per targeted person",
        "spearman": "weighted (unit weights): weighted Pearson of weighted mid-ranks",
        "auc": "Pr(predicted of a poor < predicted of a non-poor), unit-weighted, ties 1/2",
    }
    table.attrs.update(conventions)
    warn_undefined(table, "evaluate")
    back = np.empty_like(order)
    back[order] = np.arange(n)  # the arrays kept are in input order
    return Evaluation(
        table=table,
        true_welfare=true[back],
        predicted_welfare=pred[back],
        weight=pw[back],
        household_weight=hw[back],
        poor=np.array(poor_rows)[:, back],
        targeted=np.array(targ_rows)[:, back],
        units=units,
        benefit_mass=bmass[back],
        impact_line=impact,
        groups=g,
        conventions=conventions,
    )
