"""Where one compute-only pmt call spends its time, stage by stage, with page-fault time.

    python benchmarks/profile_compute.py --households 3e7 [--calls 3]

Uses the encoded registry that ``bench_compute.py`` caches (run that first
for the size), builds a ``pmt.encode.Encoded`` around it, and calls
``pmt.rank.rank_encoded`` ``--calls`` times in one process. Each stage prints
its wall time, user and system CPU time (system time is mostly the kernel
backing memory touched for the first time) and minor page faults. The first
call also loads the compiled kernels from numba's cache.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_compute as B  # noqa: E402
import compute_peers as P  # noqa: E402
from bench_rank import parse_sizes  # noqa: E402


def _now() -> tuple[float, float, float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime, r.ru_stime, r.ru_minflt


def _line(name: str, a: tuple[float, float, float, int], b: tuple[float, float, float, int]
          ) -> str:
    return (f"  {name:<66} wall {b[0] - a[0]:6.3f}  user {b[1] - a[1]:6.2f}  "
            f"sys {b[2] - a[2]:5.2f}  faults {b[3] - a[3]:>7,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=parse_sizes, default=[1_000_000])
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    args = ap.parse_args()
    import pmt

    R = importlib.import_module("pmt.rank")
    ws = pmt.load_weights("demo")
    n = args.households[0]
    folder = B.data_dir(args.cache, n, args.seed, B.fingerprint(args.seed, "demo"))
    if not folder.exists():
        sys.exit(f"no cached data in {folder}; run bench_compute.py --sizes {n:g} first")
    enc = P._pmt_load(B.load_inputs(folder)).enc

    welfare = R._welfare
    scopes = R._rank_scopes

    def timed_welfare(*a):  # type: ignore[no-untyped-def]
        t = _now()
        out = welfare(*a)
        print(_line("score (kernel + finite check)", t, _now()))
        return out

    def timed_scopes(*a, **k):  # type: ignore[no-untyped-def]
        last = [_now()]

        def mark(stage: str) -> None:
            now = _now()
            print(_line(stage, last[0], now))
            last[0] = now

        return scopes(*a, clock=mark, **k)

    R._welfare, R._rank_scopes = timed_welfare, timed_scopes
    for call in range(args.calls):
        print(f"call {call + 1} of {args.calls}, {n:,} households")
        t = _now()
        res = R.rank_encoded(enc, ws)
        print(_line("total (rank_encoded)", t, _now()))
        del res


if __name__ == "__main__":
    main()
