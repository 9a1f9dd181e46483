"""End-to-end file benchmark: Parquet registry in, Parquet ranking out.

    python benchmarks/bench_files.py --households 3e7 [--tools pmt,polars,duckdb] [--repeat 1]
                                     [--chunk-size 1000000] [--threads N] [--no-write]

A synthetic registry of N households is generated once (in blocks of 5 M,
row groups of 1 M; ``harness/data.py``) and cached in ``benchmarks/.cache/``.
Each tool then turns that file into a ranked Parquet file, as a child process
timed from start to exit (interpreter start, imports, weight set, reading,
validation and encoding (pmt only), scoring, ranking, writing): pmt as its
command line, ``pmt rank IN --weights W --out OUT``, whose progress on stderr
(read through a pseudo-terminal) gives the time of each pass; the peers as
their ``files`` job (``peers/``). Wall and CPU time are the parent's; peak
RSS is the child's ``ru_maxrss``. Each tool first runs, untimed, on the
tie-heavy registry (this also fills pmt's numba cache); the outputs of that
run and of the last timed run are checked against pmt's, matched on
``hh_id``. Last, in the same run, the job's I/O floor: reading the input once
and writing pmt's output once with pyarrow on all cores (``harness.timing.
io_floor``; the best of ``--repeat`` tries), and each tool's time over it.
See README.md.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import peers
from harness import agree, data, proc, report, suite
from harness.proc import GB, MB

TOOLS = ("pmt", "polars", "duckdb")
CHECK_MAX = 30_000_000  # above this, outputs are not loaded for the agreement check
# Parquet bytes per household measured at 1 M (snappy): for the disk-space estimate
IN_BYTES, OUT_BYTES = 19.0, 40.5
HEAD = ["tool", "wall s", "CPU s", "runs", "peak RSS GB", "time / pmt", "peak / pmt",
        "output MB", "agreement with pmt"]


def main(argv: list[str] | None = None) -> int:
    ap = suite.parser(__doc__, tools=TOOLS, repeat=1, timeout=7200.0)
    ap.add_argument("--households", type=suite.parse_n, default=1_000_000, help="e.g. 3e7")
    ap.add_argument("--chunk-size", type=int, default=None,
                    help="pmt rank --chunk-size (default: the CLI's)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every tool (pmt --threads, POLARS_MAX_THREADS, "
                         "DuckDB SET threads); default: each tool's own")
    ap.add_argument("--keep-outputs", action="store_true",
                    help="keep the output files (in benchmarks/.cache/files_run_*)")
    args = ap.parse_args(argv)
    n = args.households

    with suite.run(__file__, argv, args, "files") as (run, tools):
        tools = sorted(tools, key=lambda t: t != "pmt")  # pmt first: the reference
        fp = proc.call_checked("harness.data:registry_fingerprint", seed=args.seed)["fp"]
        src = data.files_path(args.cache, n, args.seed, fp)
        args.cache.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(args.cache).free
        need = int(n * ((0 if src.exists() else IN_BYTES) + 2 * OUT_BYTES))
        print(f"disk: about {need / GB:.1f} GB needed in {args.cache} "
              f"(input {n * IN_BYTES / GB:.1f} GB{', cached' if src.exists() else ''}, "
              f"each output {n * OUT_BYTES / GB:.1f} GB); {free / GB:.1f} GB free", flush=True)
        if need > 0.95 * free:
            print("not enough free disk space", file=sys.stderr)
            return 2
        data.ensure(src, "make_files_registry", n=n, seed=args.seed)
        ties = data.ties_path(args.cache, args.seed, fp)
        data.ensure(ties, "make_ties", seed=args.seed)
        print(f"input: {src.name}, {src.stat().st_size / MB:,.1f} MB; read into the page "
              f"cache in {warm_page_cache(src):.1f} s", flush=True)
        run_dir = Path(tempfile.mkdtemp(prefix="files_run_", dir=args.cache))
        try:
            rows = [time_tool(tool, src, ties, run_dir, run, args) for tool in tools]
            floor = io_floor(src, run_dir, run, args)
        finally:
            if not args.keep_outputs:
                shutil.rmtree(run_dir, ignore_errors=True)

    print(f"\n{n:,} households; input {src.stat().st_size / MB:,.1f} MB of Parquet\n")
    print(report.table(HEAD, table_rows(rows), left={0, len(HEAD) - 1}))
    print("\n".join("  " + x for x in phase_lines(rows)))
    print("  " + floor_line(floor, rows))
    for line in agree.banner(rows):
        print(line)
    if not args.no_write:
        threads = str(args.threads) if args.threads else "all cores (each tool's default)"
        report.write(args.results, "files", started=run.started, title="File benchmark",
                     command=run.command,
                     machine=report.machine_lines(guard=run.guard, weights=run.weights_desc,
                                                  threads=threads),
                     sections=sections(rows, n, src, args, floor))
    if args.keep_outputs:
        print(f"outputs kept in {run_dir}")
    return 1 if agree.banner(rows) else 0


def warm_page_cache(path: Path) -> float:
    """Read the file once so that every tool reads it from the page cache; seconds."""
    t = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(16 * MB):
            pass
    return time.perf_counter() - t


def run_once(tool: str, src: Path, out: Path, run: suite.Run, args: Any) -> dict[str, Any]:
    """One run of ``tool`` from ``src`` to ``out``, timed from outside."""
    peer = peers.get(tool)
    if hasattr(peer, "files_command"):
        cmd = peer.files_command(src, out, run.weights, chunk=args.chunk_size,
                                 threads=args.threads)
        env = proc.child_env()
    else:
        cmd = proc.command("harness.timing:files_job", tool=tool, src=str(src), out=str(out),
                           weights=run.weights, threads=args.threads)
        env = proc.child_env(**({peer.THREADS_ENV: str(args.threads)}
                                if args.threads and hasattr(peer, "THREADS_ENV") else {}))
    r = proc.measure(cmd, guard=run.guard, timeout=args.timeout, env=env, cwd=out.parent,
                     tty_stderr=hasattr(peer, "files_phases"))
    r["command"] = cmd
    reason = proc.failure(r)
    if reason:
        r["failed"] = reason
    elif not out.exists():
        r["failed"] = "no output file"
    else:
        r["out_bytes"] = out.stat().st_size
        if hasattr(peer, "files_phases"):
            r["phases"] = peer.files_phases(r["events"], r["wall_s"])
        else:
            r.update(proc.result(r) or {})
    del r["events"]
    return r


def io_floor(src: Path, run_dir: Path, run: suite.Run, args: Any) -> dict[str, Any]:
    """The job's I/O floor, measured in the same run: the best of ``--repeat`` tries.

    Reading the input once and writing pmt's output once with pyarrow on all cores
    (``harness.timing.io_floor``); needs pmt's output of this run.
    """
    ref = run_dir / "pmt.parquet"
    if not ref.exists():
        return {"failed": "pmt's output is needed (run pmt too)"}
    tries = []
    for _ in range(args.repeat):
        out = run_dir / "floor.parquet"
        os.sync()
        res = proc.call("harness.timing:io_floor", guard=run.guard, timeout=args.timeout,
                        src=str(src), ref=str(ref), out=str(out), row_group=data.ROW_GROUP)
        out.unlink(missing_ok=True)
        if "failed" in res:
            return res
        tries.append(res)
    return min(tries, key=lambda r: r["read_s"] + r["write_s"])


def floor_line(floor: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The I/O floor and each tool's time over it."""
    if "failed" in floor:
        return f"I/O floor: not measured ({floor['failed']})"
    total = floor["read_s"] + floor["write_s"]
    over = "; ".join(f"{r['tool']} {report.median(x['wall_s'] for x in r['runs']) / total:.2f}x"
                     for r in rows if "failed" not in r)
    return (f"I/O floor (pyarrow, all cores, same run): read the input once "
            f"{floor['read_s']:.2f} s + write the output once {floor['write_s']:.2f} s = "
            f"{total:.2f} s; wall time over the floor: {over}")


