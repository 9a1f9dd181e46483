"""Targeting evaluation: metrics, breakdowns, comparisons and explanations.

Four tools over the same arrays, each a function returning a small frozen
result or a DataFrame:

:func:`evaluate`
    The targeting metrics of ``docs/evaluation.md`` (exclusion error, coverage, both
    inclusion errors, leakage by benefit, targeting differential, CGH, total
    accuracy, Spearman, AUC, FGT0/FGT1/Watts before and after a transfer),
    for quota rules (the poorest share ``H``) and line rules (welfare ``<= z``)
    at several thresholds in one call; breakdowns by group (province) and by
    true desil; the predicted-against-true desil confusion matrix.
:func:`compare`
    Two rankings of the same households (two weight sets, or two snapshots of
    a registry) matched by household id: desil transition matrices, eligibility
    gained and lost, the households that moved most, the ids that did not match.
:func:`explain`
    The contribution of every variable to each household's welfare under the
    model that scored it; the contributions add up to :func:`pmt.score`'s
    welfare exactly (same terms, same order of summation).
:func:`what_if`
    Welfare and desil a household would have with changed characteristics,
    against the original ranking's cutoffs (so one appeal does not re-rank
    everyone else).

``docs/evaluation.md`` gives every formula, the literature each definition
comes from, and a worked example. Conventions in one place:

* *Poor* (``P``) and *targeted* (``T``) are 0/1 per household. Under a quota
  rule ``P`` is the poorest share ``H`` by **true** welfare and ``T`` the
  poorest share ``Ĥ`` (default ``Ĥ = H``) by **predicted** welfare, both by
  the desil boundary rule: a household is in the poorest share ``H`` if the
  weight strictly poorer than it is ``< H·W``. Under a line rule,
  ``P = true <= z`` and ``T = predicted <= z``.
* Quota boundaries always use the person weight (``weight``); metrics are
  sums over households of the *unit* weight: the person weight (unit
  ``people``) or the household weight (unit ``households``).
* Welfare is pmt's ``log(consumption per person / poverty line)``; poverty
  measures use the level ``y = exp(true − impact_line)`` as a ratio to the
  line.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .encode import encode
from .rank import RankResult, _weights, assign_desil, reference_cutoffs, score_terms
from .rank import rank as _rank
from .weights import WeightSet

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Comparison", "Evaluation", "EvaluationError", "add_cli", "compare", "desil_confusion",
    "evaluate", "explain", "what_if",
]

Unit = Literal["people", "households"]

#: Metric columns of :attr:`Evaluation.table`, in order (see docs/evaluation.md).
METRICS = (
    "exclusion_error", "coverage", "inclusion_error_beneficiaries", "inclusion_error_nonpoor",
    "leakage_benefit", "targeting_differential", "targeting_differential_closed_form", "cgh",
    "total_accuracy", "spearman", "auc", "fgt0_before", "fgt0_after", "fgt1_before",
    "fgt1_after", "watts_before", "watts_after",
)
#: The metrics :meth:`Evaluation.summary` shows.
HEADLINE = (
    "poor_share", "targeted_share", "exclusion_error", "coverage",
    "inclusion_error_beneficiaries", "inclusion_error_nonpoor", "leakage_benefit",
    "targeting_differential", "cgh", "total_accuracy", "spearman", "auc",
    "fgt0_before", "fgt0_after", "fgt1_before", "fgt1_after", "watts_before", "watts_after",
)


class EvaluationError(ValueError):
    """An argument of an evaluation function breaks a rule.

    Attributes
    ----------
    argument : str
        The offending argument (or column).
    """

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


# =========================================================================== input checks

def _array(x: Any, name: str, n: int | None = None, *, finite: bool = True) -> np.ndarray:
    """A 1-D float64 array of length ``n`` (finite unless told otherwise)."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of numbers, shape (n_households,); got "
                        f"{type(x).__name__}. Fix: pass a numpy array or a pandas Series.")
    if isinstance(x, pd.Series):
        x = x.to_numpy(dtype="float64", na_value=np.nan)
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must hold numbers; {exc}. Fix: convert it with "
                        "pd.to_numeric first.") from exc
    if a.ndim != 1:
        raise EvaluationError(f"{name} must be one-dimensional, shape (n_households,); got "
                              f"shape {a.shape}. Fix: pass one value per household.",
                              argument=name)
    if n is not None and a.shape[0] != n:
        raise EvaluationError(f"{name} has {a.shape[0]:,} values but true_welfare has {n:,} "
                              "(rule: one value per household, same order). Fix: align the "
                              "arrays.", argument=name)
    if finite and not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a))
        raise EvaluationError(f"{name} must be finite; {bad.size:,} values are NaN or inf, e.g. "
                              f"at positions {bad[:5].tolist()}. Fix: drop or fill those "
                              "households first.", argument=name)
    return a


def _weight(x: Any, name: str, n: int) -> np.ndarray:
    """Non-negative finite weights with a positive total (1 per household if ``x`` is None)."""
    if x is None:
        return np.ones(n)
    w = _array(x, name, n)
    bad = np.flatnonzero(w < 0)
    if bad.size:
        raise EvaluationError(f"{name} must be >= 0; negative at positions {bad[:5].tolist()} "
                              f"(values {w[bad[:5]].tolist()}). Fix: correct those weights.",
                              argument=name)
    if not w.sum() > 0:
        raise EvaluationError(f"{name} sums to 0, so shares are undefined. Fix: give the "
                              "households positive weights.", argument=name)
    return w


def _mask(x: Any, name: str, n: int) -> np.ndarray:
    """A boolean array of length ``n`` (bool, or numbers that are all 0 or 1)."""
    if isinstance(x, pd.Series):
        x = x.to_numpy()
    a = np.asarray(x)
    if a.dtype != bool:
        f = _array(a, name, n)
        if not np.isin(f, (0.0, 1.0)).all():
            bad = np.flatnonzero(~np.isin(f, (0.0, 1.0)))
            raise EvaluationError(f"{name} must be True/False (or 0/1) per household; got "
                                  f"{f[bad[:5]].tolist()} at positions {bad[:5].tolist()}.",
                                  argument=name)
        a = f == 1.0
    if a.shape != (n,):
        raise EvaluationError(f"{name} has shape {a.shape}; it must be ({n},), one value per "
                              "household.", argument=name)
    return a


def _share(h: Any, name: str) -> float:
    if isinstance(h, bool) or not isinstance(h, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: each quota must be a number; got {h!r} "
                        f"({type(h).__name__}). Fix: e.g. {name}=(0.2, 0.4).")
    h = float(h)
    if not 0.0 < h < 1.0:
        raise EvaluationError(f"{name}: a quota is a population share with 0 < H < 1; got "
                              f"{h!r}. Fix: pass shares, e.g. {name}=(0.2, 0.4) for the "
                              "poorest 20 % and 40 %.", argument=name)
    return h


