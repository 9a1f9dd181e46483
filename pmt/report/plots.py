"""Plots of targeting evaluations and ranking comparisons (matplotlib, an optional extra).

Every function builds a :class:`matplotlib.figure.Figure` directly (no
``pyplot``, so no global figure state and no change of the session's
backend), returns it, and writes a PNG if ``path`` is given. matplotlib is
imported only when a plot is made; without it the functions raise an
``ImportError`` that says how to install it (``pip install 'pmt[plots]'``).

=========================  ====================================================
:func:`coverage_curve`     coverage of the poor against the share targeted
:func:`error_by_percentile` prediction error and targeting by true-welfare percentile
:func:`roc_curve`          ROC of predicted welfare as a score for being poor
:func:`desil_heatmap`      any desil × desil table (confusion, transitions)
:func:`transition_heatmap` the desil transitions of a :class:`~pmt.evaluation.Comparison`
=========================  ====================================================

:func:`write_evaluation_plots` and :func:`write_comparison_plots` write the
PNG reports of ``pmt evaluate --plots`` and ``pmt compare --plots`` into a
folder; :data:`EVALUATION_PLOTS` and :data:`COMPARISON_PLOTS` name their files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..evaluation import Comparison, Evaluation

__all__ = [
    "COMPARISON_PLOTS",
    "EVALUATION_PLOTS",
    "coverage_curve",
    "desil_heatmap",
    "error_by_percentile",
    "require_matplotlib",
    "roc_curve",
    "transition_heatmap",
    "write_comparison_plots",
    "write_evaluation_plots",
]

#: The files :func:`write_evaluation_plots` writes into its folder.
EVALUATION_PLOTS = ("coverage.png", "error_by_percentile.png", "roc.png", "desil_confusion.png")
#: The files :func:`write_comparison_plots` may write (people only when person weights are known).
COMPARISON_PLOTS = ("transitions_households.png", "transitions_people.png")

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_GREY = "#7f7f7f"


def require_matplotlib() -> type[Figure]:
    """Matplotlib's ``Figure``; an ``ImportError`` that says how to install it if it is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "pmt's plots need matplotlib, an optional extra. Fix: pip install "
            "'pmt[plots]' (or pip install matplotlib)."
        ) from exc
    return Figure


def _figure(**kwargs: Any) -> Figure:
    return require_matplotlib()(layout="constrained", **kwargs)


def _finish(fig: Figure, path: str | Path | None, dpi: int) -> Figure:
    if path is not None:
        from ..io import atomic_output

        with atomic_output(path) as tmp:  # complete or absent, never half a PNG
            fig.savefig(tmp, dpi=dpi, format="png")
    return fig


