"""End-to-end file benchmark: Parquet registry in, Parquet ranking out.

    python benchmarks/bench_files.py --households 3e7 [--tools pmt,polars,duckdb] [--repeat 1]
                                     [--chunk-size 1000000] [--threads N] [--no-write]

A synthetic registry of N households is generated once, in blocks of 5 M
(``pmt.synth.registry(rows, seed=seed * 1000 + block)``, ``hh_id`` offset to stay
unique; row groups of 1 M rows), and cached in ``benchmarks/.cache/``. Each tool
then turns that file into a ranked Parquet file, as a subprocess timed from start
to exit (interpreter start, imports, weight set, reading, validation and encoding
(pmt only), scoring, ranking, writing):

- **pmt** -- the command line, ``pmt rank IN --weights W --out OUT``; its progress
  on stderr (read through a pseudo-terminal) gives the time of each pass;
- **polars** -- ``scan_parquet``, the job of ``rank_peers._polars_plan``,
  ``sink_parquet`` (streaming engine);
- **duckdb** -- ``COPY (<rank_peers._duckdb_sql over read_parquet(IN)>) TO OUT``.

Wall time and CPU time are the parent's; peak RSS is the child's ``ru_maxrss``
(``os.wait4``). A tool whose resident memory passes ``--mem-guard-gb`` is killed
and reported as out of memory. Each tool first runs, untimed, on a tie-heavy
registry (this also fills pmt's numba cache); the outputs of that run and of the
last timed run are checked against pmt's, matched on ``hh_id``. See README.md.

Replaces ``bench_stream.py`` (``--tools pmt`` is its run, through the CLI).
"""

from __future__ import annotations

import argparse
import codecs
import datetime as dt
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_rank  # noqa: E402  (machine description, fingerprint, tie registry, weights)

TOOLS = ("pmt", "polars", "duckdb")
BLOCK = 5_000_000  # households per generated block: part of the data's definition
ROW_GROUP = 1_000_000
CHECK_MAX = 30_000_000  # above this, outputs are not loaded for the agreement check
GB = 1024 ** 3
MB = 1024 ** 2
# Parquet bytes per household measured at 1 M (snappy): for the disk-space estimate
IN_BYTES, OUT_BYTES = 19.0, 40.5
# pmt's output columns, in its order; peers write the same
COLUMNS = ("hh_id", "welfare", "model_key", "model_level", "province_code", "desil_national",
           "desil_provincial", "rank_national", "rank_provincial", "share_below_national",
           "share_below_provincial", "eligible", "person_weight")
MAX_DESIL = 4  # pmt rank's default eligibility: desil_national <= 4


# --------------------------------------------------------------------------- data

def registry_path(cache: Path, n: int, seed: int, fingerprint: str) -> Path:
    return cache / f"files_{n}_{seed}_{fingerprint}.parquet"


