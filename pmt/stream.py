"""Deprecated: chunked ranking moved to :mod:`pmt.io.stream` (``pmt.io.rank_file``)."""

from ._compat import deprecated_module

deprecated_module(__name__, "pmt.io.stream")
