"""Files in and out: household tables from CSV / Parquet / Stata, results to Parquet / CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .rank import RankResult

__all__ = ["read_households", "write_result", "write_table"]

_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".dta": "stata"}


def _kind(path: Path) -> str:
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; pmt reads and writes "
                         f"{sorted(_READERS)}. Fix: convert the file or rename its extension.")
    return kind


def read_households(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a household table from CSV, Parquet or Stata ``.dta``.

    CSV columns are read with pandas' type inference; text in a numeric column
    stays text, so that validation can name the offending rows.
    """
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if kind == "csv":
        return pd.read_csv(path, usecols=columns, low_memory=False)
    if kind == "parquet":
        return pd.read_parquet(path, columns=columns)
    return pd.read_stata(path, columns=columns, convert_categoricals=False)


def write_table(frame: pd.DataFrame, path: str | Path,
                metadata: dict[str, Any] | None = None) -> None:
    """Write a DataFrame to CSV or Parquet (by extension), keeping ``metadata`` in Parquet."""
    path = Path(path)
    kind = _kind(path)
    if kind == "csv":
        frame.to_csv(path, index=False)
        return
    if kind != "parquet":
        raise ValueError(f"{path}: results are written as .csv or .parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta[b"pmt"] = json.dumps(metadata, sort_keys=True).encode()
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, path)


def write_result(result: RankResult, path: str | Path) -> None:
    """Write a ranking result; Parquet files carry its provenance under the ``pmt`` key."""
    write_table(result.to_frame(), path, result.provenance)
