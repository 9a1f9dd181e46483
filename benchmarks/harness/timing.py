"""Timing inside a child process: the timed runs of one tool, the machine floor, pmt's
stages.

:func:`timed` is the child of the in-process benchmarks (``bench_rank.py``,
``bench_compute.py``): it reads the cached data into the tool's form (not
timed), warms up on the first 10,000 households and on the tie-heavy set
(not timed; this also loads numba's caches), resets the peak-RSS counter,
runs the job ``repeat`` times (every run's wall and CPU time kept), and
saves the outputs for the agreement check.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from harness import agree, proc
from harness.data import WARM_ROWS, load_inputs


class _Kind(NamedTuple):
    form: Callable[[Path], tuple[Any, dict[str, Any]]]  # cached data -> (form, timings)
    warm: Callable[[Path, Any], Any]  # (cached data, form) -> a small form for the warm-up
    job: Callable[[Any], Any]  # the timed call
    arrays: Callable[[Any, Any], Any]  # (result, form) -> outputs in input order


def _frame_kind(peer: Any, ws: Any) -> _Kind:
    """From a table: the Parquet file read into the tool's form."""
    def form(path: Path) -> tuple[Any, dict[str, Any]]:
        t = time.perf_counter()
        out = peer.frame_form(path)
        return out, {"form_s": time.perf_counter() - t}

    return _Kind(form, lambda path, f: peer.frame_head(f, WARM_ROWS),
                 lambda f: peer.frame(f, ws), peer.frame_arrays)


def _compute_kind(peer: Any, ws: Any) -> _Kind:
    """From encoded arrays: read into RAM, then the tool's form built around them."""
    from peers.common import coefficient_tables

    coefs = coefficient_tables(ws)
    build = getattr(peer, "compute_form", lambda inp, ws: inp)

    def form(path: Path) -> tuple[Any, dict[str, Any]]:
        t = time.perf_counter()
        inp = load_inputs(path)
        t1 = time.perf_counter()
        out = build(inp, ws)  # a tool that copies the arrays lets ``inp`` go on return
        return out, {"read_s": t1 - t, "form_s": time.perf_counter() - t1,
                     "input_bytes": inp.nbytes}

    return _Kind(form, lambda path, f: build(load_inputs(path, rows=WARM_ROWS), ws),
                 lambda f: peer.compute(f, coefs, ws), peer.compute_arrays)


KINDS = {"frame": _frame_kind, "compute": _compute_kind}


def timed(kind: str, tool: str, data: str, ties: str, repeat: int, outdir: str,
          weights: str) -> dict[str, Any]:
    """Time ``repeat`` runs of one tool's job on ``data`` (a child process; see above)."""
    import peers

    import pmt

    peer = peers.get(tool)  # imports the tool before the baseline RSS
    ws = pmt.load_weights(weights)
    getattr(peer, "prepare", lambda ws: None)(ws)
    k = KINDS[kind](peer, ws)
    release = getattr(peer, "release", lambda result, form: None)
    out = Path(outdir)
    info: dict[str, Any] = {"tool": tool, "loadavg_start": os.getloadavg()[0],
                            "threads": peer.threads()}
    gc.collect()
    info["rss_start"] = proc.status("VmRSS")

    form, timings = k.form(Path(data))
    info.update(timings)
    proc.settle_memory()
    info["rss_after_load"] = proc.status("VmRSS")
    info["max_rss_after_load"] = proc.ru_maxrss()  # reading + building the form, at their peak

    t = time.perf_counter()  # warm-up (JIT, imports, allocator) and the tie check
    small = k.warm(Path(data), form)
    release(k.job(small), small)
    del small
    tie_form, _ = k.form(Path(ties))
    res = k.job(tie_form)
    agree.save(out / "ties", k.arrays(res, tie_form))
    release(res, tie_form)
    del res, tie_form
    proc.settle_memory()
    info["warm_s"] = time.perf_counter() - t

    info["rss_before_job"] = proc.status("VmRSS")
    vmhwm = proc.reset_peak()
    info["peak_method"] = "VmHWM reset before the timed runs" if vmhwm else \
        "ru_maxrss of the whole child (VmHWM reset unavailable)"
    wall, cpu, sys_s = [], [], []
    res = None
    for _ in range(repeat):
        if res is not None:
            release(res, form)
            res = None
            proc.settle_memory()
        c0, t0 = os.times(), time.perf_counter()
        res = k.job(form)
        t1, c1 = time.perf_counter(), os.times()
        wall.append(t1 - t0)
        cpu.append(c1.user + c1.system - c0.user - c0.system)
        sys_s.append(c1.system - c0.system)
    info["peak_rss"] = proc.status("VmHWM") if vmhwm else proc.ru_maxrss()
    info.update(peak_rss_child=proc.ru_maxrss(), wall_s=wall, cpu_s=cpu, sys_s=sys_s,
                loadavg_end=os.getloadavg()[0])
    if kind == "compute" and hasattr(peer, "output_bytes"):
        info["output_bytes"] = peer.output_bytes(res, form)
    arrays = k.arrays(res, form)
    info["n"] = len(arrays["welfare"])
    agree.save(out / "main", arrays)
    return info