def check(ref: Path, other: Path, run: suite.Run, tool: str) -> tuple[bool, str]:
    """:func:`harness.agree.compare_files` in a child, so that the parent stays small."""
    res = proc.call("harness.agree:compare_files", guard=run.guard, timeout=7200.0,
                    ref=str(ref), other=str(other), tol=agree.welfare_tol(tool))
    if "failed" in res:
        return False, f"check failed: {res['failed']}"
    return bool(res["ok"]), str(res["text"])


def time_tool(tool: str, src: Path, ties: Path, run_dir: Path, run: suite.Run, args: Any
              ) -> dict[str, Any]:
    """The warm-up on the tie-heavy registry, ``--repeat`` timed runs, the agreement."""
    row: dict[str, Any] = {"tool": tool, "runs": [], "load_start": os.getloadavg()[0]}
    warm = run_once(tool, ties, run_dir / f"ties_{tool}.parquet", run, args)
    if "failed" in warm:
        row.update(failed="warm-up: " + warm["failed"], load_end=os.getloadavg()[0])
        print(f"  {tool:<7} warm-up failed: {warm['failed']}\n    | "
              + "\n    | ".join(warm["stderr"].splitlines()[-10:]), flush=True)
        return row
    if tool != "pmt" and (run_dir / "ties_pmt.parquet").exists():
        row["ties"] = check(run_dir / "ties_pmt.parquet", run_dir / f"ties_{tool}.parquet",
                            run, tool)[1]
    out = run_dir / f"{tool}.parquet"
    for i in range(args.repeat):
        out.unlink(missing_ok=True)
        os.sync()  # no write-back of the previous output during the run
        print(f"  {tool:<7} run {i + 1}/{args.repeat} ...", end=" ", flush=True)
        r = run_once(tool, src, out, run, args)
        row["runs"].append(r)
        if "failed" in r:
            row["failed"] = r["failed"]
            print(f"failed: {r['failed']}", flush=True)
            break
        print(f"{r['wall_s']:.2f} s, peak {r['peak_rss'] / GB:.2f} GB", flush=True)
    row["load_end"] = os.getloadavg()[0]
    if "failed" in row:
        out.unlink(missing_ok=True)
        return row
    if tool == "pmt":
        row.update(agree="reference", agree_ok=True)
    elif not (run_dir / "pmt.parquet").exists():
        row["agree"] = "not checked (pmt not run)"
    elif args.households > CHECK_MAX:
        row["agree"] = f"not checked (above {CHECK_MAX:,} households)"
    else:
        print(f"  {tool:<7} checking against pmt ...", end=" ", flush=True)
        row["agree_ok"], row["agree"] = check(run_dir / "pmt.parquet", out, run, tool)
        print(row["agree"], flush=True)
    if row.get("ties") and not row["ties"].startswith("ok"):
        row["agree_ok"] = False
    if tool != "pmt" and not args.keep_outputs:
        out.unlink(missing_ok=True)
    return row


