"""Household tables in (CSV, Parquet, Stata) and result tables out (CSV, Parquet).

Readers keep what the file says: a CSV's household id column is read as text
(leading zeros kept, 16-digit numbers exact), never as floats. Writers go
through :func:`pmt.io.atomic.atomic_outputs`.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import (
    DuplicateColumnError,
    EmptyInputError,
    InvalidFileError,
    MissingColumnError,
    OutputPathError,
)
from .atomic import PathLike, _slow_write_pause, atomic_outputs

if TYPE_CHECKING:
    from ..results import RankResult

__all__ = [
    "OUTPUT_KINDS",
    "READERS",
    "WRITERS",
    "output_kind",
    "parquet_options",
    "read_households",
    "write_result",
    "write_table",
    "write_tables",
]

_CSV_CHUNK = 100_000  # rows per to_csv call (one pause point each under PMT_TEST_SLOW_WRITE)

#: A reader: (path, columns or None, id column or None) -> DataFrame.
Reader = Callable[[Path, "list[str] | None", "str | None"], pd.DataFrame]
#: A writer: (frame, path, provenance metadata or None) -> None; the path is a temporary file.
Writer = Callable[[pd.DataFrame, Path, "dict[str, Any] | None"], None]


def _read_csv(path: Path, columns: list[str] | None, id_col: str | None) -> pd.DataFrame:
    _check_requested(path, _check_csv_header(path), columns)
    # the id column as text: 000123 stays 000123, 16-digit numbers stay exact
    dtype = {id_col: str} if id_col is not None else None
    with _csv_errors(path):
        return pd.read_csv(path, usecols=columns, low_memory=False, dtype=dtype)


def _check_requested(path: Path, names: list[str], columns: list[str] | None) -> None:
    """Every column asked for is in the file (else a MissingColumnError, not the reader's)."""
    missing = [c for c in columns or () if c not in set(names)]
    if missing:
        raise MissingColumnError(
            f"{path}: no column {missing[:10]} in the file (rule: the columns asked for are "
            "read by name). Fix: check the names against the file's header, or ask only for "
            "columns it has.",
            column=missing[0],
        )


def _check_csv_header(path: Path) -> list[str]:
    """Refuse a CSV header that names a column twice (pandas would rename the copy ``x.1``).

    Reads only the header line, as text, with the parser that reads the file.
    A name that occurs twice is ambiguous whether or not pmt uses it; empty
    names (a trailing comma) are not names and may repeat.
    """
    with _csv_errors(path):
        head = pd.read_csv(path, header=None, nrows=1, dtype=str, na_filter=False)
    names = [str(name) for name in head.iloc[0]] if len(head) else []
    counts = Counter(name for name in names if name)
    dupes = sorted(name for name, count in counts.items() if count > 1)
    if dupes:
        raise DuplicateColumnError(
            f"{path}: columns {dupes} appear more than once in the header (rule: one "
            "column per name). Fix: rename or drop the copies in the file, so that each "
            "name occurs once.",
            column=dupes[0],
        )
    return names


@contextmanager
def _csv_errors(path: Path) -> Iterator[None]:
    """Turn pandas' errors about a CSV file's text into pmt's, naming the file and the fix."""
    try:
        yield
    except pd.errors.EmptyDataError as exc:  # no header line: only blank lines
        raise EmptyInputError(
            f"{path}: the file has no header and no rows (rule: a household file has a "
            "header line and at least one household). Fix: check the step that wrote it, "
            "and write the file again.",
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise invalid_file(path, "CSV", exc) from exc


def _read_parquet(path: Path, columns: list[str] | None, id_col: str | None) -> pd.DataFrame:
    # the footer: a truncated file or another format is named
    _check_requested(path, open_parquet(path).schema_arrow.names, columns)
    with parquet_errors(path):  # a corrupt page
        return pd.read_parquet(path, columns=columns)


def open_parquet(path: str | Path) -> Any:
    """``pyarrow.parquet.ParquetFile`` of a household file, its footer read and checked.

    A missing, empty or folder ``path`` is refused as by :func:`check_input`;
    a file that is not Parquet (truncated, corrupt, another format) raises
    :class:`~pmt.errors.InvalidFileError` naming it.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = check_input(path)
    try:
        with parquet_errors(path):
            # pre_buffer=False: a pre-buffering reader keeps every row group's bytes it
            # has read until it is closed, and reads no faster here (pmt.io.stream)
            return pq.ParquetFile(path, pre_buffer=False)
    except pa.ArrowInvalid as exc:  # no footer: truncated, or not Parquet
        raise invalid_file(path, "Parquet", exc) from exc


@contextmanager
def parquet_errors(path: str | Path) -> Iterator[None]:
    """Turn pyarrow's errors about a Parquet file's bytes into an InvalidFileError naming it.

    pyarrow reports a corrupt footer or page as an ``OSError`` without an
    ``errno``; one with an ``errno`` is the system's (a disk, a permission)
    and passes unchanged.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise invalid_file(path, "Parquet", exc) from exc


def _read_stata(path: Path, columns: list[str] | None, id_col: str | None) -> pd.DataFrame:
    # pandas reads every column of a .dta file and then selects (so does this)
    try:
        with np.errstate(over="ignore"):  # pandas' arithmetic on a header not Stata's
            frame = pd.read_stata(path, convert_categoricals=False)
    except KeyError as exc:  # a type code Stata does not have
        code = exc.args[0] if exc.args else "?"
        raise invalid_file(path, "Stata", f"unknown variable type code {code}") from exc
    except (struct.error, ValueError, EOFError) as exc:  # its bytes end early or make no sense
        raise invalid_file(path, "Stata", exc) from exc
    _check_requested(path, [str(c) for c in frame.columns], columns)
    return frame if columns is None else frame[columns]


#: How to make a file of each kind readable again (the fix of an InvalidFileError).
_FORMAT_FIXES = {
    "CSV": "check that the file is comma-separated UTF-8 text with as many fields on every "
    "line as in the header, and export it again",
    "Parquet": "check that the file is a complete Parquet file (the step that wrote it "
    "finished), and write it again",
    "Stata": "check that the file is a complete Stata .dta file, and save it again",
}


def invalid_file(path: str | Path, kind: str, found: BaseException | str) -> InvalidFileError:
    """The :class:`~pmt.errors.InvalidFileError` of a ``kind`` file a reader could not read.

    ``found``: what the reader found, or its library's error (whose first line says so).
    """
    detail = (str(found).strip().splitlines() or [type(found).__name__])[0].rstrip(".")
    return InvalidFileError(
        f"{path}: not a valid {kind} file ({detail}) (rule: a household file is a complete "
        f"file of the format its extension names). Fix: {_FORMAT_FIXES[kind]}; a file of "
        f"another format needs that format's extension ({', '.join(sorted(READERS))}).",
        path=str(path),
    )


def check_input(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path`, refused if missing, a folder or empty (0 bytes).

    Raises ``FileNotFoundError``, ``IsADirectoryError`` or
    :class:`~pmt.errors.EmptyInputError`, each naming the file and the fix.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path}: is a folder, not a household file. Fix: give the path of the file "
            "itself (a Parquet dataset folder is read by pmt.dask)."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file. Fix: check the file's name and folder (a relative "
            "path starts from the current folder), or give its full path."
        )
    if path.stat().st_size == 0:
        raise EmptyInputError(
            f"{path}: the file is empty (0 bytes; rule: a household file has a header "
            "and at least one household). Fix: check the step that wrote it (did it "
            "finish?), and write the file again."
        )
    return path


def _write_csv(frame: pd.DataFrame, path: Path, metadata: dict[str, Any] | None) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        if len(frame) == 0:
            frame.to_csv(f, index=False)
        for start in range(0, len(frame), _CSV_CHUNK):
            if start:
                _slow_write_pause()
            frame.iloc[start : start + _CSV_CHUNK].to_csv(f, index=False, header=start == 0)


#: Result columns whose values are all, or nearly all, different: Parquet's dictionary
#: encoding would only be tried on them and dropped, and snappy does not shrink them.
DISTINCT_COLUMNS = frozenset(
    {
        "welfare",
        "rank_national",
        "rank_provincial",
        "share_below_national",
        "share_below_provincial",
    }
)


def parquet_options(schema: Any, id_col: str | None = None) -> dict[str, Any]:
    """The ``pyarrow.parquet`` writer options pmt writes with.

    Snappy compression, except for :data:`DISTINCT_COLUMNS`, which are stored
    uncompressed: snappy does not shrink them (floats and ranks that are all
    different) and only costs time. Dictionary encoding for every column
    except the id column and :data:`DISTINCT_COLUMNS` (where pyarrow would
    build a dictionary and then fall back to plain encoding, for nothing);
    min/max statistics for every column except dictionary (categorical) ones,
    where pyarrow computes them slowly over the labels. Readers see the same
    values either way.
    """
    import pyarrow as pa

    return {
        "compression": {f.name: "none" if f.name in DISTINCT_COLUMNS else "snappy" for f in schema},
        "use_dictionary": [
            f.name for f in schema if f.name != id_col and f.name not in DISTINCT_COLUMNS
        ],
        "write_statistics": [f.name for f in schema if not pa.types.is_dictionary(f.type)],
    }


def result_schema(schema: Any) -> Any:
    """A ranking result's Arrow ``schema`` as pmt writes it: every column required (not null).

    A ranked household has every value, so the streamed and the Dask writers,
    which fix the schema before all the rows are seen, declare every column
    required; casting a chunk to it raises if a value were missing.
    """
    import pyarrow as pa

    return pa.schema([f.with_nullable(False) for f in schema], metadata=schema.metadata)


def required(table: Any) -> Any:
    """``table`` (pyarrow) with every column that holds no missing value marked not null.

    Parquet then stores the column as *required*, without definition levels,
    which makes writing it about a third faster; the values read back are the
    same. A ranking result has no missing value, so all its columns are
    required, whether written at once or streamed chunk by chunk. Columns with
    a missing value, and columns of Arrow's null type, stay optional.
    """
    import pyarrow as pa

    fields = [
        f.with_nullable(f.nullable and (c.null_count > 0 or pa.types.is_null(f.type)))
        for f, c in zip(table.schema, table.columns, strict=True)
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _write_parquet(frame: pd.DataFrame, path: Path, metadata: dict[str, Any] | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except OverflowError:  # whole numbers past int64 in an object column: uint64 ids (rejects)
        table = pa.Table.from_pandas(_unsigned_ints(frame), preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta[b"pmt"] = json.dumps(metadata, sort_keys=True).encode()
        table = table.replace_schema_metadata(meta)
    table = required(table)
    pq.write_table(table, path, **parquet_options(table.schema))


def _unsigned_ints(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each object column of whole numbers >= 0 (or missing) as UInt64.

    A rejects table holds the rejected rows' ids as Python objects; ids of a
    uint64 column can pass int64's range, which Arrow will not guess from
    Python ints.
    """
    out = frame.copy(deep=False)
    for name in out.columns:
        col = out[name]
        if col.dtype != object:
            continue
        present = col.dropna()
        if len(present) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in present
        ):
            out[name] = pd.array(col.tolist(), dtype="UInt64")
    return out


#: Household-table readers by file extension: an input format is one function and one
#: line here (docs/contributing.md, "Adding an input format").
READERS: dict[str, Reader] = {
    ".csv": _read_csv,
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
    ".dta": _read_stata,
}

#: Result writers by kind, and the kind of each result extension.
WRITERS: dict[str, Writer] = {"csv": _write_csv, "parquet": _write_parquet}
OUTPUT_KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_households(
    path: str | Path, columns: list[str] | None = None, *, id_col: str | None = "hh_id"
) -> pd.DataFrame:
    """Read a household table, by its extension (:data:`READERS`: CSV, Parquet, Stata ``.dta``).

    CSV columns are read with pandas' type inference, except the household id
    column ``id_col``, which is read as text: ``000123`` stays ``000123`` and
    16-digit numbers stay exact (an empty cell is a missing id). Text in a
    numeric column stays text, so that validation can name the offending rows.
    Parquet and Stata columns keep the types the file stores.

    A file that cannot be read is refused, naming it and the fix:
    ``FileNotFoundError`` (missing), ``IsADirectoryError`` (a folder),
    :class:`~pmt.errors.EmptyInputError` (0 bytes, or a CSV without a header
    line), :class:`~pmt.errors.InvalidFileError` (truncated, corrupt, or
    another format), and :class:`~pmt.errors.DuplicateColumnError` for a CSV
    header that names a column twice (pandas would read the copy as ``x.1``).
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"{path}: unknown file type {path.suffix!r}; pmt reads "
            f"{sorted(READERS)}. Fix: convert the file or rename its extension."
        )
    return reader(check_input(path), columns, id_col)


def _write_frame(
    frame: pd.DataFrame, path: Path, kind: str, metadata: dict[str, Any] | None
) -> None:
    """Write ``frame`` to ``path`` as ``kind`` (not atomic: ``path`` is a temporary file)."""
    WRITERS[kind](frame, path, metadata)


def output_kind(path: PathLike, *, argument: str = "output") -> str:
    """``"csv"`` or ``"parquet"``, from the extension of a result path.

    Raises :class:`~pmt.errors.OutputPathError` (naming ``argument``) for any
    other extension.
    """
    kind = OUTPUT_KINDS.get(Path(path).suffix.lower())
    if kind is None:
        raise OutputPathError(
            f"{argument} {path}: unknown result file type "
            f"{Path(path).suffix!r} (rule: results are written as .csv or "
            ".parquet). Fix: end the name with .parquet or .csv.",
            argument=argument,
            path=str(path),
        )
    return kind


def write_table(
    frame: pd.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None
) -> None:
    """Write a DataFrame to CSV or Parquet (by extension), keeping ``metadata`` in Parquet.

    The file is written atomically (:func:`atomic_output`). Parquet is written
    with :func:`parquet_options`, and each column without a missing value is
    stored as required (:func:`required`).
    """
    write_tables({path: (frame, metadata)})


def write_tables(tables: Mapping[PathLike, tuple[pd.DataFrame, dict[str, Any] | None]]) -> None:
    """Write several tables (``{path: (frame, metadata)}``) as :func:`write_table` does.

    Each is written to its temporary file first; the renames onto the final
    names happen one after the other only once every file is complete, so a
    failure while writing any of them leaves all the old files (or none).
    """
    kinds = [output_kind(path) for path in tables]  # every extension before any write
    with atomic_outputs(*tables) as temps:
        for tmp, kind, (frame, metadata) in zip(temps, kinds, tables.values(), strict=True):
            _write_frame(frame, tmp, kind, metadata)


def write_result(result: RankResult, path: str | Path) -> None:
    """Write a ranking result; Parquet files carry its provenance under the ``pmt`` key."""
    write_table(result.to_frame(), path, result.provenance)
