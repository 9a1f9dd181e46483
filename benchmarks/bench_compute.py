"""Compute-only ranking benchmark: encoded arrays in memory -> welfare, desil, rank, share.

    python benchmarks/bench_compute.py --sizes 1e6,1e7,3e7 --repeat 3
                                       [--tools pmt,numba,numpy,pandas,polars,duckdb]
                                       [--repeat-override pandas@3e7=1] [--no-write]

What ``bench_rank.py`` times end to end (validation and encoding included),
this times without them: every tool starts from the same encoded arrays
(``pmt.encode.Encoded``'s codes, numeric terms, cell and person weight, plus
the per-cell table) already in memory and computes welfare and the national
and provincial desil, rank and share below. A floor of the machine is
measured in its own child: one read of all input bytes (memory bandwidth)
plus ``np.sort`` of the n welfare keys. The data, the timed children, the
agreement check and the results file are the harness's (``harness/``); the
tools are ``peers/``. Exit status 1 if a tool disagrees with pmt. See
``README.md``.
"""

from __future__ import annotations

import sys
from typing import Any

from harness import agree, data, report, suite
from harness.proc import GB, call, call_checked

TOOLS = ("pmt", "numba", "numpy", "pandas", "polars", "duckdb")
TARGET_N = 30_000_000  # the registry size the memory estimates are scaled to
BUDGET_PER_HH = 32  # pmt's allowance of extra bytes per household beyond its outputs
HEAD = ["households", "tool", "median s", "CPU s", "runs", "time / pmt", "time / floor",
        "extra GB", "extra B/hh", "agreement with pmt"]


def main(argv: list[str] | None = None) -> int:
    ap = suite.parser(__doc__, tools=TOOLS, repeat=3, timeout=3600.0)
    suite.add_sizes(ap, "pandas@3e7=1,duckdb@3e7=1")
    ap.add_argument("--no-floor", action="store_true", help="skip the machine floor")
    args = ap.parse_args(argv)

    with suite.run(__file__, argv, args, "compute") as (run, tools):
        fp = call_checked("harness.data:encoded_fingerprint", seed=args.seed,
                          weights=run.weights)["fp"]
        print(f"data fingerprint {fp}", flush=True)
        ties = data.encoded_ties_dir(args.cache, args.seed, fp)
        data.ensure(ties, "make_encoded_ties", seed=args.seed, weights=run.weights)
        rows: list[dict[str, Any]] = []
        floors: dict[int, dict[str, Any]] = {}
        for n in args.sizes:
            folder = data.encoded_dir(args.cache, n, args.seed, fp)
            print(f"\n== {n:,} households", flush=True)
            data.ensure(folder, "make_encoded", n=n, seed=args.seed, weights=run.weights)
            if not args.no_floor:
                print("  floor   ...", end=" ", flush=True)
                floors[n] = fl = call("harness.timing:floor", guard=run.guard,
                                      timeout=args.timeout, data=str(folder), repeat=3,
                                      weights=run.weights)
                print(fl.get("failed") or f"{fl['read_s'] + fl['sort_s']:.3f} s = "
                      + floor_text(fl), flush=True)
            rows += suite.time_tools("compute", tools, n, data=folder, ties=ties, run=run,
                                     args=args)

    print("\n" + report.table(HEAD, table_rows(rows, floors), left={1, len(HEAD) - 1}))
    print("\n".join(budget_lines(rows)))
    est = estimate_rows(rows, TARGET_N)
    if est:
        print(f"\nestimated at {TARGET_N:,} households (linear in n from the largest size run):")
        print(report.table(EST_HEAD, est, left={0}))
    for line in agree.banner(rows):
        print(line)
    if not args.no_write:
        report.write(args.results, "compute", started=run.started,
                     title="Compute-only ranking benchmark", command=run.command,
                     machine=report.machine_lines(
                         guard=run.guard, threads=suite.threads_line(rows),
                         weights=f"{run.weights_desc}; encoded data fingerprint {fp}"),
                     sections=sections(rows, floors, tools))
    return 1 if agree.banner(rows) else 0


# --------------------------------------------------------------------------- the tables

def floor_text(fl: dict[str, Any]) -> str:
    return (f"read inputs once {fl['read_s']:.3f} s ({fl['input_bytes'] / 1e9 / fl['read_s']:.1f}"
            f" GB/s over {fl['input_bytes'] / 1e9:.2f} GB) + np.sort of welfare "
            f"{fl['sort_s']:.3f} s")


def table_rows(rows: list[dict[str, Any]], floors: dict[int, dict[str, Any]]
               ) -> list[list[str]]:
    out = []
    pmt_of = {r["n"]: r for r in rows if r["tool"] == "pmt" and "failed" not in r}
    for n in sorted({r["n"] for r in rows} | set(floors)):
        fl = floors.get(n)
        floor_s = fl["read_s"] + fl["sort_s"] if fl is not None and "failed" not in fl else None
        base = report.median(pmt_of[n]["wall_s"]) if n in pmt_of else None
        for r in (r for r in rows if r["n"] == n):
            if "failed" in r:
                out.append([f"{n:,}", r["tool"], "—", "—", str(r["repeat"]), "—", "—", "—", "—",
                            f"**failed: {r['failed']}**"])
                continue
            med = report.median(r["wall_s"])
            extra = r["peak_rss"] - r["rss_before_job"]
            out.append([f"{n:,}", r["tool"], f"{med:.3f}", f"{report.median(r['cpu_s']):.2f}",
                        str(r["repeat"]), report.fmt(med / base if base else None, ".2f"),
                        report.fmt(med / floor_s if floor_s else None, ".1f"),
                        f"{extra / GB:.2f}", f"{extra / n:.0f}", agree.cell(r)])
        if fl is not None and floor_s is None:
            out.append([f"{n:,}", "floor", "—", "—", "3", "—", "—", "—", "—",
                        f"failed: {fl['failed']}"])
        elif fl is not None and floor_s is not None:
            out.append([f"{n:,}", "floor", f"{floor_s:.3f}", "—", "3",
                        report.fmt(floor_s / base if base else None, ".2f"), "1.0", "—", "—",
                        floor_text(fl)])
    return out


