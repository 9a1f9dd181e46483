"""Compute-only ranking benchmark: encoded arrays in memory -> welfare, desil, rank, share.

    python benchmarks/bench_compute.py --sizes 1e6,1e7,3e7 --repeat 3
                                       [--tools pmt,numba,numpy,pandas,polars,duckdb]
                                       [--repeat-override pandas@3e7=1] [--no-write]

What ``bench_rank.py`` times end to end (validation and encoding included),
this times without them: every tool starts from the same encoded arrays
(``pmt.encode.Encoded``'s codes, numeric terms, cell and person weight, plus
the per-cell table) already in memory and computes welfare and the national
and provincial desil, rank and share below (``compute_peers.py``).

For each size the encoded registry is made once, in blocks of at most 2 M
households (block ``b`` is ``pmt.synth.registry(rows, seed=seed*1000+b)``,
encoded with ``pmt.encode.encode``), and cached as ``.npy`` files in
``benchmarks/.cache/encoded_<n>_<seed>_<fingerprint>/``; the fingerprint
covers the weight set's content hash and pmt's synth and encode code. Each
tool then runs in its own subprocess, which reads the arrays into RAM and
builds the tool's in-memory form (not timed), warms up on the first 10,000
households and on a tie-heavy 60,000-household set (not timed), and times
``--repeat`` runs, measuring peak RSS above the RSS just before them. A floor
of the machine is measured in its own subprocess: one read of all input bytes
(memory bandwidth) plus ``np.sort`` of the n welfare keys.

The parent compares every tool with pmt (desil and rank exactly, welfare bit
for bit, share below to 1e-12), prints a table and writes it, with the machine
described, to ``benchmarks/results/compute_<date>.md``. Exit status 1 if a
tool disagrees with pmt. See ``README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_rank import (
    GB,
    _child_env,
    _md_table,
    _meminfo_total,
    _reset_peak,
    _ru_maxrss,
    _save,
    _settle_memory,
    _status,
    machine,
    parse_sizes,
    snapshot_weights,
    spawn,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_TOOLS = ("pmt", "numba", "numpy", "pandas", "polars", "duckdb")
BLOCK = 2_000_000  # households per generated block (bounds memory while making the data)
WARM_ROWS = 10_000
TIES_BASE, TIES_ROWS = 5_000, 60_000  # tie check: 60k households drawn from 5k
TARGET_N = 30_000_000  # the registry size the memory estimates are scaled to
BUDGET_PER_HH = 32  # pmt's allowance of extra bytes per household beyond its outputs
CACHE_FORMAT = "1"  # bump when the layout of the cached files changes
WELFARE_TOL = SHARE_TOL = 1e-12
FILES = ("codes", "numeric", "cell", "person_weight")


# --------------------------------------------------------------------------- data (children)

def fingerprint(seed: int, weights: str) -> str:
    """10 hex digits over the weight set's content hash, the source of pmt's synth and
    encode modules, and the encoding of a small registry (which catches any other change
    that alters the arrays)."""
    import numpy as np

    import pmt
    import pmt.encode

    ws = pmt.load_weights(weights)
    h = hashlib.sha256(f"{CACHE_FORMAT}|{ws.content_hash}|".encode())
    for mod in (pmt.synth, pmt.encode):
        h.update(Path(mod.__file__).read_bytes())
    enc = pmt.encode.encode(pmt.synth.registry(2_000, seed=seed), ws)
    for name in ("codes", "numeric", "cell", "person_weight", "cell_district", "cell_urban",
                 "cell_model", "cell_shift", "cell_group", "provinces"):
        a = getattr(enc, name)
        h.update(f"{name}{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:10]


def _write_meta(folder: Path, ws: Any, n: int, kind: str, seed: int) -> None:
    spec = ws.spec
    meta = {"n": n, "kind": kind, "seed": seed, "weights": ws.id,
            "weights_hash": ws.content_hash,
            "lookup_names": [v.name for v in spec.lookup_variables],
            "numeric_names": list(spec.numeric_terms)}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))


def make_data(n: int, seed: int, dest: Path, weights: str) -> None:
    """Encode ``n`` synthetic households block by block into ``dest`` (a child process).

    Each block's cells are mapped to one global cell table through their
    (district, urban) key; the global table lists the keys ascending, as
    ``encode`` would for the whole registry."""
    import numpy as np
    from numpy.lib.format import open_memmap

    import pmt
    from pmt.encode import encode

    ws = pmt.load_weights(weights)
    n_lookup, n_numeric = len(ws.spec.lookup_variables), len(ws.spec.numeric_terms)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    codes = open_memmap(tmp / "codes.npy", mode="w+", dtype=np.uint8, shape=(n, n_lookup),
                        fortran_order=True)
    numeric = open_memmap(tmp / "numeric.npy", mode="w+", dtype=np.float64,
                          shape=(n, n_numeric), fortran_order=True)
    cell = open_memmap(tmp / "cell.npy", mode="w+", dtype=np.int32, shape=(n,))
    weight = open_memmap(tmp / "person_weight.npy", mode="w+", dtype=np.float64, shape=(n,))
    cells: dict[int, tuple[int, float]] = {}  # key = district*2 + urban -> (model, shift)
    start = time.perf_counter()
    for b, lo in enumerate(range(0, n, BLOCK)):
        rows = min(BLOCK, n - lo)
        frame = pmt.synth.registry(rows, seed=seed * 1000 + b)
        frame["hh_id"] += lo  # unique across blocks
        enc = encode(frame, ws)
        del frame
        if enc.n != rows or len(enc.rejects):
            raise SystemExit(f"block {b}: encode set {len(enc.rejects)} rows aside")
        codes[lo:lo + rows] = enc.codes
        numeric[lo:lo + rows] = enc.numeric
        weight[lo:lo + rows] = enc.person_weight
        keys = (enc.cell_district * 2 + enc.cell_urban).astype(np.int32)
        cell[lo:lo + rows] = keys[enc.cell]  # global key for now; an index below
        for k, m, s in zip(keys.tolist(), enc.cell_model.tolist(), enc.cell_shift.tolist(),
                           strict=True):
            if cells.setdefault(k, (m, s)) != (m, s):
                raise SystemExit(f"cell {k} resolves differently in block {b}")
        print(f"  encoded {lo + rows:,} / {n:,} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    keys = np.array(sorted(cells), dtype=np.int64)
    lut = np.full(int(keys.max()) + 1, -1, dtype=np.int32)
    lut[keys] = np.arange(keys.size, dtype=np.int32)
    for lo in range(0, n, BLOCK):
        cell[lo:lo + BLOCK] = lut[cell[lo:lo + BLOCK]]
    district, urban = keys // 2, keys % 2
    provinces = np.unique(district // 100)
    np.savez(tmp / "cells.npz", cell_district=district, cell_urban=urban,
             cell_model=np.array([cells[k][0] for k in keys.tolist()], dtype=np.int32),
             cell_shift=np.array([cells[k][1] for k in keys.tolist()], dtype=np.float64),
             cell_group=np.searchsorted(provinces, district // 100).astype(np.int32),
             provinces=provinces)
    for a in (codes, numeric, cell, weight):
        a.flush()
    del codes, numeric, cell, weight
    _write_meta(tmp, ws, n, "registry", seed)
    tmp.replace(dest)


def make_ties(seed: int, dest: Path, weights: str) -> None:
    """A tie-heavy encoded set: TIES_ROWS households drawn with replacement from TIES_BASE,
    so most households have exact duplicates (same welfare) in their province."""
    import numpy as np

    import pmt
    from pmt.encode import encode

    ws = pmt.load_weights(weights)
    enc = encode(pmt.synth.registry(TIES_BASE, seed=seed + 1), ws)
    idx = np.random.default_rng(seed).integers(0, enc.n, TIES_ROWS)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "codes.npy", np.asfortranarray(enc.codes[idx]))
    np.save(tmp / "numeric.npy", np.asfortranarray(enc.numeric[idx]))
    np.save(tmp / "cell.npy", enc.cell[idx])
    np.save(tmp / "person_weight.npy", enc.person_weight[idx])
    np.savez(tmp / "cells.npz", **{k: getattr(enc, k) for k in (
        "cell_district", "cell_urban", "cell_model", "cell_shift", "cell_group", "provinces")})
    _write_meta(tmp, ws, TIES_ROWS, "ties", seed)
    tmp.replace(dest)


def load_inputs(folder: Path) -> Any:
    """Read a cached encoded set into RAM (``compute_peers.Inputs``)."""
    import numpy as np
    from compute_peers import Inputs

    meta = json.loads((folder / "meta.json").read_text())
    arrays = {k: np.load(folder / f"{k}.npy", mmap_mode=None) for k in FILES}
    with np.load(folder / "cells.npz") as z:
        cells = {k: z[k] for k in z.files}
    return Inputs(**arrays, **cells, lookup_names=tuple(meta["lookup_names"]),
                  numeric_names=tuple(meta["numeric_names"]))


def data_dir(cache: Path, n: int, seed: int, fp: str) -> Path:
    return cache / f"encoded_{n}_{seed}_{fp}"


def ties_dir(cache: Path, seed: int, fp: str) -> Path:
    return cache / f"encoded_ties_{TIES_ROWS}_{seed}_{fp}"


def ensure_data(kind: str, n: int, seed: int, folder: Path, weights: str) -> None:
    if folder.exists():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"  making {folder.name} ...", flush=True)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--make-data", kind, str(n), str(seed),
                           str(folder), "--weights", weights], env=_child_env())
    if proc.returncode != 0 or not folder.exists():
        raise SystemExit(f"making {folder.name} failed (exit code {proc.returncode})")
    print(f"  made in {time.perf_counter() - t:.0f} s", flush=True)


# --------------------------------------------------------------------------- tool child

def run_child(tool: str, data: Path, ties: Path, repeat: int, outdir: Path, weights: str
              ) -> dict[str, Any]:
    """Read, build the tool's form, warm up, time ``repeat`` runs; save the outputs."""
    from compute_peers import PEERS, coefficient_tables

    import pmt

    info: dict[str, Any] = {"tool": tool, "loadavg_start": os.getloadavg()[0]}
    peer = PEERS[tool]
    ws = pmt.load_weights(weights)
    info["versions"] = peer.versions()  # imports the tool before the baseline RSS
    info["threads"] = peer.threads()
    coefs = coefficient_tables(ws)
    gc.collect()
    info["rss_start"] = _status("VmRSS")

    t = time.perf_counter()
    inp = load_inputs(data)
    info["read_s"] = time.perf_counter() - t
    info["n"] = inp.n
    info["input_bytes"] = inp.nbytes
    head = inp.head(WARM_ROWS)
    t = time.perf_counter()
    form = peer.load(inp)
    info["form_s"] = time.perf_counter() - t
    del inp  # a tool that copied the arrays into its own storage lets them go
    _settle_memory()
    info["rss_after_load"] = _status("VmRSS")
    info["max_rss_after_load"] = _ru_maxrss()  # reading + building the form, at their peak

    # warm-up (JIT, imports, allocator) and the tie check; not timed
    t = time.perf_counter()
    small = peer.load(head)
    res = peer.job(small, coefs, ws)
    peer.release(res, small)
    del res, small, head
    tie_form = peer.load(load_inputs(ties))
    res = peer.job(tie_form, coefs, ws)
    _save(outdir / "ties", peer.arrays(res, tie_form))
    peer.release(res, tie_form)
    del res, tie_form
    _settle_memory()
    info["warm_s"] = time.perf_counter() - t

    info["rss_before_job"] = _status("VmRSS")
    info["peak_method"] = "VmHWM reset before the timed runs" if _reset_peak() else \
        "ru_maxrss of the whole child (VmHWM reset unavailable)"
    wall, cpu, sys_s = [], [], []
    res = None
    for _ in range(repeat):
        if res is not None:
            peer.release(res, form)
            res = None
            _settle_memory()
        c0, t0 = os.times(), time.perf_counter()
        res = peer.job(form, coefs, ws)
        t1, c1 = time.perf_counter(), os.times()
        wall.append(t1 - t0)
        cpu.append(c1.user + c1.system - c0.user - c0.system)
        sys_s.append(c1.system - c0.system)
    info["peak_rss"] = _status("VmHWM") if info["peak_method"].startswith("VmHWM") else \
        _ru_maxrss()
    info["peak_rss_child"] = _ru_maxrss()
    info.update(wall_s=wall, cpu_s=cpu, sys_s=sys_s, loadavg_end=os.getloadavg()[0])
    if peer.output_bytes is not None:
        info["output_bytes"] = peer.output_bytes(res, form)
    _save(outdir / "main", peer.arrays(res, form))
    return info


