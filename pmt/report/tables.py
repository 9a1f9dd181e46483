"""Tables of evaluation results as text: Markdown reports and long tables for CSV.

:func:`to_markdown` is pmt's one Markdown table renderer. The report
functions assemble what ``pmt evaluate --out`` and ``pmt compare --out``
write, from an :class:`~pmt.evaluation.Evaluation` or a
:class:`~pmt.evaluation.Comparison`; they return text or a DataFrame and
write nothing.

>>> import pandas as pd
>>> print(to_markdown(pd.DataFrame({"rule": ["quota 0.4"], "coverage": [0.70333]})), end="")
| rule | coverage |
|:---|---:|
| quota 0.4 | 0.7033 |
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..evaluation import Comparison, Evaluation
    from ..evaluation._checks import Unit

__all__ = [
    "comparison_report",
    "comparison_table",
    "evaluation_report",
    "evaluation_table",
    "to_markdown",
]

_DESIL: tuple[Literal["national", "provincial"], ...] = ("national", "provincial")


def to_markdown(frame: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index included), floats to ``digits``.

    The index is shown as columns unless it is a plain ``0..n-1`` range. Floats
    lose trailing zeros; NaN is an empty cell; magnitudes of a million or more
    are whole numbers with thousands separators. Numeric columns align right.

    Parameters
    ----------
    frame : pandas.DataFrame
    digits : int, default 4
        Decimals of floats.

    Returns
    -------
    str
        The table, one line per row, ending in a newline.
    """
    idx = frame.index
    plain = isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1 and idx.name is None
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
    lines = [
        "| " + " | ".join(header) + " |",
        "|"
        + "|".join("---:" if pd.api.types.is_numeric_dtype(f[c]) else ":---" for c in f.columns)
        + "|",
    ]
    for row in f.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def evaluation_report(evaluation: Evaluation, *, source: str, by: str | None = None) -> str:
    """The Markdown report of an evaluation (what ``pmt evaluate --out FILE.md`` writes).

    Parameters
    ----------
    evaluation : Evaluation
    source : str
        What was evaluated (the input file's name), for the title.
    by : str, optional
        Name of the evaluation's ``groups`` (e.g. ``"province"``): adds the
        metrics by group.

    Returns
    -------
    str
        Conventions, the metrics, by group, by true desil, and the desil confusion.
    """
    ev = evaluation
    parts = [
        f"# Targeting evaluation of {source}\n",
        "Conventions:\n\n" + "".join(f"- **{k}**: {v}\n" for k, v in ev.conventions.items()),
        "## Metrics\n\n" + to_markdown(ev.table),
    ]
    if by is not None:
        parts.append(f"## By {by}\n\n" + to_markdown(ev.by_group(name=by)))
    parts.append("## By true desil\n\n" + to_markdown(ev.by_desil()))
    parts.append(
        "## Desil confusion (people; rows true, columns predicted)\n\n"
        + to_markdown(ev.desil_confusion(unit="people"))
    )
    return "\n".join(parts)


def evaluation_table(evaluation: Evaluation, *, by: str | None = None) -> pd.DataFrame:
    """The metrics as one long table (what ``pmt evaluate --out FILE.csv`` writes).

    One row per table row, with the column ``by`` (default ``"group"``) set to
    ``"all"``; with ``by``, the rows of :meth:`Evaluation.by_group` follow.
    """
    ev = evaluation
    table = ev.table.reset_index().assign(**{by or "group": "all"})
    if by is not None:
        table = pd.concat([table, ev.by_group(name=by).reset_index()], ignore_index=True)
    return table


def comparison_report(comparison: Comparison, *, movers: int = 20) -> str:
    """The Markdown report of a comparison (what ``pmt compare --out FILE.md`` writes).

    Parameters
    ----------
    comparison : Comparison
    movers : int, default 20
        How many of the households that moved most to list.

    Returns
    -------
    str
        Summary, national and provincial desil transitions (households, and
        people when known), eligibility by province, the movers.
    """
    cmp = comparison
    a, b = cmp.labels
    parts = [f"# Comparison\n\n- A: {a}\n- B: {b}\n", "## Summary\n\n" + to_markdown(cmp.summary())]
    units: tuple[Unit, ...] = ("households", "people") if cmp.has_people else ("households",)
    for u in units:
        parts.append(
            f"## National desil transitions ({u}; rows A, columns B)\n\n"
            + to_markdown(cmp.transitions(unit=u))
        )
    parts.append("## Eligibility by province\n\n" + to_markdown(cmp.eligibility(by_province=True)))
    for u in units:
        parts.append(
            f"## Provincial desil transitions by province ({u})\n\n"
            + to_markdown(cmp.transitions(unit=u, desil="provincial", by_province=True))
        )
    parts.append(
        f"## The {movers} households that moved most\n\n" + to_markdown(cmp.movers(movers))
    )
    return "\n".join(parts)


def comparison_table(comparison: Comparison) -> pd.DataFrame:
    """Every desil transition as one long table (what ``pmt compare --out FILE.csv`` writes).

    Columns ``unit``, ``desil`` (``national`` or ``provincial``), ``province``
    (``all`` for the national matrix), ``desil_a``, ``desil_b``, ``value``.
    """
    cmp = comparison
    long = []
    units: tuple[Unit, ...] = ("households", "people") if cmp.has_people else ("households",)
    for u in units:
        for desil in _DESIL:
            for by in (False, True):
                t = cmp.transitions(unit=u, desil=desil, by_province=by)
                s = t.stack().rename("value").reset_index()
                if not by:
                    s.insert(0, "province", "all")
                s.insert(0, "desil", desil)
                s.insert(0, "unit", u)
                long.append(s)
    return pd.concat(long, ignore_index=True)
