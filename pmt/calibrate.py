"""Deprecated: the module moved to :mod:`pmt.calibration` (removed in pmt 0.3).

Importing ``pmt.calibrate`` warns; its names resolve to :mod:`pmt.calibration`,
and the module stays callable as :func:`pmt.calibration.calibrate`, so
``pmt.calibrate(...)`` keeps working after it was imported.
"""

from __future__ import annotations

from typing import Any

from ._compat import deprecated_module


def add_cli(subparsers: Any) -> None:
    """Deprecated: :func:`pmt.cli.calibrate.add_cli`."""
    from .cli.calibrate import add_cli as add

    add(subparsers)


deprecated_module(__name__, "pmt.calibration", call="calibrate")
