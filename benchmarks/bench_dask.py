"""pmt.dask on a LocalCluster against single-process streaming, on a partitioned registry.

    python benchmarks/bench_dask.py --households 3e7 [--partition-rows 1000000] [--workers 2]
                                    [--threads-per-worker 1] [--memory-limit 6GiB]
                                    [--no-stream] [--seed 1] [--weights demo]

The synthetic registry (``pmt.synth.registry`` in blocks of ``--partition-rows``,
ids offset per block; the blocks of ``harness/data.py``) is written once as a
Parquet dataset, one file per block, in ``benchmarks/.cache/dask_registry_N_S/``,
and also as one Parquet file (the same rows, in the same order) for streaming.

Measured:

- **dask**: ``pmt.dask.rank(dd.read_parquet(folder), ws)`` then ``.to_parquet(out)``
  on a ``LocalCluster`` of ``--workers`` processes, after an untimed warm-up on a
  small dataset (numba compiles in each worker). Wall time of each phase (scoring
  and duplicate ids; sort, walk, desil and writing), each worker's peak RSS
  (``ru_maxrss`` of the worker process), the bytes the P2P shuffles sent and the
  bytes of task results moved between workers, and the busy time per task kind
  (from Dask's task stream).
- **stream**: ``pmt rank FILE --out OUT`` (one process, ``pmt.io.rank_file``):
  wall time and peak RSS of the child.
- The two outputs are compared column by column, row by row in the input's order
  (one Dask file at a time, so that memory stays small).

**Projection** to more workers, from the measured task stream: the busy time
of the parallel task kinds divided by the worker count, plus the sequential
part (the client's work between computes and the walk's chain, whose tasks
run one after another), plus the shuffled bytes at ``--bandwidth`` (default
1 GB/s per worker). It assumes partitions at least as many as workers and data
read as fast per worker as here; it is a model, printed with its inputs.

Results are written to ``benchmarks/results/dask_<households>_<time>.md``.
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GB = 1024**3


def parse_n(text: str) -> int:
    return int(float(text))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--households", type=parse_n, default=1_000_000, help="e.g. 3e7, 9.4e7")
    ap.add_argument("--partition-rows", type=parse_n, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    ap.add_argument("--memory-limit", default="auto", help="per worker, e.g. 6GiB")
    ap.add_argument("--weights", default="demo")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--no-stream", action="store_true", help="skip single-process streaming")
    ap.add_argument("--no-check", action="store_true", help="skip the output comparison")
    ap.add_argument("--bandwidth", type=float, default=1.0, help="GB/s per worker (projection)")
    ap.add_argument("--project", default="8,32", help="worker counts to project to")
    args = ap.parse_args(argv)
    n = args.households

    folder, single = make_data(args)
    run_dir = args.cache / f"dask_run_{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        d = run_dask(args, folder, run_dir / "ranked_dask")
        s = None if args.no_stream else run_stream(args, single, run_dir / "ranked_stream.parquet")
        agreement = "not checked"
        if s is not None and not args.no_check:
            agreement = compare(run_dir / "ranked_dask", run_dir / "ranked_stream.parquet")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    text = report(args, d, s, agreement)
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results / f"dask_{n}_{stamp}.md"
    out.write_text(text)
    print(f"written to {out}")
    return 0


# --------------------------------------------------------------------------- data


def make_data(args: argparse.Namespace) -> tuple[Path, Path]:
    """The dataset folder (one file per block) and the same rows as one Parquet file."""
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from harness.data import _blocks  # the benchmarks' registry blocks

    n, rows, seed = args.households, args.partition_rows, args.seed
    folder = args.cache / f"dask_registry_{n}_{seed}_{rows}"
    single = args.cache / f"dask_registry_{n}_{seed}_{rows}.parquet"
    if not (folder / "_done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        t = time.perf_counter()
        for b, (lo, frame) in enumerate(_blocks(n, seed, rows)):
            frame.to_parquet(folder / f"part.{b:05d}.parquet", index=False)
            print(
                f"  data: {lo + len(frame):,} / {n:,} ({time.perf_counter() - t:.0f} s)", flush=True
            )
        (folder / "_done").write_text("")
    if not single.exists():
        tmp = single.with_suffix(".tmp")
        writer = None
        for part in sorted(folder.glob("part.*.parquet")):
            table = pq.read_table(part)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=1_000_000)
        assert writer is not None
        writer.close()
        tmp.replace(single)
    return folder, single


# --------------------------------------------------------------------------- dask


def _kind(name: str) -> str:
    """A task's kind: its key name without the token Dask appends (a hash or uuid)."""
    return re.sub(r"(-[0-9a-f]{4,})+$", "", name)


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _transfer(dask_worker: Any) -> int:
    return int(dask_worker.transfer_outgoing_bytes_total)


