"""``pmt synth registry N --out FILE``: write a synthetic registry (:func:`pmt.synth.registry`)."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_OK, Progress, check_paths


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt synth`` and its one generator, ``registry``, to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="write a synthetic registry",
        description="Write synthetic data: `pmt synth registry N --out FILE` writes a "
        "registry of N synthetic households (pmt.synth.registry).",
    )
    what = p.add_subparsers(dest="what", required=True, metavar="{registry}")
    r = what.add_parser(
        "registry",
        help="a synthetic registry of N households",
        description="Write a synthetic registry of N households (pmt.synth.registry) to a "
        ".parquet or .csv file; the same N and seed give the same file.",
    )
    r.add_argument("households", type=int, metavar="N", help="number of households")
    r.add_argument(
        "--seed", type=int, default=1, metavar="S", help="random seed (default %(default)s)"
    )
    r.add_argument("--out", required=True, metavar="FILE", help="output .parquet or .csv")
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt synth registry``; the exit status."""
    from pmt.io import output_kind, write_table
    from pmt.synth import registry

    output_kind(args.out, argument="--out")
    check_paths(inputs={}, outputs={"--out": args.out})
    with progress.step(f"synthesising {args.households:,} households (seed {args.seed})") as up:
        hh = registry(args.households, seed=args.seed, progress=up)
    with progress.step(f"writing {args.out}"):
        write_table(
            hh,
            args.out,
            {
                "generator": "pmt.synth.registry",
                "seed": args.seed,
                "households": args.households,
                "synthetic": True,
            },
        )
    return EXIT_OK
