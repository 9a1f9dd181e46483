"""Rank a Parquet file larger than memory, in chunks, with the in-memory result.

Two passes over the file:

1. each chunk is validated, encoded and scored by the same code as
   :func:`pmt.rank`; only what ranking needs is kept — welfare, model row,
   province and person weight, about 15 bytes per household — and the ids are
   checked for uniqueness across chunks;
2. national and provincial desil, rank and share below are computed once on
   those arrays (:func:`pmt.rank.rank_scored`, the one ranking path), then the
   file is read again, chunk by chunk, and the result written in input order.

A household's welfare depends only on its own row, and ranking runs on the
whole population at once, so the output is bit-identical to
``pmt.rank(whole_table, ...).to_frame()`` for any chunk size (a test checks
this with tiny chunks).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import _memory
from .. import errors as E
from .._log import get_logger, log_rejects
from .._progress import ProgressCallback, check_progress
from ..encode import (
    check_columns,
    duplicated_ids,
    empty_rejects,
    encode,
    id_key,
    required_columns,
)
from ..errors import ArgumentError
from ..options import check_id_col, check_on_invalid
from ..rank import (
    CutoffMode,
    RankResult,
    Scored,
    _scored,
    _weights,
    rank_options,
    rank_scored,
)
from ..ranker import Workspace
from ..weights import WeightSet
from .atomic import _slow_write_pause, atomic_outputs
from .files import _write_frame, open_parquet, parquet_errors, parquet_options, result_schema

__all__ = ["rank_file"]
_log = get_logger(__name__)


def rank_file(
    path: str | Path,
    weights: WeightSet | str,
    out: str | Path,
    *,
    chunk_size: int = 1_000_000,
    rejects: str | Path | None = None,
    cutoffs: CutoffMode | Mapping[str, Any] = "registry",
    n: int = 10,
    max_desil: int | None = None,
    line: float | None = None,
    weight: str | None = None,
    weighting: Literal["person", "household"] = "person",
    on_invalid: Literal["raise", "reject"] = "raise",
    id_col: str | None = "hh_id",
    region_scheme: str | None = None,
    progress: ProgressCallback | None = None,
) -> RankResult:
    """Rank the households of a Parquet file chunk by chunk and write the result.

    Parameters
    ----------
    path : str or Path
        A Parquet file with the columns :func:`pmt.rank` takes. A file that
        cannot be read is refused as by :func:`pmt.io.read_households`
        (``FileNotFoundError``, :class:`~pmt.errors.EmptyInputError`,
        :class:`~pmt.errors.InvalidFileError`), naming it and the fix.
    weights : WeightSet or str
    out : str or Path
        The result, a Parquet file with the columns of ``RankResult.to_frame()``
        and the provenance in its metadata (key ``pmt``).
    chunk_size : int
        Rows read at a time. The result does not depend on it.
    rejects : str or Path, optional
        Where to write the rejects table (``on_invalid="reject"``; CSV or Parquet).
    progress : callable, optional
        Called as ``progress(done, total, stage)`` after each chunk of the stages
        ``"scoring"`` and ``"writing"`` and when ``"ranking"`` ends
        (households; :mod:`pmt._progress`).
    cutoffs, n, max_desil, line, weight, weighting, on_invalid, id_col, region_scheme
        As for :func:`pmt.rank`.

    Returns
    -------
    RankResult
        The ranking arrays of every ranked household, in input order (``rows``
        gives their positions in the file); ``ids`` is None — they are in ``out``.
    """
    import pyarrow as pa

    from .atomic import check_outputs
    from .files import output_kind

    progress = check_progress(progress)
    options = rank_options(
        cutoffs=cutoffs,
        n=n,
        max_desil=max_desil,
        line=line,
        weight=weight,
        weighting=weighting,
        id_col=None,  # the ids go to the file, not the result: checked here
    )
    check_id_col(id_col)
    check_on_invalid(on_invalid)
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ArgumentError(
            f"chunk_size must be a whole number >= 1; got {chunk_size!r}", argument="chunk_size"
        )
    if on_invalid == "reject" and rejects is None:
        raise ArgumentError(
            "on_invalid='reject' needs rejects=PATH, so that every rejected row is accounted for",
            argument="rejects",
        )
    if output_kind(out, argument="out") != "parquet":
        raise E.OutputPathError(
            f"out {out}: rank_file writes Parquet. Fix: name the output "
            ".parquet (or rank in memory with pmt.rank for CSV).",
            argument="out",
            path=str(out),
        )
    if rejects is not None:
        output_kind(rejects, argument="rejects")
    check_outputs(inputs={"path": path}, outputs={"out": out, "rejects": rejects})
    ws = _weights(weights)
    source = open_parquet(path)  # without pre-buffering; a file that is not Parquet is named
    total = source.metadata.num_rows
    if total == 0:
        raise E.EmptyInputError(
            f"{path}: the file has no rows (rule: at least one household). "
            "Fix: check the step that wrote it."
        )
    urban = ws.spec.urban
    check_columns(source.schema_arrow.names, total, ws.spec.variables, weight, id_col, urban=urban)
    needed = required_columns(ws.spec.variables, weight, id_col, urban=urban)

    # ---- pass 1: score, keep a few bytes per household
    clock = time.perf_counter()
    # filled in place (the row count is known), so there is never a second copy
    arrays = {
        "welfare": _memory.empty(total, np.float64),
        "model": _memory.empty(total, np.int32),
        "province": _memory.empty(total, np.int8),
        "person_weight": _memory.empty(total, np.float64),
    }
    # each household's row in the file: made only once a row is set aside (until then the
    # k-th household kept is row k), so that ranking does not hold 8 bytes per household more
    rows: np.ndarray | None = None
    int_ids = _IntIds(total)  # integer ids: only the last while they ascend (see _IntIds)
    id_parts: list[Any] = []  # text ids, as Arrow arrays
    kept = 0
    reject_parts: list[pd.DataFrame] = []
    done = 0
    # the chunks' codes, numeric terms and scores go into the same buffers chunk after
    # chunk: new ones each time would be backed afresh by the operating system (page
    # faults: about 3 s of CPU at 30 M households)
    space = Workspace()
    for table in _prefetch(_file_chunks(path, source, needed, chunk_size)):
        # the chunk's person weights, welfare, model rows and provinces are written straight
        # into the file's arrays, from position ``kept`` (no copy, no buffer between)
        into = _Into(space, arrays, kept)
        enc = encode(
            table,
            ws,
            weight=weight,
            weighting=weighting,
            on_invalid=on_invalid,
            id_col=id_col,
            region_scheme=region_scheme,
            row_offset=done,
            check_ids=False,
            workspace=into,
        )
        part = slice(kept, kept + enc.n)
        scored = _scored(enc, ws, into)
        if rows is None and enc.n < table.num_rows:
            rows = _memory.empty(total, np.int64)  # filled front to back: 4 KB pages
            rows[:kept] = np.arange(kept)
        if rows is not None:
            rows[part] = enc.rows
        if id_col is not None:
            key_part = id_key(enc.ids)
            if isinstance(key_part, np.ndarray):  # earlier ids: of the rows before this chunk
                int_ids.add(key_part, partial(_kept_ids, path, id_col, rows, kept, done))
            else:
                id_parts.append(key_part)
        kept += enc.n
        if len(enc.rejects):
            reject_parts.append(enc.rejects)
        done += table.num_rows
        if progress is not None:
            progress(done, total, "scoring")
    del table, enc, scored  # the last chunk's
    space.clear()
    # pyarrow's allocator keeps pages of the chunks it decoded; handed back now, they are
    # taken at once by the ranking's new arrays, before Linux reports them free to a
    # virtual machine's host, which takes such pages back (docs/performance.md)
    pa.default_memory_pool().release_unused()
    _log.debug("validating and scoring %d rows: %.3f s", total, time.perf_counter() - clock)
    clock = time.perf_counter()
    if kept < total:
        arrays = {k: v[:kept] for k, v in arrays.items()}
        rows = None if rows is None else rows[:kept]

    # ---- ids unique over the whole file: the encoder's rule, applied to every chunk at once
    # (rows that broke another rule are not here, as in memory)
    if id_col is not None:
        if id_parts:  # text ids (a file's id column has one type: no integer chunk)
            key: Any = pa.chunked_array(id_parts)
        else:  # integer ids (none while they ascended: then none repeats), or every row set aside
            key = int_ids.held()
        del id_parts, int_ids  # the key holds them now
        dup = duplicated_ids(key)
        if dup.any():
            where = np.flatnonzero(dup)
            rows_dup = where if rows is None else rows[where]
            if on_invalid == "raise":
                raise E.DuplicateIdError(
                    f"column {id_col!r}: household ids must be unique (duplicate_id); "
                    f"{int(dup.sum()):,} rows share an id, e.g. "
                    f"{E.format_examples(rows_dup[:5])}. Fix: make the household ids unique, "
                    "or pass on_invalid='reject'.",
                    column=id_col,
                    rows=rows_dup[:5],
                )
            reject_parts.append(
                pd.DataFrame(
                    {
                        "row": rows_dup,
                        id_col: _take(key, where),
                        "column": id_col,
                        "rule": "duplicate_id",
                        "value": None,
                    }
                )
            )
            keep = ~dup
            arrays = {k: v[keep] for k, v in arrays.items()}
            rows = np.flatnonzero(keep) if rows is None else rows[keep]
        del key, dup  # ids are read again from the file for the output: none held while ranking

    scored = Scored(
        welfare=arrays["welfare"],
        model=arrays["model"],
        province=arrays["province"],
        person_weight=arrays["person_weight"],
    )
    reject_frame = (
        pd.concat(reject_parts, ignore_index=True)
        .sort_values("row", kind="stable")
        .reset_index(drop=True)
        if reject_parts
        else empty_rejects(id_col)
    )
    result = rank_scored(
        scored,
        ws,
        options,
        ids=None,
        index=pd.RangeIndex(kept) if rows is None else pd.Index(rows),
        rows=np.zeros(0, dtype=np.int64) if rows is None else rows,
        rejects=reject_frame,
        n_input=total,
    )
    if rows is None:  # nothing set aside: made now that ranking's working memory is free
        result = dataclasses.replace(result, rows=np.arange(kept, dtype=np.int64))
    if progress is not None:
        progress(result.n_households, result.n_households, "ranking")
    log_rejects(_log, reject_frame, total)
    _log.debug("ranking %d households: %.3f s", result.n_households, time.perf_counter() - clock)
    clock = time.perf_counter()

    # ---- pass 2: write the result in input order, chunk by chunk, to temporary files
    # renamed onto out and rejects only when both are complete (pmt.io.atomic_output)
    with atomic_outputs(out, *([] if rejects is None else [rejects])) as temps:
        _write(source, result, temps[0], id_col, chunk_size, progress, total)
        if rejects is not None:
            _write_frame(reject_frame, temps[1], output_kind(rejects), result.provenance)
    _log.debug("writing %d rows: %.3f s", total, time.perf_counter() - clock)
    return result


def _write(
    source: Any,
    result: RankResult,
    out: str | Path,
    id_col: str | None,
    chunk_size: int,
    progress: ProgressCallback | None,
    total: int,
) -> None:
    """Write the result to Parquet at ``out`` (a temporary path: the caller renames it).

    Each chunk's table is built from the result's arrays directly
    (:func:`pmt._frames.result_arrow`, no pandas), the ids (read again from
    the input) put first.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .._frames import result_arrow

    rows = result.rows
    writer = None
    start = 0
    pool = ThreadPoolExecutor(max_workers=1)  # writes chunk k while chunk k+1 is built
    pending: Future[None] | None = None
    flush = _Writeback(out)
    try:
        columns = [id_col] if id_col is not None else []
        chunks = (
            _prefetch(_chunks(source, columns, chunk_size))
            if columns
            else (None for _ in range(0, total, chunk_size))
        )
        for chunk in chunks:
            size = chunk.num_rows if chunk is not None else min(chunk_size, total - start)
            lo, hi = np.searchsorted(rows, [start, start + size])
            table = result_arrow(result, slice(int(lo), int(hi)))  # provenance in its schema
            if chunk is not None:  # read with the id column
                table = table.add_column(
                    0, id_col, chunk.column(0).take(pa.array(rows[lo:hi] - start))
                )
            if writer is None:
                schema = result_schema(table.schema)
                writer = _ChunkWriter(
                    pq.ParquetWriter(out, schema, **parquet_options(schema, id_col)), flush
                )
            if table.schema != writer.schema:
                table = table.cast(writer.schema)  # zero-copy; raises if a value were missing
            if pending is not None:
                pending.result()
            pending = pool.submit(writer.write, table)
            start += size
            if progress is not None:
                progress(start, total, "writing")
            _slow_write_pause()
        if pending is not None:
            pending.result()
        if writer is None:  # no chunk at all: still a file with the result's columns
            frame = result.slice_frame(slice(0, 0))
            if id_col is not None:
                frame.insert(0, id_col, pd.Series([], dtype=object))
            _write_frame(frame, Path(out), "parquet", result.provenance)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if writer is not None:
            writer.close()  # waits for a write still running (see _ChunkWriter)
        flush.close()


