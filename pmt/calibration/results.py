"""The results of calibration: :class:`Calibration` and :class:`CrossValidation`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..results import html_repr
from ..weights import WeightSet, save_weights
from .options import Options
from .tree import LEVEL_ORDER

__all__ = ["Calibration", "CrossValidation"]


@dataclass(frozen=True, eq=False)
class Calibration:
    """The result of :func:`~pmt.calibration.calibrate`: a new weight set and how it was made.

    Attributes
    ----------
    weights : WeightSet
        The calibrated weight set (reference cutoffs included), ready for
        :func:`pmt.rank`.
    models : pandas.DataFrame
        One row per model key: ``level``, ``fit`` (``root`` / ``shrunk`` /
        ``own`` / ``naive``), ``parent``, ``households``, ``psus``,
        ``households_fitted`` (rows the estimator learnt from), ``people``,
        in-sample person-weighted ``r2`` and ``rmse`` of log consumption,
        ``lambda`` and ``lambda_intercept`` (pooling strengths),
        ``unobserved_terms``, ``dropped_terms``.
    coefficients : pandas.DataFrame
        Long table ``model_key``, ``term``, ``coef``, ``se`` (cluster-robust;
        for shrunk models conditional on the parent and lambda, intercept
        NaN), ``active`` (used by the models), over the design columns
        (reference codes are not listed: their coefficient is 0).
    results : dict of str to object
        The untouched statsmodels results (``RegressionResultsWrapper``) of
        every least-squares model fitted on its own (the national model
        always), or :class:`pmt.calibration.qreg.QuantRegFit` for quantile
        regression.
    selection : pandas.DataFrame or None
        The steps of stepwise selection (``attrs``: selected variables,
        final p-values, why it stopped).
    lambdas : dict or None
        ``level -> (lambda, lambda_intercept)`` of partial pooling.
    lambda_path : pandas.DataFrame or None
        Cross-validated squared error over the grids, per level.
    dropped : pandas.DataFrame
        Terms left out of every model (``term``, ``reason``): codes never
        observed, constant or collinear terms dropped on request, variables
        not selected.
    options : Options
    survey : dict
        Households, PSUs, strata, column names and a hash of the data.
    method : str
        The estimator in words (its ``describe``), as :meth:`report` shows it.
    provenance : dict
        What makes the result reproducible: ``seed``, ``pmt_version``,
        ``data_fingerprint`` (a hash of the survey columns used, as read:
        :func:`pmt.calibration.data.fingerprint`) and ``data_hash`` (of the
        arrays fitted on); also in the weight set's provenance.
    """

    weights: WeightSet
    models: pd.DataFrame
    coefficients: pd.DataFrame
    results: dict[str, Any]
    selection: pd.DataFrame | None
    lambdas: dict[str, tuple[float, float]] | None
    lambda_path: pd.DataFrame | None
    dropped: pd.DataFrame
    options: Options
    survey: dict[str, Any]
    method: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def national(self) -> Any:
        """The national model's results object (statsmodels, or QuantRegFit)."""
        return self.results.get("national")

    def levels(self) -> pd.Series:
        """Number of models at each level."""
        return self.models["level"].value_counts().reindex(("national", *LEVEL_ORDER), fill_value=0)

    def summary(self) -> pd.DataFrame:
        """One row per model (a copy of :attr:`models`).

        Columns: level, fit, parent, sample, in-sample R² and RMSE, pooling
        strengths. :meth:`report` gives the text account.
        """
        return self.models.copy()

    def to_frame(self) -> pd.DataFrame:
        """One row per model and design column (a copy of :attr:`coefficients`).

        Columns: ``model_key``, ``term``, ``coef``, ``se``, ``active``.
        """
        return self.coefficients.copy()

    def report(self) -> str:
        """A readable account of the calibration.

        :meth:`save` writes it to ``calibration.txt``.
        """
        o, s, ws = self.options, self.survey, self.weights
        est = self.method or o.estimator
        nat = self.models.loc["national"]
        national = self.coefficients[self.coefficients["model_key"] == "national"]
        n_active = int(national["active"].sum()) - 1
        lines = [
            f"Calibration of weight set {ws.id} "
            f"({'synthetic' if ws.manifest.synthetic else 'survey'})",
            f"  survey      {s.get('name') or '(unnamed)'} {s.get('period') or ''}".rstrip(),
            f"              {s['households']:,} households, {s['psus']:,} PSUs, "
            f"{s['strata']:,} strata, {s['people']:,.0f} people (weighted)",
            f"  estimator   {est}",
            f"  variables   {n_active} coefficients of {len(ws.spec.terms) - 1} terms"
            + (
                f"; stepwise kept {len(self.selection.attrs['selected'])} of "
                f"{len(self.selection.attrs['candidates'])} variables (p_enter={o.p_enter:g}, "
                f"p_remove={o.p_remove:g})"
                if self.selection is not None
                else ""
            ),
            f"  national    R2 {nat['r2']:.3f}, RMSE {nat['rmse']:.3f} (log consumption, "
            "in sample)",
            f"  pooling     {o.pooling}: "
            + ", ".join(f"{lv} {n}" for lv, n in self.levels().items()),
        ]
        if self.lambdas:
            lines.append(
                "  strengths   "
                + "; ".join(
                    f"{lv} lambda={_fmt_lam(a)}, level={_fmt_lam(b)}"
                    for lv, (a, b) in self.lambdas.items()
                )
            )
        if len(self.dropped):
            counts = self.dropped["reason"].str.split(":").str[0].value_counts()
            lines.append("  left out    " + ", ".join(f"{n} {r}" for r, n in counts.items()))
        lines.append(
            f"  cutoffs     national + {len(ws.cutoffs) - 1} provinces, n={ws.cutoff_classes}"
        )
        lines.append(f"  hash        {ws.content_hash}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<Calibration {self.weights.id}: {self.options.estimator}, pooling="
            f"{self.options.pooling}, {len(self.models)} models, "
            f"{self.survey['households']:,} households>"
        )

    def _repr_html_(self) -> str:
        return html_repr(self)

    def save(self, folder: str | Path) -> WeightSet:
        """Write the weight set (with its provenance and hash) and the diagnostics.

        The folder gets the weight set's files, plus ``diagnostics.csv`` (the
        :attr:`models` table) and ``calibration.txt`` (:meth:`report`), which
        :func:`pmt.load_weights` ignores. Returns the weight set as loaded
        back from disk.
        """
        from ..io import atomic_output

        folder = Path(folder)
        ws = save_weights(self.weights, folder)
        with atomic_output(folder / "diagnostics.csv") as tmp:
            self.models.to_csv(tmp, float_format="%.6g", lineterminator="\n")
        with atomic_output(folder / "calibration.txt") as tmp:
            tmp.write_text(self.report() + "\n", encoding="utf-8", newline="\n")
        return ws