def _percent_axis(ax: Any, which: str = "both") -> None:
    from matplotlib.ticker import PercentFormatter

    if which in ("x", "both"):
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if which in ("y", "both"):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _style(ax: Any) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def coverage_curve(
    evaluation: Evaluation, *, path: str | Path | None = None, dpi: int = 150
) -> Figure:
    """Coverage of the poor against the share of the population targeted.

    One curve per row of the evaluation's table: targeting the poorest ``x``
    by predicted welfare reaches the share ``y`` of the poor. The grey
    diagonal is random targeting; each row's dotted line is perfect targeting
    (``min(1, x / H)``, H the poor's share); the dot is the row's own rule.

    Parameters
    ----------
    evaluation : Evaluation
    path : str or Path, optional
        Write a PNG there.
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot()
    curve = evaluation.coverage_curve()
    t = evaluation.table
    ax.plot([0, 1], [0, 1], color=_GREY, linewidth=1, linestyle="--", label="random targeting")
    for i, label in enumerate(t.index):
        color = _COLORS[i % len(_COLORS)]
        c = curve[curve["label"] == label]
        ax.plot(c["share_targeted"], c["coverage"], color=color, linewidth=2, label=label)
        h = t.at[label, "poor_share"]
        ax.plot([0, h, 1], [0, 1, 1], color=color, linewidth=1, linestyle=":")
        ax.plot(
            t.at[label, "targeted_share"],
            t.at[label, "coverage"],
            "o",
            color=color,
            markersize=7,
            markeredgecolor="white",
        )
        ax.annotate(
            f"{t.at[label, 'coverage']:.0%}",
            (t.at[label, "targeted_share"], t.at[label, "coverage"]),
            textcoords="offset points",
            xytext=(9, -15),
            color=color,
            fontsize=9,
            bbox={
                "boxstyle": "round,pad=0.15",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.85,
            },
        )
    ax.plot([], [], color=_GREY, linewidth=1, linestyle=":", label="perfect targeting")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    _percent_axis(ax)
    _style(ax)
    ax.set_xlabel("share of the population targeted (poorest by predicted welfare)")
    ax.set_ylabel("coverage of the poor (1 − exclusion error)")
    ax.set_title("Coverage of the poor against share targeted")
    ax.legend(loc="lower right", fontsize=9, frameon=False)
    return _finish(fig, path, dpi)


def error_by_percentile(
    evaluation: Evaluation, *, bins: int = 20, path: str | Path | None = None, dpi: int = 150
) -> Figure:
    """Targeting and prediction error by true-welfare percentile.

    Top: the share of people targeted in each percentile bin of true welfare,
    one line per row (left of a rule's dashed line, where its poor end, the
    gap to 100 % is exclusion; right of it, anything above 0 is inclusion). Bottom: the
    prediction error (predicted − true welfare) by bin: median, 25–75 % and
    10–90 % bands, and the mean.

    Parameters
    ----------
    evaluation : Evaluation
    bins : int, default 20
    path : str or Path, optional
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = evaluation.error_by_percentile(bins)
    t = evaluation.table
    fig = _figure(figsize=(7.2, 7.0))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1.1, 1))
    x = data.index.to_numpy()
    width = 100.0 / bins
    for i, label in enumerate(t.index):
        color = _COLORS[i % len(_COLORS)]
        top.plot(
            x,
            data[f"targeted[{label}]"],
            marker="o",
            markersize=3.5,
            color=color,
            linewidth=1.8,
            label=label,
        )
        if t.at[label, "rule"] in ("quota", "line"):
            top.axvline(100 * t.at[label, "poor_share"], color=color, linestyle="--", linewidth=1)
    top.set_ylim(0, 1.02)
    _percent_axis(top, "y")
    top.set_ylabel("share of people targeted")
    top.set_title("Who is targeted, by true welfare (dashed: where each rule's poor end)")
    top.legend(loc="upper right", fontsize=9, frameon=False)
    _style(top)

    bottom.fill_between(
        x,
        data["error_p10"],
        data["error_p90"],
        color=_COLORS[0],
        alpha=0.15,
        linewidth=0,
        step=None,
        label="10–90 %",
    )
    bottom.fill_between(
        x,
        data["error_p25"],
        data["error_p75"],
        color=_COLORS[0],
        alpha=0.3,
        linewidth=0,
        label="25–75 %",
    )
    bottom.plot(x, data["error_p50"], color=_COLORS[0], linewidth=2, label="median")
    bottom.plot(x, data["mean_error"], color="black", linewidth=1, linestyle="--", label="mean")
    bottom.axhline(0, color=_GREY, linewidth=1)
    bottom.set_xlim(0, 100)
    bottom.set_xticks(np.arange(0, 101, 10))
    bottom.set_xlabel(f"percentile of true welfare (people; bins of {width:g} %)")
    bottom.set_ylabel("predicted − true welfare (log points)")
    bottom.set_title("Prediction error by true welfare (above 0: predicted richer than true)")
    bottom.legend(loc="upper right", fontsize=9, frameon=False, ncol=2)
    _style(bottom)
    return _finish(fig, path, dpi)


