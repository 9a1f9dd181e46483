"""Ranking benchmark: pmt against pandas, polars, DuckDB and plain numpy.

    python benchmarks/bench_rank.py --sizes 1e6,1e7 [--tools pmt,pandas,polars,duckdb,numpy]
                                    [--repeat 3] [--seed 1] [--profile]

For each size, a synthetic registry (``pmt.synth.registry(n, seed=seed)``) is
made once and cached as Parquet in ``benchmarks/.cache/``. Each tool then runs
in its own subprocess, which

1. loads the Parquet file into the tool's in-memory form (not timed),
2. warms up: the job on the first 10,000 rows, then on a small tie-heavy
   registry whose outputs are kept for a second agreement check (not timed),
3. resets the process's peak-RSS counter and runs the job ``--repeat`` times,
   timing each with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU),
4. writes its outputs (welfare, desil, rank, share below; input order) to
   ``.npy`` files in a temporary folder.

The parent compares every tool's outputs with pmt's (desil and rank exactly,
welfare to 1e-9, share below to 1e-12), prints a table and writes it, with the
machine described, to ``benchmarks/results/rank_<date>.md``. The job itself is
defined in ``rank_peers.py``; see ``README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_TOOLS = ("pmt", "pandas", "polars", "duckdb", "numpy")
WARM_ROWS = 10_000
TIES_BASE, TIES_ROWS = 5_000, 60_000  # tie-check registry: 60k rows drawn from 5k households
GB = 1024 ** 3


# --------------------------------------------------------------------------- process memory

def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _ru_maxrss() -> int:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --------------------------------------------------------------------------- data

def data_path(cache: Path, n: int, seed: int, fingerprint: str) -> Path:
    return cache / f"registry_{n}_{seed}_{fingerprint}.parquet"


def ties_path(cache: Path, seed: int, fingerprint: str) -> Path:
    return cache / f"ties_{TIES_ROWS}_{seed}_{fingerprint}.parquet"


def snapshot_weights(weights: str, dest: Path) -> str:
    """Validate the weight set and copy its folder to ``dest`` (a child process), so that
    every tool of a run reads the same files even if the source is being edited."""
    out = subprocess.run([sys.executable, __file__, "--snapshot-weights", weights, str(dest)],
                         capture_output=True, text=True, env=_child_env())
    if out.returncode != 0:
        lines = [x for x in out.stderr.splitlines() if x.strip()]
        raise SystemExit(f"cannot load weight set {weights!r}: "
                         f"{lines[-1] if lines else out.returncode}")
    return out.stdout.strip().splitlines()[-1]


def generator_fingerprint(seed: int) -> str:
    """8 hex digits of a small registry from the current pmt.synth: a cache made by a
    generator that draws differently is not reused."""
    out = subprocess.run([sys.executable, __file__, "--make-data", "fingerprint", "2000",
                          str(seed), "-"], check=True, capture_output=True, text=True,
                         env=_child_env()).stdout
    return out.strip().splitlines()[-1]


def make_data(kind: str, n: int, seed: int, path: Path) -> None:
    """Write the registry (or the tie-heavy check registry) to ``path`` (child process)."""
    import numpy as np

    import pmt

    if kind == "fingerprint":
        import hashlib

        df = pmt.synth.registry(n, seed=seed)
        h = hashlib.sha256(",".join(f"{c}:{t}" for c, t in df.dtypes.items()).encode())
        for c in df.columns:
            h.update(np.ascontiguousarray(df[c].to_numpy()).tobytes())
        print(h.hexdigest()[:8])
        return
    if kind == "registry":
        df = pmt.synth.registry(n, seed=seed)
    else:  # many exact duplicates (ties), shuffled, across all provinces
        base = pmt.synth.registry(TIES_BASE, seed=seed + 1)
        rng = np.random.default_rng(seed)
        df = base.iloc[rng.integers(0, TIES_BASE, n)].reset_index(drop=True)
        df["hh_id"] = rng.permutation(n).astype(np.int64) + 1
    tmp = path.with_suffix(".tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)


def ensure_data(kind: str, n: int, seed: int, path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  making {path.name} ...", end=" ", flush=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--make-data", kind, str(n), str(seed), str(path)],
                   check=True, env=_child_env())
    print(f"{time.perf_counter() - t:.1f} s", flush=True)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


# --------------------------------------------------------------------------- child

def run_child(tool: str, data: Path, ties: Path, repeat: int, outdir: Path, weights: str
              ) -> dict[str, Any]:
    """Load, warm up, time ``repeat`` runs of one tool; save its outputs. Runs in a child."""
    import numpy as np
    import rank_peers

    import pmt

    info: dict[str, Any] = {"tool": tool, "loadavg_start": os.getloadavg()[0]}
    peer = rank_peers.PEERS[tool]
    ws = pmt.load_weights(weights)
    info["weights"] = f"{ws.id} ({ws.content_hash[:19]}..., {len(ws.model_keys)} models)"
    info["rss_start"] = _status("VmRSS")

    t = time.perf_counter()
    frame = peer.load(data)
    info["load_s"] = time.perf_counter() - t
    info["rss_after_load"] = _status("VmRSS")

    # warm-up (JIT caches, imports, allocator) and the tie check; not timed
    t = time.perf_counter()
    small = peer.small(frame, WARM_ROWS)
    res = peer.job(small, ws)
    peer.release(res, small)
    del res, small
    tie_frame = peer.load(ties)
    res = peer.job(tie_frame, ws)
    _save(outdir / "ties", peer.arrays(res, tie_frame))
    peer.release(res, tie_frame)
    del res, tie_frame
    _settle_memory()
    info["warm_s"] = time.perf_counter() - t

    info["rss_before_job"] = _status("VmRSS")
    info["peak_method"] = "VmHWM reset before the timed runs" if _reset_peak() else \
        "ru_maxrss of the whole child (VmHWM reset unavailable)"
    wall, cpu, sys_s = [], [], []
    res = None
    for _i in range(repeat):
        if res is not None:
            peer.release(res, frame)
            res = None
            _settle_memory()
        c0, t0 = os.times(), time.perf_counter()
        res = peer.job(frame, ws)
        t1, c1 = time.perf_counter(), os.times()
        wall.append(t1 - t0)
        cpu.append(c1.user + c1.system - c0.user - c0.system)
        sys_s.append(c1.system - c0.system)
    info["peak_rss"] = _status("VmHWM") if info["peak_method"].startswith("VmHWM") else \
        _ru_maxrss()
    info["peak_rss_child"] = _ru_maxrss()
    info["wall_s"] = wall
    info["cpu_s"] = cpu
    info["sys_s"] = sys_s
    info["loadavg_end"] = os.getloadavg()[0]
    _save(outdir / "main", peer.arrays(res, frame))
    info["versions"] = peer.versions()
    info["threads"] = peer.threads()
    info["n"] = int(np.load(outdir / "main" / "welfare.npy", mmap_mode="r").shape[0])
    return info


def _settle_memory() -> None:
    """Free garbage and hand freed memory back to the OS (Arrow's pool, glibc's heap), so
    that the RSS before the timed runs does not depend on when allocators decay."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _save(folder: Path, arrays: dict[str, Any]) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for k, v in arrays.items():
        np.save(folder / f"{k}.npy", np.ascontiguousarray(v))