class _IntIds:
    """The integer ids of pass 1's kept households, for the check that none repeats.

    While each id is larger than the one kept before it, no id can repeat, and
    only the last is remembered: no 8 bytes per household (a registry written
    in id order, the usual case, is checked this way). At the first chunk
    where that fails, the ids of the households kept so far are read again
    from the file (``reread``), and from then on every id is held.
    """

    def __init__(self, total: int) -> None:
        self._total = total
        self._last: Any = None
        self._count = 0
        self._held: np.ndarray | None = None

    def add(self, key: np.ndarray, reread: Any) -> None:
        """Take the next kept households' ids; ``reread()`` gives every earlier one, in order."""
        if self._held is None:
            if key.shape[0] == 0:
                return
            if (self._last is None or key[0] > self._last) and bool((key[1:] > key[:-1]).all()):
                self._last = key[-1]
                self._count += key.shape[0]
                return
            # a file's ids have one type; filled front to back, so on 4 KB pages (pmt._memory)
            self._held = _memory.empty(self._total, key.dtype)
            earlier = reread()
            assert earlier.shape[0] == self._count
            self._held[: self._count] = earlier
        self._held[self._count : self._count + key.shape[0]] = key
        self._count += key.shape[0]

    def held(self) -> np.ndarray:
        """The ids to check: none when they ascended throughout (then none repeats)."""
        if self._held is None:
            return np.zeros(0, dtype=np.int64)
        return self._held[: self._count]


