"""Tables in and out: the household-table types pmt accepts, and results as Arrow or polars.

In: a pandas DataFrame (numpy, nullable or Arrow dtypes) and a pyarrow Table
are read as they are (:mod:`pmt.encode` reads both column by column). A
pyarrow RecordBatch or RecordBatchReader, a polars DataFrame or LazyFrame, and
any object exporting the Arrow C stream interface (``__arrow_c_stream__``)
become a pyarrow Table first, without a pandas round trip: polars hands its
columns over to Arrow without copying them, and a LazyFrame is collected with
only the columns pmt reads.

Out: :func:`result_arrow` and :func:`result_polars` give a
:class:`~pmt.RankResult` as the columns of ``RankResult.to_frame()``, built
from the result's arrays, with the provenance in the schema metadata (key
``pmt``, JSON; the key Parquet results carry).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

    from .results import RankResult

__all__ = ["ACCEPTED", "household_table", "result_arrow", "result_polars"]

#: What ``households`` may be, as error messages name it.
ACCEPTED = (
    "a pandas DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader, a polars "
    "DataFrame or LazyFrame, or another object exporting the Arrow C stream interface"
)

#: Schema-metadata key of the provenance (as in Parquet results).
METADATA_KEY = b"pmt"

POLARS_HINT = 'pip install "pmt[polars]"'


def household_table(data: Any, *, columns: Sequence[str] | None = None) -> Any:
    """``data`` as a pandas DataFrame or a pyarrow Table, the two types encoding reads.

    Parameters
    ----------
    data : DataFrame, Table, RecordBatch, RecordBatchReader, polars DataFrame or LazyFrame
        The household table (see :data:`ACCEPTED`). A RecordBatchReader is
        read to its end.
    columns : sequence of str, optional
        The columns pmt reads. A polars LazyFrame is collected with only those
        of them it has (a missing one is then named by the column check).

    Raises
    ------
    TypeError
        For any other type, naming the accepted ones.
    """
    if isinstance(data, pd.DataFrame):
        return data
    module = type(data).__module__.partition(".")[0]
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(data, pa.Table):
            return _plain_strings(data)
        if isinstance(data, pa.RecordBatch):
            return _plain_strings(pa.Table.from_batches([data]))
        if isinstance(data, pa.RecordBatchReader):
            return _plain_strings(data.read_all())
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(data, polars.LazyFrame):
        if columns is not None:
            present = set(data.collect_schema().names())
            data = data.select([c for c in dict.fromkeys(columns) if c in present])
        data = data.collect()
    if polars is not None and isinstance(data, polars.DataFrame):
        import pyarrow as pa

        try:
            return _plain_strings(data.to_arrow())
        except (pa.ArrowException, polars.exceptions.PolarsError) as exc:
            return _plain_strings(_polars_by_column(data, columns, exc))
    if hasattr(data, "__arrow_c_stream__") and not isinstance(data, type):
        import pyarrow as pa

        try:
            return _plain_strings(pa.table(data))
        except (TypeError, ValueError, pa.ArrowException):
            pass  # a stream of something other than a table: refused below
    raise TypeError(
        f"households must be {ACCEPTED}; got {type(data).__module__}.{type(data).__name__}. "
        "Fix: pass one of those (e.g. pd.DataFrame(...)), or read the file with "
        "pmt.io.read_households."
    )


def _polars_by_column(data: Any, columns: Sequence[str] | None, exc: Exception) -> pa.Table:
    """A polars frame that Arrow refused, column by column: the columns pmt reads must convert.

    Polars types Arrow has no type for (Int128, UInt128) fail the whole frame.
    A column pmt reads that fails raises :class:`~pmt.errors.ColumnTypeError`
    naming it; one pmt does not read is left out, as other columns are ignored.
    """
    import pyarrow as pa
    from polars.exceptions import PolarsError

    from . import errors as E

    failed = []
    for name in data.columns:
        try:
            data.select(name).to_arrow()
        except (pa.ArrowException, PolarsError):
            failed.append(name)
    if not failed:
        raise exc
    read = failed if columns is None else [c for c in failed if c in set(columns)]
    if read:
        many = len(read) > 1
        dtypes = ", ".join(f"{c!r} (polars {data.schema[c]})" for c in read)
        raise E.ColumnTypeError(
            f"column{'s' if many else ''} {dtypes}: pmt reads polars tables through Arrow, "
            f"which has no type for {'these dtypes' if many else 'this dtype'} (rule: variables "
            "are bool, integers of up to 64 bits or float16/32/64, or text holding numbers; ids "
            "are integers of up to 64 bits or text). Fix: cast "
            f"{'them' if many else 'it'}, e.g. df.with_columns(pl.col({read[0]!r}).cast("
            "pl.Int64)); ids beyond 64 bits to pl.String.",
            column=read[0],
        ) from None
    return data.select([c for c in data.columns if c not in failed]).to_arrow()


def _plain_strings(table: pa.Table) -> pa.Table:
    """``table`` with string_view columns (newer polars and Arrow) cast to large_string.

    Encoding reads string and large_string; the cast copies only those columns.
    """
    import pyarrow as pa

    is_view = getattr(pa.types, "is_string_view", None)
    if is_view is None:
        return table
    for i, field in enumerate(table.schema):
        t = field.type
        if is_view(t):
            table = table.set_column(i, field.name, table.column(i).cast(pa.large_string()))
        elif pa.types.is_dictionary(t) and is_view(t.value_type):
            target = pa.dictionary(t.index_type, pa.large_string(), t.ordered)
            table = table.set_column(i, field.name, table.column(i).cast(target))
    return table


def result_arrow(result: RankResult, part: slice = slice(None)) -> pa.Table:
    """:meth:`RankResult.to_frame`'s columns as a pyarrow Table (no index), provenance attached.

    Built from the result's arrays: numeric columns are shared with the
    result, not copied; ``model_key`` and ``model_level`` are dictionary
    columns; ids are passed through (Arrow text ids stay Arrow). ``part``
    takes households ``part`` only (:func:`pmt.io.rank_file` writes a file
    this way, chunk by chunk).
    """
    import pyarrow as pa

    from .results import _Labelled

    columns: dict[str, Any] = {}
    if result.id_col is not None:
        ids = result.ids
        columns[result.id_col] = _id_array(ids if ids is None else ids[part])
    for name, col in result._columns(part).items():
        if isinstance(col, _Labelled):
            labels = pa.array(list(col.labels), type=pa.string())
            col = pa.DictionaryArray.from_arrays(pa.array(col.codes), labels)
        columns[name] = np.ascontiguousarray(col) if isinstance(col, np.ndarray) else col
    table = pa.table(columns)
    meta = {METADATA_KEY: json.dumps(result.provenance, sort_keys=True, default=str).encode()}
    return table.replace_schema_metadata(meta)


def _id_array(ids: Any) -> Any:
    """Passed-through ids as Arrow: Arrow-backed ids are handed over, not copied."""
    import pyarrow as pa

    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        return ids
    return pa.array(ids, from_pandas=True)


def result_polars(result: RankResult) -> Any:
    """:func:`result_arrow` as a polars DataFrame (polars takes the Arrow columns as they are).

    Raises
    ------
    ImportError
        Without polars, naming the extra that installs it.
    """
    try:
        import polars as pl
    except ImportError:
        raise ImportError(
            "RankResult.to_polars() needs polars, an optional dependency of pmt. "
            f"Fix: {POLARS_HINT} (or pip install polars); to_arrow() and to_frame() "
            "need nothing more."
        ) from None
    return pl.from_arrow(result_arrow(result))
