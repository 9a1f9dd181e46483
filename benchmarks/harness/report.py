"""What a benchmark prints and writes: one table renderer, the machine, the results file.

A results file is ``benchmarks/results/<kind>_<date>.md`` (``_<time>`` added
when one exists for the day): the command that produced it, the machine
(CPU, RAM, OS, the cost of fresh memory, the git commit of ``pmt/``, the
weight set, library versions and threads), then the benchmark's own sections.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import psutil

from harness.proc import GB, ROOT

LIBRARIES = ("pmt", "numba", "numpy", "pandas", "pyarrow", "polars", "duckdb")


def fmt(x: float | None, spec: str) -> str:
    """``x`` formatted, or a dash for a missing value."""
    return "—" if x is None else format(x, spec)


def runs(xs: Iterable[float], spec: str = ".2f") -> str:
    """Every run's figure, comma-separated."""
    return ", ".join(format(x, spec) for x in xs)


def median(xs: Iterable[float]) -> float:
    return statistics.median(list(xs))


def table(head: Sequence[str], body: Sequence[Sequence[str]], *, left: Collection[int],
          markdown: bool = False) -> str:
    """A table as aligned text for the terminal, or as Markdown for a results file.

    ``left``: the columns aligned left (the others right). In text the last
    column is not padded, so a long verdict does not widen the table.
    """
    if markdown:
        rule = "|" + "|".join("---" if i in left else "---:" for i in range(len(head))) + "|"
        return "\n".join(["| " + " | ".join(head) + " |", rule,
                          *("| " + " | ".join(b) + " |" for b in body)])
    widths = [max([len(h), *(len(b[i]) for b in body)]) for i, h in enumerate(head)]
    widths[-1] = len(head[-1])

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    first = line(head)
    return "\n".join([first, "-" * len(first), *(line(b) for b in body)])


# --------------------------------------------------------------------------- the machine

def fresh_memory_cost() -> str:
    """Time to allocate and fill 12 new 80 MB arrays (a 10 M-household float64 column each).

    Large arrays come straight from the kernel, so this is the price of page
    faults, which every large temporary pays; on a VM it can be high and vary.
    """
    import numpy as np

    times = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(12):
            a = np.ones(10_000_000)
            del a
        times.append((time.perf_counter() - t) / (12 * 80e6 / GB))
    return f"{min(times):.2f}–{max(times):.2f} s per GiB"


def _git() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "pmt",
                                "weights"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (f" with uncommitted changes to {len(dirty)} files in pmt/ or weights/"
                   if dirty else " (clean pmt/ and weights/)")


def library_versions() -> str:
    """Installed versions of pmt and the peers' libraries (without importing them)."""
    out = []
    for name in LIBRARIES:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(out)


def machine_lines(*, guard: int, weights: str, threads: str) -> list[str]:
    """The ``## Machine`` section: hardware, software, the weight set and thread counts."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ram = psutil.virtual_memory().total
    return ["## Machine", "",
            f"- CPU: {cpu}, {os.cpu_count()} logical ({usable} usable)",
            f"- RAM: {ram / GB:.1f} GiB; memory guard per tool {guard / GB:.1f} GB",
            f"- OS: {platform.platform()}; Python {platform.python_version()}",
            f"- Fresh memory: allocating and filling new 80 MB arrays costs "
            f"{fresh_memory_cost()} (3 tries); large temporaries pay this in page faults, "
            "the *sys* CPU time",
            f"- pmt source: git {_git()}",
            f"- Weight set: {weights} (one copy, read by every tool)",
            f"- Libraries: {library_versions()}",
            f"- Threads: {threads}"]


# --------------------------------------------------------------------------- the results file

def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command that ran, as typed from the repository root."""
    return "python " + shlex.join([os.path.relpath(script, ROOT),
                                   *(sys.argv[1:] if argv is None else argv)])


def write(folder: Path, kind: str, *, started: dt.datetime, title: str, command: str,
          machine: list[str], sections: list[str]) -> Path:
    """Write ``<folder>/<kind>_<date>.md``: title, command, machine, then ``sections``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}_{started:%Y-%m-%d}.md"
    if path.exists():
        path = folder / f"{kind}_{started:%Y-%m-%d_%H%M%S}.md"
    lines = [f"# {title}, {started:%Y-%m-%d %H:%M}", "",
             "Produced by (from the repository root):", "", "```", command, "```", "",
             *machine, "", *sections]
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"\nwritten {os.path.relpath(path, Path.cwd())}")
    return path
