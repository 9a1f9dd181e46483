"""Concurrent calls and forks: identical results and no crash on every numba threading layer.

numba's ``workqueue`` layer aborts the process when two threads enter parallel
regions at once; pmt guards its parallel kernels (``pmt._threads``). Each
layer runs in a fresh process (numba picks the layer once per process).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numba
import pandas as pd
import pytest

import pmt
import pmt._kernels
from pmt import _threads

ROOT = Path(__file__).resolve().parents[1]
N_THREADS = 4

# One script, run in a fresh process per threading layer. It ranks, scores and
# evaluates on one thread, then on N_THREADS threads at once (several times each,
# started together), and prints a digest of every result, whether the concurrent
# ones equalled the single-threaded ones, and what a forked child could do: before
# the parent has run a parallel kernel, and after.
SCRIPT = r"""
import hashlib, json, os, sys, threading, warnings
import numpy as np
import numba
import pmt

warnings.simplefilter("ignore", pmt.errors.SmallPopulationWarning)
ws = pmt.load_weights("demo")
hh = pmt.synth.registry(600, seed=12)

def fork_child_ranks():
    pid = os.fork()
    if pid == 0:
        try:
            ok = pmt.rank(hh, ws, cutoffs="reference").n_households == len(hh)
        finally:
            os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)

cold_fork = fork_child_ranks() if hasattr(os, "fork") else None
# start numba's threading layer (as `pmt --threads N` does), so the report names it
numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()

def calls():
    reg = pmt.rank(hh, ws)
    ref = pmt.rank(hh, ws, cutoffs="reference")
    welfare = pmt.score(hh, ws).to_numpy()
    ev = pmt.evaluate(welfare, reg.welfare * 0.9, weight=reg.person_weight)
    return {
        "registry": digest(reg.welfare, reg.desil_national, reg.desil_provincial,
                           reg.rank_national, reg.share_below_provincial),
        "reference": digest(ref.desil_national, ref.desil_provincial),
        "score": digest(welfare),
        "evaluate": digest(ev.table.select_dtypes("number").to_numpy(dtype=float)),
        "summary": digest(reg.summary().to_numpy()),
    }

single = calls()
results, errors = [], []
start = threading.Barrier(int(sys.argv[1]))
def worker():
    try:
        start.wait()
        for _ in range(2):
            results.append(calls())
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=worker) for _ in range(int(sys.argv[1]))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({
    "layer": numba.threading_layer(),
    "single": single,
    "identical": len(results) == 2 * len(threads) and all(r == single for r in results),
    "errors": errors,
    "cold_fork": cold_fork,
    "warm_fork": fork_child_ranks() if hasattr(os, "fork") else None,
}))
"""


def _start_layer(layer: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NUMBA_THREADING_LAYER": layer, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(N_THREADS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def layers() -> dict[str, dict[str, Any]]:
    """The script's report under the default layer and under workqueue (run side by side)."""
    procs = {layer: _start_layer(layer) for layer in ("default", "workqueue")}
    out: dict[str, dict[str, Any]] = {}
    for layer, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"layer {layer}: exit {proc.returncode}\n{stderr[-3000:]}"
        out[layer] = json.loads(stdout.strip().splitlines()[-1])
    return out


def _parallel_kernels() -> list[str]:
    """The kernels of pmt that run on numba's threading layer (``parallel=True``), if any."""
    return [n for n in dir(pmt._kernels) if _threads._is_parallel(getattr(pmt._kernels, n))]


def test_workqueue_concurrent_calls_identical_and_no_crash(layers: dict[str, Any]) -> None:
    out = layers["workqueue"]
    assert out["layer"] == "workqueue"
    assert out["errors"] == []
    assert out["identical"]


def test_default_layer_concurrent_calls_identical(layers: dict[str, Any]) -> None:
    out = layers["default"]
    assert out["errors"] == []
    assert out["identical"]