def make_registry(n: int, seed: int, path: Path) -> None:
    """Write ``n`` synthetic households to ``path`` in blocks (child process)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import pmt

    tmp = path.with_suffix(".tmp")
    writer = None
    start = time.perf_counter()
    try:
        for b, lo in enumerate(range(0, n, BLOCK)):
            frame = pmt.synth.registry(min(BLOCK, n - lo), seed=seed * 1000 + b)
            frame["hh_id"] += lo  # unique across blocks
            table = pa.Table.from_pandas(frame, preserve_index=False)
            del frame
            if writer is None:
                meta = {**(table.schema.metadata or {}), b"pmt_bench": json.dumps(
                    {"generator": "pmt.synth.registry", "households": n, "seed": seed,
                     "block": BLOCK, "block_seed": "seed * 1000 + block"}).encode()}
                writer = pq.ParquetWriter(tmp, table.schema.with_metadata(meta))
            writer.write_table(table, row_group_size=ROW_GROUP)
            print(f"    {lo + table.num_rows:,} / {n:,} rows "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)


def ensure_registry(n: int, seed: int, path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  generating {n:,} households -> {path.name}", flush=True)
    subprocess.run([sys.executable, __file__, "--make-registry", str(n), str(seed), str(path)],
                   check=True, env=bench_rank._child_env())


def warm_page_cache(path: Path) -> float:
    """Read the file once so that every tool reads it from the page cache; seconds."""
    t = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(16 * MB):
            pass
    return time.perf_counter() - t


# --------------------------------------------------------------------------- the peers' jobs

def model_levels(keys: list[str]) -> list[str]:
    """The level of each model key, from its form (PPDD / PP, optional -urban / -rural)."""
    out = []
    for k in keys:
        code, _, urb = k.partition("-")
        level = "national" if k == "national" else "district" if len(code) == 4 else "province"
        out.append(level + ("_urban" if urb else ""))  # a (district or province) x urban cell
    return out


def polars_file_job(src: str, out: str, ws: Any) -> str:
    """scan_parquet -> the job -> sink_parquet, with pmt's output columns; returns the mode."""
    import polars as pl
    import rank_peers

    lf = pl.scan_parquet(src)
    plan = rank_peers._polars_plan(lf, rank_peers._polars_cells(lf), ws, carry_model=True)
    keys = list(ws.model_keys)
    levels = model_levels(keys)
    m = pl.col("_m")
    plan = plan.select(
        "hh_id", "welfare",
        pl.lit(pl.Series(keys, dtype=pl.Categorical)).gather(m).alias("model_key"),
        pl.lit(pl.Series(levels, dtype=pl.Categorical)).gather(m).alias("model_level"),
        pl.col("province").cast(pl.Int8).alias("province_code"),
        "desil_national", "desil_provincial",
        pl.col("rank_national").cast(pl.Int32), pl.col("rank_provincial").cast(pl.Int32),
        "share_below_national", "share_below_provincial",
        (pl.col("desil_national") <= MAX_DESIL).alias("eligible"),
        pl.col("p").alias("person_weight"))
    try:
        plan.sink_parquet(out, compression="snappy", engine="streaming")
        return "scan_parquet -> sink_parquet (streaming engine)"
    except Exception as exc:  # an engine that cannot stream this plan
        plan.collect().write_parquet(out, compression="snappy")
        return f"scan_parquet -> collect -> write_parquet (sink failed: {type(exc).__name__})"


def duckdb_file_job(src: str, out: str, ws: Any, threads: int | None) -> str:
    """COPY (the job over read_parquet) TO out, with pmt's output columns; returns the mode."""
    import duckdb
    import pyarrow as pa
    import rank_peers

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    source = "read_parquet('" + src.replace("'", "''") + "')"
    sql = rank_peers._duckdb_sql(con, source, ws, carry_model=True)
    keys = list(ws.model_keys)
    con.register("key_tab", pa.table({"m": pa.array(range(len(keys)), pa.int32()),
                                      "model_key": keys, "model_level": model_levels(keys)}))
    target = out.replace("'", "''")
    con.execute(f"""
        COPY (
            SELECT r.hh_id, r.welfare, k.model_key, k.model_level,
                   r.province::TINYINT AS province_code, r.desil_national, r.desil_provincial,
                   r.rank_national::INTEGER AS rank_national,
                   r.rank_provincial::INTEGER AS rank_provincial,
                   r.share_below_national, r.share_below_provincial,
                   r.desil_national <= {MAX_DESIL} AS eligible, r.p AS person_weight
            FROM ({sql}) r JOIN key_tab k ON k.m = r.m
        ) TO '{target}' (FORMAT parquet, COMPRESSION snappy)
    """)
    rank_peers._duckdb_unregister(con)
    return "COPY (SELECT ... FROM read_parquet) TO (FORMAT parquet)"


def peer_child(tool: str, src: str, out: str, weights: str, threads: int | None) -> None:
    """One peer run (child process); prints RESULT with the time of its parts."""
    t0 = time.perf_counter()
    import pmt

    ws = pmt.load_weights(weights)
    t1 = time.perf_counter()
    if tool == "polars":
        mode = polars_file_job(src, out, ws)
        import polars as pl

        version, nthreads = f"polars {pl.__version__}", pl.thread_pool_size()
    else:
        mode = duckdb_file_job(src, out, ws, threads)
        import duckdb

        version = f"duckdb {duckdb.__version__}"
        nthreads = threads or duckdb.sql("SELECT current_setting('threads')").fetchall()[0][0]
    t2 = time.perf_counter()
    print("RESULT " + json.dumps({"import_weights_s": t1 - t0, "job_s": t2 - t1, "mode": mode,
                                  "version": version, "threads": str(nthreads)}), flush=True)


# --------------------------------------------------------------------------- running a tool

