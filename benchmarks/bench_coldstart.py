"""Cold start: the first ranking in a fresh environment, and the first in a later process.

    python benchmarks/bench_coldstart.py [--repeat 3] [--households 1e3,1e5]

Each measurement is a child process, timed from start to exit, with its own
numba cache folder (``NUMBA_CACHE_DIR``):

- *cold*: an empty cache (a new container or virtual environment): ``import
  pmt``, load ``demo``, rank 1,000 synthetic households (``--households``: at
  32,768 and more the bucket sort's kernel is compiled too; below, numpy sorts). Its CPU time minus
  the CPU time of the same process with a warm cache is what compiling costs.
- *warm*: the same cache again (any later process): the same job.
- *warmup*: ``pmt warmup`` into an empty cache (every signature of every
  kernel, what a container build runs), then *warm* after it.

The registry is synthesised before the clock starts; each child reports the
CPU and wall time of its ranking step alone as well as the whole process.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import proc, report, suite

JOB = """
import json, resource, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
import pmt
ws = pmt.load_weights("demo")
hh = pmt.synth.registry(N_HH, seed=1)
t1 = time.perf_counter(); c1 = time.process_time()
res = pmt.rank(hh, ws, cutoffs="reference")
t2 = time.perf_counter(); c2 = time.process_time()
json.dump({"rank_wall": t2 - t1, "rank_cpu": c2 - c1, "setup_wall": t1 - t0,
           "households": len(res.welfare)}, sys.stdout)
"""


def _child(cache: Path, cmd: list[str]) -> dict[str, Any]:
    env = proc.child_env(NUMBA_CACHE_DIR=str(cache))
    m = proc.measure(cmd, guard=proc.default_guard(None), timeout=1800.0, env=env)
    if m["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{m['stderr'][-2000:]}")
    return m


def _job(cache: Path, households: int) -> dict[str, Any]:
    m = _child(cache, [sys.executable, "-c", JOB.replace("N_HH", str(households))])
    return {**json.loads(m["stdout"]), "cpu_s": m["cpu_s"], "wall_s": m["wall_s"]}


def main(argv: list[str] | None = None) -> int:
    ap = suite.parser(__doc__, tools=("pmt",), repeat=3, timeout=1800.0)
    ap.add_argument(
        "--households", default="1e3", help="comma-separated household counts (default 1e3)"
    )
    args = ap.parse_args(argv)
    sizes = [int(float(x)) for x in args.households.split(",")]
    rows: list[list[str]] = []
    command = report.command_line(__file__, argv)
    started = dt.datetime.now()
    print(command, flush=True)
    for n, r in [(n, r) for n in sizes for r in range(args.repeat)]:
        cache = Path(tempfile.mkdtemp(prefix="pmt-numba-"))
        try:
            cold = _job(cache, n)
            warm = _job(cache, n)
            shutil.rmtree(cache)
            cache.mkdir()
            up = _child(cache, [sys.executable, "-m", "pmt.cli", "warmup"])
            after = _job(cache, n)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        rows.append(
            [
                f"{n:,}",
                str(r + 1),
                f"{cold['rank_cpu']:.1f}",
                f"{cold['rank_wall']:.1f}",
                f"{warm['rank_cpu']:.2f}",
                f"{warm['rank_wall']:.2f}",
                f"{warm['wall_s']:.2f}",
                f"{up['cpu_s']:.1f}",
                f"{after['rank_wall']:.2f}",
            ]
        )
        print(rows[-1], flush=True)
    head = [
        "households",
        "run",
        "cold: rank CPU s",
        "cold: rank wall s",
        "warm: rank CPU s",
        "warm: rank wall s",
        "warm: whole process wall s",
        "pmt warmup CPU s",
        "after warmup: rank wall s",
    ]
    print(report.table(head, rows, left={0, 1}))
    if not args.no_write:
        report.write(
            args.results,
            "coldstart",
            started=started,
            title="Cold start",
            command=command,
            machine=report.machine_lines(
                guard=proc.default_guard(None), weights="demo", threads="all cores"
            ),
            sections=[
                "## Results",
                "",
                "Synthetic households ranked with `demo` (reference cutoffs) in a child "
                "process; CPU and wall of the ranking step alone, by numba cache state.",
                "",
                report.table(head, rows, left={0, 1}, markdown=True),
            ],
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