# --------------------------------------------------------------------------- the tables

def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    base = next((r for r in rows if r["tool"] == "pmt" and "failed" not in r), None)
    bw = report.median(x["wall_s"] for x in base["runs"]) if base else None
    bp = max(x["peak_rss"] for x in base["runs"]) if base else None
    out = []
    for r in rows:
        if "failed" in r:
            out.append([r["tool"], "—", "—", str(len(r["runs"])), "—", "—", "—", "—",
                        f"**failed: {r['failed']}**"])
            continue
        wall = report.median(x["wall_s"] for x in r["runs"])
        peak = max(x["peak_rss"] for x in r["runs"])
        out.append([r["tool"], f"{wall:.2f}", f"{report.median(x['cpu_s'] for x in r['runs']):.2f}",
                    str(len(r["runs"])), f"{peak / GB:.2f}",
                    report.fmt(wall / bw if bw else None, ".2f"),
                    report.fmt(peak / bp if bp else None, ".2f"),
                    f"{r['runs'][-1]['out_bytes'] / MB:,.0f}", agree.cell(r)])
    return out


def phase_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Where each tool's last run spent its time."""
    out = []
    for r in rows:
        if "failed" in r:
            continue
        last = r["runs"][-1]
        if "phases" in last:
            if not last["phases"]:
                out.append(f"{r['tool']}: per-pass times unavailable (progress not in the "
                           "expected form)")
                continue
            out.append(f"{r['tool']} (last run, {last['wall_s']:.2f} s): " + "; ".join(
                f"{k} {v:.2f} s" for k, v in last["phases"].items()))
        elif "job_s" in last:
            out.append(f"{r['tool']} (last run, {last['wall_s']:.2f} s): interpreter, imports "
                       f"and weight set {last['wall_s'] - last['job_s']:.2f} s; "
                       f"job {last['job_s']:.2f} s ({last['mode']})")
    return out