def pmt_command(src: Path, out: Path, weights: str, chunk: int | None, threads: int | None
                ) -> list[str]:
    """The ``pmt rank`` command line: the console script if installed next to this Python."""
    script = Path(sys.executable).with_name("pmt")
    head = [str(script)] if script.exists() else \
        [sys.executable, "-c", "import sys; from pmt.cli import main; sys.exit(main())"]
    opts = ["--threads", str(threads)] if threads else []
    tail = ["--chunk-size", str(chunk)] if chunk else []
    return [*head, *opts, "rank", str(src), "--weights", weights, "--out", str(out), *tail]


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants (Linux /proc; 0 elsewhere)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += bench_rank._rss_of(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return total


def measure(cmd: list[str], cwd: Path, env: dict[str, str], mem_guard: int, timeout: float,
            tty_stderr: bool = False) -> dict[str, Any]:
    """Run ``cmd``; wall time, CPU time and peak RSS of the child (and its descendants).

    With ``tty_stderr`` the child's stderr is a pseudo-terminal (so that pmt shows
    every progress update) and each piece of it is timestamped as it arrives.
    """
    import pty

    events: list[tuple[float, str]] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        master = slave = -1
        if tty_stderr:
            master, slave = pty.openpty()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=slave if tty_stderr else err, cwd=cwd,
                                env=env, start_new_session=True)
        reader = None
        if tty_stderr:
            os.close(slave)

            def read() -> None:
                # a piece of text ends at the next \r or \n, but is stamped with the
                # arrival of its first byte (pmt writes "\r" + text, text without end)
                buf, buf_t = "", 0.0
                decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
                while True:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    now = time.perf_counter() - t0
                    text = decode(chunk)
                    err.write(text)
                    if not buf:
                        buf_t = now
                    *pieces, rest = re.split(r"[\r\n]", buf + text)
                    for i, p in enumerate(pieces):
                        if p.strip():
                            events.append((buf_t if i == 0 else now, p))
                    if pieces:
                        buf_t = now
                    buf = rest
                if buf.strip():
                    events.append((buf_t, buf))

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
        killed, sampled = None, 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _tree_rss(proc.pid)
            sampled = max(sampled, rss)
            if rss > mem_guard:
                killed = (f"out of memory: killed by the memory guard at RSS {rss / GB:.2f} GB "
                          f"> {mem_guard / GB:.2f} GB")
            elif time.perf_counter() - t0 > timeout:
                killed = f"killed: no result within {timeout:.0f} s"
            if killed:
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if reader is not None:
            reader.join(timeout=5)
            os.close(master)
        out.seek(0)
        err.seek(0)
        maxrss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        return {"rc": proc.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                "sys_s": usage.ru_stime, "peak_rss": max(maxrss, sampled),
                "stdout": out.read(), "stderr": err.read(), "events": events, "killed": killed}


_PMT_STEP = re.compile(r"^ranking .* in chunks of [\d,]+ rows \.\.\.")
_PMT_PHASE = re.compile(r"\.\.\. (\w+): +([\d.]+) %")


def pmt_phases(events: list[tuple[float, str]], wall: float) -> dict[str, float] | None:
    """Seconds of each part of a ``pmt rank`` run, from its timestamped progress; None if
    the progress does not have the expected form."""
    start = next((t for t, p in events if _PMT_STEP.match(p)), None)
    last: dict[str, float] = {}
    for t, p in events:
        m = _PMT_PHASE.search(p)
        if m:
            last[m.group(1)] = t
    if start is None or not {"scoring", "ranking", "writing"} <= last.keys():
        return None
    return {"start-up (imports, weight set)": start,
            "pass 1: read, validate, encode, score": last["scoring"] - start,
            "id check + ranking": last["ranking"] - last["scoring"],
            "pass 2: read ids, write Parquet": last["writing"] - last["ranking"],
            "summary on stdout, exit": wall - last["writing"]}


