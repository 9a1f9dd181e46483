"""Targeting evaluation: metrics, breakdowns, comparisons and explanations.

Four tools over the same arrays, each a function returning a small frozen
result or a DataFrame:

:func:`evaluate` (:mod:`~pmt.evaluation.evaluation`)
    The targeting metrics of ``docs/evaluation.md`` (exclusion error, coverage, both
    inclusion errors, leakage by benefit, targeting differential, CGH, total
    accuracy, Spearman, AUC, FGT0/FGT1/Watts before and after a transfer),
    for quota rules (the poorest share ``H``) and line rules (welfare ``<= z``)
    at several thresholds in one call; breakdowns by group (province) and by
    true desil. Each metric is one function of :mod:`~pmt.evaluation.metrics`,
    registered in its table :data:`~pmt.evaluation.metrics.METRICS`.
:func:`compare` and :func:`desil_confusion` (:mod:`~pmt.evaluation.comparison`)
    Two rankings of the same households (two weight sets, or two snapshots of
    a registry) matched by household id: desil transition matrices, eligibility
    gained and lost, the households that moved most, the ids that did not
    match; and the predicted-against-true desil confusion matrix.
:func:`explain` and :func:`what_if` (:mod:`~pmt.evaluation.explain`)
    The contribution of every variable to each household's welfare under the
    model that scored it (adding up to :func:`pmt.score`'s welfare exactly:
    same terms, same order of summation); and the welfare and desil a
    household would have with changed characteristics, against the original
    ranking's cutoffs (so one appeal does not re-rank everyone else).

Tables and plots of these results are in :mod:`pmt.report`; the ``pmt
evaluate`` and ``pmt compare`` commands in :mod:`pmt.cli.evaluate`. Nothing
here imports either.

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
* ``n`` is a number of classes (``by_desil(n=10)``); counts of households are
  ``n_households``.
"""

from __future__ import annotations

from ..errors import EvaluationError, EvaluationWarning
from .comparison import Comparison, compare, desil_confusion
from .evaluation import Evaluation, evaluate
from .explain import explain, what_if
from .metrics import METRICS

__all__ = [
    "METRICS",
    "Comparison",
    "Evaluation",
    "EvaluationError",
    "EvaluationWarning",
    "compare",
    "desil_confusion",
    "evaluate",
    "explain",
    "what_if",
]
