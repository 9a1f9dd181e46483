"""The ``pmt`` command line: the same functions as the library.

    pmt demo [--households N] [--seed S] [--out FILE]
    pmt rank INPUT --weights NAME|PATH --out OUTPUT [--rejects FILE] [--cutoffs MODE]
             [--max-desil K | --line Z] [--classes N] [--weight COL] [--id-col COL]
    pmt synth registry N --out FILE [--seed S]
    pmt weights list
    pmt weights show NAME|PATH
    pmt weights validate NAME|PATH

An error is one line on stderr and exit status 2 (bad input) or 1 (anything
else); no traceback unless ``PMT_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

__all__ = ["main"]


class Progress:
    """Step-by-step progress on stderr: what runs, then how long it took."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def write(self, text: str, end: str = "\n") -> None:
        if not self.quiet:
            self.stream.write(text + end)
            self.stream.flush()

    @contextmanager
    def step(self, label: str) -> Iterator[Callable[..., None]]:
        """Time a step; the yielded ``update(done, total, phase="")`` shows progress.

        On a terminal the line is redrawn (percent, households per second, phase);
        elsewhere a line is written at most every 10 seconds.
        """
        start = time.perf_counter()
        last = [start]
        previous = [start]  # time of the last update, where a new phase begins
        phase_start: dict[str, float] = {}
        self.write(f"{label} ...", end="" if self.tty else "\n")

        def update(done: int, total: int, phase: str = "") -> None:
            now = time.perf_counter()
            began = phase_start.setdefault(phase, previous[0])
            previous[0] = now
            if self.quiet or (not self.tty and now - last[0] < 10):
                return
            last[0] = now
            rate = done / max(now - began, 1e-9)
            text = (f"{label} ... {phase + ': ' if phase else ''}{100 * done / max(total, 1):5.1f}"
                    f" % ({rate:,.0f} households/s)")
            if self.tty:
                self.stream.write("\r" + text)
                self.stream.flush()
            else:
                self.write("  " + text)

        yield update
        took = time.perf_counter() - start
        if self.tty:
            self.write(f"\r{label} ... done in {took:.1f} s" + " " * 40)
        else:
            self.write(f"  done in {took:.1f} s")


def _print_summary(result: Any, out: TextIO, provinces: bool = True) -> None:
    import numpy as np
    import pandas as pd

    from .regions import province_table

    s = result.summary()
    nat = s.loc["national"]
    out.write(f"{result!r}\n\nNational desil ({result.weighting} weights, "
              f"cutoffs={result.cutoff_mode}):\n")
    table = pd.DataFrame({"households": nat["households"],
                          "people": nat["people"].round().astype("int64"),
                          "share_people_%": (100 * nat["share_people"]).round(2)})
    out.write(table.to_string() + "\n")
    if not provinces:
        return
    names = {f"{c:02d}": p.name for c, p in province_table().items()}
    prov = s.drop(index="national", level="scope")
    wide = prov["households"].unstack("desil")
    wide.columns = [f"d{c}" for c in wide.columns]
    share_poor = prov["share_people"].unstack("desil")
    max_desil = 4
    elig = share_poor.loc[:, [c for c in share_poor.columns if c <= max_desil]]
    cross = result._tally[4]  # people by (province code, national desil)
    present = cross.sum(axis=1) > 0
    in_nat = pd.Series(cross[present, :max_desil].sum(axis=1) / cross[present].sum(axis=1),
                       index=[f"{c:02d}" for c in np.flatnonzero(present).tolist()])
    table = pd.DataFrame({
        "name": [names.get(c, "?") for c in wide.index],
        "households": wide.sum(axis=1),
        f"people_in_national_d1-{max_desil}_%": (100 * in_nat.reindex(wide.index)).round(1),
        f"people_in_provincial_d1-{max_desil}_%": (100 * elig.sum(axis=1)).round(1),
    }, index=wide.index)
    out.write("\nBy province (households; share of people in the bottom "
              f"{max_desil} desil, national and provincial ranking):\n")
    out.write(table.to_string() + "\n")


