"""Repeated calls and desil without ranks: pmt's compute-only job three ways.

    python benchmarks/bench_repeat.py --sizes 1e6,3e7 --repeat 5 [--no-write]

From the encoded arrays that ``bench_compute.py`` caches (made here if
missing), one child process per size times, compute only (scoring included):

- *full job*: ``pmt.rank.rank_encoded`` (what ``pmt.rank`` runs after
  encoding), which allocates its buffers and outputs afresh on every call;
- *desil only*: ``pmt.Ranker(ws).desil_encoded`` on a new Ranker each call
  (fresh memory, as the full job): welfare, national and provincial desil and
  eligibility, the registry cutoffs found by weighted selection, no ranks;
- *Ranker*: one ``pmt.Ranker`` called ``--repeat + 1`` times; its first call
  allocates, the later ones reuse its buffers (the figure a long-lived service
  sees); likewise ``Ranker.desil_encoded`` on one Ranker.

The jobs take turns (one run of each per round), so that a machine busy with
other work slows them alike; the table gives the median and the fastest run.

Every call's outputs are checked against the full job's, byte for byte
(desil, rank, share below, welfare, eligibility, registry cutoffs); exit
status 1 if any differs. Each run's wall time and the system CPU time (mostly
the kernel backing fresh memory) are reported. See ``README.md``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

from harness import data, report, suite
from harness.proc import GB, call, call_checked, status

HEAD = ["households", "job", "median s", "min s", "runs (s)", "sys s / run", "time / full job",
        "agreement"]
COMPARED = ("welfare", "desil_national", "desil_provincial", "rank_national", "rank_provincial",
            "share_below_national", "share_below_provincial", "eligible")


def main(argv: list[str] | None = None) -> int:
    ap = suite.parser(__doc__, tools=("pmt",), repeat=5, timeout=3600.0)
    suite.add_sizes(ap, "pmt@3e7=3")
    args = ap.parse_args(argv)
    with suite.run(__file__, argv, args, "compute") as (run, _tools):
        fp = call_checked("harness.data:encoded_fingerprint", seed=args.seed,
                          weights=run.weights)["fp"]
        results = []
        for n in args.sizes:
            folder = data.encoded_dir(args.cache, n, args.seed, fp)
            print(f"\n== {n:,} households", flush=True)
            data.ensure(folder, "make_encoded", n=n, seed=args.seed, weights=run.weights)
            res = call("bench_repeat:child", guard=run.guard, timeout=args.timeout,
                       data=str(folder), repeat=args.repeat, weights=run.weights)
            if "failed" in res:
                print(f"  failed: {res['failed']}\n  " + "\n  ".join(res.get("stderr", [])))
                return 1
            results.append(res)
            print(report.table(HEAD, rows(res), left={1, 7}), flush=True)
    body = [r for res in results for r in rows(res)]
    bad = [r for r in body if r[-1] != "equal"]
    if not args.no_write:
        report.write(args.results, "repeat", started=run.started,
                     title="Repeated calls and desil without ranks (compute only)",
                     command=run.command,
                     machine=report.machine_lines(guard=run.guard, threads=threads_line(results),
                                                  weights=f"{run.weights_desc}; encoded data "
                                                  f"fingerprint {fp}"),
                     sections=["## Results", "", report.table(HEAD, body, left={1, 7},
                                                                markdown=True), "",
                               *notes(results)])
    if bad:
        print("DISAGREEMENT: " + "; ".join(f"{r[1]} at {r[0]}" for r in bad))
    return 1 if bad else 0


def threads_line(results: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['n']:,}: {r['threads']} threads" for r in results)


def rows(res: dict[str, Any]) -> list[list[str]]:
    n = res["n"]
    base = statistics.median(res["jobs"]["full job"]["wall"])
    out = []
    for job, r in res["jobs"].items():
        med = statistics.median(r["wall"])
        out.append([f"{n:,}", job, f"{med:.3f}", f"{min(r['wall']):.3f}",
                    report.runs(r["wall"], ".3f"),
                    f"{statistics.median(r['sys']):.2f}", f"{med / base:.2f}", r["agree"]])
    return out


def notes(results: list[dict[str, Any]]) -> list[str]:
    lines = ["*full job*: `pmt.rank.rank_encoded` (fresh buffers every call). *score only*: "
             "`pmt.rank.score_encoded`, the welfare every job starts with. *desil only*: "
             "`pmt.Ranker(ws).desil_encoded` on a new Ranker each call (fresh memory too): the "
             "registry cutoffs by weighted selection, no ranks or shares below. *Ranker, call 1* "
             "is a new Ranker's first call; *Ranker, calls 2+* and *Ranker.desil, calls 2+* are "
             "the later calls on one Ranker (buffers reused). *sys s*: system CPU time, mostly "
             "the kernel backing memory touched for the first time. Agreement: every output "
             "byte for byte equal to the full job's. *ranking part*: the national and provincial "
             "ranking of the scored households alone (`pmt.desil._rank_scopes`, the full "
             "sort, walks and results in input order, against `pmt.selection._desil_scopes`, "
             "the cutoffs by selection and the desil), no scoring.", ""]
    for r in results:
        med = {job: statistics.median(x["wall"]) for job, x in r["jobs"].items()}
        score = med["score only (part of every job)"]
        lines.append(f"At {r['n']:,}, beyond scoring (median minus *score only*): full job "
                     f"{med['full job'] - score:.3f} s, desil only {med['desil only'] - score:.3f}"
                     f" s, Ranker calls 2+ {med['Ranker, calls 2+'] - score:.3f} s, Ranker.desil "
                     f"calls 2+ {med['Ranker.desil, calls 2+'] - score:.3f} s.")
        lines.append(f"At {r['n']:,}: Ranker buffers {r['ranker_bytes'] / GB:.2f} GB "
                     f"({r['ranker_bytes'] / r['n']:.0f} B/hh); peak RSS {r['peak_rss'] / GB:.2f}"
                     f" GB; desil-only took the selection path: {r['selected']}.")
    return lines


# --------------------------------------------------------------------------- the child

def _timed(fn: Any) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), os.times()
    out = fn()
    c1 = os.times()
    return out, time.perf_counter() - t0, c1.system - c0.system


def _agree(want: Any, got: Any, names: tuple[str, ...]) -> str:
    import numpy as np

    for name in names:
        a, b = np.asarray(getattr(want, name)), np.asarray(getattr(got, name))
        if a.dtype != b.dtype or a.tobytes() != b.tobytes():
            return f"DIFFERS: {name}"
    for k, v in want.registry_cutoffs.items():
        if v.tobytes() != np.asarray(got.registry_cutoffs[k]).tobytes():
            return f"DIFFERS: registry cutoffs {k}"
    return "equal"


def child(data: str, repeat: int, weights: str) -> dict[str, Any]:
    """Time the jobs on one size in this process (the warm-up compiles or loads the kernels)."""
    from pathlib import Path

    import numpy as np
    from harness.data import WARM_ROWS, load_inputs
    from peers import pmt_peer

    import pmt
    from pmt.desil import _rank_scopes
    from pmt.rank import _scored, rank_encoded, score_encoded
    from pmt.selection import _desil_scopes

    ws = pmt.load_weights(weights)
    inp = load_inputs(Path(data))
    enc = pmt_peer.compute_form(inp, ws).enc
    warm = pmt_peer.compute_form(load_inputs(Path(data), rows=WARM_ROWS), ws).enc
    rank_encoded(warm, ws)
    pmt.Ranker(ws).desil_encoded(warm)
    pmt.Ranker(ws).rank_encoded(warm)
    jobs: dict[str, dict[str, Any]] = {
        job: {"wall": [], "sys": [], "agree": "equal"}
        for job in ("full job", "score only (part of every job)", "desil only", "Ranker, call 1",
                    "Ranker, calls 2+", "Ranker.desil, calls 2+", "ranking part: full job",
                    "ranking part: desil only")
    }

    def add(job: str, wall: float, sys_s: float, agree: str) -> None:
        r = jobs[job]
        r["wall"].append(wall)
        r["sys"].append(sys_s)
        if agree != "equal":
            r["agree"] = agree

    ref = rank_encoded(enc, ws)
    desil_names = ("welfare", "desil_national", "desil_provincial", "eligible")
    ranker, desil_ranker = pmt.Ranker(ws), pmt.Ranker(ws)
    res, wall, sys_s = _timed(lambda: ranker.rank_encoded(enc))
    add("Ranker, call 1", wall, sys_s, _agree(ref, res, COMPARED))
    del res
    desil_ranker.desil_encoded(enc)
    selected = True
    sc = _scored(enc, ws)
    provinces, group = np.unique(sc.province, return_inverse=True)
    group = group.astype(np.uint8)
    scopes = (sc.welfare, sc.person_weight, group, len(provinces), 10)
    # the jobs take turns, so that a busy machine slows them alike
    for _ in range(repeat):
        res, wall, sys_s = _timed(lambda: rank_encoded(enc, ws))
        add("full job", wall, sys_s, _agree(ref, res, COMPARED))
        del res
        w, wall, sys_s = _timed(lambda: score_encoded(enc, ws))
        add("score only (part of every job)", wall, sys_s,
            "equal" if w.tobytes() == ref.welfare.tobytes() else "DIFFERS: welfare")
        del w
        d, wall, sys_s = _timed(lambda: pmt.Ranker(ws).desil_encoded(enc))
        selected = selected and d.selected
        add("desil only", wall, sys_s, _agree(ref, _DesilView(d), desil_names))
        del d
        res, wall, sys_s = _timed(lambda: ranker.rank_encoded(enc))
        add("Ranker, calls 2+", wall, sys_s, _agree(ref, res, COMPARED))
        del res
        d, wall, sys_s = _timed(lambda: desil_ranker.desil_encoded(enc))
        add("Ranker.desil, calls 2+", wall, sys_s, _agree(ref, _DesilView(d), desil_names))
        del d
        full, wall, sys_s = _timed(lambda: _rank_scopes(*scopes))
        add("ranking part: full job", wall, sys_s, "equal")
        part, wall, sys_s = _timed(lambda: _desil_scopes(*scopes))
        same = (part.desil_national.tobytes() == full.desil_national.tobytes()
                and part.desil_group.tobytes() == full.desil_group.tobytes())
        add("ranking part: desil only", wall, sys_s, "equal" if same else "DIFFERS: desil")
        del full, part
    ranker_bytes = ranker.workspace.nbytes
    return {"n": enc.n, "jobs": jobs, "threads": pmt_peer.threads(),
            "ranker_bytes": ranker_bytes, "peak_rss": status("VmHWM"), "selected": selected}


class _DesilView:
    """A RankResult-shaped view of what Ranker.desil_encoded returns (for the comparison)."""

    def __init__(self, d: Any) -> None:
        self.welfare, self.eligible = d.welfare, d.eligible
        self.desil_national, self.desil_provincial = d.desil_national, d.desil_provincial
        self.registry_cutoffs = d.registry_cutoffs


if __name__ == "__main__":
    sys.exit(main())