def _p2p_bytes(dask_scheduler: Any) -> dict[str, float]:
    out: dict[str, float] = collections.defaultdict(float)
    for key, value in dask_scheduler.cumulative_worker_metrics.items():
        parts = key if isinstance(key, tuple) else (key,)
        if "bytes" in parts and any("p2p" in str(p) or "shuffle" in str(p) for p in parts):
            out["/".join(map(str, parts))] += value
    return dict(out)


def run_dask(args: argparse.Namespace, folder: Path, out: Path) -> dict[str, Any]:
    import dask.dataframe as dd
    import distributed

    import pmt
    import pmt.dask

    ws = pmt.load_weights(args.weights)
    cluster = distributed.LocalCluster(
        n_workers=args.workers,
        threads_per_worker=args.threads_per_worker,
        processes=True,
        memory_limit=args.memory_limit,
        dashboard_address=":0",
    )
    client = distributed.Client(cluster)
    try:
        t = time.perf_counter()
        warm = dd.from_pandas(pmt.synth.registry(20_000, seed=99), npartitions=args.workers * 2)
        pmt.dask.rank(warm, ws).summary()
        warmup = time.perf_counter() - t
        print(f"  dask: warm-up (numba in each worker) {warmup:.1f} s", flush=True)
        transfer0 = sum(client.run(_transfer).values())
        p2p0 = client.run_on_scheduler(_p2p_bytes)
        with distributed.get_task_stream(client) as ts:
            t0 = time.perf_counter()
            ddf = dd.read_parquet(str(folder))
            res = pmt.dask.rank(ddf, ws)
            t1 = time.perf_counter()
            res.to_parquet(out)
            t2 = time.perf_counter()
        rss = client.run(_maxrss)
        transfer = sum(client.run(_transfer).values()) - transfer0
        p2p1 = client.run_on_scheduler(_p2p_bytes)
        p2p = {k: v - p2p0.get(k, 0.0) for k, v in p2p1.items()}
        busy: dict[str, float] = collections.Counter()
        count: dict[str, int] = collections.Counter()
        for d in ts.data:
            key = d["key"]
            name = _kind(key[0] if isinstance(key, tuple) else key)
            for s in d["startstops"]:
                if s["action"] == "compute":
                    busy[name] += s["stop"] - s["start"]
                    count[name] += 1
        print(f"  dask: {t2 - t0:.1f} s", flush=True)
        return {
            "partitions": ddf.npartitions,
            "score_s": t1 - t0,
            "rank_write_s": t2 - t1,
            "wall_s": t2 - t0,
            "warmup_s": warmup,
            "worker_peak": sorted(rss.values()),
            "transfer_bytes": transfer,
            "p2p": p2p,
            "busy": dict(busy),
            "count": dict(count),
            "n": res.n_households,
        }
    finally:
        client.close()
        cluster.close()


# --------------------------------------------------------------------------- streaming


def run_stream(args: argparse.Namespace, single: Path, out: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "pmt.cli",
        "--quiet",
        "rank",
        str(single),
        "--weights",
        args.weights,
        "--out",
        str(out),
    ]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"streaming run failed with status {proc.returncode}")
    print(f"  stream: {wall:.1f} s", flush=True)
    return {"wall_s": wall, "peak": usage.ru_maxrss * 1024}