def budget_lines(rows: list[dict[str, Any]]) -> list[str]:
    """pmt's extra memory against its budget: its outputs + 32 bytes per household."""
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


EST_HEAD = ["tool", "from households", "job extra GB", "child peak GB"]


def estimate_rows(rows: list[dict[str, Any]], target: int) -> list[list[str]]:
    """Peak RSS and job memory at ``target`` households per tool, linear in n from its
    largest size below ``target``: the RSS before reading the data (interpreter, libraries,
    JIT) is fixed; the data (arrays + the tool's form) and the job's extra memory scale."""
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if "failed" not in r and r["n"] < target and r["n"] >= best.get(r["tool"], {"n": 0})["n"]:
            best[r["tool"]] = r
    out = []
    for tool, r in best.items():
        scale = target / r["n"]
        loaded = max(r["rss_after_load"] - r["rss_start"], r["input_bytes"])  # RSS undercounts
        job = r["peak_rss"] - r["rss_before_job"]
        peak_job = r["rss_before_job"] + (loaded + job) * (scale - 1)
        peak_load = r["rss_start"] + (r["max_rss_after_load"] - r["rss_start"]) * scale
        out.append([tool, f"{r['n']:,}", f"{job * scale / GB:.1f}",
                    f"{max(peak_job, peak_load) / GB:.1f}"])
    return out


def sections(rows: list[dict[str, Any]], floors: dict[int, dict[str, Any]], tools: list[str]
             ) -> list[str]:
    lines = ["## Results", "",
             "Every tool starts from the same encoded arrays in memory (codes, numeric terms, "
             "cell, person weight; per-cell model row and log poverty line) and computes "
             "welfare and national and provincial desil, rank and share below. *median s* is "
             "the median wall time of the timed runs, *CPU s* the median user + sys time over "
             "all threads. *extra* is the peak RSS during the timed runs minus the RSS just "
             "before them (inputs loaded, warm-up done): the memory the job needs. Ratios "
             "> 1 are slower than pmt or than the floor. *floor*: one read of all input bytes "
             "(memory bandwidth) plus `np.sort` of the n welfare keys, measured in the same "
             "run. Agreement: desil and rank exactly, welfare bit for bit, share below to "
             f"1e-12, on the benchmarked data and on a tie-heavy {data.TIES_ROWS:,}-household "
             "set.", "",
             report.table(HEAD, table_rows(rows, floors), left={1, len(HEAD) - 1},
                          markdown=True), "",
             *(f"- {x}" for x in budget_lines(rows))]
    est = estimate_rows(rows, TARGET_N)
    if est:
        lines += ["", f"### Memory estimated at {TARGET_N:,} households", "",
                  "Linear in n from the largest size run: the RSS before reading the data is "
                  "fixed (interpreter, libraries, JIT); the data (arrays and the tool's form) "
                  "and the job's extra memory scale with n. *child peak* is the larger of the "
                  "estimated peak during the timed runs and during loading.", "",
                  report.table(EST_HEAD, est, left={0}, markdown=True)]
    head = ["households", "tool", "runs (s)", "CPU s / run", "of which sys", "read s",
            "form s", "RSS after load GB", "RSS before job GB", "peak RSS GB",
            "load avg start → end"]
    body = [[f"{r['n']:,}", r["tool"], report.runs(r["wall_s"], ".3f"),
             f"{report.median(r['cpu_s']):.2f}", f"{report.median(r['sys_s']):.2f}",
             f"{r['read_s']:.2f}", f"{r['form_s']:.2f}", f"{r['rss_after_load'] / GB:.2f}",
             f"{r['rss_before_job'] / GB:.2f}", f"{r['peak_rss'] / GB:.2f}",
             f"{r['loadavg_start']:.1f} → {r['loadavg_end']:.1f}"]
            for r in rows if "failed" not in r]
    lines += ["", "## Details", "", report.table(head, body, left={1, len(head) - 1},
                                                 markdown=True), "",
              "*read s*: reading the cached `.npy` files into RAM; *form s*: building the "
              "tool's in-memory form from the arrays (both untimed). A load average above the "
              "core count means other processes competed for the CPU.", ""]
    for n, fl in sorted(floors.items()):
        if "failed" not in fl:
            reads = "; ".join(f"{k} {report.runs(v, '.3f')}" for k, v in fl["read_runs"].items())
            lines += [f"Floor at {n:,}: {floor_text(fl)}; read by {fl['read_how']} (runs: "
                      f"{reads}); sort runs {report.runs(fl['sort_runs'], '.3f')}.", ""]
    return [*lines, *suite.what_lines("compute", tools), "",
            "No tool validates anything here (the arrays are already encoded); see "
            "`benchmarks/README.md`."]


if __name__ == "__main__":
    sys.exit(main())
