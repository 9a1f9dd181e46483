"""Text household ids at registry scale: what they cost `pmt rank`, Parquet in and out.

    python benchmarks/bench_ids.py --households 3e7 [--chunk-size 1000000]

The cached synthetic registry of ``bench_files.py`` (integer ``hh_id``) is copied
once with ``hh_id`` as 16-digit text with leading zeros (the shape of a KK or NIK
number), then ``pmt rank IN --weights demo --out OUT`` runs on each, as a child
process timed from start to exit, peak RSS from the process tree. Text ids stay
Arrow strings end to end (no Python object per id): the duplicate check
dictionary-encodes them across chunks and the output copies them from the file.
The two outputs must agree exactly on every column but the id, and the text
output's ids must be the input's, in order.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import data, proc, report, suite
from harness.proc import GB, MB

HEAD = ["hh_id", "wall s", "CPU s", "peak RSS GB", "peak bytes / household", "output MB"]


def main(argv: list[str] | None = None) -> int:
    ap = suite.parser(__doc__, tools=("pmt",), repeat=1, timeout=7200.0)
    ap.add_argument("--households", type=suite.parse_n, default=1_000_000, help="e.g. 3e7")
    ap.add_argument("--chunk-size", type=int, default=None, help="pmt rank --chunk-size")
    args = ap.parse_args(argv)
    n = args.households
    with suite.run(__file__, argv, args, "files") as (run, _):
        fp = proc.call_checked("harness.data:registry_fingerprint", seed=args.seed)["fp"]
        src = data.files_path(args.cache, n, args.seed, fp)
        data.ensure(src, "make_files_registry", n=n, seed=args.seed)
        text = src.with_name(src.stem + "_textids.parquet")
        if not text.exists():
            proc.call_checked("bench_ids:text_copy", src=str(src), dst=str(text))
        rows = []
        with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
            outs = {}
            for kind, path in (("integer", src), ("text, 16 digits", text)):
                out = Path(tmp) / f"out_{len(outs)}.parquet"
                cmd = [sys.executable, "-m", "pmt.cli", "--quiet", "rank", str(path),
                       "--weights", run.weights, "--out", str(out)]
                if args.chunk_size:
                    cmd += ["--chunk-size", str(args.chunk_size)]
                r = proc.measure(cmd, guard=run.guard, timeout=args.timeout,
                                 env=proc.child_env())
                if proc.failure(r):
                    print(r["stderr"], file=sys.stderr)
                    return 1
                outs[kind] = out
                rows.append([kind, f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}",
                             f"{r['peak_rss'] / GB:.2f}", f"{r['peak_rss'] / n:.0f}",
                             f"{out.stat().st_size / MB:,.0f}"])
            verdict = proc.call_checked("bench_ids:agree", ints=str(outs["integer"]),
                                        texts=str(outs["text, 16 digits"]), src=str(text))
    table = report.table(HEAD, rows, left={0})
    print(f"\n{n:,} households\n\n{table}\n\nagreement: {verdict['text']}")
    if not args.no_write:
        report.write(args.results, "ids", started=run.started, title="Text ids",
                     command=run.command, machine=report.machine_lines(
                         guard=run.guard, weights=run.weights_desc, threads="all cores"),
                     sections=["## Results", "", f"{n:,} households, `pmt rank IN --out OUT`",
                               "", table, "", f"Agreement: {verdict['text']}."])
    return 0 if verdict["ok"] else 1


def text_copy(src: str, dst: str) -> dict[str, Any]:
    """``src`` with ``hh_id`` as 16-digit text, written batch by batch."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(src)
    writer = None
    try:
        for batch in source.iter_batches(batch_size=1_000_000):
            i = batch.schema.get_field_index("hh_id")
            ids = pc.utf8_lpad(pc.cast(batch.column(i), pa.string()), 16, "0")
            table = pa.Table.from_batches([batch]).set_column(i, "hh_id", ids)
            if writer is None:
                writer = pq.ParquetWriter(dst + ".tmp", table.schema)
            writer.write_table(table, row_group_size=1_000_000)
    finally:
        if writer is not None:
            writer.close()
    Path(dst + ".tmp").rename(dst)
    return {}


def agree(ints: str, texts: str, src: str) -> dict[str, Any]:
    """Both outputs equal but for the id; the text output's ids are the input's, in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    a, b = pq.read_table(ints), pq.read_table(texts)
    problems = [c for c in a.column_names if c != "hh_id" and not a[c].equals(b[c])]
    ids_in = pq.read_table(src, columns=["hh_id"])["hh_id"]
    if not b["hh_id"].cast(pa.large_string()).equals(ids_in.cast(pa.large_string())):
        problems.append("hh_id (text output is not the input's ids)")
    if b["hh_id"].type not in ("string", "large_string"):
        problems.append(f"hh_id type {b['hh_id'].type}")
    ok = not problems
    return {"ok": ok, "text": "every column equal, text ids as in the input" if ok
            else "DIFFERS: " + ", ".join(problems)}


if __name__ == "__main__":
    raise SystemExit(main())