# --------------------------------------------------------------------------- floor child

def run_floor(data: Path, repeat: int, weights: str) -> dict[str, Any]:
    """(a) one read of every input byte: a numba parallel sum over 8-byte words, or numpy's
    single-threaded one, whichever is faster; (b) ``np.sort`` of the welfare keys, in place
    on a copy. Median of ``repeat`` each."""
    import numpy as np
    from compute_peers import _nb_welfare, coefficient_tables
    from numba import get_num_threads, njit, prange

    import pmt

    @njit(parallel=True, cache=False)
    def sum_words(x):  # type: ignore[no-untyped-def]
        s = np.uint64(0)
        for i in prange(x.shape[0]):
            s += x[i]
        return s

    inp = load_inputs(data)
    arrays = [inp.codes, inp.numeric, inp.cell, inp.person_weight]

    def words(a: np.ndarray) -> np.ndarray:
        raw = a.ravel(order="K").view(np.uint8)  # the array's memory, no copy
        return raw[:raw.shape[0] // 8 * 8].view(np.uint64)

    views = [words(a) for a in arrays]
    nbytes = sum(int(v.nbytes) for v in views)
    sum_words(views[0][:1000])  # compile
    reads: dict[str, list[float]] = {f"numba parallel sum ({get_num_threads()} threads)": [],
                                     "numpy sum (1 thread)": []}
    for _ in range(repeat):
        for name, f in zip(reads, (sum_words, np.add.reduce), strict=True):
            t = time.perf_counter()
            for v in views:
                f(v)
            reads[name].append(time.perf_counter() - t)
    best = min(reads, key=lambda k: statistics.median(reads[k]))

    c = coefficient_tables(pmt.load_weights(weights))
    welfare = _nb_welfare(inp.codes, c.offsets, c.table, inp.numeric, c.beta, c.intercept,
                          inp.cell, inp.cell_model, inp.cell_shift)
    sorts = []
    for _ in range(repeat):
        keys = welfare.copy()
        t = time.perf_counter()
        keys.sort()
        sorts.append(time.perf_counter() - t)
    return {"n": inp.n, "input_bytes": nbytes, "read_s": statistics.median(reads[best]),
            "read_how": best, "read_runs": reads, "sort_s": statistics.median(sorts),
            "sort_runs": sorts}



# --------------------------------------------------------------------------- parent

def compare(folder: Path, ref: Path) -> tuple[bool, str]:
    """One tool's outputs against pmt's: desil and rank exactly, welfare bit for bit (or to
    1e-12, reported), share below to 1e-12."""
    import numpy as np
    from compute_peers import OUTPUTS

    bad, note = [], ""
    for k in OUTPUTS:
        a = np.load(folder / f"{k}.npy")
        b = np.load(ref / f"{k}.npy")
        if a.shape != b.shape:
            bad.append(f"{k} shape {a.shape} vs {b.shape}")
            continue
        if k == "welfare":
            if np.array_equal(a, b):
                note = "welfare bit-identical"
                continue
            diff = float(np.max(np.abs(a - b)))
            if diff <= WELFARE_TOL:
                note = f"welfare within {diff:.1g} (summed in another order)"
            else:
                bad.append(f"welfare max |diff| {diff:.2g}")
        elif k.startswith("share_below"):
            diff = float(np.max(np.abs(a - b))) if a.size else 0.0
            if not diff <= SHARE_TOL:
                bad.append(f"{k} max |diff| {diff:.2g} > {SHARE_TOL:g}")
        else:
            n_bad = int(np.count_nonzero(a.astype(np.int64) != b))
            if n_bad:
                bad.append(f"{k} differs in {n_bad:,} rows")
    if bad:
        return False, "MISMATCH: " + "; ".join(bad)
    return True, f"ok (desil+rank exact, {note})"


def run_tool(tool: str, data: Path, ties: Path, repeat: int, outdir: Path, weights: str,
             guard: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", tool, "--data", str(data), "--ties", str(ties),
           "--repeat", str(repeat), "--outdir", str(outdir), "--weights", weights]
    return _result(tool, *spawn(cmd, guard, timeout))


def run_floor_child(data: Path, weights: str, guard: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--floor-child", "--data", str(data), "--repeat", "3",
           "--weights", weights]
    return _result("floor", *spawn(cmd, guard, timeout))


def _result(tool: str, rc: int, out: str, err: str, killed: str | None) -> dict[str, Any]:
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    if killed:
        reason = killed
    elif rc is not None and rc < 0:
        reason = f"killed by signal {-rc}" + (" (out of memory?)" if -rc == 9 else "")
    else:
        lines = [x for x in err.strip().splitlines() if x.strip()]
        reason = (lines or [f"exit code {rc}"])[-1][:240]
    return {"tool": tool, "failed": reason, "stderr": err.splitlines()[-15:]}


def estimate(r: dict[str, Any], target: int) -> dict[str, float]:
    """Peak RSS and job memory at ``target`` households, linear in n from this run: the
    fixed part (interpreter, libraries, JIT) is the RSS before reading the data; the data
    part (arrays + the tool's form) and the job's extra memory scale with n."""
    scale = target / r["n"]
    data = max(r["rss_after_load"] - r["rss_start"], r["input_bytes"])  # RSS can undercount
    job = r["peak_rss"] - r["rss_before_job"]
    peak_job = r["rss_before_job"] + (data + job) * (scale - 1)
    peak_load = r["rss_start"] + (r["max_rss_after_load"] - r["rss_start"]) * scale
    return {"job": job * scale, "peak": max(peak_job, peak_load)}


HEAD = ["households", "tool", "median s", "CPU s", "runs", "time / pmt", "time / floor",
        "extra GB", "extra B/hh", "agreement with pmt"]


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _table_rows(rows: list[dict[str, Any]], floors: dict[int, dict[str, Any]]
                ) -> list[list[str]]:
    out = []
    pmt_of = {r["n"]: r for r in rows if r["tool"] == "pmt" and "failed" not in r}
    for n in sorted({r["n"] for r in rows} | set(floors)):
        fl = floors.get(n)
        floor_s = None
        if fl is not None and "failed" not in fl:
            floor_s = fl["read_s"] + fl["sort_s"]
        for r in (r for r in rows if r["n"] == n):
            if "failed" in r:
                out.append([f"{n:,}", r["tool"], "—", "—", str(r["repeat"]), "—", "—", "—", "—",
                            f"**failed: {r['failed']}**"])
                continue
            med = statistics.median(r["wall_s"])
            base = pmt_of.get(n)
            extra = r["peak_rss"] - r["rss_before_job"]
            agree = r["agree"] if r.get("agree_ok", True) else "**" + r["agree"] + "**"
            if r["tool"] != "pmt" and r.get("ties") not in (None, "reference", "not checked"):
                agree += "; ties: " + ("ok" if r["ties"].startswith("ok") else r["ties"])
            out.append([f"{n:,}", r["tool"], f"{med:.3f}",
                        f"{statistics.median(r['cpu_s']):.2f}", str(r["repeat"]),
                        _fmt(med / statistics.median(base["wall_s"]) if base else None, ".2f"),
                        _fmt(med / floor_s if floor_s else None, ".1f"),
                        f"{extra / GB:.2f}", f"{extra / n:.0f}", agree])
        if fl is not None:
            if "failed" in fl:
                out.append([f"{n:,}", "floor", "—", "—", "3", "—", "—", "—", "—",
                            f"failed: {fl['failed']}"])
            else:
                base = pmt_of.get(n)
                out.append([f"{n:,}", "floor", f"{floor_s:.3f}", "—", "3",
                            _fmt(floor_s / statistics.median(base["wall_s"]) if base else None,
                                 ".2f"), "1.0", "—", "—", _floor_text(fl)])
    return out


def _floor_text(fl: dict[str, Any]) -> str:
    return (f"read inputs once {fl['read_s']:.3f} s ({fl['input_bytes'] / 1e9 / fl['read_s']:.1f}"
            f" GB/s over {fl['input_bytes'] / 1e9:.2f} GB) + np.sort of welfare "
            f"{fl['sort_s']:.3f} s")


def render_table(rows: list[dict[str, Any]], floors: dict[int, dict[str, Any]]) -> str:
    body = _table_rows(rows, floors)
    left = (1, len(HEAD) - 1)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(HEAD)]
    widths[-1] = len(HEAD[-1])
    lines = []
    for cells in [HEAD, None, *body]:
        if cells is None:
            lines.append("-" * len(lines[0]))
            continue
        lines.append("  ".join(c.ljust(w) if i in left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    return "\n".join(lines)


def budget_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if r["tool"] != "pmt" or "failed" in r or "output_bytes" not in r:
            continue
        n = r["n"]
        extra = r["peak_rss"] - r["rss_before_job"]
        budget = r["output_bytes"] + BUDGET_PER_HH * n
        verdict = "within budget" if extra <= budget else "OVER budget"
        out.append(f"pmt at {n:,}: extra memory {extra / n:.1f} B/hh ({extra / GB:.2f} GB); "
                   f"budget = outputs {r['output_bytes'] / n:.0f} B/hh + {BUDGET_PER_HH} B/hh = "
                   f"{budget / n:.0f} B/hh ({budget / GB:.2f} GB): {verdict}")
    return out


def estimate_lines(rows: list[dict[str, Any]], target: int) -> list[list[str]]:
    """Per tool, from its largest measured size below ``target``."""
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if "failed" not in r and r["n"] < target and r["n"] >= best.get(r["tool"], {"n": 0})["n"]:
            best[r["tool"]] = r
    out = []
    for tool, r in best.items():
        e = estimate(r, target)
        out.append([tool, f"{r['n']:,}", f"{e['job'] / GB:.1f}", f"{e['peak'] / GB:.1f}"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=parse_sizes, default=[1_000_000],
                    help="comma-separated household counts, e.g. 1e6,1e7,3e7")
    ap.add_argument("--tools", default=",".join(DEFAULT_TOOLS),
                    help=f"comma-separated, from {','.join(DEFAULT_TOOLS)}")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per tool and size")
    ap.add_argument("--repeat-override", default="",
                    help="e.g. 'pandas@3e7=1,duckdb@3e7=1': fewer runs for a slow tool")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", default="demo", help="weight set: shipped name or folder")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--no-write", action="store_true", help="print only; no results file")
    ap.add_argument("--no-floor", action="store_true", help="skip the machine floor")
    ap.add_argument("--mem-guard-gb", type=float, default=None,
                    help="kill a tool whose RSS exceeds this (default: 80%% of RAM)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per tool and size")
    # internal
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--fingerprint", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--ties", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--outdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--make-data", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.make_data:
        kind, n, seed, folder = args.make_data
        if kind == "ties":
            make_ties(int(seed), Path(folder), args.weights)
        else:
            make_data(int(n), int(seed), Path(folder), args.weights)
        return 0
    if args.fingerprint:
        print(fingerprint(args.seed, args.weights))
        return 0
    if args.child:
        info = run_child(args.child, args.data, args.ties, args.repeat, args.outdir,
                         args.weights)
        print("RESULT " + json.dumps(info), flush=True)
        return 0
    if args.floor_child:
        print("RESULT " + json.dumps(run_floor(args.data, args.repeat, args.weights)),
              flush=True)
        return 0

    from compute_peers import PEERS

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in PEERS]
    if unknown:
        ap.error(f"unknown tools {unknown}; known: {list(PEERS)}")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    overrides: dict[tuple[str, int], int] = {}
    for item in filter(None, args.repeat_override.split(",")):
        try:
            lhs, r = item.split("=")
            t, s = lhs.split("@")
            overrides[(t, parse_sizes(s)[0])] = int(r)
        except (ValueError, argparse.ArgumentTypeError):
            ap.error(f"--repeat-override item {item!r}: expected TOOL@SIZE=REPEAT")
    guard = int(args.mem_guard_gb * GB) if args.mem_guard_gb else int(0.8 * _meminfo_total())
    command = "python " + " ".join(shlex.quote(a) for a in
                                   [os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])])
    started = dt.datetime.now()
    print(f"{command}\n{started:%Y-%m-%d %H:%M}; memory guard {guard / GB:.1f} GB per tool",
          flush=True)

    snapshot = tempfile.TemporaryDirectory(prefix="bench_compute_weights_")
    weights = str(Path(snapshot.name) / "weights")
    weights_desc = snapshot_weights(args.weights, Path(weights))
    print("weights: " + weights_desc, flush=True)
    rc, out, err, _ = spawn([sys.executable, __file__, "--fingerprint", "--seed",
                             str(args.seed), "--weights", weights], guard, 600)
    if rc != 0:
        raise SystemExit("fingerprint failed: " + (err.strip().splitlines() or ["?"])[-1])
    fp = out.strip().splitlines()[-1]
    print(f"data fingerprint {fp}", flush=True)
    ties = ties_dir(args.cache, args.seed, fp)
    ensure_data("ties", TIES_ROWS, args.seed, ties, weights)

    rows: list[dict[str, Any]] = []
    floors: dict[int, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    threads: dict[str, str] = {}
    for n in args.sizes:
        data = data_dir(args.cache, n, args.seed, fp)
        print(f"\n== {n:,} households", flush=True)
        ensure_data("registry", n, args.seed, data, weights)
        if not args.no_floor:
            print("  floor   ...", end=" ", flush=True)
            fl = run_floor_child(data, weights, guard, args.timeout)
            floors[n] = fl
            print(fl.get("failed") or f"{fl['read_s'] + fl['sort_s']:.3f} s = "
                  + _floor_text(fl), flush=True)
        with tempfile.TemporaryDirectory(prefix="bench_compute_") as tmp:
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
                    extra = info["peak_rss"] - info["rss_before_job"]
                    print(f"median {statistics.median(info['wall_s']):.3f} s "
                          f"(runs {', '.join(f'{x:.3f}' for x in info['wall_s'])}), "
                          f"extra {extra / GB:.2f} GB ({extra / n:.0f} B/hh)", flush=True)
                rows.append(info)
            ref = Path(tmp) / "pmt"
            for info in rows:
                if info["n"] != n or "failed" in info:
                    continue
                if info["tool"] == "pmt":
                    info["agree"], info["agree_ok"], info["ties"] = "reference", True, "reference"
                elif not (ref / "main").exists():
                    info["agree"], info["agree_ok"] = "not checked (pmt not run)", True
                    info["ties"] = "not checked"
                else:
                    ok, info["agree"] = compare(Path(tmp) / info["tool"] / "main", ref / "main")
                    ok_t, info["ties"] = compare(Path(tmp) / info["tool"] / "ties", ref / "ties")
                    info["agree_ok"] = ok and ok_t

    table = render_table(rows, floors)
    print("\n" + table)
    for line in budget_lines(rows):
        print(line)
    est = estimate_lines(rows, TARGET_N)
    if est:
        print(f"\nestimated at {TARGET_N:,} households (linear in n from the largest size run):")
        for tool, n_from, job, peak in est:
            print(f"  {tool:<7} job extra {job:>5} GB, child peak RSS {peak:>5} GB "
                  f"(from {n_from})")
    mismatches = [r for r in rows if not r.get("agree_ok", True)]
    if mismatches:
        print("\n" + "!" * 78)
        for r in mismatches:
            print(f"!! {r['tool']} at {r['n']:,}: outputs DISAGREE with pmt: {r['agree']}; "
                  f"tie check: {r['ties']}")
        print("!" * 78)
    if not args.no_write:
        path = write_results(args.results, started, command, rows, floors, versions, threads,
                             guard, weights_desc, fp)
        print(f"\nwritten {os.path.relpath(path, Path.cwd())}")
    snapshot.cleanup()
    return 1 if mismatches else 0


def write_results(folder: Path, started: dt.datetime, command: str, rows: list[dict[str, Any]],
                  floors: dict[int, dict[str, Any]], versions: dict[str, str],
                  threads: dict[str, str], guard: int, weights_desc: str, fp: str) -> Path:
    from compute_peers import PEERS

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"compute_{started:%Y-%m-%d}.md"
    if path.exists():
        path = folder / f"compute_{started:%Y-%m-%d_%H%M%S}.md"
    m = machine()
    lines = [f"# Compute-only ranking benchmark, {started:%Y-%m-%d %H:%M}", "",
             "Produced by (from the repository root):", "", "```", command, "```", "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['cores']}",
             f"- RAM: {m['ram']}; memory guard per tool {guard / GB:.1f} GB",
             f"- OS: {m['os']}; Python {m['python']}",
             f"- Fresh memory: allocating and filling new 80 MB arrays costs {m['fresh']} "
             "(3 tries)",
             f"- pmt source: git {m['git']}",
             f"- Weight set: {weights_desc}; encoded data fingerprint {fp}",
             "- Libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
             "- Threads: " + "; ".join(f"{k}: {v}" for k, v in threads.items()),
             "", "## Results", "",
             "Every tool starts from the same encoded arrays in memory (codes, numeric terms, "
             "cell, person weight; per-cell model row and log poverty line) and computes "
             "welfare and national and provincial desil, rank and share below. *median s* is "
             "the median wall time of the timed runs, *CPU s* the median user + sys time over "
             "all threads. *extra* is the peak RSS during the timed runs minus the RSS just "
             "before them (inputs loaded, warm-up done): the memory the job needs. Ratios "
             "> 1 are slower than pmt or than the floor. *floor*: one read of all input bytes "
             "(memory bandwidth) plus `np.sort` of the n welfare keys, measured in the same "
             "run. Agreement: desil and rank exactly, welfare bit for bit, share below to "
             f"1e-12, on the benchmarked data and on a tie-heavy {TIES_ROWS:,}-household set.",
             "", _md_table(HEAD, _table_rows(rows, floors)), ""]
    lines += [f"- {x}" for x in budget_lines(rows)]
    est = estimate_lines(rows, TARGET_N)
    if est:
        lines += ["", f"### Memory estimated at {TARGET_N:,} households", "",
                  "Linear in n from the largest size run: the RSS before reading the data is "
                  "fixed (interpreter, libraries, JIT); the data (arrays and the tool's form) "
                  "and the job's extra memory scale with n. *child peak* is the larger of the "
                  "estimated peak during the timed runs and during loading.", "",
                  "| tool | from households | job extra GB | child peak GB |",
                  "|---|---:|---:|---:|", *("| " + " | ".join(e) + " |" for e in est)]
    lines += ["", "## Details", ""]
    head = ["households", "tool", "runs (s)", "CPU s / run", "of which sys", "read s",
            "form s", "RSS after load GB", "RSS before job GB", "peak RSS GB",
            "load avg start → end"]
    body = []
    for r in rows:
        if "failed" in r:
            continue
        body.append([f"{r['n']:,}", r["tool"], ", ".join(f"{x:.3f}" for x in r["wall_s"]),
                     f"{statistics.median(r['cpu_s']):.2f}",
                     f"{statistics.median(r['sys_s']):.2f}", f"{r['read_s']:.2f}",
                     f"{r['form_s']:.2f}", f"{r['rss_after_load'] / GB:.2f}",
                     f"{r['rss_before_job'] / GB:.2f}", f"{r['peak_rss'] / GB:.2f}",
                     f"{r['loadavg_start']:.1f} → {r['loadavg_end']:.1f}"])
    lines += [_md_table(head, body), "",
              "*read s*: reading the cached `.npy` files into RAM; *form s*: building the "
              "tool's in-memory form from the arrays (both untimed). A load average above the "
              "core count means other processes competed for the CPU.", ""]
    for n, fl in sorted(floors.items()):
        if "failed" in fl:
            continue
        lines += [f"Floor at {n:,}: {_floor_text(fl)}; read by {fl['read_how']} "
                  "(runs: " + "; ".join(f"{k} " + ", ".join(f"{x:.3f}" for x in v)
                                        for k, v in fl["read_runs"].items())
                  + "); sort runs " + ", ".join(f"{x:.3f}" for x in fl["sort_runs"]) + ".", ""]
    lines += ["## What each tool does", ""]
    lines += [f"- **{p.name}**: {p.what}" for p in PEERS.values()
              if any(r["tool"] == p.name for r in rows)]
    lines += ["", "No tool validates anything here (the arrays are already encoded); see "
              "`benchmarks/README.md`.", ""]
    path.write_text("\n".join(lines))
    return path


if __name__ == "__main__":
    sys.exit(main())