# --------------------------------------------------------------------------- profile

def run_profile(data: Path, repeat: int, weights: str) -> dict[str, Any]:
    """Where pmt.rank spends its time (private pmt functions; child process)."""
    import numpy as np
    import pandas as pd

    import pmt
    R = importlib.import_module("pmt.rank")  # the module; pmt.rank is the function
    from pmt.encode import encode

    ws = pmt.load_weights(weights)
    hh = pd.read_parquet(data)
    pmt.rank(hh.iloc[:WARM_ROWS], ws)
    rows = []
    for _ in range(repeat):
        st: dict[str, tuple[float, float]] = {}

        def stage(name: str, f: Any, *args: Any, st: dict[str, Any] = st) -> Any:
            c0, t0 = os.times(), time.perf_counter()
            out = f(*args)
            st[name] = (time.perf_counter() - t0, os.times().system - c0.system)
            return out

        enc = stage("validate + encode (pmt.encode.encode)", encode, hh, ws)
        w = stage("score (kernel + finite check)", R._welfare, enc, ws)
        province = enc.cell_district[enc.cell] // 100
        present = np.flatnonzero(np.bincount(province, minlength=100))
        group = np.searchsorted(present, province).astype(np.uint8)
        last = [time.perf_counter(), os.times().system]

        def mark(name: str, st: dict[str, Any] = st, last: list[float] = last) -> None:
            now, sys_now = time.perf_counter(), os.times().system
            st["rank: " + name] = (now - last[0], sys_now - last[1])
            last[:] = [now, sys_now]

        last[:] = [time.perf_counter(), os.times().system]
        R._rank_scopes(w, enc.person_weight, group, int(present.size), 10, clock=mark)
        enc = w = province = group = None  # free before the end-to-end call
        stage("pmt.rank total (for comparison)", pmt.rank, hh, ws)
        rows.append(st)
    med = {k: (statistics.median(r[k][0] for r in rows),
               statistics.median(r[k][1] for r in rows)) for k in rows[0]}
    return {"n": len(hh), "stages": med, "repeat": repeat}


