"""``pmt allocate``: draw beneficiaries under a quota or a budget (:func:`pmt.allocate`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress
from ._ops import add_json, add_snapshot, emit_json, rank_input_against_snapshot


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt allocate`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="select beneficiaries under a quota or a budget",
        description="Rank INPUT against the adopted snapshot and select beneficiaries, "
        "poorest first, under a quota of households, people or a budget; nationally or by "
        "provincial quotas. A tie group at the boundary is never split. See "
        "docs/operations.md for the exact rule.",
    )
    p.add_argument("input", metavar="INPUT", help="household file (the registry)")
    add_snapshot(p)
    p.add_argument("--quota", type=float, metavar="Q", help="households, people or budget")
    p.add_argument(
        "--unit",
        choices=["households", "people", "budget"],
        default="households",
        help="what --quota counts (default %(default)s)",
    )
    p.add_argument("--benefit", type=float, metavar="B", help="benefit per household or person")
    p.add_argument(
        "--per",
        choices=["household", "person"],
        default="household",
        help="what --benefit is paid per (default %(default)s)",
    )
    p.add_argument(
        "--by",
        choices=["national", "provincial"],
        default="national",
        help="one national quota, or provincial quotas by largest remainder (default %(default)s)",
    )
    p.add_argument(
        "--share-desil",
        type=int,
        metavar="K",
        help="provincial quotas in proportion to people in national desil <= K "
        "(default: the snapshot's max desil)",
    )
    p.add_argument(
        "--within-desil", type=int, metavar="K", help="draw only from national desil <= K"
    )
    p.add_argument(
        "--ties",
        choices=["exclude", "include", "nearest"],
        default="exclude",
        help="the tie group at the boundary (default %(default)s)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="one row per household, selected")
    p.add_argument("--id-col", default="hh_id", metavar="COLUMN", help="id column (default hh_id)")
    add_json(p)
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt allocate``; the exit status."""
    import pmt
    from pmt.io import write_table

    snap, result = rank_input_against_snapshot(args, progress)
    with progress.step("allocating"):
        a = pmt.allocate(
            result,
            quota=args.quota,
            unit=args.unit,
            benefit=args.benefit,
            per=args.per,
            by=args.by,
            share_desil=args.share_desil,
            within_desil=args.within_desil,
            ties=args.ties,
        )
    meta = {**result.provenance, "snapshot": snap.label, "allocation": a.rule}
    with progress.step(f"writing {args.out}"):
        write_table(a.to_frame(), args.out, meta)
    if args.json:
        emit_json(
            args,
            progress,
            {
                "rule": a.rule,
                "selected": a.n_selected,
                "scopes": a.scopes.reset_index().to_dict("records"),
            },
            provenance=meta,
            outputs={"--out": args.out},
        )
    else:
        sys.stdout.write(f"{a!r}\n\n{a.scopes.to_string()}\n")
    return EXIT_OK
