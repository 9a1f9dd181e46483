"""``pmt snapshot show|validate``: an adopted ranking's content, or its checks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress
from ._ops import add_json, emit_json, print_snapshot, snapshot_summary


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt snapshot`` and its actions ``show`` and ``validate``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="show or validate an adopted ranking (snapshot)",
        description="Show a snapshot folder written by `pmt adopt` (label, date, weight set, "
        "rule, counts and cutoffs), or check its files against their recorded hashes.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="{show,validate}")
    show = actions.add_parser(
        "show",
        help="label, date, weight set, counts per desil, cutoffs",
        description="Print a snapshot: what was adopted, with which weight set, and its counts.",
    )
    validate = actions.add_parser(
        "validate",
        help="'ok' and the content hash, or what is wrong",
        description="Load a snapshot with every check (hashes, file contents) and print 'ok' "
        "and its content hash.",
    )
    for action in (show, validate):
        action.add_argument("target", metavar="FOLDER", help="a snapshot folder")
    add_json(show)
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt snapshot ACTION``; the exit status."""
    import pmt

    snap = pmt.load_snapshot(args.target)
    if args.action == "validate":
        sys.stdout.write(f"ok: {snap!r}\n{snap.content_hash}\n")
        return EXIT_OK
    if args.json:
        emit_json(args, progress, snapshot_summary(snap), outputs={})
    else:
        print_snapshot(snap, sys.stdout)
    return EXIT_OK