def _kept_ids(path: str | Path, id_col: str, rows: np.ndarray | None, kept: int, done: int) -> Any:
    """The ids of the first ``kept`` kept households, read again from the file's first rows.

    A reader of its own: pass 1's is reading the next chunk in another thread.
    """
    import pyarrow.parquet as pq

    head = pq.ParquetFile(path, pre_buffer=False).read(columns=[id_col])
    head = head.column(0).slice(0, done).combine_chunks()
    key = id_key(head)
    return key[:kept] if rows is None else key[rows[:kept]]


class _Into:
    """A workspace lending the file's arrays for four of a chunk's buffers.

    The buffers ``welfare``, ``model``, ``province`` and ``person_weight`` are
    the file's arrays from position ``start`` on; the others are ``space``'s.

    Encoding and scoring a chunk then write those four where pass 1 keeps
    them (a copy each less per chunk).
    """

    def __init__(self, space: Workspace, arrays: dict[str, np.ndarray], start: int) -> None:
        self._space = space
        self._arrays = arrays
        self._start = start

    def take(self, name: str, size: int, dtype: Any) -> np.ndarray:
        kept = self._arrays.get(name)
        if kept is None:
            return self._space.take(name, size, dtype)
        out = kept[self._start : self._start + size]
        assert out.dtype == np.dtype(dtype) and out.shape[0] == size
        return out


