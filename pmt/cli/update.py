"""``pmt update``: apply a change file to a registry and rank it against a snapshot."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress, check_paths
from ._ops import add_json, add_snapshot, emit_json, snapshot_and_weights, weight_files


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt update`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="apply a change file to a registry and rank it against a snapshot",
        description="Apply CHANGES (the registry's columns plus 'action': add, change or "
        "remove, keyed by id) to REGISTRY, and rank the updated registry against the "
        "adopted snapshot: unchanged households keep their adopted desil, new and changed "
        "ones get the desil the adopted cutoffs give them. See docs/operations.md.",
    )
    p.add_argument("registry", metavar="REGISTRY", help="the registry's household file")
    p.add_argument("changes", metavar="CHANGES", help="the change file (.csv, .parquet, .dta)")
    add_snapshot(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the updated ranking")
    p.add_argument(
        "--households-out",
        metavar="FILE",
        help="also write the updated household table (the next update's REGISTRY)",
    )
    p.add_argument(
        "--rejects",
        metavar="FILE",
        help="set invalid change rows aside in this file instead of failing",
    )
    p.add_argument("--id-col", default="hh_id", metavar="COLUMN", help="id column (default hh_id)")
    p.add_argument(
        "--region-scheme",
        choices=["BPS", "Kemendagri"],
        help="the scheme of the change file's district codes; refused unless it is the "
        "weight set's (default: assume the weight set's)",
    )
    p.add_argument(
        "--action-col",
        default="action",
        metavar="COLUMN",
        help="the change file's action column (default %(default)s)",
    )
    add_json(p)
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt update``; the exit status."""
    from pmt.io import output_kind, read_households, write_tables
    from pmt.operations import update

    for option in ("out", "households_out", "rejects"):
        if getattr(args, option):
            output_kind(getattr(args, option), argument="--" + option.replace("_", "-"))
    check_paths(
        inputs={
            "REGISTRY": args.registry,
            "CHANGES": args.changes,
            **{f"--snapshot {p.name}": p for p in weight_files(args.snapshot)},
        },
        outputs={
            "--out": args.out,
            "--households-out": args.households_out,
            "--rejects": args.rejects,
        },
        weights=args.weights,
    )
    snap, ws = snapshot_and_weights(args, progress)
    with progress.step(f"reading {args.registry} and {args.changes}"):
        registry = read_households(args.registry, id_col=args.id_col)
        changes = read_households(args.changes, id_col=args.id_col)
    with progress.step(f"applying {len(changes):,} changes and ranking against {snap.label!r}"):
        upd = update(
            registry,
            changes,
            ws,
            snap,
            on_invalid="reject" if args.rejects else "raise",
            id_col=args.id_col,
            action_col=args.action_col,
            region_scheme=args.region_scheme,
            allow_other_weights=args.allow_other_weights,
        )
    result = upd.result
    assert result is not None
    provenance = {**result.provenance, "snapshot": snap.label, "snapshot_hash": snap.content_hash}
    tables = {args.out: (result.to_frame(), provenance)}
    if args.households_out:
        tables[args.households_out] = (upd.registry, provenance)
    if args.rejects:
        tables[args.rejects] = (upd.rejects, provenance)
    with progress.step(f"writing {args.out}"):
        write_tables(tables)  # every file renamed only once all are complete
    summary = {
        "households": result.n_households,
        "added": upd.added,
        "changed": upd.changed,
        "removed": upd.removed,
        "rejected": len(upd.rejects),
        "eligible": int(result.eligible.sum()),
    }
    if args.json:
        emit_json(
            args,
            progress,
            summary,
            provenance=provenance,
            outputs={
                "--out": args.out,
                "--households-out": args.households_out,
                "--rejects": args.rejects,
            },
        )
    else:
        sys.stdout.write(
            f"{upd!r}\n{result!r}\nranked against snapshot {snap.label!r} "
            f"({snap.content_hash[:19]}) -> {args.out}\n"
        )
    return EXIT_OK
