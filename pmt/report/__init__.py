"""Reports of evaluation results: Markdown and CSV tables, and PNG plots.

:mod:`pmt.report.tables` renders tables as text (:func:`to_markdown`, pmt's one
Markdown renderer, and the reports ``pmt evaluate`` and ``pmt compare``
write); :mod:`pmt.report.plots` draws figures with matplotlib (an optional
extra, imported only when a plot is made). Reports read the results of
:mod:`pmt.evaluation`; the evaluation knows nothing of its reports.
"""

from __future__ import annotations

from .plots import (
    coverage_curve,
    desil_heatmap,
    error_by_percentile,
    roc_curve,
    transition_heatmap,
    write_comparison_plots,
    write_evaluation_plots,
)
from .tables import (
    comparison_report,
    comparison_table,
    evaluation_report,
    evaluation_table,
    to_markdown,
)

__all__ = [
    "comparison_report",
    "comparison_table",
    "coverage_curve",
    "desil_heatmap",
    "error_by_percentile",
    "evaluation_report",
    "evaluation_table",
    "roc_curve",
    "to_markdown",
    "transition_heatmap",
    "write_comparison_plots",
    "write_evaluation_plots",
]