def run_once(tool: str, src: Path, out: Path, weights: str, args: argparse.Namespace,
             cwd: Path, guard: int) -> dict[str, Any]:
    env = bench_rank._child_env()
    if tool == "pmt":
        cmd = pmt_command(src, out, weights, args.chunk_size, args.threads)
    else:
        cmd = [sys.executable, __file__, "--peer-child", tool, str(src), str(out), weights]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
            env["POLARS_MAX_THREADS"] = str(args.threads)
    r = measure(cmd, cwd, env, guard, args.timeout, tty_stderr=tool == "pmt")
    r["command"] = cmd
    if r["killed"]:
        r["failed"] = r["killed"]
    elif r["rc"] != 0:
        lines = [x for x in r["stderr"].splitlines() if x.strip()]
        reason = lines[-1] if lines else f"exit code {r['rc']}"
        if r["rc"] == -9:
            reason = "killed by signal 9 (out of memory?)"
        r["failed"] = reason[:240]
    elif not out.exists():
        r["failed"] = "no output file"
    else:
        r["out_bytes"] = out.stat().st_size
        if tool == "pmt":
            r["phases"] = pmt_phases(r["events"], r["wall_s"])
        else:
            res = next((json.loads(x[7:]) for x in r["stdout"].splitlines()
                        if x.startswith("RESULT ")), {})
            r.update(res)
    del r["events"]
    return r


# --------------------------------------------------------------------------- agreement