# --------------------------------------------------------------------------- parent

def parse_sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        x = float(part)
        if x < 1 or x != int(x):
            raise argparse.ArgumentTypeError(f"size {part!r} must be a whole number >= 1")
        out.append(int(x))
    return out


def spawn(cmd: list[str], mem_guard: int, timeout: float) -> tuple[int, str, str, str | None]:
    """Run a child, killing it if its RSS exceeds ``mem_guard`` or it exceeds ``timeout``."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=_child_env())
        killed = None
        start = time.monotonic()
        while proc.poll() is None:
            rss = _rss_of(proc.pid)
            if rss > mem_guard:
                killed = (f"killed by the memory guard: RSS {rss / GB:.2f} GB > "
                          f"{mem_guard / GB:.2f} GB")
            elif time.monotonic() - start > timeout:
                killed = f"killed: no result within {timeout:.0f} s"
            if killed:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), killed


def run_tool(tool: str, data: Path, ties: Path, repeat: int, outdir: Path, weights: str,
             mem_guard: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", tool, "--data", str(data), "--ties", str(ties),
           "--repeat", str(repeat), "--outdir", str(outdir), "--weights", weights]
    rc, out, err, killed = spawn(cmd, mem_guard, timeout)
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    if killed:
        reason = killed
    elif rc is not None and rc < 0:
        reason = f"killed by signal {-rc}" + (" (out of memory?)" if -rc == 9 else "")
    else:
        lines = [x for x in err.strip().splitlines() if x.strip()]
        exc = [x for x in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", x)]
        reason = (exc or lines or [f"exit code {rc}"])[-1]
        reason = reason if len(reason) <= 240 else reason[:237] + "..."
    return {"tool": tool, "failed": reason, "stderr": err.splitlines()[-15:]}


def compare(folder: Path, ref: Path) -> tuple[bool, str]:
    """Compare one tool's outputs with pmt's; (ok, short text)."""
    import numpy as np
    import rank_peers

    bad, notes = [], []
    for k in rank_peers.OUTPUTS:
        a = np.load(folder / f"{k}.npy", mmap_mode="r")
        b = np.load(ref / f"{k}.npy", mmap_mode="r")
        if a.shape != b.shape:
            bad.append(f"{k} shape {a.shape} vs {b.shape}")
            continue
        if k == "welfare" or k.startswith("share_below"):
            tol = 1e-9 if k == "welfare" else 1e-12
            diff = float(np.max(np.abs(np.asarray(a, dtype=np.float64) - b))) if a.size else 0.0
            if not diff <= tol:
                bad.append(f"{k} max |diff| {diff:.2g} > {tol:g}")
            elif k == "welfare":
                notes.append("welfare identical" if diff == 0 else f"welfare max |diff| {diff:.1g}")
        else:
            n_bad = int(np.count_nonzero(np.asarray(a, dtype=np.int64) != b))
            if n_bad:
                bad.append(f"{k} differs in {n_bad:,} rows")
    if bad:
        return False, "MISMATCH: " + "; ".join(bad)
    return True, "ok (" + ", ".join(["desil+rank exact", *notes]) + ")"


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def fresh_memory_cost() -> str:
    """Time to allocate and fill 12 new 80 MB arrays (a 10 M-household float64 column each).

    Large arrays come straight from the kernel, so this is the price of page
    faults, which every large temporary pays; on a VM it can be high and vary.
    """
    import numpy as np

    times = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(12):
            a = np.ones(10_000_000)
            del a
        times.append((time.perf_counter() - t) / (12 * 80e6 / GB))
    return f"{min(times):.2f}–{max(times):.2f} s per GiB"


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    git = "unknown"
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "pmt",
                                "weights"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        git = head + (f" with uncommitted changes to {len(dirty)} files in pmt/ or weights/"
                      if dirty else " (clean pmt/ and weights/)")
    except (OSError, subprocess.CalledProcessError):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": f"{os.cpu_count()} logical ({usable} usable)",
            "ram": f"{mem / GB:.1f} GiB", "os": platform.platform(),
            "python": platform.python_version(), "git": git,
            "fresh": fresh_memory_cost()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=parse_sizes, default=[1_000_000],
                    help="comma-separated household counts, e.g. 1e6,1e7")
    ap.add_argument("--tools", default=",".join(DEFAULT_TOOLS),
                    help=f"comma-separated, from {','.join(DEFAULT_TOOLS)}")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per tool and size")
    ap.add_argument("--repeat-override", default="",
                    help="e.g. 'pandas@1e7=1' to time a slow tool fewer times at one size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", default="demo", help="weight set: shipped name or folder")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--no-write", action="store_true", help="print only; no results file")
    ap.add_argument("--profile", action="store_true",
                    help="also time pmt.rank's stages (validation/encoding, scoring, ranking)")
    ap.add_argument("--mem-guard-gb", type=float, default=None,
                    help="kill a tool whose RSS exceeds this (default: 80%% of RAM)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per tool and size")
    # internal
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--ties", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--outdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--make-data", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--profile-child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--snapshot-weights", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.make_data:
        kind, n, seed, path = args.make_data
        make_data(kind, int(n), int(seed), Path(path))
        return 0
    if args.snapshot_weights:
        import shutil

        import pmt

        name, dest = args.snapshot_weights
        ws = pmt.load_weights(name)
        shutil.copytree(ws.path, dest)
        check = pmt.load_weights(dest)
        if check.content_hash != ws.content_hash:
            raise SystemExit(f"weight set {name!r} changed while being copied; try again")
        print(f"{ws.id} {ws.content_hash} from {ws.path}")
        return 0
    if args.child:
        info = run_child(args.child, args.data, args.ties, args.repeat, args.outdir,
                         args.weights)
        print("RESULT " + json.dumps(info), flush=True)
        return 0
    if args.profile_child:
        print("RESULT " + json.dumps(run_profile(args.profile_child, args.repeat, args.weights)),
              flush=True)
        return 0

    import rank_peers

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in rank_peers.PEERS]
    if unknown:
        ap.error(f"unknown tools {unknown}; known: {list(rank_peers.PEERS)}")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    overrides: dict[tuple[str, int], int] = {}
    for item in filter(None, args.repeat_override.split(",")):
        try:
            lhs, r = item.split("=")
            t, s = lhs.split("@")
            overrides[(t, parse_sizes(s)[0])] = int(r)
        except ValueError:
            ap.error(f"--repeat-override item {item!r}: expected TOOL@SIZE=REPEAT")
    mem_total = _meminfo_total()
    guard = int(args.mem_guard_gb * GB) if args.mem_guard_gb else int(0.8 * mem_total)
    command = "python " + " ".join(shlex.quote(a) for a in
                                   [os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])])
    started = dt.datetime.now()
    print(f"{command}\n{started:%Y-%m-%d %H:%M}; memory guard {guard / GB:.1f} GB per tool",
          flush=True)

    snapshot_dir = tempfile.TemporaryDirectory(prefix="bench_rank_weights_")
    weights = str(Path(snapshot_dir.name) / "weights")
    weights_desc = snapshot_weights(args.weights, Path(weights))
    print("weights: " + weights_desc, flush=True)
    rows: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    threads: dict[str, str] = {}
    fingerprint = generator_fingerprint(args.seed)
    ties = ties_path(args.cache, args.seed, fingerprint)
    ensure_data("ties", TIES_ROWS, args.seed, ties)
    for n in args.sizes:
        data = data_path(args.cache, n, args.seed, fingerprint)
        print(f"\n== {n:,} households", flush=True)
        ensure_data("registry", n, args.seed, data)
        with tempfile.TemporaryDirectory(prefix="bench_rank_") as tmp:
            for tool in tools:
                repeat = overrides.get((tool, n), args.repeat)
                print(f"  {tool:<7} x{repeat} ...", end=" ", flush=True)
                info = run_tool(tool, data, ties, repeat, Path(tmp) / tool, weights, guard,
                                args.timeout)
                info.update(n=n, repeat=repeat)
                if "failed" in info:
                    print(f"failed: {info['failed']}", flush=True)
                    if info.get("stderr"):
                        print("    | " + "\n    | ".join(info["stderr"]), flush=True)
                else:
                    versions.update(info["versions"])
                    threads[tool] = info["threads"]
                    print(f"median {statistics.median(info['wall_s']):.2f} s "
                          f"(runs {', '.join(f'{x:.2f}' for x in info['wall_s'])}), "
                          f"peak {info['peak_rss'] / GB:.2f} GB", flush=True)
                rows.append(info)
            ref = Path(tmp) / "pmt"
            for info in rows:
                if info["n"] != n or "failed" in info:
                    continue
                folder = Path(tmp) / info["tool"]
                if info["tool"] == "pmt":
                    info["agree"], info["agree_ok"] = "reference", True
                    info["ties"] = "reference"
                elif not (ref / "main").exists():
                    info["agree"], info["agree_ok"] = "not checked (pmt not run)", True
                    info["ties"] = "not checked"
                else:
                    info["agree_ok"], info["agree"] = compare(folder / "main", ref / "main")
                    ok_t, text_t = compare(folder / "ties", ref / "ties")
                    info["ties"] = text_t
                    info["agree_ok"] = info["agree_ok"] and ok_t
        if args.profile and "pmt" in tools:
            print("  profiling pmt.rank stages ...", end=" ", flush=True)
            _rc, out, err, killed = spawn([sys.executable, __file__, "--profile-child", str(data),
                                          "--repeat", str(args.repeat), "--weights",
                                          weights], guard, args.timeout)
            prof = next((json.loads(x[7:]) for x in out.splitlines() if x.startswith("RESULT ")),
                        None)
            if prof is None:
                print("failed: " + (killed or (err.strip().splitlines() or ["?"])[-1]))
            else:
                profiles.append(prof)
                print("done")

    table = render_table(rows)
    print("\n" + table)
    mismatches = [r for r in rows if not r.get("agree_ok", True)]
    if mismatches:
        print("\n" + "!" * 78)
        for r in mismatches:
            print(f"!! {r['tool']} at {r['n']:,}: outputs DISAGREE with pmt: {r['agree']}; "
                  f"tie check: {r['ties']}")
        print("!" * 78)
    for prof in profiles:
        print("\n" + render_profile(prof))
    if not args.no_write:
        path = write_results(args.results, started, command, rows, profiles, versions, threads,
                             guard, weights_desc)
        print(f"\nwritten {os.path.relpath(path, Path.cwd())}")
    snapshot_dir.cleanup()
    return 1 if mismatches else 0


def _meminfo_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 16 * GB


def _table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    pmt_of = {r["n"]: r for r in rows if r["tool"] == "pmt" and "failed" not in r}
    for r in rows:
        if "failed" in r:
            out.append([f"{r['n']:,}", r["tool"], "—", "—", "—", "—", "—", "—", "—",
                        f"failed: {r['failed']}"])
            continue
        med = statistics.median(r["wall_s"])
        peak = r["peak_rss"] / GB
        job = (r["peak_rss"] - r["rss_before_job"]) / GB
        base = pmt_of.get(r["n"])
        t_ratio = med / statistics.median(base["wall_s"]) if base else None
        m_ratio = r["peak_rss"] / base["peak_rss"] if base else None
        agree = r["agree"] if r.get("agree_ok", True) or r["tool"] == "pmt" else \
            "**" + r["agree"] + "**"
        if r["tool"] != "pmt" and r.get("ties") not in (None, "reference", "not checked"):
            agree += "; ties: " + ("ok" if r["ties"].startswith("ok") else r["ties"])
        out.append([f"{r['n']:,}", r["tool"], f"{med:.2f}",
                    f"{statistics.median(r['cpu_s']):.2f}", str(r["repeat"]), f"{peak:.2f}",
                    f"{job:.2f}", _fmt(t_ratio, ".2f"), _fmt(m_ratio, ".2f"), agree])
    return out


HEAD = ["households", "tool", "median s", "CPU s", "runs", "peak RSS GB", "job GB",
        "time / pmt", "peak / pmt", "agreement with pmt"]


def render_table(rows: list[dict[str, Any]]) -> str:
    body = _table_rows(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(HEAD)]
    widths[-1] = len(HEAD[-1])
    line = "  ".join(h.ljust(w) if i in (1, 9) else h.rjust(w)
                     for i, (h, w) in enumerate(zip(HEAD, widths, strict=True)))
    out = [line, "-" * len(line)]
    for b in body:
        out.append("  ".join(c.ljust(w) if i in (1, 9) else c.rjust(w)
                             for i, (c, w) in enumerate(zip(b, widths, strict=True))))
    return "\n".join(out)


def render_profile(prof: dict[str, Any]) -> str:
    st = prof["stages"]
    total = st["pmt.rank total (for comparison)"][0]
    lines = [f"pmt.rank stages at {prof['n']:,} households (median of {prof['repeat']}; "
             "sys = kernel CPU time, mostly page faults on fresh memory):"]
    for k, (v, s) in st.items():
        lines.append(f"  {k:<55} {v:7.3f} s  {100 * v / total:5.1f} %   sys {s:6.3f} s")
    return "\n".join(lines)


def _md_table(head: list[str], body: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i in (1, len(head) - 1) else "---:" for i in range(len(head)))
           + "|"]
    out += ["| " + " | ".join(b) + " |" for b in body]
    return "\n".join(out)


def write_results(folder: Path, started: dt.datetime, command: str, rows: list[dict[str, Any]],
                  profiles: list[dict[str, Any]], versions: dict[str, str],
                  threads: dict[str, str], guard: int, weights_desc: str) -> Path:
    import rank_peers

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rank_{started:%Y-%m-%d}.md"
    if path.exists():
        path = folder / f"rank_{started:%Y-%m-%d_%H%M%S}.md"
    m = machine()
    lines = [f"# Ranking benchmark, {started:%Y-%m-%d %H:%M}", "",
             "Produced by (from the repository root):", "", "```", command, "```", "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['cores']}",
             f"- RAM: {m['ram']}; memory guard per tool {guard / GB:.1f} GB",
             f"- OS: {m['os']}; Python {m['python']}",
             f"- Fresh memory: allocating and filling new 80 MB arrays costs {m['fresh']} "
             "(3 tries); large temporaries pay this in page faults, the *sys* column below",
             f"- pmt source: git {m['git']}",
             f"- Weight set: {weights_desc} (one copy, read by every tool)",
             "- Libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
             "- Threads: " + "; ".join(f"{k}: {v}" for k, v in threads.items()),
             "", "## Results", "",
             "Median wall time of the timed runs, and median CPU time (user + sys, all "
             "threads) of the same runs. *peak RSS* is the child process's peak "
             "resident memory during the timed runs (input data included); *job GB* is peak "
             "minus the RSS just before the first timed run (after loading and warm-up), i.e. "
             "the extra memory the job needs. Ratios are tool / pmt at the same size "
             "(> 1: slower or bigger than pmt). Agreement: desil and rank exactly, welfare to "
             "1e-9 and share below to 1e-12, on the benchmarked data and on a tie-heavy "
             f"{TIES_ROWS:,}-row registry.", "",
             _md_table(HEAD, _table_rows(rows)), "", "## Details", ""]
    detail_head = ["households", "tool", "runs (s)", "CPU s / run", "of which sys", "load s",
                   "RSS after load GB", "RSS before job GB", "child max RSS GB",
                   "load avg start → end"]
    body = []
    for r in rows:
        if "failed" in r:
            continue
        body.append([f"{r['n']:,}", r["tool"], ", ".join(f"{x:.2f}" for x in r["wall_s"]),
                     f"{statistics.median(r['cpu_s']):.2f}",
                     f"{statistics.median(r['sys_s']):.2f}", f"{r['load_s']:.2f}",
                     f"{r['rss_after_load'] / GB:.2f}", f"{r['rss_before_job'] / GB:.2f}",
                     f"{r['peak_rss_child'] / GB:.2f}",
                     f"{r['loadavg_start']:.1f} → {r['loadavg_end']:.1f}"])
    lines += [_md_table(detail_head, body), "",
              "*child max RSS* includes loading the Parquet file. A load average above the "
              "core count means other processes competed for the CPU during that tool's run.",
              ""]
    for prof in profiles:
        lines += ["```", render_profile(prof), "```", ""]
    lines += ["## What each tool does", ""]
    lines += [f"- **{p.name}**: {p.what}" for p in rank_peers.PEERS.values()
              if any(r["tool"] == p.name for r in rows)]
    lines += ["", "Only pmt validates its input (every column, inside the timed call); the "
              "peers trust the synthetic data. See `benchmarks/README.md`.", ""]
    path.write_text("\n".join(lines))
    return path


if __name__ == "__main__":
    sys.exit(main())
