"""Deprecated: the module moved to :mod:`pmt.evaluation` (removed in pmt 0.3).

Importing ``pmt.evaluate`` warns; its names resolve to :mod:`pmt.evaluation`,
and the module stays callable as :func:`pmt.evaluation.evaluate`, so
``pmt.evaluate(...)`` keeps working after it was imported. ``to_markdown``
moved to :mod:`pmt.report.tables`, ``add_cli`` to :mod:`pmt.cli.evaluate`.
"""

from __future__ import annotations

from typing import Any

from ._compat import deprecated_module


def add_cli(subparsers: Any) -> None:
    """Deprecated: :func:`pmt.cli.evaluate.add_cli`."""
    from .cli.evaluate import add_cli as add

    add(subparsers)


def to_markdown(frame: Any, *, digits: int = 4) -> str:
    """Deprecated: :func:`pmt.report.tables.to_markdown`."""
    from .report.tables import to_markdown as render

    return render(frame, digits=digits)


deprecated_module(__name__, "pmt.evaluation", call="evaluate")