def _fmt_lam(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:g}"


@dataclass(frozen=True, eq=False)
class CrossValidation:
    """Out-of-sample comparison of estimators (:func:`~pmt.calibration.cross_validate`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per estimator: out-of-sample ``r2`` and ``rmse`` of log
        consumption, ``spearman`` of welfare, then per quota ``H``:
        ``exclusion_error_H``, ``inclusion_error_H`` (share of the targeted
        who are not poor), ``inclusion_error_nonpoor_H`` (share of the
        non-poor targeted, Alatas et al. 2012), ``targeting_differential_H``,
        ``cgh_H``, ``auc_H`` and ``ee_fold_sd_H`` (spread of the exclusion error
        across folds); ``in_sample_r2`` (mean over the training parts);
        ``fit_seconds`` and ``score_seconds`` (wall-clock time of fitting and of
        scoring, summed over the folds); ``failed_folds`` (folds where the
        estimator failed under ``errors="skip"``: its metrics are then NaN).
        Under a quota the targeted share equals the poor share, so
        ``inclusion_error_H`` equals ``exclusion_error_H`` (see ``docs/evaluation.md``).
        Metrics are person-weighted (``hh_size x survey weight``); the poor
        are the poorest ``H`` of people by observed welfare, the targeted the
        poorest ``H`` by predicted welfare (:func:`pmt.evaluate`'s quota rule).
    folds : pandas.DataFrame
        The same metrics per estimator and fold (``fold``: the fold's label), with
        each fold's ``in_sample_r2``, ``fit_seconds`` and ``score_seconds``; a
        failed fold has no row.
    predictions : pandas.DataFrame
        One row per household (survey order): ``fold``, ``true_welfare``,
        ``person_weight`` and one predicted-welfare column per estimator
        (``pred_<label>``: ``pmt.score`` of the household under its held-out
        fold's weight set) and the residual standard deviation of the model
        that scored it there (``sigma_<label>``; see
        :func:`pmt.operations.uncertainty.cv_calibration`).
    evaluations : dict of str to pmt.evaluation.Evaluation
        The full targeting evaluation of each estimator's pooled out-of-fold
        predictions.
    settings : dict
        ``folds`` (their number), ``fold_labels``, ``fold_source``, ``errors``,
        ``quotas``, ``seed`` and each estimator's options (as recorded in a
        weight set's provenance).
    fold_weights : dict of str to tuple of WeightSet
        Per estimator, the weight set fitted on each fold's training part
        (without reference cutoffs), in the order of ``settings["fold_labels"]``
        (None for a failed fold): ``pmt.score(survey, fold_weights[label][k])``
        reproduces the predictions of fold ``k``.
    failures : pandas.DataFrame
        One row per failed fit under ``errors="skip"``: ``estimator``, ``fold``,
        ``error`` (the exception's type) and ``message``; empty if none failed.
    provenance : dict
        ``seed``, ``pmt_version``, ``data_fingerprint`` (hash of the survey
        columns used), ``data_hash`` (of the arrays fitted on),
        ``folds_fingerprint`` (hash of each household's fold label), the survey
        ``columns`` used and ``covers`` (the regions covered; None: national).
    """

    table: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame
    evaluations: dict[str, Any]
    settings: dict[str, Any]
    fold_weights: dict[str, tuple[WeightSet | None, ...]] = field(default_factory=dict)
    failures: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["estimator", "fold", "error", "message"])
    )
    provenance: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """The comparison table, one row per estimator (a copy of :attr:`table`)."""
        return self.table.copy()

    def to_frame(self) -> pd.DataFrame:
        """One row per household, survey order (a copy of :attr:`predictions`).

        Columns: ``fold``, ``true_welfare``, ``person_weight`` and
        ``pred_<label>`` per estimator.
        """
        return self.predictions.copy()

    def to_markdown(self, columns: Sequence[str] | None = None, digits: int = 3) -> str:
        """The comparison table (or some of its ``columns``) as a Markdown table.

        Rendered by :func:`pmt.report.tables.to_markdown`, pmt's one Markdown
        renderer (floats to ``digits``, trailing zeros dropped), without its final newline.
        """
        from ..report.tables import to_markdown

        table = self.table if columns is None else self.table[list(columns)]
        return to_markdown(table, digits=digits).rstrip("\n")

    def compare(
        self, metric: str = "exclusion_error", *, quota: float | None = None
    ) -> pd.DataFrame:
        """The estimators ranked by ``metric`` (at ``quota``), with its spread over the folds.

        One row per estimator, best first: ``rank``, ``value`` (pooled out of
        fold), ``fold_mean``, ``fold_sd``, ``fold_min``, ``fold_max``, the
        paired difference to the best fold by fold (``diff_best_mean``,
        ``diff_best_sd``), ``folds`` and ``fit_seconds``; see
        :func:`pmt.calibration.compare.compare` for the metrics.
        """
        from .compare import compare

        return compare(self.table, self.folds, self.settings["quotas"], metric, quota)

    def headline(self) -> list[str]:
        """The columns worth reading first: fit, ranking, and errors at each quota."""
        cols = ["r2", "spearman"]
        for q in self.settings["quotas"]:
            cols += [f"exclusion_error_{q:g}", f"inclusion_error_nonpoor_{q:g}", f"cgh_{q:g}"]
        return [*cols, "in_sample_r2"]

    def __repr__(self) -> str:
        return (
            f"<CrossValidation {len(self.table)} estimators, {self.settings['folds']} "
            f"PSU folds, {len(self.predictions):,} households>"
        )

    def _repr_html_(self) -> str:
        return html_repr(self)