# --------------------------------------------------------------------------- the floor

def floor(data: str, repeat: int, weights: str) -> dict[str, Any]:
    """(a) one read of every input byte: a numba parallel sum over 8-byte words, or numpy's
    single-threaded one, whichever is faster; (b) ``np.sort`` of the welfare keys, in place
    on a copy. Median of ``repeat`` each (a child process)."""
    import numpy as np
    from numba import get_num_threads, njit, prange
    from peers import numba_peer
    from peers.common import coefficient_tables

    import pmt

    @njit(parallel=True, cache=False)
    def sum_words(x):  # type: ignore[no-untyped-def]
        s = np.uint64(0)
        for i in prange(x.shape[0]):
            s += x[i]
        return s

    inp = load_inputs(Path(data))

    def words(a: np.ndarray) -> np.ndarray:
        raw = a.ravel(order="K").view(np.uint8)  # the array's memory, no copy
        return raw[:raw.shape[0] // 8 * 8].view(np.uint64)

    views = [words(a) for a in (inp.codes, inp.numeric, inp.cell, inp.person_weight)]
    nbytes = sum(int(v.nbytes) for v in views)
    sum_words(views[0][:1000])  # compile
    sums: dict[str, Callable[[np.ndarray], Any]] = {
        f"numba parallel sum ({get_num_threads()} threads)": sum_words,
        "numpy sum (1 thread)": np.add.reduce}
    reads: dict[str, list[float]] = {name: [] for name in sums}
    for _ in range(repeat):
        for name, f in sums.items():
            t = time.perf_counter()
            for v in views:
                f(v)
            reads[name].append(time.perf_counter() - t)
    best = min(reads, key=lambda k: statistics.median(reads[k]))

    welfare = numba_peer.welfare(inp, coefficient_tables(pmt.load_weights(weights)))
    sorts = []
    for _ in range(repeat):
        keys = welfare.copy()
        t = time.perf_counter()
        keys.sort()
        sorts.append(time.perf_counter() - t)
    return {"n": inp.n, "input_bytes": nbytes, "read_s": statistics.median(reads[best]),
            "read_how": best, "read_runs": reads, "sort_s": statistics.median(sorts),
            "sort_runs": sorts}


# --------------------------------------------------------------------------- pmt's stages

class Usage(NamedTuple):
    """Wall seconds, user and system CPU seconds, minor page faults."""

    wall: float
    user: float
    sys: float
    faults: int


def _now() -> Usage:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return Usage(time.perf_counter(), r.ru_utime, r.ru_stime, r.ru_minflt)


def _since(a: Usage, b: Usage) -> Usage:
    return Usage(b.wall - a.wall, b.user - a.user, b.sys - a.sys, b.faults - a.faults)


class StageClock:
    """Records the usage of consecutive stages: ``mark(name)`` ends the current one."""

    def __init__(self) -> None:
        self.stages: dict[str, Usage] = {}
        self._last = _now()

    def restart(self) -> None:
        self._last = _now()

    def mark(self, name: str) -> None:
        now = _now()
        self.stages[name] = _since(self._last, now)
        self._last = now

    def time(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` as stage ``name`` (stages inside it are kept too)."""
        start = _now()
        out = fn(*args, **kwargs)
        self._last = _now()
        self.stages[name] = _since(start, self._last)
        return out


#: pmt.rank's functions the stage profile wraps: its scoring step (the public name first,
#: then the older private one) and its ranking, which reports its own stages to ``clock``.
_SCORE = ("score_encoded", "_welfare")
_RANK = "_rank_scopes"


@contextlib.contextmanager
def pmt_stages(clock: StageClock) -> Iterator[None]:
    """Within this block, ``pmt.rank.rank_encoded`` reports its stages to ``clock``:
    scoring, then each stage of the ranking.

    pmt has no public stage hook, so this wraps two of ``pmt.rank``'s module
    functions (:data:`_SCORE`, :data:`_RANK`, the latter's ``clock=``
    argument); it fails with a clear message if they are gone.
    """
    import importlib

    R = importlib.import_module("pmt.rank")
    score = next((name for name in _SCORE if hasattr(R, name)), None)
    if score is None or not hasattr(R, _RANK):
        raise SystemExit(f"pmt.rank no longer has {' or '.join(_SCORE)} and {_RANK}; the "
                         "stage profile needs them (harness/timing.py)")
    score_fn, rank_fn = getattr(R, score), getattr(R, _RANK)

    def timed_score(*a: Any, **kw: Any) -> Any:
        return clock.time("score (and the cells' model rows and groups)", score_fn, *a, **kw)

    def timed_rank(*a: Any, **kw: Any) -> Any:
        clock.restart()
        return rank_fn(*a, clock=clock.mark, **kw)

    setattr(R, score, timed_score)
    setattr(R, _RANK, timed_rank)
    try:
        yield
    finally:
        setattr(R, score, score_fn)
        setattr(R, _RANK, rank_fn)


def profile_frame(data: str, repeat: int, weights: str) -> dict[str, Any]:
    """Where ``pmt.rank`` spends its time on a DataFrame: validation and encoding, then
    ``rank_encoded``'s stages, then the whole call for comparison; median of ``repeat``
    (a child process)."""
    import pandas as pd

    import pmt
    from pmt.encode import encode
    from pmt.rank import rank_encoded

    ws = pmt.load_weights(weights)
    hh = pd.read_parquet(data)
    pmt.rank(hh.iloc[:WARM_ROWS], ws)
    calls = []
    for _ in range(repeat):
        clock = StageClock()
        enc = clock.time("validate + encode (pmt.encode.encode)", encode, hh, ws)
        with pmt_stages(clock):
            rank_encoded(enc, ws)
        del enc
        clock.time("pmt.rank total (for comparison)", pmt.rank, hh, ws)
        calls.append(clock.stages)
    return {"n": len(hh), "repeat": repeat, "stages": {
        k: [statistics.median(c[k][i] for c in calls) for i in range(4)] for k in calls[0]}}


def stage_table(stages: dict[str, Any], total: str, *, markdown: bool = False) -> str:
    """One table of stages: wall, user and system time, page faults, share of ``total``."""
    from harness.report import table

    whole = Usage(*stages[total]).wall
    body = [[k, f"{u.wall:.3f}", f"{u.user:.2f}", f"{u.sys:.2f}", f"{u.faults:,.0f}",
             f"{100 * u.wall / whole:.1f}"] for k, u in ((k, Usage(*v)) for k, v in stages.items())]
    return table(["stage", "wall s", "user s", "sys s", "minor faults", "% of total"], body,
                 left={0}, markdown=markdown)


# --------------------------------------------------------------------------- file to file

def files_job(tool: str, src: str, out: str, weights: str, threads: int | None
              ) -> dict[str, Any]:
    """One peer's file-to-file job (a child process; its wall time is taken outside): the
    time to import the tool and load the weight set, and the job's."""
    t0 = time.perf_counter()
    import peers

    import pmt

    peer = peers.get(tool)
    ws = pmt.load_weights(weights)
    t1 = time.perf_counter()
    mode = peer.files(src, out, ws, threads=threads)
    return {"import_weights_s": t1 - t0, "job_s": time.perf_counter() - t1, "mode": mode,
            "threads": str(threads) if threads else peer.threads()}


def io_floor(src: str, ref: str, out: str, row_group: int) -> dict[str, Any]:
    """The job's I/O floor (a child process): read the input once, write the output once.

    pyarrow on all cores: ``read_table`` of every column of ``src`` (the registry holds
    only the columns the job reads), then -- untimed -- pmt's output ``ref`` into memory,
    and ``write_table`` of it to ``out`` with the Parquet settings pmt writes with
    (``pmt.io.files.parquet_options``: snappy; dictionary encoding where values repeat,
    statistics except on dictionary columns) in row groups of ``row_group``.
    """
    import pyarrow.parquet as pq

    from pmt.io.files import parquet_options

    t0 = time.perf_counter()
    table = pq.read_table(src, use_threads=True)
    read_s = time.perf_counter() - t0
    rows = table.num_rows
    del table
    result = pq.read_table(ref, use_threads=True)
    t1 = time.perf_counter()
    options = parquet_options(result.schema, id_col="hh_id")
    pq.write_table(result, out, row_group_size=row_group, **options)
    write_s = time.perf_counter() - t1
    return {"read_s": read_s, "write_s": write_s, "rows": rows, "out_rows": result.num_rows}
