"""Household ids: the id column as given, its duplicate-check key, and the one duplicate rule.

Text ids stay text and integer ids stay integers; float ids are refused and a
blank id is a reject. :func:`duplicated_ids` is the duplicate rule of every
path: in memory, across the chunks of a file, and across Dask partitions.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from . import errors as E
from ._columns import _Table
from ._kernels._jit import run as run_tasks
from ._threads import kernels as K

__all__ = ["duplicated_ids", "id_column", "id_key"]


def id_column(table: _Table, id_col: str) -> tuple[Any, Any, np.ndarray]:
    """The id column as given, its duplicate-check key, and a mask of missing or blank ids.

    The column as given is passed through to the results.

    Whole-number ids stay integers (the key is an int64/uint64 numpy array); text ids stay
    text (the key is an Arrow string array: no Python object per id for Arrow input).
    Float, bool and other dtypes raise :class:`~pmt.errors.ColumnTypeError`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.kind == "pandas":
        s = table.data[id_col]
        values: Any = s.array
        dt = s.dtype
        if isinstance(dt, np.dtype) and dt.kind in "iu":
            return s.to_numpy(), s.to_numpy(), np.zeros(table.n, dtype=bool)
        try:
            col = pa.chunked_array([pa.array(s, from_pandas=True)])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise _id_type_error(id_col, "object holding a mix of text and numbers") from None
        except OverflowError:  # Python ints past int64: unsigned 64-bit ids, or refused
            s = _unsigned_ids(id_col, s)
            values, col = s.array, pa.chunked_array([pa.array(s, from_pandas=True)])
    else:
        col = table.data.column(id_col)
        values = pd.arrays.ArrowExtensionArray(col)
    t = col.type
    if pa.types.is_dictionary(t):
        col = pc.cast(col, t.value_type)
        t = col.type
    missing = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(t):
        # integers pass through as numpy integers (the missing ones are rejected)
        key = np.asarray(col.fill_null(0).to_numpy() if col.null_count else col.to_numpy())
        return (values if table.kind == "pandas" else key), key, missing
    if pa.types.is_null(t):
        return values, np.zeros(table.n, dtype=np.int64), np.ones(table.n, dtype=bool)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise _id_type_error(id_col, str(s.dtype) if table.kind == "pandas" else str(t))
    blank = pc.equal(pc.utf8_trim_whitespace(col), "").fill_null(False)
    missing |= np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)
    return values, col, missing


def id_key(values: Any) -> Any:
    """The duplicate-check key of passed-through ids (:attr:`Encoded.ids`).

    Numpy integers as they are, anything else as an Arrow array (text, or
    integers of an Arrow column).
    """
    if isinstance(values, np.ndarray):
        return values
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values)
    if pa.types.is_dictionary(arr.type):
        arr = pc.cast(arr, arr.type.value_type)
    if pa.types.is_integer(arr.type):
        return np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False))
    return arr


def _unsigned_ids(id_col: str, s: pd.Series) -> pd.Series:
    """An object column of whole-number ids past int64 as ``UInt64``, if every id fits one.

    Raises :class:`~pmt.errors.ColumnTypeError` naming the rows (never the ids) of
    ids no 64-bit integer holds, or if the column also holds other values.
    """
    cells = s.to_numpy(dtype=object)
    present = ~s.isna().to_numpy()
    if not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
        for v in cells[present]
    ):
        raise _id_type_error(id_col, "object holding a mix of whole numbers and other values")
    ids = [int(v) for v in cells[present]]
    lo, hi = (-(2**63), 2**63 - 1) if min(ids) < 0 else (0, 2**64 - 1)
    if lo == 0 and max(ids) <= hi:
        return s.astype("UInt64")
    rows = np.flatnonzero(present)[[not lo <= v <= hi for v in ids]]
    raise E.ColumnTypeError(
        f"column {id_col!r}: whole-number household ids must fit in 64 bits (rule: ids pass "
        "through exactly, as int64 — from -2**63 to 2**63-1 — or, when none is negative, "
        f"uint64 — up to 2**64-1); {rows.size:,} of {len(s):,} rows break it, e.g. "
        f"{E.format_examples(rows)}. Fix: store the ids as text, e.g. "
        f"df[{id_col!r}] = df[{id_col!r}].astype('string') (missing ids stay missing).",
        column=id_col,
        rows=rows[:5],
    )


def _id_type_error(id_col: str, dtype: str) -> E.ColumnTypeError:
    return E.ColumnTypeError(
        f"column {id_col!r}: household ids must be whole numbers or text; got dtype {dtype} "
        "(rule: ids pass through exactly; as floats, ids above 2**53 such as 16-digit NIK/KK "
        "numbers lose digits and collide). Fix: read the id column as text (e.g. "
        f"pd.read_csv(..., dtype={{{id_col!r}: str}})) or as integers.",
        column=id_col,
    )


#: ids from which :func:`_any_repeated` sorts two halves on two threads (below: one sort,
#: and no kernel to compile on a first small call)
_SPLIT = 1 << 20


def _any_repeated(ids: np.ndarray) -> bool:
    """Whether an integer id occurs twice: ascending ids in one pass, else two sorted halves.

    The halves are sorted on two threads (numpy's sort releases the GIL), each
    checked for equal neighbours, then merged for a value in both.
    """
    if ids.shape[0] < 2 or bool((ids[1:] > ids[:-1]).all()):  # e.g. a file in id order
        return False
    if ids.shape[0] < _SPLIT or not np.can_cast(ids.dtype, np.int64):  # small, or uint64
        s = np.sort(ids)
        return bool((s[1:] == s[:-1]).any())
    half = ids.shape[0] // 2
    low, high = run_tasks([partial(np.sort, ids[:half]), partial(np.sort, ids[half:])])
    for s in (low, high):
        if bool((s[1:] == s[:-1]).any()):
            return True
    # int64 keeps the order of every type that casts to it safely
    low, high = low.astype(np.int64, copy=False), high.astype(np.int64, copy=False)
    return bool(K.sorted_overlap(low, high))


def duplicated_ids(key: Any, among: np.ndarray | None = None) -> np.ndarray:
    """Rows whose id occurs more than once among the rows ``among`` (every copy is marked).

    ``key`` is an :func:`id_column` key (numpy integers, or an Arrow string array or
    chunked array); ``among`` (n,) bool, default all. Rows outside ``among`` are never
    marked and do not count. The one duplicate rule of the in-memory and chunked paths.
    """
    n = len(key)
    among = np.ones(n, dtype=bool) if among is None else among
    if isinstance(key, np.ndarray):
        sub = key if among.all() else key[among]
        if not _any_repeated(sub):  # the common case: all unique
            return np.zeros(n, dtype=bool)
        dup_sub = pd.Series(sub).duplicated(keep=False).to_numpy()
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        enc = pc.dictionary_encode(key)
        chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
        idx = (
            np.concatenate(
                [np.asarray(c.indices.fill_null(0).to_numpy(zero_copy_only=False)) for c in chunks]
            )
            if chunks
            else np.zeros(0, dtype=np.int64)
        )
        sub = idx[among]
        counts = np.bincount(sub, minlength=len(chunks[0].dictionary) if chunks else 0)
        dup_sub = counts[sub] > 1
    out = np.zeros(n, dtype=bool)
    out[np.flatnonzero(among)[dup_sub]] = True
    return out