def test_results_do_not_depend_on_the_layer(layers: dict[str, Any]) -> None:
    assert layers["default"]["single"] == layers["workqueue"]["single"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_safety_as_documented(layers: dict[str, Any]) -> None:
    """What docs/service.md says of forks, checked.

    A child forked before any ranking ranks on every layer; one forked after a
    ranking ranks on workqueue and tbb, and GNU OpenMP terminates it.
    """
    for layer, out in layers.items():
        assert out["cold_fork"] == 0, layer
    assert layers["workqueue"]["warm_fork"] == 0
    default = layers["default"]
    if not _parallel_kernels():  # no parallel region ever runs: safe whatever the layer
        assert default["warm_fork"] == 0
    elif default["layer"] == "omp" and sys.platform.startswith("linux"):
        assert default["warm_fork"] != 0  # GNU OpenMP: "fork() called from a process ..."
    elif default["layer"] in ("tbb", "workqueue"):
        assert default["warm_fork"] == 0


# --------------------------------------------------------------------------- in this process


def test_threads_in_process_identical_to_one_thread() -> None:
    ws = pmt.load_weights("demo")
    hh = pmt.synth.registry(800, seed=5)
    one = pmt.rank(hh, ws)
    one_ref = pmt.rank(hh, ws, cutoffs="reference")
    welfare = pmt.score(hh, ws)
    start = threading.Barrier(N_THREADS)

    def call(_: int) -> tuple[Any, ...]:
        start.wait()
        r = pmt.rank(hh, ws)
        f = pmt.rank(hh, ws, cutoffs="reference")
        return r.to_frame(), f.to_frame(), pmt.score(hh, ws), r.summary()

    with ThreadPoolExecutor(N_THREADS) as pool:
        outs = list(pool.map(call, range(N_THREADS)))
    for frame, ref_frame, w, summary in outs:
        pd.testing.assert_frame_equal(frame, one.to_frame())
        pd.testing.assert_frame_equal(ref_frame, one_ref.to_frame())
        pd.testing.assert_series_equal(w, welfare)
        pd.testing.assert_frame_equal(summary, one.summary())


def test_every_parallel_kernel_is_guarded_and_others_pass_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def total(x: Any) -> Any:
        return x.sum()

    # a parallel=True kernel, as one added to pmt._kernels would be (never called here)
    monkeypatch.setattr(pmt._kernels, "_test_parallel", numba.njit(parallel=True)(total), False)
    monkeypatch.setattr(pmt._kernels, "_test_serial", numba.njit(total), False)
    kernels = _threads._Kernels()
    assert {"_test_parallel", *_parallel_kernels()} == {
        n for n in dir(pmt._kernels) if _threads._is_parallel(getattr(pmt._kernels, n))
    }
    for name in dir(pmt._kernels):
        if name.startswith("__"):
            continue
        value, seen = getattr(pmt._kernels, name), getattr(kernels, name)
        if _threads._is_parallel(value):
            assert seen is not value and seen.__wrapped__ is value, name
        else:
            assert seen is value, name  # serial kernels and constants: untouched


def _bypassing(parallel: list[str]) -> list[str]:
    """Modules that import ``pmt._kernels`` directly and name one of the kernels ``parallel``."""
    direct = re.compile(
        r"^\s*(from\s+\.+\s+import\s+_kernels\b|from\s+[.\w]*_kernels\s+import|"
        r"import\s+pmt\._kernels)",
        re.M,
    )
    return [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "pmt").rglob("*.py"))
        if path.name != "_threads.py"
        and "_kernels" not in path.relative_to(ROOT / "pmt").parts[0]
        and direct.search(text := path.read_text(encoding="utf-8"))
        and any(re.search(rf"\b{name}\b", text) for name in parallel)
    ]


def test_modules_reach_parallel_kernels_only_through_the_guard() -> None:
    """Calling a ``parallel=True`` kernel of ``pmt._kernels`` directly would bypass the lock.

    pmt's kernels do not run on numba's threading layer today, so nothing can
    bypass the guard; the test binds as soon as one does.
    """
    parallel = _parallel_kernels()
    assert _bypassing(parallel) == [], (
        f"these modules call parallel kernels {parallel} of pmt._kernels directly; use "
        "`from ._threads import kernels as K` (parallel kernels guarded for concurrent calls)"
    )
    # the check itself: were `warmup` a parallel kernel, pmt/__init__.py would bypass
    assert "pmt/__init__.py" in _bypassing(["warmup"])


@pytest.mark.parametrize(
    ("layer", "locks"), [(None, True), ("workqueue", True), ("omp", False), ("tbb", False)]
)
def test_lock_only_where_the_layer_needs_it(
    monkeypatch: pytest.MonkeyPatch, layer: str | None, locks: bool
) -> None:
    monkeypatch.setattr(_threads, "threading_layer", lambda: layer)
    assert _threads.needs_lock() is locks


@pytest.mark.parametrize("locks", [True, False])
def test_guard_serialises_exactly_when_needed(monkeypatch: pytest.MonkeyPatch, locks: bool) -> None:
    """With the lock, at most one call is inside at a time; without, calls overlap."""
    monkeypatch.setattr(_threads, "needs_lock", lambda: locks)
    inside, most = [0], [0]
    count = threading.Lock()

    def kernel(x: int) -> int:
        with count:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        with count:
            inside[0] -= 1
        return x * 2

    call = _threads.guarded(kernel)
    with ThreadPoolExecutor(N_THREADS) as pool:
        assert list(pool.map(call, range(8))) == [x * 2 for x in range(8)]
    assert (most[0] == 1) is locks
