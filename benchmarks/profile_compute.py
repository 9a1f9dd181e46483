"""Where one compute-only pmt call spends its time, stage by stage, with page-fault time.

    python benchmarks/profile_compute.py --households 3e7 [--calls 3]

Uses the encoded registry that ``bench_compute.py`` caches (run that first
for the size), builds pmt's form of it (``peers/pmt_peer.py``), and calls
``pmt.rank.rank_encoded`` ``--calls`` times in one process. Each stage prints
its wall time, user and system CPU time (system time is mostly the kernel
backing memory touched for the first time) and minor page faults. The first
call also loads the compiled kernels from numba's cache.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import data, suite, timing
from peers import pmt_peer

TOTAL = "total (rank_encoded)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=suite.parse_n, default=1_000_000, help="e.g. 3e7")
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", default="demo", help="weight set: shipped name or folder")
    ap.add_argument("--cache", type=Path, default=data.CACHE)
    args = ap.parse_args(argv)
    import pmt

    ws = pmt.load_weights(args.weights)
    n = args.households
    fp = data.encoded_fingerprint(args.seed, args.weights)["fp"]
    folder = data.encoded_dir(args.cache, n, args.seed, fp)
    if not folder.exists():
        raise SystemExit(f"no cached data in {folder}; run bench_compute.py --sizes {n:g} first")
    form = pmt_peer.compute_form(data.load_inputs(folder), ws)
    for call in range(args.calls):
        clock = timing.StageClock()
        with timing.pmt_stages(clock):
            clock.time(TOTAL, pmt_peer.compute, form, None, ws)
        total = clock.stages.pop(TOTAL)
        clock.stages[TOTAL] = total  # last
        print(f"call {call + 1} of {args.calls}, {n:,} households")
        print(timing.stage_table(clock.stages, TOTAL), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
