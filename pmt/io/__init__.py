"""Files in and out: readers, writers, atomic writes and chunked ranking of large files.

- :mod:`pmt.io.files`: household tables from CSV, Parquet or Stata; result
  tables to CSV or Parquet (provenance in the Parquet metadata).
- :mod:`pmt.io.atomic`: every file pmt writes is written under a temporary
  name and renamed when complete; :func:`check_outputs` refuses outputs that
  are inputs or each other, before any work.
- :mod:`pmt.io.stream`: :func:`rank_file`, Parquet in and Parquet out in
  chunks, bit-identical to ranking in memory.
"""

from __future__ import annotations

from .atomic import atomic_output, atomic_outputs, check_outputs
from .files import output_kind, read_households, write_result, write_table, write_tables
from .stream import rank_file

__all__ = [
    "atomic_output",
    "atomic_outputs",
    "check_outputs",
    "output_kind",
    "rank_file",
    "read_households",
    "write_result",
    "write_table",
    "write_tables",
]