def _pairs(x: Any, name: str, check: Callable[[Any, str], float]
           ) -> list[tuple[float, float | None]]:
    """Thresholds as ``(true, predicted or None)``.

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
                raise EvaluationError(f"{name}: a pair must be (true threshold, predicted "
                                      f"threshold); got {item!r}.", argument=name)
            out.append((check(item[0], name), check(item[1], name)))
        else:
            out.append((check(item, name), None))
    return out


def _line(z: Any, name: str) -> float:
    if isinstance(z, bool) or not isinstance(z, (int, float, np.integer, np.floating)) or \
            not math.isfinite(float(z)):
        raise EvaluationError(f"{name}: a line is a finite welfare value (log ratio to the "
                              f"poverty line; 0 = at the line); got {z!r}.", argument=name)
    return float(z)


# =========================================================================== array helpers

# Every "poorer than" below comes from pmt's one desil rule, pmt.assign_desil (the weight
# strictly poorer S, the scope total T and desil, computed once in the ranking kernel; equal
# welfare is one tie, never split). Nothing here sums weights up a sorted order itself.

def _cdf_runs(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal ``x`` (the rule's ties) and their weighted CDF, by :func:`pmt.assign_desil`.

    Returns ``(inv, below, upto)``: the run of each household (``np.unique``'s
    inverse), and per run (ascending ``x``) the share of ``w`` strictly below it
    (the rule's ``S / T``) and at or below it (the next run's share below; 1 for
    the last). NaN shares when ``w`` sums to 0.
    """
    _, first, inv = np.unique(x, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    if not w.sum() > 0:
        nan = np.full(first.size, np.nan)
        return inv, nan, nan
    below = assign_desil(x, w).share_below[first]
    return inv, below, np.append(below[1:], 1.0)


def _poorest(x: np.ndarray, pw: np.ndarray, share: float) -> np.ndarray:
    """Households in the poorest ``share`` of weight ``pw`` by ``x``: pmt's desil rule.

    In the poorest share ``H`` means: the weight strictly poorer ``S`` is below
    ``H·T``; ties are never split. The test runs in :func:`pmt.assign_desil`:
    for ``H = k/10`` as ``desil <= k`` with 10 classes, exactly what
    ``pmt.rank(..., max_desil=k)`` makes eligible; for another fraction ``k/n``
    with ``n <= 100`` (0.25, …) as ``desil <= k`` with ``n`` classes; otherwise
    as ``share_below < H`` with the rule's share below.
    """
    k10 = round(share * 10)
    if 1 <= k10 <= 9 and k10 / 10 == share:
        return assign_desil(x, pw, n=10).desil <= k10
    frac = Fraction(share).limit_denominator(100)
    if float(frac) == share and frac.denominator >= 2:
        return assign_desil(x, pw, n=frac.denominator).desil <= frac.numerator
    return assign_desil(x, pw).share_below < share


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else math.nan


def _midrank(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mid-rank as a share: the share strictly below plus half the tie's share.

    Spearman and the percentile bins need the middle of a tie, which desil do
    not: it is the mean of the rule's share below and share at or below
    (:func:`_cdf_runs`), so ties are exactly the desil rule's ties.
    """
    inv, below, upto = _cdf_runs(x, w)
    return (0.5 * (below + upto))[inv]


def _pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    total = w.sum()
    if not total > 0:
        return math.nan
    da = a - (w * a).sum() / total
    db = b - (w * b).sum() / total
    va, vb = (w * da * da).sum(), (w * db * db).sum()
    if not (va > 0 and vb > 0):
        return math.nan
    return float((w * da * db).sum() / math.sqrt(va * vb))


def _spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Spearman: weighted Pearson of weighted mid-ranks (= scipy's for w = 1)."""
    return _pearson(_midrank(x, w), _midrank(y, w), w)


def _auc(score: np.ndarray, poor: np.ndarray, w: np.ndarray) -> float:
    """Pr(score of a poor < score of a non-poor), weighted, ties count 1/2 (Mann–Whitney).

    Equal to one minus the poor's mean mid-rank among the non-poor: for each
    poor household the non-poor weight strictly below its score plus half the
    tied non-poor weight, by :func:`_midrank` with the non-poor's weights (the
    desil rule's shares and ties).
    """
    wp, wn = w * poor, w * ~poor
    tot_p = wp.sum()
    if not (tot_p > 0 and wn.sum() > 0):
        return math.nan
    return float(1.0 - (wp * _midrank(score, wn)).sum() / tot_p)


def _levels(welfare: np.ndarray, line: float) -> np.ndarray:
    """Welfare ratio to the line, ``exp(welfare − line)`` (inf where it overflows: not poor)."""
    with np.errstate(over="ignore"):
        return np.exp(welfare - line)


def _fgt(y: np.ndarray, pw: np.ndarray) -> tuple[float, float, float]:
    """FGT0, FGT1 and Watts of welfare ratios ``y`` (line = 1), person-weighted."""
    total = pw.sum()
    poor = y < 1.0
    gap = np.where(poor, 1.0 - y, 0.0)
    with np.errstate(divide="ignore"):
        watts = np.where(poor, -np.log(np.where(poor, y, 1.0)), 0.0)
    return (_ratio((pw * poor).sum(), total), _ratio((pw * gap).sum(), total),
            _ratio((pw * watts).sum(), total))


def _thin(*arrays: np.ndarray, points: int = 1000) -> tuple[np.ndarray, ...]:
    """Keep at most ``points`` evenly spaced entries (first and last always kept)."""
    n = arrays[0].shape[0]
    if n <= points:
        return arrays
    keep = np.unique(np.linspace(0, n - 1, points).round().astype(np.int64))
    return tuple(a[keep] for a in arrays)


def _quantiles_by_bin(x: np.ndarray, w: np.ndarray, b: np.ndarray, bins: int,
                      qs: Sequence[int]) -> np.ndarray:
    """Per bin ``b`` (0..bins-1), the smallest ``x`` whose weighted CDF reaches ``q/100``.

    That is the reference-cutoff rule: :func:`pmt.reference_cutoffs` with 20
    classes gives ``c_k`` at ``k/20`` for every ``q`` in ``qs`` (multiples of 5).
    Bins without weight get NaN. Returns shape (bins, len(qs)).
    """
    out = np.full((bins, len(qs)), np.nan)
    people = np.bincount(b, weights=w, minlength=bins)
    keep = people[b] > 0
    if keep.any():
        cut = reference_cutoffs(x[keep], w[keep], groups=b[keep], n=20)
        cols = [q // 5 - 1 for q in qs]
        for g, c in cut.items():
            out[int(g)] = c[cols]
    return out


# =========================================================================== evaluate

@dataclass(frozen=True)
class _Rule:
    """One row of the table: how P and T are defined."""

    rule: str
    threshold: float
    target_threshold: float
    label: str
    poor_definition: str
    targeted_definition: str


def _row(P: np.ndarray, T: np.ndarray, w: np.ndarray, pw: np.ndarray, bmass: np.ndarray,
         true: np.ndarray, pred: np.ndarray, y: np.ndarray, tau: float, *,
         rho: float | None = None) -> dict[str, float]:
    """Every metric of one (P, T) over the households given, with unit weights ``w``.

    ``pw`` is the person weight (population shares for CGH, FGT), ``bmass`` the
    benefit a household would receive if targeted (already times its weight),
    ``y`` the true welfare ratio to the poverty line, ``tau`` the transfer per
    targeted person (NaN without a budget). ``rho`` (Spearman, which does not
    depend on P and T) may be precomputed.
    """
    W = w.sum()
    pt = (w * (P & T)).sum()
    pn = (w * (P & ~T)).sum()
    nt = (w * (~P & T)).sum()
    nn = (w * (~P & ~T)).sum()
    wp, wt = pt + pn, pt + nt
    H, Hhat = _ratio(wp, W), _ratio(wt, W)
    ee = _ratio(pn, wp)
    b = bmass * T
    b_total = b.sum()
    pop_share_poor = _ratio((pw * P).sum(), pw.sum())
    fgt_b = _fgt(y, pw)
    fgt_a = _fgt(y + tau * T, pw) if math.isfinite(tau) else (math.nan,) * 3
    return {
        "n_households": int(P.shape[0]), "population": float(W),
        "poor_share": H, "targeted_share": Hhat,
        "poor_targeted": float(pt), "poor_excluded": float(pn),
        "nonpoor_targeted": float(nt), "nonpoor_excluded": float(nn),
        "exclusion_error": ee,
        "coverage": 1.0 - ee,
        "inclusion_error_beneficiaries": _ratio(nt, wt),
        "inclusion_error_nonpoor": _ratio(nt, nn + nt),
        "leakage_benefit": _ratio((b * ~P).sum(), b_total),
        "targeting_differential": _ratio(pt, wp) - _ratio(nt, nn + nt),
        "targeting_differential_closed_form": _ratio(1.0 - Hhat - ee, 1.0 - H),
        "cgh": _ratio(_ratio((b * P).sum(), b_total), pop_share_poor),
        "total_accuracy": _ratio(pt + nn, W),
        "spearman": _spearman(pred, true, w) if rho is None else rho,
        "auc": _auc(pred, P, w),
        "fgt0_before": fgt_b[0], "fgt0_after": fgt_a[0],
        "fgt1_before": fgt_b[1], "fgt1_after": fgt_a[1],
        "watts_before": fgt_b[2], "watts_after": fgt_a[2],
        "transfer_per_person": tau,
    }


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Targeting metrics of predicted against true welfare (``docs/evaluation.md``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per rule × threshold × unit, indexed by ``label``: the rule's
        definitions, the measured shares ``H`` (``poor_share``) and ``Ĥ``
        (``targeted_share``), the weighted confusion counts, and every metric
        of :data:`METRICS`. ``attrs`` holds the conventions.
    true_welfare, predicted_welfare : (n,) float64
    weight : (n,) float64
        Person weight (quota boundaries, people unit, FGT, CGH population shares).
    household_weight : (n,) float64
        Weight of each household as a unit.
    poor, targeted : (n_rows, n) bool
        ``P`` and ``T`` of each table row.
    groups : (n,) array or None
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
    def n(self) -> int:
        """Households evaluated."""
        return int(self.true_welfare.shape[0])

    @property
    def labels(self) -> list[str]:
        """Row labels of :attr:`table`."""
        return list(self.table.index)

    def _unit_weight(self, unit: str) -> np.ndarray:
        return self.weight if unit == "people" else self.household_weight

    def _rows_over(self, idx: np.ndarray | None) -> list[dict[str, float]]:
        out = []
        y = _levels(self.true_welfare, self.impact_line)
        sub = (lambda a: a) if idx is None else (lambda a: a[idx])
        for r, label in enumerate(self.table.index):
            unit = self.table.at[label, "unit"]
            out.append(_row(sub(self.poor[r]), sub(self.targeted[r]),
                            sub(self._unit_weight(unit)), sub(self.weight),
                            sub(self.benefit_mass), sub(self.true_welfare),
                            sub(self.predicted_welfare), sub(y),
                            float(self.table.at[label, "transfer_per_person"])))
        return out

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """The headline metrics, one column per row of :attr:`table` (metrics down)."""
        cols = [c for c in HEADLINE if c in self.table.columns]
        return self.table[cols].T.rename_axis("metric")

    def by_group(self, groups: Any = None, *, name: str = "group") -> pd.DataFrame:
        """The metrics within each group (e.g. province), with the national P and T.

        ``P`` and ``T`` stay as defined on the whole population (a household
        poor nationally is poor in its province's row); each group's metrics
        are sums over its own households. The transfer per person is the
        national one.

        Parameters
        ----------
        groups : array-like, shape (n,), optional
            Labels; default the ``groups`` given to :func:`evaluate`.
        name : str
            Name of the group level of the index.

        Returns
        -------
        pandas.DataFrame indexed by (``name``, ``label``), columns as :attr:`table`.
        """
        g = self.groups if groups is None else np.asarray(groups)
        if g is None:
            raise EvaluationError("by_group needs groups: pass them here or to evaluate("
                                  "..., groups=province_codes).", argument="groups")
        if g.shape != (self.n,):
            raise EvaluationError(f"groups has shape {g.shape}; it must be ({self.n},).",
                                  argument="groups")
        codes, uniques = pd.factorize(g, sort=True)
        if (codes < 0).any():
            raise EvaluationError("groups must not contain missing labels.", argument="groups")
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        frames = []
        defs = self.table[["rule", "unit", "threshold", "target_threshold", "poor_definition",
                           "targeted_definition"]]
        for k, label in enumerate(uniques):
            idx = order[bounds[k]:bounds[k + 1]]
            rows = pd.DataFrame(self._rows_over(idx), index=self.table.index)
            part = pd.concat([defs, rows], axis=1)[self.table.columns]
            part.insert(0, name, label)
            frames.append(part)
        out = pd.concat(frames).reset_index().set_index([name, "label"])
        out.attrs.update(self.table.attrs)
        return out

    def by_desil(self, n: int = 10) -> pd.DataFrame:
        """Who is poor and who is targeted, by true desil (person-weighted, the desil rule).

        Returns
        -------
        pandas.DataFrame indexed by ``true_desil`` (1..n): ``households``,
        ``people``, ``mean_true_welfare``, ``mean_predicted_welfare``,
        ``mean_error`` (predicted − true, person-weighted), then for each row of
        :attr:`table` ``poor[label]`` and ``targeted[label]``: person-weighted
        shares within the desil.
        """
        d = assign_desil(self.true_welfare, self.weight, n=n).desil.astype(np.int64) - 1
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
            raise EvaluationError(f"bins must be a whole number >= 2; got {bins!r}.",
                                  argument="bins")
        pct = _midrank(self.true_welfare, self.weight)
        b = np.minimum((pct * bins).astype(np.int64), bins - 1)
        mids = (np.arange(bins) + 0.5) * 100.0 / bins
        out = self._binned(b, bins, pd.Index(mids, name="percentile"))
        err = self.predicted_welfare - self.true_welfare
        qs = (10, 25, 50, 75, 90)
        table = _quantiles_by_bin(err, self.weight, b, bins, qs)
        for j, q in enumerate(qs):
            out.insert(3 + j, f"error_p{q}", table[:, j])
        return out

    def _binned(self, b: np.ndarray, m: int, index: pd.Index) -> pd.DataFrame:
        pw = self.weight
        people = np.bincount(b, weights=pw, minlength=m)

        def mean(v: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.bincount(b, weights=pw * v, minlength=m) / people

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
        """Predicted desil against true desil; see :func:`desil_confusion`."""
        hw = self.household_weight if unit == "households" else None
        return desil_confusion(self.true_welfare, self.predicted_welfare, weight=self.weight,
                               household_weight=hw, n=n, unit=unit)

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
        pred = self.predicted_welfare
        for r, label in enumerate(self.table.index):
            w = self._unit_weight(self.table.at[label, "unit"])
            x = np.append(0.0, _cdf_runs(pred, w)[2])
            y = np.append(0.0, _cdf_runs(pred, w * self.poor[r])[2])
            x, y = _thin(x, y, points=points)
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
        pred = self.predicted_welfare
        for r, label in enumerate(self.table.index):
            w = self._unit_weight(self.table.at[label, "unit"])
            tpr = np.append(0.0, _cdf_runs(pred, w * self.poor[r])[2])
            fpr = np.append(0.0, _cdf_runs(pred, w * ~self.poor[r])[2])
            fpr, tpr = _thin(fpr, tpr, points=points)
            frames.append(pd.DataFrame({"label": label, "false_positive_rate": fpr,
                                        "true_positive_rate": tpr}))
        return pd.concat(frames, ignore_index=True)

    def __repr__(self) -> str:
        t = self.table
        parts = [f"{label}: EE {t.at[label, 'exclusion_error']:.3f}, IE(non-poor) "
                 f"{t.at[label, 'inclusion_error_nonpoor']:.3f}" for label in t.index]
        return (f"<Evaluation of {self.n:,} households; " + "; ".join(parts)
                + (f"; spearman {t['spearman'].iloc[0]:.3f}>" if len(t) else ">"))


def evaluate(true_welfare: Any, predicted_welfare: Any, *, weight: Any = None,
             household_weight: Any = None, quotas: Any = None, lines: Any = None,
             poor: Any = None, targeted: Any = None, unit: Unit | Sequence[Unit] | None = None,
             benefit: Any = None, budget: float | None = None, impact_line: float = 0.0,
             groups: Any = None) -> Evaluation:
    """Targeting metrics of predicted against true welfare (``docs/evaluation.md``).

    Parameters
    ----------
    true_welfare : array-like of float, shape (n,)
        Observed welfare, in pmt's units: ``log(per-capita consumption / poverty line)``.
    predicted_welfare : array-like of float, shape (n,), or RankResult
        The PMT's prediction in the same units. A :class:`~pmt.RankResult`
        gives its ``welfare`` (and, unless passed, its person weights as
        ``weight`` and provinces as ``groups``).
    weight : array-like of float, shape (n,), optional
        Person weight of each household: ``hh_size``, or ``hh_size × survey
        weight``. Quota boundaries, the ``people`` unit, CGH population shares
        and poverty measures use it. Default 1 per household.
    household_weight : array-like of float, shape (n,), optional
        Weight of each household as a unit (survey weight); default 1. Used by
        the ``households`` unit and by ``benefit``.
    quotas : float or iterable of float or (H, Ĥ) pairs, optional
        Quota rules: ``P`` = the poorest share ``H`` by true welfare, ``T`` =
        the poorest ``Ĥ`` (default ``H``) by predicted welfare, both by the
        desil boundary rule (strictly poorer weight ``< H·W``). Default
        ``(0.2, 0.4)`` when neither ``lines`` nor ``poor`` is given.
    lines : float or iterable of float or (z, z_pred) pairs, optional
        Line rules: ``P = true <= z``, ``T = predicted <= z_pred`` (default z).
    poor : array-like of bool, shape (n,), optional
        An explicit ``P`` (one more row, rule ``given``); ``T`` is then the
        poorest ``Ĥ = `` person share of ``P`` by predicted welfare.
    targeted : array-like of bool, shape (n,), optional
        An explicit ``T`` for every row (e.g. ``RankResult.eligible``) instead
        of the predicted-welfare rule.
    unit : {"people", "households"} or a sequence of both, optional
        Which weights the metrics sum: default ``"people"`` when ``weight`` is
        given, else ``"households"``.
    benefit : float or array-like, shape (n,), optional
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
    groups : array-like, shape (n,), optional
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
    true = _array(true_welfare, "true_welfare")
    n = true.shape[0]
    if n == 0:
        raise EvaluationError("true_welfare is empty; there is nothing to evaluate.",
                              argument="true_welfare")
    pred = _array(predicted_welfare, "predicted_welfare", n)
    pw = _weight(weight, "weight", n)
    hw = _weight(household_weight, "household_weight", n)
    units = _units(unit, weight is not None)
    if benefit is None:
        bmass = pw.copy()
        benefit_def = "equal per person (benefit mass = person weight)"
    else:
        b = np.full(n, float(benefit)) if np.ndim(benefit) == 0 else _array(benefit, "benefit", n)
        if (b < 0).any():
            raise EvaluationError("benefit must be >= 0.", argument="benefit")
        bmass = b * hw
        benefit_def = "given per household, times household_weight"
    if budget is not None and (not isinstance(budget, (int, float, np.integer, np.floating))
                               or isinstance(budget, bool) or not budget >= 0
                               or not math.isfinite(budget)):
        raise EvaluationError(f"budget must be a finite number >= 0 (poverty lines × people); "
                              f"got {budget!r}.", argument="budget")
    impact = _line(impact_line, "impact_line")
    given_t = None if targeted is None else _mask(targeted, "targeted", n)
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape != (n,):
        raise EvaluationError(f"groups has shape {g.shape}; it must be ({n},).",
                              argument="groups")

    q = _pairs(quotas, "quotas", _share)
    ln = _pairs(lines, "lines", _line)
    if quotas is None and lines is None and poor is None:
        q = [(0.2, None), (0.4, None)]
    if not q and not ln and poor is None:
        raise EvaluationError("nothing to evaluate: quotas, lines and poor are all empty. Fix: "
                              "e.g. quotas=(0.2, 0.4) or lines=0.0.", argument="quotas")
    who = "people" if weight is not None else "households"
    t_given = "given targeted mask"
    rules: list[tuple[_Rule, np.ndarray, np.ndarray]] = []
    for h, hh in q:
        h_hat = h if hh is None else hh
        label = f"quota {h:g}" if hh is None else f"quota {h:g} target {h_hat:g}"
        P = _poorest(true, pw, h)
        T = given_t if given_t is not None else _poorest(pred, pw, h_hat)
        rules.append((_Rule("quota", h, h_hat, label,
                            f"poorest {h:.0%} of {who} by true welfare (strictly poorer "
                            f"weight < {h:g} x total)",
                            t_given if given_t is not None else
                            f"poorest {h_hat:.0%} of {who} by predicted welfare"), P, T))
    for z, zz in ln:
        z_hat = z if zz is None else zz
        label = f"line {z:g}" if zz is None else f"line {z:g} predicted {z_hat:g}"
        rules.append((_Rule("line", z, z_hat, label, f"true welfare <= {z:g}",
                            t_given if given_t is not None else
                            f"predicted welfare <= {z_hat:g}"),
                      true <= z, given_t if given_t is not None else pred <= z_hat))
    if poor is not None:
        P = _mask(poor, "poor", n)
        h = float((pw * P).sum() / pw.sum())
        if given_t is None and not 0.0 < h < 1.0:
            raise EvaluationError(f"poor marks {h:.0%} of the weight as poor; targeting the "
                                  "same share by prediction needs 0 < share < 1. Fix: pass "
                                  "targeted= too.", argument="poor")
        T = given_t if given_t is not None else _poorest(pred, pw, h)
        rules.append((_Rule("given", h, h, "given", "given poor mask",
                            t_given if given_t is not None else
                            f"poorest {h:.1%} of {who} by predicted welfare (share of P)"),
                      P, T))

    y = _levels(true, impact)
    rho = {u: _spearman(pred, true, pw if u == "people" else hw) for u in units}
    records, poor_rows, targ_rows, index = [], [], [], []
    for rule, P, T in rules:
        tau = math.nan if budget is None else _ratio(float(budget), float((pw * T).sum()))
        if budget is not None and not math.isfinite(tau):
            tau = 0.0  # nobody targeted: nothing is spent
        for u in units:
            w = pw if u == "people" else hw
            label = rule.label if len(units) == 1 else f"{rule.label} ({u})"
            rec: dict[str, Any] = {"rule": rule.rule, "unit": u, "threshold": rule.threshold,
                                   "target_threshold": rule.target_threshold,
                                   "poor_definition": rule.poor_definition,
                                   "targeted_definition": rule.targeted_definition}
            rec.update(_row(P, T, w, pw, bmass, true, pred, y, tau, rho=rho[u]))
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
        "budget": "none" if budget is None else
                  f"{float(budget):g} poverty lines x people, equal per targeted person",
        "spearman": "weighted (unit weights): weighted Pearson of weighted mid-ranks",
        "auc": "Pr(predicted of a poor < predicted of a non-poor), unit-weighted, ties 1/2",
    }
    table.attrs.update(conventions)
    return Evaluation(table=table, true_welfare=true, predicted_welfare=pred, weight=pw,
                      household_weight=hw, poor=np.array(poor_rows), targeted=np.array(targ_rows),
                      units=units, benefit_mass=bmass, impact_line=impact, groups=g,
                      conventions=conventions)


def _units(unit: Any, have_weight: bool) -> tuple[str, ...]:
    if unit is None:
        return ("people",) if have_weight else ("households",)
    units = (unit,) if isinstance(unit, str) else tuple(unit)
    bad = [u for u in units if u not in ("people", "households")]
    if bad or not units or len(set(units)) != len(units):
        raise EvaluationError(f"unit must be 'people', 'households' or both; got {unit!r}.",
                              argument="unit")
    if "people" in units and not have_weight:
        raise EvaluationError("unit 'people' needs weight= (person weights, e.g. hh_size); "
                              "without it every household weighs 1. Fix: pass weight=hh_size "
                              "or unit='households'.", argument="unit")
    return units


def desil_confusion(true_welfare: Any, predicted_welfare: Any, *, weight: Any = None,
                    household_weight: Any = None, n: int = 10, unit: Unit = "people"
                    ) -> pd.DataFrame:
    """How many people (or households) of each true desil land in each predicted desil.

    Both desil are assigned by pmt's rule (registry mode, person weights
    ``weight``) within the population given, from true and from predicted
    welfare.

    Parameters
    ----------
    true_welfare, predicted_welfare : array-like of float, shape (n_households,)
    weight : array-like, shape (n_households,), optional
        Person weights (default 1 per household).
    household_weight : array-like, optional
        Household weights for ``unit="households"`` (default 1).
    n : int, default 10
    unit : {"people", "households"}

    Returns
    -------
    pandas.DataFrame, shape (n, n): index ``true_desil``, columns
    ``predicted_desil``; sums of the unit's weights (ints for plain counts).
    """
    true = _array(true_welfare, "true_welfare")
    pred = _array(predicted_welfare, "predicted_welfare", true.shape[0])
    pw = _weight(weight, "weight", true.shape[0])
    if unit not in ("people", "households"):
        raise EvaluationError(f"unit must be 'people' or 'households'; got {unit!r}.",
                              argument="unit")
    w = pw if unit == "people" else _weight(household_weight, "household_weight", true.shape[0])
    dt = assign_desil(true, pw, n=n).desil.astype(np.int64) - 1
    dp = assign_desil(pred, pw, n=n).desil.astype(np.int64) - 1
    return _matrix(dt, dp, w, n, "true_desil", "predicted_desil",
                   integer=unit == "households" and household_weight is None)


def _matrix(a: np.ndarray, b: np.ndarray, w: np.ndarray | None, n: int, rows: str, cols: str,
            *, integer: bool) -> pd.DataFrame:
    counts = np.bincount(a * n + b, weights=w, minlength=n * n).reshape(n, n)
    if integer:
        counts = counts.round().astype(np.int64)
    return pd.DataFrame(counts, index=pd.RangeIndex(1, n + 1, name=rows),
                        columns=pd.RangeIndex(1, n + 1, name=cols))


# =========================================================================== compare

_COMPARED = ("desil_national", "desil_provincial", "eligible", "welfare",
             "share_below_national", "share_below_provincial", "province")


def _ranked_frame(x: Any, which: str, id_col: str | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A RankResult or a ``to_frame()``-like table as columns ``id`` + :data:`_COMPARED`."""
    if isinstance(x, RankResult):
        if x.ids is None:
            raise EvaluationError(f"{which}: the ranking has no household ids (rank was called "
                                  "with id_col=None), so it cannot be matched. Fix: rank with "
                                  "id_col='hh_id'.", argument=which)
        frame = pd.DataFrame({
            "id": x.ids, "desil_national": x.desil_national,
            "desil_provincial": x.desil_provincial, "eligible": x.eligible,
            "welfare": x.welfare, "share_below_national": x.share_below_national,
            "share_below_provincial": x.share_below_provincial,
            "province": x.province.astype(np.int16), "person_weight": x.person_weight})
        return frame, dict(x.provenance)
    if not isinstance(x, pd.DataFrame):
        raise TypeError(f"{which} must be a RankResult or a DataFrame of RankResult.to_frame() "
                        f"columns; got {type(x).__name__}.")
    key = id_col or "hh_id"
    cols = {key: "id", "desil_national": "desil_national",
            "desil_provincial": "desil_provincial", "eligible": "eligible"}
    missing = [c for c in cols if c not in x.columns]
    if "province_code" not in x.columns and "district_code" not in x.columns:
        missing.append("province_code")
    if missing:
        raise EvaluationError(f"{which}: missing columns {missing} (rule: a ranking table "
                              f"needs {key}, desil_national, desil_provincial, eligible and "
                              "province_code, as written by `pmt rank`). Fix: pass the file "
                              "pmt rank wrote, or set id_col.", argument=which)
    frame = pd.DataFrame({v: x[k].to_numpy() for k, v in cols.items()})
    frame["province"] = (x["province_code"].to_numpy() if "province_code" in x.columns
                         else x["district_code"].to_numpy() // 100).astype(np.int16)
    for c in ("welfare", "share_below_national", "share_below_provincial"):
        frame[c] = x[c].to_numpy(dtype="float64") if c in x.columns else np.nan
    for c in ("person_weight", "hh_size"):
        if c in x.columns:
            frame["person_weight"] = x[c].to_numpy(dtype="float64")
            break
    meta = dict(x.attrs)
    return frame, meta


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two rankings of the same households, matched by household id.

    Attributes
    ----------
    matched : pandas.DataFrame
        One row per id in both: ``id``, ``province`` (B's), then
        ``desil_national_a``/``_b``, ``desil_provincial_a``/``_b``,
        ``eligible_a``/``_b``, ``welfare_a``/``_b``, ``share_below_national_a``/``_b``,
        ``share_below_provincial_a``/``_b``, ``province_a``/``_b`` and
        ``person_weight`` (B's if it has them, else A's; NaN if neither).
    only_a, only_b : pandas.DataFrame
        Ids (and their ranking columns) found in one ranking only.
    labels : (str, str)
        What A and B are (weight set ids, file names).
    n_classes : int
    """

    matched: pd.DataFrame
    only_a: pd.DataFrame
    only_b: pd.DataFrame
    labels: tuple[str, str]
    n_classes: int

    @property
    def has_people(self) -> bool:
        """Whether person weights are known (people-weighted tables possible)."""
        return bool(self.matched["person_weight"].notna().all()) and len(self.matched) > 0

    def _w(self, unit: str, frame: pd.DataFrame) -> np.ndarray | None:
        if unit == "households":
            return None
        if unit != "people":
            raise EvaluationError(f"unit must be 'households' or 'people'; got {unit!r}.",
                                  argument="unit")
        if not self.has_people:
            raise EvaluationError("unit='people' needs person weights, and these rankings "
                                  "carry none (a table without person_weight or hh_size). "
                                  "Fix: compare RankResult objects, or add an hh_size column "
                                  "(pmt compare --sizes FILE).", argument="unit")
        return frame["person_weight"].to_numpy()

    def transitions(self, *, unit: Unit = "households",
                    desil: Literal["national", "provincial"] = "national",
                    by_province: bool = False) -> pd.DataFrame:
        """Desil transition matrix: rows desil in A, columns desil in B.

        Parameters
        ----------
        unit : {"households", "people"}
        desil : {"national", "provincial"}
            Which desil to cross.
        by_province : bool
            One matrix per province (B's province), stacked: index
            (``province``, ``desil_a``).

        Returns
        -------
        pandas.DataFrame of shape (n, n), or (n_provinces·n, n): households
        (int) or people (float). Totals equal the matched households (people).
        """
        if desil not in ("national", "provincial"):
            raise EvaluationError(f"desil must be 'national' or 'provincial'; got {desil!r}.",
                                  argument="desil")
        n = self.n_classes
        m = self.matched
        w = self._w(unit, m)
        a = m[f"desil_{desil}_a"].to_numpy().astype(np.int64) - 1
        b = m[f"desil_{desil}_b"].to_numpy().astype(np.int64) - 1
        if not by_province:
            return _matrix(a, b, w, n, "desil_a", "desil_b", integer=w is None)
        prov = m["province"].to_numpy()
        parts = {}
        for p in np.unique(prov):
            sel = prov == p
            parts[f"{int(p):02d}"] = _matrix(a[sel], b[sel], None if w is None else w[sel], n,
                                             "desil_a", "desil_b", integer=w is None)
        if not parts:
            return _matrix(a, b, w, n, "desil_a", "desil_b", integer=w is None).iloc[:0]
        return pd.concat(parts, names=["province"])

    def eligibility(self, *, by_province: bool = False) -> pd.DataFrame:
        """Eligibility kept, gained and lost among matched households (households and people).

        Returns
        -------
        pandas.DataFrame, one row (``national``) or one per province (B's):
        ``households``, ``eligible_both``, ``gained``, ``lost``, ``eligible_neither``,
        and, when person weights are known, ``people`` and ``people_*`` alike.
        """
        m = self.matched
        ea, eb = m["eligible_a"].to_numpy(bool), m["eligible_b"].to_numpy(bool)
        flags = {"eligible_both": ea & eb, "gained": ~ea & eb, "lost": ea & ~eb,
                 "eligible_neither": ~ea & ~eb}
        key = (np.array([f"{int(p):02d}" for p in m["province"].to_numpy()], dtype=object)
               if by_province else np.full(len(m), "national", dtype=object))
        data: dict[str, Any] = {"scope": key, "households": np.ones(len(m), dtype=np.int64)}
        data.update({k: v.astype(np.int64) for k, v in flags.items()})
        if self.has_people:
            pw = m["person_weight"].to_numpy()
            data["people"] = pw
            data.update({f"people_{k}": pw * v for k, v in flags.items()})
        out = pd.DataFrame(data).groupby("scope", sort=True).sum()
        if not by_province and out.empty:
            out = pd.DataFrame(0, index=pd.Index(["national"], name="scope"),
                               columns=[c for c in data if c != "scope"])
        return out

    def movers(self, k: int = 20, *, desil: Literal["national", "provincial"] = "national"
               ) -> pd.DataFrame:
        """The ``k`` households whose desil changed most.

        Ordered by ``|desil change|``, then ``|share_below change|`` (both
        descending), then id, so the list is deterministic.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise EvaluationError(f"k must be a whole number >= 0; got {k!r}.", argument="k")
        if desil not in ("national", "provincial"):
            raise EvaluationError(f"desil must be 'national' or 'provincial'; got {desil!r}.",
                                  argument="desil")
        m = self.matched
        change = (m[f"desil_{desil}_b"].astype(np.int64) - m[f"desil_{desil}_a"].astype(np.int64))
        share = m[f"share_below_{desil}_b"] - m[f"share_below_{desil}_a"]
        frame = m.assign(desil_change=change, share_below_change=share,
                         _d=-change.abs(), _s=-share.abs().fillna(0.0))
        frame = frame.sort_values(["_d", "_s", "id"], kind="stable").head(k)
        cols = ["id", "province", f"desil_{desil}_a", f"desil_{desil}_b", "desil_change",
                f"share_below_{desil}_a", f"share_below_{desil}_b", "share_below_change",
                "welfare_a", "welfare_b", "eligible_a", "eligible_b", "person_weight"]
        return frame[cols].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Headline counts: matched, unmatched (and how many of those eligible), moves."""
        m = self.matched
        da = m["desil_national_a"].to_numpy().astype(np.int64)
        db = m["desil_national_b"].to_numpy().astype(np.int64)
        ea, eb = m["eligible_a"].to_numpy(bool), m["eligible_b"].to_numpy(bool)
        rows: dict[str, Any] = {
            "households_a": len(m) + len(self.only_a),
            "households_b": len(m) + len(self.only_b),
            "matched": len(m),
            "only_in_a": len(self.only_a),
            "only_in_a_eligible": int(self.only_a["eligible"].astype(bool).sum()),
            "only_in_b": len(self.only_b),
            "only_in_b_eligible": int(self.only_b["eligible"].astype(bool).sum()),
            "same_national_desil": int((da == db).sum()),
            "moved_poorer": int((db < da).sum()),
            "moved_richer": int((db > da).sum()),
            "moved_2_or_more": int((np.abs(db - da) >= 2).sum()),
            "eligible_a": int(ea.sum()),
            "eligible_b": int(eb.sum()),
            "gained_eligibility": int((~ea & eb).sum()),
            "lost_eligibility": int((ea & ~eb).sum()),
        }
        if self.has_people:
            pw = m["person_weight"].to_numpy()
            rows["people_matched"] = float(pw.sum())
            rows["people_gained_eligibility"] = float((pw * (~ea & eb)).sum())
            rows["people_lost_eligibility"] = float((pw * (ea & ~eb)).sum())
        return pd.DataFrame({"value": pd.Series(rows, dtype=object)}).rename_axis("item")

    def __repr__(self) -> str:
        s = self.summary()["value"]
        return (f"<Comparison {self.labels[0]} -> {self.labels[1]}: {s['matched']:,} matched, "
                f"{s['only_in_a']:,} only in A, {s['only_in_b']:,} only in B; eligibility "
                f"+{s['gained_eligibility']:,} / -{s['lost_eligibility']:,}>")


def compare(a: Any, b: Any, *, id_col: str | None = None, labels: tuple[str, str] | None = None,
            n: int | None = None) -> Comparison:
    """Match two rankings by household id and compare their desil and eligibility.

    Use it for two weight sets on one registry (``pmt.rank(hh, ws1)`` against
    ``pmt.rank(hh, ws2)``) or two snapshots of a registry. Ids present in only
    one ranking are kept in :attr:`Comparison.only_a` / ``only_b`` and counted
    in the summary, never dropped silently.

    Parameters
    ----------
    a, b : RankResult or pandas.DataFrame
        Results, or tables with ``RankResult.to_frame()`` columns (as written by
        ``pmt rank``); a ``person_weight`` or ``hh_size`` column enables the
        people-weighted tables.
    id_col : str, optional
        The id column of DataFrame inputs (default ``"hh_id"``).
    labels : (str, str), optional
        Names of A and B (default: their weight set ids, or "A" and "B").
    n : int, optional
        Number of desil classes (default: from the results' provenance, else
        the largest desil seen, at least 10).

    Returns
    -------
    Comparison

    Raises
    ------
    EvaluationError
        Duplicate ids, missing columns, or rankings with different class counts.
    """
    fa, ma = _ranked_frame(a, "a", id_col)
    fb, mb = _ranked_frame(b, "b", id_col)
    for frame, which in ((fa, "a"), (fb, "b")):
        dup = frame["id"].duplicated(keep=False).to_numpy()
        if dup.any():
            raise EvaluationError(f"{which}: household ids must be unique to match; "
                                  f"{int(dup.sum()):,} rows share an id, e.g. at rows "
                                  f"{np.flatnonzero(dup)[:5].tolist()}. Fix: deduplicate "
                                  "first.", argument=which)
        if frame["id"].isna().any():
            raise EvaluationError(f"{which}: household ids must not be missing.",
                                  argument=which)
    classes = {int(v) for m in (ma, mb) if (v := m.get("n_classes")) is not None}
    if len(classes) > 1:
        raise EvaluationError(f"the rankings use different numbers of classes {sorted(classes)}; "
                              "their desil cannot be crossed. Fix: rank both with the same n.",
                              argument="b")
    if n is None:
        seen = max(int(fa["desil_national"].max() if len(fa) else 1),
                   int(fb["desil_national"].max() if len(fb) else 1),
                   int(fa["desil_provincial"].max() if len(fa) else 1),
                   int(fb["desil_provincial"].max() if len(fb) else 1))
        n = classes.pop() if classes else max(10, seen)
    if labels is None:
        la, lb = ma.get("weights_id", "A"), mb.get("weights_id", "B")
        labels = (str(la), str(lb)) if la != lb else (f"A ({la})", f"B ({lb})")
    merged = fa.merge(fb, on="id", how="outer", suffixes=("_a", "_b"), indicator=True)
    both = merged["_merge"] == "both"
    m = merged.loc[both].drop(columns="_merge").reset_index(drop=True)
    pw = np.full(len(m), np.nan)
    for side in ("a", "b"):
        col = f"person_weight_{side}"
        if col in m.columns:
            vals = m[col].to_numpy(dtype="float64")
            pw = np.where(np.isnan(vals), pw, vals) if side == "b" else vals
    m = m.drop(columns=[c for c in ("person_weight_a", "person_weight_b") if c in m.columns])
    for side in ("a", "b"):
        m[f"province_{side}"] = m[f"province_{side}"].astype(np.int16)
    m.insert(1, "province", m["province_b"])
    m["person_weight"] = pw
    for c in ("desil_national", "desil_provincial"):
        for side in ("a", "b"):
            m[f"{c}_{side}"] = m[f"{c}_{side}"].astype(np.int16)
    for side in ("a", "b"):
        m[f"eligible_{side}"] = m[f"eligible_{side}"].astype(bool)
    only_a = fa[fa["id"].isin(merged.loc[merged["_merge"] == "left_only", "id"])]
    only_b = fb[fb["id"].isin(merged.loc[merged["_merge"] == "right_only", "id"])]
    return Comparison(matched=m, only_a=only_a.reset_index(drop=True),
                      only_b=only_b.reset_index(drop=True), labels=labels, n_classes=int(n))


# =========================================================================== explain, what-if

def _subset(households: Any, rows: Any) -> Any:
    """The rows of ``households`` to explain (positions or a boolean mask), in that order."""
    if rows is None:
        return households
    n = households.num_rows if hasattr(households, "num_rows") else len(households)
    r = np.asarray(rows)
    if r.dtype == bool:
        if r.shape != (n,):
            raise EvaluationError(f"rows as a mask must have shape ({n},); got {r.shape}.",
                                  argument="rows")
        r = np.flatnonzero(r)
    elif r.ndim == 0:
        r = r.reshape(1)
    if r.dtype.kind not in "iu":
        raise TypeError(f"rows must be integer positions or a boolean mask; got dtype {r.dtype}.")
    bad = r[(r < 0) | (r >= n)]
    if bad.size:
        raise EvaluationError(f"rows holds positions outside 0..{n - 1}: {bad[:5].tolist()}. "
                              "Fix: pass 0-based row positions (not ids or index labels).",
                              argument="rows")
    if isinstance(households, pd.DataFrame):
        return households.iloc[r]
    if hasattr(households, "take"):
        return households.take(r)
    raise TypeError(f"households must be a pandas DataFrame or a pyarrow Table; got "
                    f"{type(households).__name__}.")


def explain(households: Any, weights: WeightSet | str, *, rows: Any = None,
            id_col: str | None = "hh_id", format: Literal["wide", "long"] = "wide"
            ) -> pd.DataFrame:
    """The contribution of each variable to each household's welfare.

    For the model that scored the household: the intercept; for a binary or
    categorical variable, the coefficient of the household's code; for a
    numeric term (count, continuous or derived feature such as
    ``log_floor_area_pc``), coefficient × value; and minus the log poverty line
    of its region. The scoring kernel itself writes each contribution as it
    adds it (:func:`pmt.rank.score_terms`), so the ``welfare`` column is
    :func:`pmt.score`'s bit for bit, and adding the term columns from left to
    right reproduces it exactly.

    Parameters
    ----------
    households : pandas.DataFrame or pyarrow.Table
        As for :func:`pmt.rank`; invalid rows raise.
    weights : WeightSet or str
    rows : array-like of int, or bool mask, optional
        Which input rows to explain (0-based positions); default all.
    id_col : str or None, default "hh_id"
    format : {"wide", "long"}
        ``wide``: one row per household — id, ``model_key``, one column per
        term, ``welfare``. ``long``: one row per household × term — id,
        ``model_key``, ``term``, ``value`` (the code, or the numeric value of
        the term), ``meaning`` (the code's label), ``contribution``.

    Returns
    -------
    pandas.DataFrame indexed like the explained input rows.
    """
    if format not in ("wide", "long"):
        raise EvaluationError(f"format must be 'wide' or 'long'; got {format!r}.",
                              argument="format")
    ws = _weights(weights)
    enc = encode(_subset(households, rows), ws, id_col=id_col)
    names, contributions, total = score_terms(enc, ws)
    cols = {name: contributions[:, j] for j, name in enumerate(names)}
    keys = pd.Categorical.from_codes(enc.cell_model[enc.cell], categories=list(ws.model_keys))
    head: dict[str, Any] = {}
    if id_col is not None:
        head[id_col] = enc.ids
    head["model_key"] = keys
    if format == "wide":
        frame = pd.DataFrame({**head, **cols, "welfare": total}, index=enc.index)
        frame.attrs["weights"] = f"{ws.id} {ws.content_hash}"
        return frame
    spec = ws.spec
    n = enc.n
    terms = list(cols)
    values: list[np.ndarray] = [np.ones(n)]
    meanings: list[np.ndarray] = [np.full(n, "", dtype=object)]
    for j, var in enumerate(spec.lookup_variables):
        code_vals = np.array(var.code_values)
        labels = np.array([("yes" if c else "no") if var.kind == "binary"
                           else (var.codes or {}).get(c, "") for c in var.code_values],
                          dtype=object)
        values.append(code_vals[enc.codes[:, j]].astype(np.float64))
        meanings.append(labels[enc.codes[:, j]])
    for j in range(len(spec.numeric_terms)):
        values.append(enc.numeric[:, j])
        meanings.append(np.full(n, "", dtype=object))
    values.append(np.exp(enc.cell_shift[enc.cell]))
    meanings.append(np.full(n, "poverty line (Rp per person per month)", dtype=object))
    k = len(terms)
    data: dict[str, Any] = {}
    if id_col is not None:
        data[id_col] = np.repeat(np.asarray(enc.ids), k)
    data["model_key"] = np.repeat(np.asarray(keys), k)
    data["term"] = pd.Categorical(np.tile(np.array(terms, dtype=object), n), categories=terms)
    data["value"] = np.column_stack(values).reshape(-1)
    data["meaning"] = np.column_stack(meanings).reshape(-1)
    data["contribution"] = contributions.reshape(-1)   # (n, k), one household after another
    frame = pd.DataFrame(data, index=enc.index.repeat(k))
    frame.attrs["weights"] = f"{ws.id} {ws.content_hash}"
    return frame


def _what_if_cutoffs(ws: WeightSet, result: RankResult | None, cutoffs: Any
                     ) -> tuple[dict[str, Any], int, str]:
    """(cutoffs per scope, number of classes, where they come from) for :func:`what_if`.

    The cutoffs are checked by :func:`pmt.rank` itself (one check of a cutoff
    mapping), not here.
    """
    if cutoffs is not None:
        if not isinstance(cutoffs, Mapping):
            raise EvaluationError(f"cutoffs must map 'national' (and 2-digit province codes) "
                                  f"to arrays c_1..c_{{n-1}}, like RankResult.registry_cutoffs; "
                                  f"got {type(cutoffs).__name__}.", argument="cutoffs")
        table = {str(k): v for k, v in cutoffs.items()}
        try:
            n = int(np.asarray(table["national"], dtype=np.float64).size) + 1
        except (KeyError, TypeError, ValueError):
            n = 10  # pmt.rank names what is wrong with the mapping
        return table, (n if 2 <= n <= 100 else 10), "given cutoffs"
    if result is not None:
        if result.weights_hash != ws.content_hash:
            raise EvaluationError(
                f"result was ranked with weights {result.weights_id} ({result.weights_hash[:19]}"
                f"…) but weights is {ws.id} ({ws.content_hash[:19]}…); its cutoffs belong to "
                "the other weight set. Fix: pass the weight set the result was ranked with.",
                argument="result")
        if result.cutoff_mode == "reference":
            return dict(ws.cutoffs), result.n_classes, f"reference cutoffs of {ws.id}"
        if result.cutoff_mode == "registry":
            return dict(result.registry_cutoffs), result.n_classes, \
                "the result's registry cutoffs"
        raise EvaluationError(
            f"result was ranked with cutoffs={result.cutoff_mode!r} (cutoffs given by the "
            "caller), which a RankResult does not keep. Fix: pass the same mapping as "
            "cutoffs=.", argument="result")
    if ws.cutoffs:
        return dict(ws.cutoffs), int(ws.cutoff_classes or 10), f"reference cutoffs of {ws.id}"
    raise EvaluationError("what_if needs cutoffs to place the new welfare: pass result= "
                          "(the RankResult of the original ranking) or cutoffs=, or use a "
                          "weight set with reference cutoffs.", argument="result")


def what_if(households: Any, weights: WeightSet | str, changes: Mapping[str, Any], *,
            result: RankResult | None = None, cutoffs: Mapping[str, Any] | None = None,
            rows: Any = None, max_desil: int | None = None, line: float | None = None,
            id_col: str | None = "hh_id") -> pd.DataFrame:
    """Welfare and desil the households would have with changed characteristics.

    The households, before and after the change, are ranked by :func:`pmt.rank`
    against the *original* ranking's cutoffs (``cutoffs=`` a mapping: ``desil =
    1 + #{k : welfare > c_k}``, national and provincial) instead of re-ranking
    everyone: an appeal about one household must not move the others. The
    "after" columns are exactly ``pmt.rank(changed, weights, cutoffs=<those
    cutoffs>)``; with no change the original desil are reproduced exactly
    (``docs/desil.md``: registry cutoffs applied to the data they came from
    give the registry desil).

    Parameters
    ----------
    households : pandas.DataFrame or pyarrow.Table
    weights : WeightSet or str
    changes : mapping of column -> scalar or array of shape (n_rows,)
        New values, e.g. ``{"floor_material": 9, "has_motorcycle": 0}``.
        Columns must exist in ``households``; values are validated like any
        input (an invalid code raises the usual typed error).
    result : RankResult, optional
        The original ranking: its registry cutoffs (or, in reference mode,
        the weight set's), its number of classes and its eligibility rule
        (``result.max_desil`` / ``result.line``) are used. A result ranked with
        cutoffs given as a mapping does not keep them: pass them as ``cutoffs``.
    cutoffs : mapping, optional
        ``{"national": c, "PP": c, ...}`` instead of ``result``, as
        :func:`pmt.rank` takes them (``n - 1`` cutoffs each).
    rows : array-like of int or bool mask, optional
        Which input rows (0-based positions); default all.
    max_desil, line : optional
        Eligibility rule (``desil_national <= max_desil`` or ``welfare <=
        line``; not both); default the result's rule, else ``max_desil=4``.
    id_col : str or None, default "hh_id"

    Returns
    -------
    pandas.DataFrame indexed like the rows: id, ``model_key_before`` /
    ``_after``, ``welfare_before`` / ``_after``, ``welfare_change``,
    ``desil_national_before`` / ``_after``, ``desil_provincial_before`` /
    ``_after`` (nullable: NA for a province the cutoffs do not cover),
    ``eligible_before`` / ``_after``. ``attrs`` says which cutoffs were used.

    Raises
    ------
    pmt.errors.ArgumentError
        Malformed cutoffs, or both ``max_desil`` and ``line`` (the checks of :func:`pmt.rank`).
    """
    ws = _weights(weights)
    if not isinstance(changes, Mapping):
        raise TypeError(f"changes must be a mapping of column -> value; got "
                        f"{type(changes).__name__}. Fix: e.g. {{'floor_material': 9}}.")
    base = _subset(households, rows)
    if not isinstance(base, pd.DataFrame):
        base = base.to_pandas()
    n = len(base)
    changed = base.copy()
    for col, value in changes.items():
        if col not in base.columns:
            raise EvaluationError(f"changes: column {col!r} is not in households (rule: a "
                                  "change replaces an existing column). Fix: use the spec's "
                                  f"names, e.g. {list(base.columns[:6])}.", argument="changes")
        if id_col is not None and col == id_col:
            raise EvaluationError(f"changes: the id column {col!r} cannot be changed.",
                                  argument="changes")
        if np.ndim(value) == 0:
            changed[col] = value
        else:
            arr = np.asarray(value)
            if arr.shape != (n,):
                raise EvaluationError(f"changes[{col!r}] has shape {arr.shape}; it must be a "
                                      f"scalar or ({n},), one value per household.",
                                      argument="changes")
            changed[col] = arr
    table, n_classes, source = _what_if_cutoffs(ws, result, cutoffs)
    if line is None and max_desil is None and result is not None:
        max_desil, line = result.max_desil, result.line
    # pmt.rank needs cutoffs for every province it ranks. A province the table does not
    # cover is ranked against the national row (any valid row would do: provincial desil
    # never affect national desil or eligibility) and its provincial desil reported as NA.
    covered = {k for k in table if k != "national"}
    full = {**table, **{f"{p:02d}": table["national"] for p in range(100)
                        if f"{p:02d}" not in table}} if "national" in table else table
    ranked = {tag: _rank(frame, ws, cutoffs=full, n=n_classes, max_desil=max_desil, line=line,
                         id_col=id_col)
              for tag, frame in (("before", base), ("after", changed))}
    out: dict[str, Any] = {}
    if id_col is not None:
        out[id_col] = ranked["before"].ids
    for tag, res in ranked.items():
        out[f"model_key_{tag}"] = pd.Categorical.from_codes(res.model,
                                                            categories=list(res.model_keys))
    wa, wb = ranked["before"].welfare, ranked["after"].welfare
    out.update(welfare_before=wa, welfare_after=wb, welfare_change=wb - wa)
    for tag, res in ranked.items():
        out[f"desil_national_{tag}"] = res.desil_national.astype(np.int16)
    for tag, res in ranked.items():
        d = pd.array(res.desil_provincial.astype(np.int16), dtype="Int16")
        d[~np.isin(res.province, [int(k) for k in covered])] = pd.NA
        out[f"desil_provincial_{tag}"] = d
    for tag, res in ranked.items():
        out[f"eligible_{tag}"] = res.eligible
    frame = pd.DataFrame(out, index=ranked["before"].index)
    frame.attrs.update(cutoffs=source, eligibility=ranked["after"].eligibility,
                       changes=", ".join(sorted(map(str, changes))) or "none",
                       weights=f"{ws.id} {ws.content_hash}")
    return frame


# =========================================================================== reports, CLI

def to_markdown(frame: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index included), floats to ``digits``."""
    idx = frame.index
    plain = isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1 and \
        idx.name is None
    f = frame if plain else frame.reset_index()
    if not plain and frame.columns.name is not None and not isinstance(idx, pd.MultiIndex):
        f = f.rename(columns={f.columns[0]: f"{f.columns[0]} \\ {frame.columns.name}"})

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            x = float(v)
            if math.isnan(x):
                return ""
            if abs(x) >= 1e6:
                return f"{x:,.0f}"
            return f"{x:.{digits}f}".rstrip("0").rstrip(".")
        return str(v).replace("|", "\\|")

    header = [str(c) for c in f.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(f[c]) else ":---"
                            for c in f.columns) + "|"]
    for row in f.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _read_table(path: str) -> pd.DataFrame:
    from .io import read_households

    return read_households(path)


def _provenance(path: str) -> dict[str, Any]:
    import json

    if Path(path).suffix.lower() not in (".parquet", ".pq"):
        return {}
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"pmt")
    return json.loads(raw) if raw else {}


def _column(frame: pd.DataFrame, col: str, option: str) -> np.ndarray:
    if col not in frame.columns:
        raise ValueError(f"{option} {col}: no such column; the file has "
                         f"{list(frame.columns[:12])}{' ...' if len(frame.columns) > 12 else ''}."
                         f" Fix: name an existing column with {option}.")
    return frame[col].to_numpy()


#: The files ``pmt evaluate --plots`` and ``pmt compare --plots`` write into the folder.
_EVALUATE_PLOTS = ("coverage.png", "error_by_percentile.png", "roc.png", "desil_confusion.png")
_COMPARE_PLOTS = ("transitions_households.png", "transitions_people.png")


def _check_cli_paths(args: argparse.Namespace, inputs: dict[str, Any],
                     plot_names: tuple[str, ...]) -> None:
    """Before any work: ``--out`` is .csv or .md, matplotlib is there for ``--plots``, and no
    output is an input or unwritable (:func:`pmt.cli.check_paths`)."""
    from .cli import check_paths
    from .errors import OutputPathError

    if args.out and Path(args.out).suffix.lower() not in (".csv", ".md"):
        raise OutputPathError(f"--out {args.out}: unknown report type "
                              f"{Path(args.out).suffix!r} (rule: reports are .csv or .md). "
                              "Fix: end the name with .md or .csv.", argument="--out",
                              path=str(args.out))
    outputs: list[tuple[str, Any]] = [("--out", args.out)]
    folders = {}
    if args.plots:
        from . import plots

        plots._figure()  # raises ImportError with the fix if matplotlib is missing
        folders["--plots"] = Path(args.plots)
        outputs += [("--plots", Path(args.plots) / name) for name in plot_names]
    check_paths(inputs=inputs, outputs=outputs, weights=getattr(args, "weights", None),
                folders=folders)


def _write_report(path: Path, text: str) -> None:
    from .io import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _cmd_evaluate(args: argparse.Namespace, progress: Any = None) -> int:
    import pmt

    _check_cli_paths(args, {"INPUT": args.input}, _EVALUATE_PLOTS)
    frame = _read_table(args.input)
    true = _column(frame, args.true, "--true")
    if (args.predicted is None) == (args.weights is None):
        raise ValueError("pmt evaluate needs exactly one of --predicted COL (a column of "
                         "predicted welfare) or --weights NAME (score the households in the "
                         "file).")
    if args.predicted is not None:
        pred = _column(frame, args.predicted, "--predicted")
    else:
        pred = pmt.score(frame, pmt.load_weights(args.weights), id_col=args.id_col).to_numpy()
    weight = None
    if args.weight.lower() != "none":
        weight = _column(frame, args.weight, "--weight").astype(np.float64)
    hw = None
    if args.survey_weight:
        hw = _column(frame, args.survey_weight, "--survey-weight").astype(np.float64)
        weight = hw if weight is None else weight * hw
    groups = None
    if args.by == "province":
        groups = np.array([f"{int(d) // 100:02d}" for d in _column(frame, "district_code",
                                                                    "--by province")])
    elif args.by:
        groups = _column(frame, args.by, "--by")
    benefit = None if args.benefit is None else _column(frame, args.benefit, "--benefit")
    unit: Any = ("people", "households") if args.unit == "both" else args.unit
    if weight is None and args.unit == "people":
        unit = "households"  # --weight none: every household weighs 1
    ev = evaluate(true, pred, weight=weight, household_weight=hw,
                  quotas=args.quota or None, lines=args.line or None, unit=unit,
                  budget=args.budget, benefit=benefit, groups=groups)
    out = sys.stdout
    out.write(to_markdown(ev.summary(), digits=4))
    if args.out:
        path = Path(args.out)
        if path.suffix.lower() == ".md":
            parts = [f"# Targeting evaluation of {args.input}\n",
                     "Conventions:\n\n" + "".join(f"- **{k}**: {v}\n"
                                                  for k, v in ev.conventions.items()),
                     "## Metrics\n\n" + to_markdown(ev.table)]
            if groups is not None:
                parts.append(f"## By {args.by}\n\n" + to_markdown(ev.by_group(name=args.by)))
            parts.append("## By true desil\n\n" + to_markdown(ev.by_desil()))
            parts.append("## Desil confusion (people; rows true, columns predicted)\n\n"
                         + to_markdown(ev.desil_confusion(unit="people")))
            _write_report(path, "\n".join(parts))
        else:  # .csv (checked before any work)
            from .io import write_table

            table = ev.table.reset_index().assign(**{args.by or "group": "all"})
            if groups is not None:
                table = pd.concat([table, ev.by_group(name=args.by).reset_index()],
                                  ignore_index=True)
            write_table(table, path)
        out.write(f"\nwrote {path}\n")
    if args.plots:
        from . import plots

        folder = Path(args.plots)
        folder.mkdir(exist_ok=True)  # its parent was checked before any work
        plots.coverage_curve(ev, path=folder / "coverage.png")
        plots.error_by_percentile(ev, path=folder / "error_by_percentile.png")
        plots.roc_curve(ev, path=folder / "roc.png")
        plots.desil_heatmap(ev.desil_confusion(unit="people"), path=folder / "desil_confusion.png",
                            title="Predicted against true desil (people)")
        out.write(f"wrote 4 plots to {folder}\n")
    return 0


def _cmd_compare(args: argparse.Namespace, progress: Any = None) -> int:
    _check_cli_paths(args, {"A": args.a, "B": args.b, "--sizes": args.sizes}, _COMPARE_PLOTS)
    fa, fb = _read_table(args.a), _read_table(args.b)
    fa.attrs.update(_provenance(args.a))
    fb.attrs.update(_provenance(args.b))
    if args.sizes:
        sizes = _read_table(args.sizes)
        key = args.id_col
        for col in (key, "hh_size"):
            _column(sizes, col, "--sizes")
        size_of = sizes.set_index(key)["hh_size"]
        if not size_of.index.is_unique:
            raise ValueError(f"--sizes {args.sizes}: household ids are not unique.")
        for f in (fa, fb):
            if "person_weight" not in f.columns and "hh_size" not in f.columns:
                f["hh_size"] = f[key].map(size_of).to_numpy(dtype="float64")
    def label(path: str, attrs: dict[str, Any]) -> str:
        mode = f", cutoffs={attrs['cutoff_mode']}" if "cutoff_mode" in attrs else ""
        return f"{Path(path).name} ({attrs.get('weights_id', '?')}{mode})"

    labels = (label(args.a, fa.attrs), label(args.b, fb.attrs))
    cmp = compare(fa, fb, id_col=args.id_col, labels=labels)
    out = sys.stdout
    out.write(f"A = {labels[0]}\nB = {labels[1]}\n\n" + to_markdown(cmp.summary()))
    out.write("\nNational desil transitions (households; rows A, columns B):\n\n"
              + to_markdown(cmp.transitions()))
    if args.out:
        path = Path(args.out)
        if path.suffix.lower() == ".md":
            parts = [f"# Comparison\n\n- A: {labels[0]}\n- B: {labels[1]}\n",
                     "## Summary\n\n" + to_markdown(cmp.summary())]
            units: tuple[Unit, ...] = (("households", "people") if cmp.has_people
                                       else ("households",))
            for u in units:
                parts.append(f"## National desil transitions ({u}; rows A, columns B)\n\n"
                             + to_markdown(cmp.transitions(unit=u)))
            parts.append("## Eligibility by province\n\n"
                         + to_markdown(cmp.eligibility(by_province=True)))
            for u in units:
                parts.append(f"## Provincial desil transitions by province ({u})\n\n"
                             + to_markdown(cmp.transitions(unit=u, desil="provincial",
                                                           by_province=True)))
            parts.append(f"## The {args.movers} households that moved most\n\n"
                         + to_markdown(cmp.movers(args.movers)))
            _write_report(path, "\n".join(parts))
        else:  # .csv (checked before any work)
            from .io import write_table

            long = []
            units = ("households", "people") if cmp.has_people else ("households",)
            for u in units:
                for desil in ("national", "provincial"):
                    for by in (False, True):
                        t = cmp.transitions(unit=u, desil=desil, by_province=by)
                        s = t.stack().rename("value").reset_index()
                        if not by:
                            s.insert(0, "province", "all")
                        s.insert(0, "desil", desil)
                        s.insert(0, "unit", u)
                        long.append(s)
            write_table(pd.concat(long, ignore_index=True), path)
        out.write(f"\nwrote {path}\n")
    if args.plots:
        from . import plots

        folder = Path(args.plots)
        folder.mkdir(exist_ok=True)  # its parent was checked before any work
        written = 0
        shown: tuple[Unit, ...] = (("households", "people") if cmp.has_people
                                   else ("households",))
        for u in shown:
            plots.transition_heatmap(cmp, unit=u, path=folder / f"transitions_{u}.png")
            written += 1
        out.write(f"wrote {written} plot{'s' if written > 1 else ''} to {folder}\n")
    return 0


def add_cli(subparsers: Any) -> None:
    """Register ``pmt evaluate`` and ``pmt compare`` on the main parser's subparsers.

    Each sets ``handler`` (a function of ``(args, progress=None)`` returning the
    exit status); errors are raised as ValueError / TypeError / OSError.
    """
    e = subparsers.add_parser(
        "evaluate", help="targeting metrics of predicted against true welfare",
        description="Targeting metrics (docs/evaluation.md) of predicted against true welfare: "
                    "exclusion and inclusion errors, CGH, AUC, poverty impact, by rule and "
                    "threshold. See docs/evaluation.md.")
    e.add_argument("input", help="CSV, Parquet or Stata file, one row per household")
    e.add_argument("--true", required=True, help="column of true welfare (log ratio to line)")
    e.add_argument("--predicted", help="column of predicted welfare")
    e.add_argument("--weights", help="score the households in the file with this weight set")
    e.add_argument("--weight", default="hh_size",
                   help="person-weight column (default hh_size; 'none' = 1 per household)")
    e.add_argument("--survey-weight", help="survey-weight column (households), multiplied in")
    e.add_argument("--quota", type=float, action="append", default=[],
                   help="quota rule: the poorest share H (repeatable; default 0.2 and 0.4)")
    e.add_argument("--line", type=float, action="append", default=[],
                   help="line rule: welfare <= Z (repeatable)")
    e.add_argument("--unit", choices=["people", "households", "both"], default="people")
    e.add_argument("--budget", type=float, help="transfer budget in poverty lines x people")
    e.add_argument("--benefit", help="column: benefit per household if targeted")
    e.add_argument("--by", help="breakdown column, or 'province' (from district_code)")
    e.add_argument("--id-col", default="hh_id")
    e.add_argument("--out", help="write the tables to this .csv or .md file")
    e.add_argument("--plots", help="write PNG plots into this folder (needs matplotlib)")
    e.set_defaults(handler=_cmd_evaluate)

    c = subparsers.add_parser(
        "compare", help="compare two rankings matched by household id",
        description="Desil transitions, eligibility gained and lost, and the households that "
                    "moved most between two result files written by `pmt rank`.")
    c.add_argument("a", help="first result file (.parquet or .csv from pmt rank)")
    c.add_argument("b", help="second result file")
    c.add_argument("--id-col", default="hh_id")
    c.add_argument("--sizes", help="household file with the id and hh_size, for people counts")
    c.add_argument("--movers", type=int, default=20, help="households listed as movers")
    c.add_argument("--out", help="write the tables to this .md (all) or .csv (transitions) file")
    c.add_argument("--plots", help="write PNG heat maps into this folder (needs matplotlib)")
    c.set_defaults(handler=_cmd_compare)
