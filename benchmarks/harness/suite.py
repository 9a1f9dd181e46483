"""The command-line options the benchmark scripts share, and the sizes x tools loop of the
in-process benchmarks (``bench_rank.py``, ``bench_compute.py``).

Each size's data is made once; each tool then runs in its own child
(:func:`harness.timing.timed`) under the memory guard; after the tools of a
size, each peer's outputs are checked against pmt's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peers

from harness import agree, proc, report
from harness.data import CACHE


def parse_sizes(text: str) -> list[int]:
    """Comma-separated household counts, ``1e6`` notation allowed."""
    out = []
    for part in text.split(","):
        try:
            x = float(part)
            ok = x >= 1 and x == int(x)
        except (ValueError, OverflowError):
            ok = False
        if not ok:
            raise argparse.ArgumentTypeError(f"size {part!r} must be a whole number >= 1")
        out.append(int(x))
    return out


def parse_n(text: str) -> int:
    """One household count."""
    sizes = parse_sizes(text)
    if len(sizes) != 1:
        raise argparse.ArgumentTypeError(f"{text!r}: one number of households")
    return sizes[0]


def parse_overrides(text: str) -> dict[tuple[str, int], int]:
    """``TOOL@SIZE=REPEAT,...`` -> {(tool, size): repeat}."""
    out: dict[tuple[str, int], int] = {}
    for item in filter(None, text.split(",")):
        try:
            lhs, r = item.split("=")
            t, s = lhs.split("@")
            out[(t, parse_sizes(s)[0])] = int(r)
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(
                f"--repeat-override item {item!r}: expected TOOL@SIZE=REPEAT") from None
    return out


def parser(doc: str, *, tools: tuple[str, ...], repeat: int, timeout: float
           ) -> argparse.ArgumentParser:
    """The options every benchmark script takes; the script adds its own."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--tools", default=",".join(tools),
                    help=f"comma-separated, from {','.join(tools)} (pmt is the reference)")
    ap.add_argument("--repeat", type=int, default=repeat, help="timed runs per tool (median)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", default="demo", help="weight set: shipped name or folder")
    ap.add_argument("--cache", type=Path, default=CACHE, help="where the data are cached")
    ap.add_argument("--results", type=Path, default=proc.HERE / "results",
                    help="where the results file goes")
    ap.add_argument("--no-write", action="store_true", help="print only; no results file")
    ap.add_argument("--mem-guard-gb", type=float, default=None,
                    help="kill a tool whose RSS exceeds this (default: 80%% of RAM)")
    ap.add_argument("--timeout", type=float, default=timeout, help="seconds per run")
    return ap


def add_sizes(ap: argparse.ArgumentParser, example: str) -> None:
    """``--sizes`` and ``--repeat-override`` (the in-process benchmarks)."""
    ap.add_argument("--sizes", type=parse_sizes, default=[1_000_000],
                    help="comma-separated household counts, e.g. 1e6,1e7")
    ap.add_argument("--repeat-override", type=parse_overrides, default={},
                    help=f"e.g. '{example}': fewer runs for a slow tool at one size")


@dataclass
class Run:
    """One benchmark run: its command line, start, memory guard and weight-set snapshot."""

    command: str
    guard: int
    weights: str  # the snapshot's folder
    weights_desc: str
    started: dt.datetime = field(default_factory=dt.datetime.now)


@contextlib.contextmanager
def run(script: str, argv: list[str] | None, args: argparse.Namespace, kind: str
        ) -> Iterator[tuple[Run, list[str]]]:
    """Start a run: check ``--tools``, print the command, snapshot the weight set (removed
    at the end). Yields the run and the tools."""
    try:
        tools = peers.check_tools(args.tools, kind)
    except ValueError as exc:
        raise SystemExit(f"--tools: {exc}") from None
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    command = report.command_line(script, argv)
    guard = proc.default_guard(args.mem_guard_gb)
    started = dt.datetime.now()
    print(f"{command}\n{started:%Y-%m-%d %H:%M}; memory guard {guard / proc.GB:.1f} GB per "
          "tool", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"bench_{kind}_weights_") as tmp:
        weights = str(Path(tmp) / "weights")
        desc = proc.call_checked("harness.data:snapshot_weights", name=args.weights,
                                 path=weights)["desc"]
        print("weights: " + desc, flush=True)
        yield Run(command, guard, weights, desc, started), tools


def time_tools(kind: str, tools: list[str], n: int, *, data: Path, ties: Path, run: Run,
               args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each tool's timed child at one size, then the agreement of each with pmt."""
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"bench_{kind}_") as tmp:
        for tool in tools:
            repeat = args.repeat_override.get((tool, n), args.repeat)
            print(f"  {tool:<7} x{repeat} ...", end=" ", flush=True)
            info = proc.call("harness.timing:timed", guard=run.guard, timeout=args.timeout,
                             kind=kind, tool=tool, data=str(data), ties=str(ties),
                             repeat=repeat, outdir=str(Path(tmp) / tool), weights=run.weights)
            info.update(tool=tool, n=n, repeat=repeat)
            if "failed" in info:
                print(f"failed: {info['failed']}", flush=True)
                for line in info["stderr"]:
                    print(f"    | {line}", flush=True)
            else:
                extra = info["peak_rss"] - info["rss_before_job"]
                print(f"median {report.median(info['wall_s']):.3f} s "
                      f"(runs {report.runs(info['wall_s'], '.3f')}), peak "
                      f"{info['peak_rss'] / proc.GB:.2f} GB, extra {extra / proc.GB:.2f} GB "
                      f"({extra / n:.0f} B/hh)", flush=True)
            rows.append(info)
        ref = Path(tmp) / "pmt" if "pmt" in tools else None
        for info in rows:
            if "failed" not in info:
                agree.judge(info, ref, Path(tmp) / info["tool"])
    return rows


def threads_line(rows: list[dict[str, Any]]) -> str:
    """``tool: threads; ...`` from the timed children."""
    seen = {r["tool"]: r["threads"] for r in rows if "threads" in r}
    return "; ".join(f"{k}: {v}" for k, v in seen.items())


def what_lines(kind: str, tools: list[str]) -> list[str]:
    """``## What each tool does`` from the peers' own descriptions."""
    return ["## What each tool does", "",
            *(f"- **{t}**: {peers.get(t).WHAT[kind]}" for t in tools)]