def roc_curve(evaluation: Evaluation, *, path: str | Path | None = None, dpi: int = 150) -> Figure:
    """ROC of predicted welfare as a score for being poor, one curve per row.

    ``x`` = share of the non-poor targeted (the Alatas et al. inclusion
    error), ``y`` = coverage of the poor, as the predicted-welfare cutoff
    rises. The legend gives each AUC; the dot is the row's own rule.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(figsize=(5.6, 5.4))
    ax = fig.add_subplot()
    roc = evaluation.roc_curve()
    t = evaluation.table
    ax.plot([0, 1], [0, 1], color=_GREY, linewidth=1, linestyle="--", label="random (AUC 0.5)")
    for i, label in enumerate(t.index):
        color = _COLORS[i % len(_COLORS)]
        r = roc[roc["label"] == label]
        ax.plot(
            r["false_positive_rate"],
            r["true_positive_rate"],
            color=color,
            linewidth=2,
            label=f"{label} (AUC {t.at[label, 'auc']:.3f})",
        )
        ax.plot(
            t.at[label, "inclusion_error_nonpoor"],
            t.at[label, "coverage"],
            "o",
            color=color,
            markersize=7,
            markeredgecolor="white",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_aspect("equal")
    _percent_axis(ax)
    _style(ax)
    ax.set_xlabel("non-poor targeted (inclusion error, share of non-poor)")
    ax.set_ylabel("poor targeted (coverage)")
    ax.set_title("ROC of predicted welfare for being poor")
    ax.legend(loc="lower right", fontsize=9, frameon=False)
    return _finish(fig, path, dpi)


def desil_heatmap(
    matrix: pd.DataFrame,
    *,
    normalize: Literal["row", "all", "none"] = "row",
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    path: str | Path | None = None,
    dpi: int = 150,
) -> Figure:
    """A desil × desil table as a heat map, each cell annotated.

    Parameters
    ----------
    matrix : pandas.DataFrame, shape (n, n)
        Counts, e.g. :meth:`Evaluation.desil_confusion` or
        :meth:`Comparison.transitions` (one province's block).
    normalize : {"row", "all", "none"}
        Colour and label cells by share of their row (default: "of the
        households in desil d under A, how many are in each desil under B"),
        of the whole table, or by the raw count.
    title, xlabel, ylabel : str, optional
        Default to the index and column names.
    path : str or Path, optional
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
    """
    if normalize not in ("row", "all", "none"):
        raise ValueError(f"normalize must be 'row', 'all' or 'none'; got {normalize!r}")
    counts = matrix.to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "row":
            values = counts / counts.sum(axis=1, keepdims=True)
        elif normalize == "all":
            values = counts / counts.sum()
        else:
            values = counts
    n_rows, n_cols = values.shape
    fig = _figure(figsize=(1.6 + 0.55 * n_cols, 1.0 + 0.55 * n_rows))
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 1.0
    vmax = min(1.0, max(0.1, np.ceil(top * 10) / 10)) if normalize != "none" else max(top, 1.0)
    image = ax.imshow(np.nan_to_num(values), cmap="Blues", vmin=0, vmax=vmax, aspect="equal")
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if not np.isfinite(v) or counts[i, j] == 0:
                text = "·"
            elif normalize == "none":
                text = f"{v:,.0f}"
            elif v < 0.0005:
                text = "<.1"
            else:
                text = f"{100 * v:.0f}" if v >= 0.095 else f"{100 * v:.1f}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if np.isfinite(v) and v > 0.55 * vmax else "#222222",
            )
    for k in range(min(n_rows, n_cols)):
        ax.add_patch(_rect(k, k))
    ax.set_xticks(range(n_cols), [str(c) for c in matrix.columns])
    ax.set_yticks(range(n_rows), [str(r) for r in matrix.index])
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xlabel(xlabel or str(matrix.columns.name or "columns").replace("_", " "))
    ax.set_ylabel(ylabel or str(matrix.index.name or "rows").replace("_", " "))
    bar = fig.colorbar(image, ax=ax, shrink=0.85, pad=0.02)
    bar.set_label({"row": "% of the row", "all": "% of the total", "none": "count"}[normalize])
    if normalize != "none":
        bar.ax.yaxis.set_major_formatter(_percent_formatter())
    if title:
        fig.suptitle(title, fontsize=11)
    return _finish(fig, path, dpi)


def _rect(i: int, j: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#333333", linewidth=0.8)


def _percent_formatter() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def transition_heatmap(
    comparison: Comparison,
    *,
    unit: Literal["households", "people"] = "households",
    desil: Literal["national", "provincial"] = "national",
    province: str | None = None,
    normalize: Literal["row", "all", "none"] = "row",
    path: str | Path | None = None,
    dpi: int = 150,
) -> Figure:
    """Desil transitions between the two rankings of a comparison, as a heat map.

    Rows are desil under A, columns desil under B; by default each cell is the
    share of its row (of those in desil d under A, the share in each desil
    under B), so the diagonal shows who kept their desil.

    Parameters
    ----------
    comparison : Comparison
    unit : {"households", "people"}
    desil : {"national", "provincial"}
    province : str, optional
        A 2-digit province code: that province's block only.
    normalize : {"row", "all", "none"}
    path : str or Path, optional
    dpi : int, default 150

    Returns
    -------
    matplotlib.figure.Figure
    """
    if province is None:
        matrix = comparison.transitions(unit=unit, desil=desil)
        where = "all provinces"
    else:
        matrix = comparison.transitions(unit=unit, desil=desil, by_province=True).loc[province]
        where = f"province {province}"
    a, b = comparison.labels
    total = matrix.to_numpy().sum()
    stay = np.trace(matrix.to_numpy()) / total if total else np.nan
    title = (
        f"{desil.capitalize()} desil transitions, {unit} ({where})\n"
        f"A = {a}   B = {b}\n{total:,.0f} {unit} matched; {stay:.0%} kept their desil"
    )
    return desil_heatmap(
        matrix,
        normalize=normalize,
        title=title,
        xlabel="desil under B",
        ylabel="desil under A",
        path=path,
        dpi=dpi,
    )


def write_evaluation_plots(evaluation: Evaluation, folder: str | Path) -> list[Path]:
    """Write the PNG report of an evaluation into ``folder`` (created if absent).

    The files of :data:`EVALUATION_PLOTS`: :func:`coverage_curve`,
    :func:`error_by_percentile`, :func:`roc_curve`, and :func:`desil_heatmap`
    of the people-weighted desil confusion.

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    coverage, error, roc, confusion = (folder / name for name in EVALUATION_PLOTS)
    coverage_curve(evaluation, path=coverage)
    error_by_percentile(evaluation, path=error)
    roc_curve(evaluation, path=roc)
    desil_heatmap(
        evaluation.desil_confusion(unit="people"),
        path=confusion,
        title="Predicted against true desil (people)",
    )
    return [coverage, error, roc, confusion]


def write_comparison_plots(comparison: Comparison, folder: str | Path) -> list[Path]:
    """Write the PNG report of a comparison into ``folder`` (created if absent).

    :func:`transition_heatmap` of the national desil, in households and, when
    person weights are known, in people (the files of :data:`COMPARISON_PLOTS`).

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    units: tuple[Literal["households", "people"], ...] = (
        ("households", "people") if comparison.has_people else ("households",)
    )
    written = []
    for unit in units:
        path = folder / f"transitions_{unit}.png"
        transition_heatmap(comparison, unit=unit, path=path)
        written.append(path)
    return written