class _ChunkWriter:
    """A Parquet writer written by a background thread and closed by the caller's.

    A write and the close never overlap, whatever interrupts the caller. An
    interrupt (``KeyboardInterrupt``, or the one ``pmt``'s SIGTERM handler
    raises) can land while the pool starts its thread, after the thread runs
    but before the pool knows of it; the pool's ``shutdown`` then returns
    without waiting for that write, and closing a Parquet writer in the
    middle of a write crashed the process (SIGSEGV) or failed ("Only 4 out of
    13 columns are initialized"). So each write and the close hold one lock,
    and a write that comes after the close does nothing (its file is being
    removed).
    """

    def __init__(self, writer: Any, flush: _Writeback) -> None:
        self._writer = writer
        self._flush = flush
        self._lock = threading.Lock()
        self._open = True
        self.schema = writer.schema

    def write(self, table: Any) -> None:
        with self._lock:
            if self._open:
                self._writer.write_table(table)
                self._flush()

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                self._writer.close()


class _Writeback:
    """Start writing a file's new pages to disk, and let go of those already written.

    Each call is ``posix_fadvise(..., POSIX_FADV_DONTNEED)`` from where the call
    before began: for the bytes written since then, Linux starts writeback
    without waiting for it, so that the fsync before the rename
    (:func:`pmt.io.atomic.atomic_outputs`) waits only for the last chunk's; the
    chunk before, usually on disk by now, leaves the page cache. Its pages are then
    free for the next chunk's bytes: on a virtual machine that hands free
    memory back to its host, a page the cache takes new costs far more to fill
    than one it just gave up (writing 1.14 GB in 30 chunks took 3.3-4.1 s
    when each call covered only the new bytes, 0.30-0.37 s this way; see
    docs/performance.md). Pages still being written when the call comes stay
    cached; nothing unwritten is dropped. The result file is therefore mostly
    not in the page cache afterwards. Where the call does not exist (not
    Linux) or fails, nothing happens.
    """

    def __init__(self, path: str | Path) -> None:
        self._fd: int | None = None
        self._path = path
        self._done = 0  # the file's size at the call before
        self._from = 0  # where the call before began

    def __call__(self) -> None:
        if not hasattr(os, "posix_fadvise"):
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDONLY)
            size = os.fstat(self._fd).st_size
            os.posix_fadvise(self._fd, self._from, 0, os.POSIX_FADV_DONTNEED)
            self._from, self._done = self._done, size
        except OSError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _take(key: Any, positions: np.ndarray) -> np.ndarray:
    """Ids at ``positions`` of a duplicate-check key, as an object array (for rejects)."""
    if isinstance(key, np.ndarray):
        return key[positions].astype(object)
    import pyarrow as pa

    return np.array(key.take(pa.array(positions)).to_pylist(), dtype=object)