def _cmd_demo(args: argparse.Namespace, progress: Progress) -> int:
    import pmt

    with progress.step(f"synthesising {args.households:,} households (seed {args.seed})") as up:
        hh = pmt.synth.registry(args.households, seed=args.seed, progress=up)
    with progress.step("loading weight set 'demo'"):
        ws = pmt.load_weights("demo")
    with progress.step("scoring and ranking (national and provincial desil)"):
        result = pmt.rank(hh, ws, cutoffs=args.cutoffs)
    with progress.step(f"writing {args.out}"):
        result.to_parquet(args.out)
    _print_summary(result, sys.stdout)
    sys.stdout.write(f"\nwrote {len(result.welfare):,} rows to {args.out}\n")
    return 0


def _cmd_rank(args: argparse.Namespace, progress: Progress) -> int:
    import pmt
    from pmt.io import read_households, write_table

    with progress.step(f"loading weight set {args.weights!r}"):
        ws = pmt.load_weights(args.weights)
    on_invalid = "reject" if args.rejects else "raise"
    options = dict(cutoffs=args.cutoffs, n=args.classes, max_desil=args.max_desil,
                   line=args.line, weight=args.weight, weighting=args.weighting,
                   on_invalid=on_invalid, id_col=args.id_col)
    parquet = (".parquet", ".pq")
    if Path(args.input).suffix.lower() in parquet and Path(args.out).suffix.lower() in parquet:
        from pmt.stream import rank_file

        with progress.step(f"ranking {args.input} in chunks of {args.chunk_size:,} rows") as up:
            result = rank_file(args.input, ws, args.out, chunk_size=args.chunk_size,
                               rejects=args.rejects, progress=lambda p, d, t: up(d, t, p),
                               **options)  # type: ignore[arg-type]
    else:
        with progress.step(f"reading {args.input}"):
            hh = read_households(args.input)
        with progress.step(f"scoring and ranking {len(hh):,} households"):
            result = pmt.rank(hh, ws, **options)  # type: ignore[arg-type]
        with progress.step(f"writing {args.out}"):
            if Path(args.out).suffix.lower() in parquet:
                result.to_parquet(args.out)
            else:
                write_table(result.to_frame(), args.out)
            if args.rejects:
                write_table(result.rejects, args.rejects, result.provenance)
    _print_summary(result, sys.stdout, provinces=not args.national_only)
    sys.stdout.write(f"\nranked {result.n:,} of {result.n_input:,} rows -> {args.out}")
    if args.rejects:
        sys.stdout.write(f"; rejected {result.n_rejected:,} -> {args.rejects}")
    sys.stdout.write("\n")
    return 0


def _cmd_synth(args: argparse.Namespace, progress: Progress) -> int:
    import pmt
    from pmt.io import write_table

    with progress.step(f"synthesising {args.households:,} households (seed {args.seed})") as up:
        hh = pmt.synth.registry(args.households, seed=args.seed, progress=up)
    with progress.step(f"writing {args.out}"):
        write_table(hh, args.out, {"generator": "pmt.synth.registry", "seed": args.seed,
                                   "households": args.households, "synthetic": True})
    return 0


