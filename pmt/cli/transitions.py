"""``pmt transitions``: who moved between two household tables, and why."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress, check_paths
from ._ops import add_json, add_snapshot, emit_json, snapshot_and_weights, weight_files


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt transitions`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="households whose desil or eligibility changed between two registries",
        description="Rank BEFORE and AFTER (household tables) against the adopted snapshot "
        "and list every household whose desil or eligibility changed, or that was added or "
        "removed, with its welfare change split into the contributions of the variables "
        "that changed; print the transition matrix. See docs/operations.md.",
    )
    p.add_argument("before", metavar="BEFORE", help="household file before (e.g. the adopted)")
    p.add_argument("after", metavar="AFTER", help="household file after (e.g. the update's)")
    add_snapshot(p)
    p.add_argument("--out", metavar="FILE", help="write the movers (.csv or .parquet)")
    p.add_argument("--contributions", metavar="FILE", help="write each mover's term contributions")
    p.add_argument("--matrix", metavar="FILE", help="write the transition matrix")
    p.add_argument("--id-col", default="hh_id", metavar="COLUMN", help="id column (default hh_id)")
    add_json(p)
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt transitions``; the exit status."""
    import pmt
    from pmt.io import output_kind, read_households, write_tables

    outs = {"--out": args.out, "--contributions": args.contributions, "--matrix": args.matrix}
    for option, path in outs.items():
        if path:
            output_kind(path, argument=option)
    check_paths(
        inputs={
            "BEFORE": args.before,
            "AFTER": args.after,
            **{f"--snapshot {p.name}": p for p in weight_files(args.snapshot)},
        },
        outputs=outs,
        weights=args.weights,
    )
    snap, ws = snapshot_and_weights(args, progress)
    with progress.step(f"reading {args.before} and {args.after}"):
        before_hh = read_households(args.before, id_col=args.id_col)
        after_hh = read_households(args.after, id_col=args.id_col)
    kw = dict(cutoffs=snap, id_col=args.id_col, allow_other_weights=args.allow_other_weights)
    with progress.step(f"ranking both against {snap.label!r}"):
        before = pmt.rank(before_hh, ws, **kw)  # type: ignore[arg-type]
        after = pmt.rank(after_hh, ws, **kw)  # type: ignore[arg-type]
    with progress.step("comparing"):
        tr = pmt.transitions(
            before,
            after,
            weights=ws,
            before_households=before_hh,
            after_households=after_hh,
            id_col=args.id_col,
        )
    tables = {}
    meta = {"snapshot": snap.label, "snapshot_hash": snap.content_hash, "weights_id": ws.id}
    if args.out:
        tables[args.out] = (tr.table.rename_axis(args.id_col).reset_index(), meta)
    if args.contributions:
        tables[args.contributions] = (tr.contributions, meta)
    if args.matrix:
        tables[args.matrix] = (tr.matrix.reset_index(), meta)
    if tables:
        with progress.step("writing"):
            write_tables(tables)
    t = tr.table
    summary = {
        "moved": int((t["status"] == "moved").sum()),
        "added": int((t["status"] == "added").sum()),
        "removed": int((t["status"] == "removed").sum()),
        "eligibility_changed": int((t["eligible_before"] != t["eligible_after"]).sum()),
        "matrix": {
            str(r): {str(c): int(v) for c, v in row.items()} for r, row in tr.matrix.iterrows()
        },
    }
    if args.json:
        emit_json(args, progress, summary, provenance=meta, outputs=outs)
    else:
        sys.stdout.write(f"{tr!r}\n\nNational desil before (rows) and after (columns):\n")
        sys.stdout.write(tr.matrix.to_string() + "\n")
    return EXIT_OK