#: A row group of up to this many chunks is read whole, then cut into chunks (see _chunks)
_WHOLE_GROUP_CHUNKS = 4


def _chunks(source: Any, columns: list[str], chunk_size: int) -> Iterator[Any]:
    """The file's rows in order, as Arrow tables of at most ``chunk_size`` rows.

    Row groups are read whole, consecutive small ones together up to
    ``chunk_size`` rows: pyarrow decodes a row group's columns in parallel,
    and does so faster than batch by batch (reading the 30 M-household
    benchmark file's needed columns: 2.7-3.6 s by row group against 4.2-7.5 s
    with ``iter_batches``, docs/performance.md). A row group of more than
    ``chunk_size`` rows is read whole and cut, or, past
    ``_WHOLE_GROUP_CHUNKS`` chunks, batch by batch, so that memory stays
    bounded by the chunk size whatever the file's layout.
    """
    import pyarrow as pa

    meta = source.metadata
    group: list[int] = []  # consecutive row groups not yet read
    rows = 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if n == 0:
            continue
        if group and rows + n > chunk_size:
            yield source.read_row_groups(group, columns=columns)
            group, rows = [], 0
        if n <= chunk_size:
            group.append(i)
            rows += n
        elif n <= _WHOLE_GROUP_CHUNKS * chunk_size:
            whole = source.read_row_group(i, columns=columns)
            for lo in range(0, n, chunk_size):
                yield whole.slice(lo, chunk_size)
            del whole
        else:
            for batch in source.iter_batches(
                batch_size=chunk_size, row_groups=[i], columns=columns
            ):
                yield pa.Table.from_batches([batch])
    if group:
        yield source.read_row_groups(group, columns=columns)


def _file_chunks(
    path: str | Path, source: Any, columns: list[str], chunk_size: int
) -> Iterator[Any]:
    """:func:`_chunks`, a corrupt page an :class:`~pmt.errors.InvalidFileError` naming the file."""
    with parquet_errors(path):
        yield from _chunks(source, columns, chunk_size)


def _prefetch(items: Iterable[Any]) -> Iterator[Any]:
    """The items of ``items``, each next one read ahead in a background thread.

    The caller works on the current item meanwhile (Parquet decoding releases
    the GIL).
    """
    it = iter(items)
    done = object()
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(next, it, done)
        while True:
            item = ahead.result()
            if item is done:
                return
            ahead = pool.submit(next, it, done)
            yield item