def sections(rows: list[dict[str, Any]], n: int, src: Path, args: Any,
             floor: dict[str, Any]) -> list[str]:
    size = src.stat().st_size
    lines = ["## Input", "",
             f"- {n:,} synthetic households, seed {args.seed}, generated in blocks of "
             f"{data.FILES_BLOCK:,}: `{src.name}`",
             f"- Parquet on disk: {size / MB:,.1f} MB ({size / n:.1f} bytes per household), "
             f"snappy, row groups of {data.ROW_GROUP:,}; read once before the runs, so every "
             "tool reads it from the page cache",
             f"- pmt chunk size: {args.chunk_size:,}" if args.chunk_size else
             "- pmt chunk size: the CLI's default",
             "", "## Results", "",
             "Each run is one process, timed from start to exit by the parent: interpreter, "
             "imports, weight set, reading Parquet, (pmt only: validation and encoding), "
             "scoring, ranking, writing Parquet. *wall s* and *CPU s* (user + sys, all threads) "
             "are medians over the runs; *peak RSS* is the largest `ru_maxrss` of the runs. "
             "Ratios are tool / pmt (> 1: slower or bigger). Agreement: the tool's output file "
             "against pmt's, rows matched on `hh_id`: desil, rank and every other column "
             "exactly, welfare bit for bit and share below to 1e-12; also on a tie-heavy "
             f"registry (warm-up run). Not checked above {CHECK_MAX:,} households.", "",
             report.table(HEAD, table_rows(rows), left={0, len(HEAD) - 1}, markdown=True), "",
             f"- {floor_line(floor, rows)}", "",
             "## Details", "", *(f"- {x}" for x in phase_lines(rows))]
    for r in rows:
        walls = ", ".join(f"{x['wall_s']:.2f}" + (" (failed)" if "failed" in x else "")
                          for x in r["runs"])
        lines.append(f"- {r['tool']}: wall {walls} s; sys CPU "
                     f"{report.runs(x['sys_s'] for x in r['runs'])} s; load average "
                     f"{r['load_start']:.1f} → {r['load_end']:.1f}; command "
                     f"`{shlex.join(r['runs'][-1]['command']) if r['runs'] else ''}`")
    return [*lines, "", *suite.what_lines("files", [r["tool"] for r in rows]), "",
            "Peers write rows in their own order (polars: by province then welfare; "
            "DuckDB: any order); pmt writes input order. Only pmt validates its input. "
            "See `benchmarks/README.md`."]


if __name__ == "__main__":
    sys.exit(main())