def _cmd_weights(args: argparse.Namespace, progress: Progress) -> int:
    import pmt

    if args.action == "list":
        for name in pmt.available_weights():
            sys.stdout.write(f"{name}\n")
        return 0
    ws = pmt.load_weights(args.target)
    if args.action == "validate":
        sys.stdout.write(f"ok: {ws!r}\n{ws.content_hash}\n")
        return 0
    m = ws.manifest
    out = sys.stdout
    out.write(f"{ws!r}\n\n")
    out.write(f"name          {m.name}\nversion       {m.version}\ncreated       {m.created}\n")
    out.write(f"synthetic     {m.synthetic}\ndescription   {m.description}\n")
    out.write(f"regions       {m.region_scheme}, vintage {m.region_vintage}\n")
    out.write(f"target        {m.target}\nmodel level   {m.model_level}\n")
    out.write(f"content hash  {ws.content_hash}\nfolder        {ws.path}\n")
    out.write("models        " + ", ".join(f"{k}: {v}" for k, v in ws.levels().items()) + "\n")
    out.write(f"poverty lines {len(ws.poverty_lines)} regions\n")
    out.write(f"cutoffs       {len(ws.cutoffs)} scopes, n={m.cutoff_classes}\n")
    out.write(f"provenance    {m.provenance}\n\n")
    out.write(f"variable spec {m.spec.name} {m.spec.version}: {len(m.spec.variables)} variables, "
              f"{len(m.spec.derived)} derived, {len(m.spec.terms)} terms per model\n")
    for v in m.spec.variables:
        extra = (f"codes {list(v.code_values)}" if v.kind == "categorical"
                 else f"[{v.min:g}, {v.max:g}]" if v.min is not None and v.max is not None
                 else "")
        out.write(f"  {v.name:24s} {v.kind:12s} {v.label}  {extra}\n")
    for d in m.spec.derived:
        out.write(f"  {d.name:24s} {'derived':12s} {d.op}({', '.join(d.args)})\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pmt", description="Proxy Means Test scoring, ranking and "
                                "desil (DTKS / DTSEN style).")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.add_argument("--threads", type=int, default=None,
                   help="numba threads (default: all cores); results do not depend on it")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="synthesise a registry, rank it with 'demo', summarise")
    d.add_argument("--households", type=int, default=1_000_000)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--cutoffs", choices=["registry", "reference"], default="registry")
    d.add_argument("--out", default="pmt-demo-ranked.parquet")

    r = sub.add_parser("rank", help="rank a household file (CSV, Parquet or Stata)")
    r.add_argument("input")
    r.add_argument("--weights", required=True, help="shipped name or folder of a weight set")
    r.add_argument("--out", required=True, help="output .parquet or .csv")
    r.add_argument("--rejects", help="set invalid rows aside in this file instead of failing")
    r.add_argument("--cutoffs", choices=["registry", "reference"], default="registry")
    r.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--max-desil", type=int, default=4, help="eligible if desil <= K (default 4)")
    g.add_argument("--line", type=float, help="eligible if welfare <= Z instead")
    r.add_argument("--weight", help="survey-weight column multiplied into person weights")
    r.add_argument("--weighting", choices=["person", "household"], default="person")
    r.add_argument("--id-col", default="hh_id")
    r.add_argument("--national-only", action="store_true", help="print no provincial table")
    r.add_argument("--chunk-size", type=int, default=1_000_000,
                   help="Parquet in and out are streamed in chunks of this many rows "
                        "(the result does not depend on it)")

    s = sub.add_parser("synth", help="write a synthetic registry")
    s.add_argument("what", choices=["registry"])
    s.add_argument("households", type=int)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True)

    w = sub.add_parser("weights", help="list, show or validate weight sets")
    w.add_argument("action", choices=["list", "show", "validate"])
    w.add_argument("target", nargs="?", help="shipped name or folder")

    from .calibrate import add_cli as add_calibrate
    from .evaluate import add_cli

    add_cli(sub)
    add_calibrate(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pmt`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "weights" and args.action != "list" and not args.target:
        sys.stderr.write("pmt: error: weights show/validate need a NAME or PATH\n")
        return 2
    progress = Progress(quiet=args.quiet)
    try:
        if args.threads is not None:
            import numba

            numba.set_num_threads(args.threads)
        handler = {"demo": _cmd_demo, "rank": _cmd_rank, "synth": _cmd_synth,
                   "weights": _cmd_weights}.get(args.command) or args.handler
        return handler(args, progress)
    except KeyboardInterrupt:
        sys.stderr.write("pmt: interrupted\n")
        return 130
    except BrokenPipeError:  # e.g. `pmt ... | head`
        sys.stderr.close()
        return 141
    except (ValueError, TypeError, OSError) as exc:
        if os.environ.get("PMT_DEBUG"):
            raise
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:8])
        sys.stderr.write(f"pmt: error: {type(exc).__name__}: {detail}\n")
        return 2 if isinstance(exc, ValueError) else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