def compare(dask_out: Path, stream_out: Path) -> str:
    """Both outputs, chunk by chunk: each is in the input's order (Dask: a file per partition).

    One dask file at a time against the same rows of the streamed file, so that
    94 M rows are compared without holding either table.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(dask_out.glob("*.parquet"), key=lambda p: int(re.findall(r"\d+", p.name)[-1]))
    batches = pq.ParquetFile(stream_out).iter_batches(batch_size=1_000_000)
    pending: list[pa.RecordBatch] = []
    held = rows = 0
    for f in files:
        a = pq.read_table(f)
        while held < len(a):
            batch = next(batches)
            pending.append(batch)
            held += len(batch)
        b = pa.Table.from_batches(pending).slice(0, len(a))
        rest = pa.Table.from_batches(pending).slice(len(a))
        pending, held = rest.to_batches(), len(rest)
        try:
            pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas(), check_exact=True)
        except AssertionError as exc:
            return f"DIFFERENT (rows {rows:,}+): {str(exc).splitlines()[0]}"
        rows += len(a)
    if held or next(batches, None) is not None:
        return f"DIFFERENT: the streamed output has more rows than the {rows:,} of Dask's"
    return f"identical ({rows:,} rows in input order, every column, exact)"


# --------------------------------------------------------------------------- report


def report(
    args: argparse.Namespace, d: dict[str, Any], s: dict[str, Any] | None, agreement: str
) -> str:
    n = args.households
    lines = [
        f"# pmt.dask: {n:,} households, {d['partitions']} partitions, "
        f"{args.workers} workers x {args.threads_per_worker} threads",
        "",
        f"machine: {os.cpu_count()} cores; command: python benchmarks/bench_dask.py "
        + " ".join(sys.argv[1:]),
        "",
        "| engine | wall s | peak RSS GB (per process) |",
        "|---|---:|---|",
        f"| dask (score + duplicates) | {d['score_s']:.1f} | |",
        f"| dask (sort, walk, desil, write) | {d['rank_write_s']:.1f} | |",
        f"| dask total | {d['wall_s']:.1f} | "
        + ", ".join(f"{x / GB:.2f}" for x in d["worker_peak"])
        + " (workers) |",
    ]
    if s is not None:
        lines.append(f"| single-process streaming | {s['wall_s']:.1f} | {s['peak'] / GB:.2f} |")
    # the shards the transfer tasks cut: every byte that enters a P2P shuffle, once
    p2p_total = sum(
        v for k, v in d["p2p"].items() if k.endswith("shuffle-transfer/p2p-shards/bytes")
    )
    lines += [
        "",
        f"warm-up (not timed): {d['warmup_s']:.1f} s. Output agreement: {agreement}.",
        f"bytes shuffled (P2P shards, all shuffles): {p2p_total / GB:.3f} GB; task results "
        f"moved between workers: {d['transfer_bytes'] / GB:.3f} GB. Other P2P byte metrics: "
        + (", ".join(f"{k}={v / GB:.3f} GB" for k, v in sorted(d["p2p"].items())) or "none")
        + ".",
        "",
        "Busy time per task kind (s, summed over workers):",
        "",
        "| task | tasks | busy s |",
        "|---|---:|---:|",
    ]
    for name, busy in sorted(d["busy"].items(), key=lambda kv: -kv[1])[:25]:
        lines.append(f"| {name} | {d['count'][name]} | {busy:.2f} |")
    # the walks run one after another only for non-whole weights (no _shift tasks then)
    chained = not any(k.startswith("_shift") for k in d["busy"])
    walk = sum(v for k, v in d["busy"].items() if k.startswith("_walk")) if chained else 0.0
    parallel = sum(d["busy"].values()) - walk
    measured_overhead = max(d["wall_s"] - parallel / args.workers - walk, 0.0)
    lines += [
        "",
        "Projection (a model: parallel busy time / workers + the walk chain if the walks "
        f"ran one after another ({walk:.1f} s here) "
        f"+ the client and scheduling overhead measured here ({measured_overhead:.1f} s) "
        f"+ shuffled bytes at {args.bandwidth} GB/s per worker):",
        "",
        "| workers | projected wall s |",
        "|---:|---:|",
    ]
    for w in [args.workers, *(int(x) for x in args.project.split(","))]:
        moved = (p2p_total + d["transfer_bytes"]) / GB / (args.bandwidth * w)
        lines.append(f"| {w} | {parallel / w + walk + measured_overhead + moved:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
