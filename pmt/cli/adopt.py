"""``pmt adopt``: rank a registry and adopt the ranking as a snapshot (:func:`pmt.adopt`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress, check_paths
from ._ops import add_json, emit_json, print_snapshot, snapshot_summary


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt adopt`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="rank a registry and adopt the ranking as a snapshot",
        description="Rank every household of INPUT with a weight set and save the ranking's "
        "cutoffs per scope, weight set, eligibility rule and counts as a snapshot folder "
        "(hashed, tamper-evident). Later households are placed against it with `pmt update`. "
        "See docs/operations.md.",
    )
    p.add_argument("input", metavar="INPUT", help="household file: .csv, .parquet or .dta")
    p.add_argument(
        "--weights",
        required=True,
        metavar="NAME|PATH",
        help="shipped name or folder of a weight set",
    )
    p.add_argument("--label", required=True, help="the round's label, e.g. 2026-S1")
    p.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the adoption date")
    p.add_argument("--out", required=True, metavar="FOLDER", help="the snapshot folder to write")
    p.add_argument("--ranked", metavar="FILE", help="also write the ranking (.parquet or .csv)")
    p.add_argument(
        "--cutoffs",
        choices=["registry", "reference"],
        default="registry",
        help="registry: desil of the input itself; reference: the weight set's cutoffs "
        "(default %(default)s)",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--max-desil", type=int, metavar="K", help="eligible if national desil <= K (default 4)"
    )
    g.add_argument("--line", type=float, metavar="Z", help="eligible if welfare <= Z instead")
    p.add_argument(
        "--id-col",
        default="hh_id",
        metavar="COLUMN",
        help="household id column (default %(default)s)",
    )
    p.add_argument("--description", default="", help="free text kept in the snapshot")
    add_json(p)
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt adopt``; the exit status."""
    import pmt
    from pmt.io import output_kind, read_households, write_table

    if args.ranked:
        output_kind(args.ranked, argument="--ranked")
    check_paths(
        inputs={"INPUT": args.input},
        outputs={"--ranked": args.ranked},
        weights=args.weights,
        folders={"--out": args.out},
    )
    with progress.step(f"loading weight set {args.weights!r}"):
        ws = pmt.load_weights(args.weights)
    with progress.step(f"reading {args.input}"):
        hh = read_households(args.input, id_col=args.id_col)
    with progress.step(f"scoring and ranking {len(hh):,} households"):
        result = pmt.rank(
            hh,
            ws,
            cutoffs=args.cutoffs,
            max_desil=args.max_desil,
            line=args.line,
            id_col=args.id_col,
        )
    with progress.step(f"adopting as {args.label!r} -> {args.out}"):
        snap = pmt.adopt(
            result,
            label=args.label,
            date=args.date,
            cutoffs=ws if args.cutoffs == "reference" else None,
            description=args.description,
        ).save(args.out)
    if args.ranked:
        with progress.step(f"writing {args.ranked}"):
            write_table(result.to_frame(), args.ranked, result.provenance)
    if args.json:
        emit_json(
            args,
            progress,
            snapshot_summary(snap),
            provenance=result.provenance,
            outputs={"--out": args.out, "--ranked": args.ranked},
        )
    else:
        print_snapshot(snap, sys.stdout)
    return EXIT_OK
