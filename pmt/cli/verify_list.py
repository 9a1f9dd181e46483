"""``pmt verify-list``: the households whose eligibility is least certain, for field checks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress
from ._ops import add_json, add_snapshot, emit_json, rank_input_against_snapshot


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt verify-list`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="households whose eligibility is least certain, for field verification",
        description="Rank INPUT against the adopted snapshot with each household's "
        "probability of being eligible (under its model's residual variance; the weight set "
        "must record them, as pmt calibrate does) and write the least certain first. See "
        "docs/operations.md.",
    )
    p.add_argument("input", metavar="INPUT", help="household file (the registry)")
    add_snapshot(p)
    p.add_argument("--limit", type=int, metavar="N", help="at most N households")
    p.add_argument(
        "--min-uncertainty",
        type=float,
        default=0.0,
        metavar="U",
        help="only households at least this uncertain, 0 to 1 (default %(default)s)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the list (.csv or .parquet)")
    p.add_argument("--id-col", default="hh_id", metavar="COLUMN", help="id column (default hh_id)")
    add_json(p)
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt verify-list``; the exit status."""
    import pmt
    from pmt.io import write_table

    snap, result = rank_input_against_snapshot(args, progress, uncertainty=True)
    listed = pmt.verification_list(result, limit=args.limit, min_uncertainty=args.min_uncertainty)
    meta = {**result.provenance, "snapshot": snap.label}
    with progress.step(f"writing {args.out}"):
        write_table(listed, args.out, meta)
    summary = {
        "households": result.n_households,
        "listed": len(listed),
        "mean_uncertainty": float(listed["uncertainty"].mean()) if len(listed) else None,
    }
    if args.json:
        emit_json(args, progress, summary, provenance=meta, outputs={"--out": args.out})
    else:
        sys.stdout.write(
            f"{len(listed):,} of {result.n_households:,} households listed, least certain first -> "
            f"{args.out}\n"
        )
    return EXIT_OK
