"""Deprecated: the module moved to :mod:`pmt.report` (removed in pmt 0.3).

Importing ``pmt.plots`` warns; its names resolve to :mod:`pmt.report`
(the plots themselves are in :mod:`pmt.report.plots`).
"""

from __future__ import annotations

from ._compat import deprecated_module

deprecated_module(__name__, "pmt.report")