def compare_files(ref: str, other: str) -> tuple[bool, str]:
    """Compare ``other``'s columns with ``ref``'s (pmt's), rows matched on hh_id (child)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def col(path: str, name: str) -> Any:
        c = pq.read_table(path, columns=[name]).column(0).combine_chunks()
        return c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c

    a_ids = col(ref, "hh_id").to_numpy()
    b_ids = col(other, "hh_id").to_numpy()
    if a_ids.shape != b_ids.shape:
        return False, f"MISMATCH: {a_ids.shape[0]:,} rows in pmt's output, {b_ids.shape[0]:,} here"
    oa, ob = np.argsort(a_ids, kind="stable"), np.argsort(b_ids, kind="stable")
    if not np.array_equal(a_ids[oa], b_ids[ob]):
        return False, "MISMATCH: the hh_id sets differ"
    del a_ids, b_ids
    names = set(pq.ParquetFile(other).schema_arrow.names)
    bad, notes = [], []
    for name in COLUMNS[1:]:
        if name not in names:
            bad.append(f"{name} missing")
            continue
        a, b = col(ref, name), col(other, name)
        if pa.types.is_string(a.type):
            same = pc.equal(a.take(pa.array(oa)), b.take(pa.array(ob)))
            n_bad = len(same) - int(pc.sum(same.fill_null(False)).as_py() or 0)
            if n_bad:
                bad.append(f"{name} differs in {n_bad:,} rows")
        else:
            x, y = a.to_numpy(zero_copy_only=False)[oa], b.to_numpy(zero_copy_only=False)[ob]
            if name == "welfare" or name.startswith("share_below"):
                tol = 1e-9 if name == "welfare" else 1e-12
                diff = float(np.max(np.abs(x - y))) if x.size else 0.0
                if not diff <= tol:
                    bad.append(f"{name} max |diff| {diff:.2g} > {tol:g}")
                elif name == "welfare":
                    notes.append("welfare identical" if diff == 0 else
                                 f"welfare max |diff| {diff:.1g}")
            else:
                n_bad = int(np.count_nonzero(x != y))
                if n_bad:
                    bad.append(f"{name} differs in {n_bad:,} rows")
    if bad:
        return False, "MISMATCH: " + "; ".join(bad)
    return True, "ok (" + ", ".join(["desil, rank and the other columns exact", *notes]) + ")"


def check(ref: Path, other: Path) -> tuple[bool, str]:
    """:func:`compare_files` in a child process, so that the parent stays small."""
    out = subprocess.run([sys.executable, __file__, "--check", str(ref), str(other)],
                         capture_output=True, text=True, env=bench_rank._child_env())
    res = next((json.loads(x[7:]) for x in out.stdout.splitlines() if x.startswith("RESULT ")),
               None)
    if res is None:
        lines = [x for x in out.stderr.splitlines() if x.strip()]
        return False, "check failed: " + (lines[-1] if lines else f"exit {out.returncode}")
    return bool(res[0]), str(res[1])


# --------------------------------------------------------------------------- report

def library_versions() -> str:
    code = ("import importlib.metadata as m, pmt\n"
            "v = {'pmt': pmt.__version__}\n"
            "for k in ('numba', 'numpy', 'pandas', 'pyarrow', 'polars', 'duckdb'):\n"
            "    try: v[k] = m.version(k)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(', '.join(f'{k} {x}' for k, x in v.items()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=bench_rank._child_env())
    return out.stdout.strip() or "unknown"


HEAD = ["tool", "wall s", "CPU s", "runs", "peak RSS GB", "time / pmt", "peak / pmt",
        "output MB", "agreement with pmt"]


def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    base = next((r for r in rows if r["tool"] == "pmt" and "failed" not in r), None)
    out = []
    for r in rows:
        if "failed" in r:
            out.append([r["tool"], "—", "—", str(len(r["runs"])), "—", "—", "—", "—",
                        f"failed: {r['failed']}"])
            continue
        wall = statistics.median(x["wall_s"] for x in r["runs"])
        cpu = statistics.median(x["cpu_s"] for x in r["runs"])
        peak = max(x["peak_rss"] for x in r["runs"])
        bw = statistics.median(x["wall_s"] for x in base["runs"]) if base else None
        bp = max(x["peak_rss"] for x in base["runs"]) if base else None
        agree = r.get("agree", "")
        if r.get("agree_ok") is False:
            agree = f"**{agree}**"
        if r.get("ties") and r["tool"] != "pmt":
            agree += "; ties: " + ("ok" if r["ties"].startswith("ok") else r["ties"])
        out.append([r["tool"], f"{wall:.2f}", f"{cpu:.2f}", str(len(r["runs"])),
                    f"{peak / GB:.2f}", bench_rank._fmt(wall / bw if bw else None, ".2f"),
                    bench_rank._fmt(peak / bp if bp else None, ".2f"),
                    f"{r['runs'][-1]['out_bytes'] / MB:,.0f}", agree])
    return out


def render(rows: list[dict[str, Any]]) -> str:
    body = table_rows(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEAD)]
    widths[-1] = len(HEAD[-1])
    fmt = [str.ljust if i in (0, len(HEAD) - 1) else str.rjust for i in range(len(HEAD))]
    line = "  ".join(f(h, w) for f, h, w in zip(fmt, HEAD, widths, strict=True))
    return "\n".join([line, "-" * len(line)] + ["  ".join(
        f(c, w) for f, c, w in zip(fmt, b, widths, strict=True)) for b in body])


def phase_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if "failed" in r:
            continue
        last = r["runs"][-1]
        if r["tool"] == "pmt":
            ph = last.get("phases")
            if not ph:
                out.append("pmt: per-pass times unavailable (progress not in the expected form)")
                continue
            out.append(f"pmt (last run, {last['wall_s']:.2f} s): " + "; ".join(
                f"{k} {v:.2f} s" for k, v in ph.items()))
        elif "job_s" in last:
            out.append(f"{r['tool']} (last run, {last['wall_s']:.2f} s): interpreter, imports "
                       f"and weight set {last['wall_s'] - last['job_s']:.2f} s; "
                       f"job {last['job_s']:.2f} s ({last['mode']})")
    return out


def md_table(head: list[str], body: list[list[str]]) -> str:
    last = len(head) - 1
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i in (0, last) else "---:" for i in range(len(head))) + "|"]
    return "\n".join(out + ["| " + " | ".join(b) + " |" for b in body])


def write_results(folder: Path, started: dt.datetime, command: str, n: int, src: Path,
                  rows: list[dict[str, Any]], guard: int, weights_desc: str,
                  args: argparse.Namespace) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"files_{started:%Y-%m-%d}.md"
    if path.exists():
        path = folder / f"files_{started:%Y-%m-%d_%H%M%S}.md"
    m = bench_rank.machine()
    versions = library_versions()
    size = src.stat().st_size
    lines = [f"# File benchmark, {started:%Y-%m-%d %H:%M}", "",
             "Produced by (from the repository root):", "", "```", command, "```", "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['cores']}",
             f"- RAM: {m['ram']}; memory guard per tool {guard / GB:.1f} GB",
             f"- OS: {m['os']}; Python {m['python']}",
             f"- Fresh memory: {m['fresh']}",
             f"- pmt source: git {m['git']}",
             f"- Weight set: {weights_desc} (one copy, read by every tool)",
             "- Libraries: " + versions,
             "- Threads: " + (str(args.threads) if args.threads else "all cores (each tool's "
                              "default)"),
             "", "## Input", "",
             f"- {n:,} synthetic households, seed {args.seed}, generated in blocks of "
             f"{BLOCK:,}: `{src.name}`",
             f"- Parquet on disk: {size / MB:,.1f} MB ({size / n:.1f} bytes per household), "
             f"snappy, row groups of {ROW_GROUP:,}; read once before the runs, so every tool "
             "reads it from the page cache",
             f"- pmt chunk size: {args.chunk_size:,}" if args.chunk_size else
             "- pmt chunk size: the CLI's default",
             "", "## Results", "",
             "Each run is one process, timed from start to exit by the parent: interpreter, "
             "imports, weight set, reading Parquet, (pmt only: validation and encoding), "
             "scoring, ranking, writing Parquet. *wall s* and *CPU s* (user + sys, all threads) "
             "are medians over the runs; *peak RSS* is the largest `ru_maxrss` of the runs. "
             "Ratios are tool / pmt (> 1: slower or bigger). Agreement: the tool's output file "
             "against pmt's, rows matched on `hh_id`: desil, rank and every other column "
             "exactly, welfare to 1e-9 and share below to 1e-12; also on a tie-heavy registry "
             f"(warm-up run). Not checked above {CHECK_MAX:,} households.", "",
             md_table(HEAD, table_rows(rows)), "", "## Details", ""]
    lines += [f"- {x}" for x in phase_lines(rows)]
    for r in rows:
        walls = ", ".join(f"{x['wall_s']:.2f}" + (" (failed)" if "failed" in x else "")
                          for x in r["runs"])
        sys_s = ", ".join(f"{x['sys_s']:.2f}" for x in r["runs"])
        lines.append(f"- {r['tool']}: wall {walls} s; sys CPU {sys_s} s; load average "
                     f"{r['load_start']:.1f} → {r['load_end']:.1f}; command "
                     f"`{shlex.join(r['runs'][-1]['command']) if r['runs'] else ''}`")
    lines += ["", "Peers write rows in their own order (polars: by province then welfare; "
              "DuckDB: any order); pmt writes input order. Only pmt validates its input. "
              "See `benchmarks/README.md`.", ""]
    path.write_text("\n".join(lines))
    return path


# --------------------------------------------------------------------------- main

def parse_n(text: str) -> int:
    x = float(text)
    if x < 1 or x != int(x):
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of households >= 1")
    return int(x)


def disk_needed(n: int, have_input: bool) -> int:
    """Bytes the run writes: the input (unless cached), pmt's output and one peer's."""
    return int(n * ((0 if have_input else IN_BYTES) + 2 * OUT_BYTES))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=parse_n, default=1_000_000, help="e.g. 3e7")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"from {','.join(TOOLS)}")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per tool (median)")
    ap.add_argument("--chunk-size", type=int, default=None,
                    help="pmt rank --chunk-size (default: the CLI's)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every tool (pmt --threads, POLARS_MAX_THREADS, "
                         "DuckDB SET threads); default: each tool's own")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", default="demo", help="weight set: shipped name or folder")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--mem-guard-gb", type=float, default=None,
                    help="kill a tool whose RSS exceeds this (default: 80%% of RAM)")
    ap.add_argument("--timeout", type=float, default=7200.0, help="seconds per run")
    ap.add_argument("--no-write", action="store_true", help="print only; no results file")
    ap.add_argument("--keep-outputs", action="store_true",
                    help="keep the output files (in benchmarks/.cache/files_run_*)")
    # internal
    ap.add_argument("--make-registry", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--peer-child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--check", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.make_registry:
        n, seed, path = args.make_registry
        make_registry(int(n), int(seed), Path(path))
        return 0
    if args.peer_child:
        peer_child(*args.peer_child, threads=args.threads)
        return 0
    if args.check:
        print("RESULT " + json.dumps(compare_files(*args.check)), flush=True)
        return 0

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if unknown := [t for t in tools if t not in TOOLS]:
        ap.error(f"unknown tools {unknown}; known: {list(TOOLS)}")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    tools = sorted(tools, key=TOOLS.index)  # pmt first: its output is the reference
    n = args.households
    guard = int(args.mem_guard_gb * GB) if args.mem_guard_gb else \
        int(0.8 * bench_rank._meminfo_total())
    command = "python " + shlex.join([os.path.relpath(__file__, ROOT),
                                      *(argv if argv is not None else sys.argv[1:])])
    started = dt.datetime.now()
    print(f"{command}\n{started:%Y-%m-%d %H:%M}; memory guard {guard / GB:.1f} GB per tool",
          flush=True)

    fingerprint = bench_rank.generator_fingerprint(args.seed)
    src = registry_path(args.cache, n, args.seed, fingerprint)
    args.cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(args.cache).free
    need = disk_needed(n, src.exists())
    print(f"disk: about {need / GB:.1f} GB needed in {args.cache} "
          f"(input {n * IN_BYTES / GB:.1f} GB{' , cached' if src.exists() else ''}, "
          f"each output {n * OUT_BYTES / GB:.1f} GB); {free / GB:.1f} GB free", flush=True)
    if need > 0.95 * free:
        print("not enough free disk space", file=sys.stderr)
        return 2
    ensure_registry(n, args.seed, src)
    ties = bench_rank.ties_path(args.cache, args.seed, fingerprint)
    bench_rank.ensure_data("ties", bench_rank.TIES_ROWS, args.seed, ties)
    snapshot = tempfile.TemporaryDirectory(prefix="bench_files_weights_")
    weights = str(Path(snapshot.name) / "weights")
    weights_desc = bench_rank.snapshot_weights(args.weights, Path(weights))
    print(f"weights: {weights_desc}\ninput: {src.name}, {src.stat().st_size / MB:,.1f} MB; "
          f"read into the page cache in {warm_page_cache(src):.1f} s", flush=True)

    run_dir = Path(tempfile.mkdtemp(prefix="files_run_", dir=args.cache))
    rows: list[dict[str, Any]] = []
    try:
        for tool in tools:
            row: dict[str, Any] = {"tool": tool, "runs": [], "load_start": os.getloadavg()[0]}
            rows.append(row)
            # warm-up on the tie-heavy registry (untimed): numba cache, tie agreement
            warm = run_once(tool, ties, run_dir / f"ties_{tool}.parquet", weights, args,
                            run_dir, guard)
            if "failed" in warm:
                row["failed"] = "warm-up: " + warm["failed"]
                print(f"  {tool:<7} warm-up failed: {warm['failed']}\n    | " +
                      "\n    | ".join(warm["stderr"].splitlines()[-10:]), flush=True)
                row["load_end"] = os.getloadavg()[0]
                continue
            if tool != "pmt" and (run_dir / "ties_pmt.parquet").exists():
                row["ties"] = check(run_dir / "ties_pmt.parquet",
                                    run_dir / f"ties_{tool}.parquet")[1]
            out = run_dir / f"{tool}.parquet"
            for i in range(args.repeat):
                out.unlink(missing_ok=True)
                os.sync()  # no write-back of the previous output during the run
                print(f"  {tool:<7} run {i + 1}/{args.repeat} ...", end=" ", flush=True)
                r = run_once(tool, src, out, weights, args, run_dir, guard)
                row["runs"].append(r)
                if "failed" in r:
                    row["failed"] = r["failed"]
                    print(f"failed: {r['failed']}", flush=True)
                    break
                print(f"{r['wall_s']:.2f} s, peak {r['peak_rss'] / GB:.2f} GB", flush=True)
            row["load_end"] = os.getloadavg()[0]
            if "failed" in row:
                out.unlink(missing_ok=True)
                continue
            if tool == "pmt":
                row["agree"], row["agree_ok"] = "reference", True
            elif not (run_dir / "pmt.parquet").exists():
                row["agree"] = "not checked (pmt not run)"
            elif n > CHECK_MAX:
                row["agree"] = f"not checked (above {CHECK_MAX:,} households)"
            else:
                print(f"  {tool:<7} checking against pmt ...", end=" ", flush=True)
                row["agree_ok"], row["agree"] = check(run_dir / "pmt.parquet", out)
                print(row["agree"], flush=True)
            if row.get("ties") and not row["ties"].startswith("ok"):
                row["agree_ok"] = False
            if tool != "pmt" and not args.keep_outputs:
                out.unlink(missing_ok=True)
    finally:
        if not args.keep_outputs:
            shutil.rmtree(run_dir, ignore_errors=True)
        snapshot.cleanup()

    print(f"\n{n:,} households; input {src.stat().st_size / MB:,.1f} MB of Parquet\n")
    print(render(rows))
    for line in phase_lines(rows):
        print("  " + line)
    bad = [r for r in rows if r.get("agree_ok") is False]
    for r in bad:
        print(f"!! {r['tool']}: output DISAGREES with pmt's: {r.get('agree')}; "
              f"ties: {r.get('ties')}")
    if not args.no_write:
        path = write_results(args.results, started, command, n, src, rows, guard, weights_desc,
                             args)
        print(f"\nwritten {os.path.relpath(path, Path.cwd())}")
    if args.keep_outputs:
        print(f"outputs kept in {run_dir}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
