"""Ranking benchmark: pmt.rank on a DataFrame against pandas, polars, DuckDB and numpy.

    python benchmarks/bench_rank.py --sizes 1e6,1e7 [--tools pmt,pandas,polars,duckdb,numpy]
                                    [--repeat 3] [--seed 1] [--profile]

For each size, a synthetic registry (``pmt.synth.registry(n, seed=seed)``) is
made once and cached as Parquet in ``benchmarks/.cache/``. Each tool then runs
in its own child, which loads the file into the tool's form (not timed),
warms up (not timed), and times ``--repeat`` runs of the whole job --
for pmt, validation and encoding included. ``--profile`` also times pmt's
stages. The data, the timed children, the agreement check and the results
file are the harness's (``harness/``); the tools are ``peers/``. Exit status 1
if a tool disagrees with pmt. See ``README.md``.
"""

from __future__ import annotations

import sys
from typing import Any

from harness import agree, data, report, suite, timing
from harness.proc import GB, call, call_checked

TOOLS = ("pmt", "pandas", "polars", "duckdb", "numpy")
HEAD = ["households", "tool", "median s", "CPU s", "runs", "peak RSS GB", "job GB",
        "time / pmt", "peak / pmt", "agreement with pmt"]
PROFILE_TOTAL = "pmt.rank total (for comparison)"


def main(argv: list[str] | None = None) -> int:
    ap = suite.parser(__doc__, tools=TOOLS, repeat=3, timeout=3600.0)
    suite.add_sizes(ap, "pandas@1e7=1")
    ap.add_argument("--profile", action="store_true",
                    help="also time pmt.rank's stages (validation/encoding, scoring, ranking)")
    args = ap.parse_args(argv)

    rows: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    with suite.run(__file__, argv, args, "frame") as (run, tools):
        fp = call_checked("harness.data:registry_fingerprint", seed=args.seed)["fp"]
        ties = data.ties_path(args.cache, args.seed, fp)
        data.ensure(ties, "make_ties", seed=args.seed)
        for n in args.sizes:
            path = data.registry_path(args.cache, n, args.seed, fp)
            print(f"\n== {n:,} households", flush=True)
            data.ensure(path, "make_registry", n=n, seed=args.seed)
            rows += suite.time_tools("frame", tools, n, data=path, ties=ties, run=run,
                                     args=args)
            if args.profile and "pmt" in tools:
                print("  profiling pmt.rank stages ...", end=" ", flush=True)
                prof = call("harness.timing:profile_frame", guard=run.guard,
                            timeout=args.timeout, data=str(path), repeat=args.repeat,
                            weights=run.weights)
                print(prof.get("failed") or "done", flush=True)
                if "failed" not in prof:
                    profiles.append(prof)

    print("\n" + report.table(HEAD, table_rows(rows), left={1, len(HEAD) - 1}))
    for line in agree.banner(rows):
        print(line)
    for prof in profiles:
        print("\n" + profile_title(prof) + "\n"
              + timing.stage_table(prof["stages"], PROFILE_TOTAL))
    if not args.no_write:
        report.write(args.results, "rank", started=run.started, title="Ranking benchmark",
                     command=run.command,
                     machine=report.machine_lines(guard=run.guard, weights=run.weights_desc,
                                                  threads=suite.threads_line(rows)),
                     sections=sections(rows, profiles, tools))
    return 1 if agree.banner(rows) else 0


def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    pmt_of = {r["n"]: r for r in rows if r["tool"] == "pmt" and "failed" not in r}
    for r in rows:
        if "failed" in r:
            out.append([f"{r['n']:,}", r["tool"], "—", "—", str(r["repeat"]), "—", "—", "—",
                        "—", f"**failed: {r['failed']}**"])
            continue
        med = report.median(r["wall_s"])
        base = pmt_of.get(r["n"])
        out.append([f"{r['n']:,}", r["tool"], f"{med:.2f}", f"{report.median(r['cpu_s']):.2f}",
                    str(r["repeat"]), f"{r['peak_rss'] / GB:.2f}",
                    f"{(r['peak_rss'] - r['rss_before_job']) / GB:.2f}",
                    report.fmt(med / report.median(base["wall_s"]) if base else None, ".2f"),
                    report.fmt(r["peak_rss"] / base["peak_rss"] if base else None, ".2f"),
                    agree.cell(r)])
    return out


def profile_title(prof: dict[str, Any]) -> str:
    return (f"pmt.rank stages at {prof['n']:,} households (median of {prof['repeat']}; "
            "sys = kernel CPU time, mostly page faults on fresh memory):")


def sections(rows: list[dict[str, Any]], profiles: list[dict[str, Any]], tools: list[str]
             ) -> list[str]:
    lines = ["## Results", "",
             "Median wall time of the timed runs, and median CPU time (user + sys, all "
             "threads) of the same runs. *peak RSS* is the child process's peak "
             "resident memory during the timed runs (input data included); *job GB* is peak "
             "minus the RSS just before the first timed run (after loading and warm-up), i.e. "
             "the extra memory the job needs. Ratios are tool / pmt at the same size "
             "(> 1: slower or bigger than pmt). Agreement: desil and rank exactly, welfare "
             "bit for bit and share below to 1e-12, on the benchmarked data and on a "
             f"tie-heavy {data.TIES_ROWS:,}-row registry.", "",
             report.table(HEAD, table_rows(rows), left={1, len(HEAD) - 1}, markdown=True),
             "", "## Details", ""]
    head = ["households", "tool", "runs (s)", "CPU s / run", "of which sys", "load s",
            "RSS after load GB", "RSS before job GB", "child max RSS GB",
            "load avg start → end"]
    body = [[f"{r['n']:,}", r["tool"], report.runs(r["wall_s"]),
             f"{report.median(r['cpu_s']):.2f}", f"{report.median(r['sys_s']):.2f}",
             f"{r['form_s']:.2f}", f"{r['rss_after_load'] / GB:.2f}",
             f"{r['rss_before_job'] / GB:.2f}", f"{r['peak_rss_child'] / GB:.2f}",
             f"{r['loadavg_start']:.1f} → {r['loadavg_end']:.1f}"]
            for r in rows if "failed" not in r]
    lines += [report.table(head, body, left={1, len(head) - 1}, markdown=True), "",
              "*child max RSS* includes loading the Parquet file. A load average above the "
              "core count means other processes competed for the CPU during that tool's run.",
              ""]
    for prof in profiles:
        lines += [profile_title(prof), "",
                  timing.stage_table(prof["stages"], PROFILE_TOTAL, markdown=True), ""]
    return [*lines, *suite.what_lines("frame", tools), "",
            "Only pmt validates its input (every column, inside the timed call); the "
            "peers trust the synthetic data. See `benchmarks/README.md`."]


if __name__ == "__main__":
    sys.exit(main())
