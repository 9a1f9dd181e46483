"""``pmt demo``: synthesise a registry, rank it with the shipped ``demo`` weight set, summarise."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress, check_paths, print_summary


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt demo`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="synthesise a registry, rank it with 'demo', summarise",
        description="Synthesise a registry (pmt.synth.registry), rank it with the shipped "
        "synthetic 'demo' weight set, print the national desil table and one row "
        "per province, and write the ranked households to FILE.",
    )
    p.add_argument(
        "--households",
        type=int,
        default=1_000_000,
        metavar="N",
        help="households to synthesise (default %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=1,
        metavar="S",
        help="seed of the synthetic registry (default %(default)s)",
    )
    p.add_argument(
        "--cutoffs",
        choices=["registry", "reference"],
        default="registry",
        help="desil from the registry itself, or from the weight set's reference "
        "cutoffs (default %(default)s)",
    )
    p.add_argument(
        "--out",
        default="pmt-demo-ranked.parquet",
        metavar="FILE",
        help="ranked households, .parquet or .csv (default %(default)s)",
    )
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt demo``; the exit status."""
    import pmt
    from pmt.io import output_kind
    from pmt.synth import registry

    output_kind(args.out, argument="--out")
    check_paths(inputs={}, outputs={"--out": args.out})
    with progress.step(f"synthesising {args.households:,} households (seed {args.seed})") as up:
        hh = registry(args.households, seed=args.seed, progress=up)
    with progress.step("loading weight set 'demo'"):
        ws = pmt.load_weights("demo")
    with progress.step("scoring and ranking (national and provincial desil)") as up:
        result = pmt.rank(hh, ws, cutoffs=args.cutoffs, progress=up)
    with progress.step(f"writing {args.out}"):
        result.to_parquet(args.out)
    print_summary(result, sys.stdout)
    sys.stdout.write(f"\nwrote {len(result.welfare):,} rows to {args.out}\n")
    return EXIT_OK
