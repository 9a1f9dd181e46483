"""Rank a registry larger than comfortable memory from Parquet, in chunks.

    python benchmarks/bench_stream.py --households 94e6 [--chunk-size 2000000]

Writes (once, cached) a synthetic registry of N households to
benchmarks/.cache/stream_<N>_<seed>.parquet, then ranks it with
``pmt.stream.rank_file`` in a child process and reports wall time per pass and
the child's peak resident memory. The result file is written next to it and
removed afterwards. Timings include reading and writing Parquet.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"


def make(n: int, seed: int, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    import pmt

    block = 5_000_000
    writer = None
    start = time.perf_counter()
    for b, lo in enumerate(range(0, n, block)):
        frame = pmt.synth.registry(min(block, n - lo), seed=seed * 1000 + b)
        frame["hh_id"] += lo  # unique across blocks
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1_000_000)
        print(f"  wrote {lo + len(frame):,} / {n:,} rows ({time.perf_counter() - start:.0f} s)",
              flush=True)
    assert writer is not None
    writer.close()


def child(path: str, out: str, chunk: int) -> None:
    sys.path.insert(0, str(ROOT))
    import pmt
    from pmt.stream import rank_file

    ws = pmt.load_weights("demo")
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def progress(phase: str, done: int, total: int) -> None:
        marks[phase] = time.perf_counter() - start

    res = rank_file(path, ws, out, chunk_size=chunk, progress=progress)
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"households": res.n, "seconds": total, "peak_gb": peak,
                      "scoring_done_s": marks.get("scoring"),
                      "ranking_done_s": marks.get("ranking"),
                      "writing_done_s": marks.get("writing")}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=float, default=94e6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk-size", type=int, default=2_000_000)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    n = int(args.households)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"stream_{n}_{args.seed}.parquet"
    if not path.exists():
        print(f"generating {n:,} synthetic households -> {path}")
        make(n, args.seed, path)
    out = CACHE / f"stream_{n}_{args.seed}_ranked.parquet"
    proc = subprocess.run([sys.executable, __file__, "--child", str(path), str(out),
                           str(args.chunk_size)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    size = path.stat().st_size / 2**30
    print(f"pmt rank_file: {r['households']:,} households from a {size:.1f} GiB Parquet file, "
          f"chunks of {args.chunk_size:,}")
    print(f"  total {r['seconds']:.1f} s  (scoring pass done at {r['scoring_done_s']:.1f} s, "
          f"ranking at {r['ranking_done_s']:.1f} s, writing at {r['writing_done_s']:.1f} s)")
    print(f"  peak RSS {r['peak_gb']:.2f} GiB ({r['peak_gb'] * 2**30 / r['households']:.0f} "
          "bytes per household)")
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
