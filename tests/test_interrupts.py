"""An error or an interrupt leaves no background work running behind the caller.

pmt runs work on threads: the kernels' lanes (:func:`pmt._kernels._jit.run`)
and pass 2's writer (:func:`pmt.io.rank_file`). An interrupt can land while a
pool starts a thread, after the thread runs and before the pool (or the
caller) knows of it; these tests put it exactly there, and make the
background work slow, so that work still running after the call has raised
is seen, not left to timing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import make_households

from pmt._kernels import _jit
from pmt.io import rank_file
from pmt.io.atomic import TEMP_MARK


def _interrupt_thread_starts(monkeypatch: pytest.MonkeyPatch, armed: Callable[[], bool]) -> None:
    """``Thread.start`` raises KeyboardInterrupt just after the thread runs, once ``armed()``.

    This is where a real SIGINT lands when it arrives while ``start`` waits
    for the new thread to signal that it runs.
    """
    start = threading.Thread.start

    def interrupted(self: threading.Thread) -> None:
        start(self)
        if armed():
            raise KeyboardInterrupt

    monkeypatch.setattr(threading.Thread, "start", interrupted)


def test_an_interrupt_as_the_writer_thread_starts_never_closes_the_file_mid_write(
    tiny_ws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Closing a Parquet writer while another thread wrote crashed `pmt rank` (SIGSEGV) or
    # failed it ("Only 4 out of 13 columns are initialized") instead of the interrupt's exit.
    make_households(3000, seed=5).to_parquet(tmp_path / "hh.parquet")
    events: list[str] = []

    class SlowWriter(pq.ParquetWriter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            events.append("open")

        def write_table(self, table: Any, row_group_size: int | None = None) -> None:
            events.append("write")
            time.sleep(0.3)  # the caller reaches its close meanwhile
            super().write_table(table, row_group_size)
            events.append("written")

        def close(self) -> None:
            if self.is_open:
                events.append("close")
            super().close()

    monkeypatch.setattr(pq, "ParquetWriter", SlowWriter)
    # the first thread started once the writer is open is the one that writes (its write may
    # have begun by the time start returns)
    fired: list[bool] = []

    def armed() -> bool:  # once
        if "open" in events and not fired:
            fired.append(True)
            return True
        return False

    _interrupt_thread_starts(monkeypatch, armed)
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        rank_file(tmp_path / "hh.parquet", tiny_ws, out=out, chunk_size=500, id_col="hh_id")
    time.sleep(0.5)  # a write left running would show here
    # the close came after the write it raced with, or before it and the write did nothing
    assert events in (["open", "write", "written", "close"], ["open", "close"])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if TEMP_MARK in p.name] == []


def test_a_failing_lane_is_raised_only_once_every_other_lane_has_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_jit, "threads", lambda: 2)
    done: list[str] = []
    started = threading.Event()

    def fails() -> None:
        started.wait(10)  # the other lane runs by now (a lane not yet started would be skipped)
        raise ValueError("lane 0 fails")

    def slow() -> None:
        started.set()
        time.sleep(0.3)
        done.append("slow")

    with pytest.raises(ValueError, match="lane 0 fails"):
        _jit.run([fails, slow])
    assert done == ["slow"]  # waited for, not left writing


def test_an_interrupt_as_a_lane_is_submitted_leaves_no_lane_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_jit, "threads", lambda: 2)
    _jit.run([lambda: None, lambda: None])  # the pool exists, its threads started
    pool = _jit._pool
    assert pool is not None
    submit = pool.submit
    calls: list[int] = []

    def interrupted(fn: Any, *args: Any) -> Any:
        future = submit(fn, *args)
        calls.append(1)
        if len(calls) == 2:  # the second lane is queued; its future never reaches run
            raise KeyboardInterrupt
        return future

    monkeypatch.setattr(pool, "submit", interrupted)
    log: list[tuple[str, float]] = []

    def task(name: str) -> Callable[[], None]:
        def work() -> None:
            log.append((f"{name} start", time.perf_counter()))
            time.sleep(0.3)
            log.append((f"{name} end", time.perf_counter()))

        return work

    with pytest.raises(KeyboardInterrupt):
        _jit.run([task("a"), task("b")])
    returned = time.perf_counter()
    time.sleep(0.8)  # a lane left running would log after the return
    assert [t for _, t in log if t > returned] == []
