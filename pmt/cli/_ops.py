"""What the registry-operation commands share: the snapshot and its weight set, ``--json``.

Used by ``pmt adopt``, ``pmt snapshot``, ``pmt update``, ``pmt transitions``,
``pmt allocate`` and ``pmt verify-list`` (:mod:`pmt.operations`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import Progress
from ._json import add_json_option, document, emit


def add_json(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` (:func:`pmt.cli._json.add_json_option`)."""
    add_json_option(parser)


def add_snapshot(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Add ``--snapshot`` and ``--weights`` (default: the snapshot's weight set, by name)."""
    parser.add_argument(
        "--snapshot",
        required=required,
        metavar="FOLDER",
        help="an adopted ranking (the folder `pmt adopt` wrote)",
    )
    parser.add_argument(
        "--weights",
        metavar="NAME|PATH",
        help="shipped name or folder of the weight set the snapshot was adopted with "
        "(default: the snapshot's weight set, by its shipped name)",
    )
    parser.add_argument(
        "--allow-other-weights",
        action="store_true",
        help="place households even if --weights is not the snapshot's weight set",
    )


def snapshot_and_weights(args: argparse.Namespace, progress: Progress) -> tuple[Any, Any]:
    """Load ``--snapshot`` and its weight set (``--weights``, or the snapshot's by name)."""
    import pmt

    with progress.step(f"loading snapshot {args.snapshot}"):
        snap = pmt.load_snapshot(args.snapshot)
    target = args.weights or snap.weights_id.partition("@")[0]
    with progress.step(f"loading weight set {target!r}"):
        ws = pmt.load_weights(target)
    snap.check_weights(ws, allow_other_weights=args.allow_other_weights)
    return snap, ws


def rank_input_against_snapshot(
    args: argparse.Namespace, progress: Progress, *, uncertainty: bool = False
) -> tuple[Any, Any]:
    """Check ``INPUT`` and ``--out``, then rank ``INPUT`` against ``--snapshot``.

    The part ``pmt allocate`` and ``pmt verify-list`` share: the output's kind
    and paths are checked before any work, the snapshot and its weight set are
    loaded, and the households are placed with the snapshot's cutoffs.
    Returns ``(snapshot, RankResult)``.
    """
    import pmt
    from pmt.io import output_kind, read_households

    from ._common import check_paths

    output_kind(args.out, argument="--out")
    check_paths(
        inputs={
            "INPUT": args.input,
            **{f"--snapshot {p.name}": p for p in weight_files(args.snapshot)},
        },
        outputs={"--out": args.out},
        weights=args.weights,
    )
    snap, ws = snapshot_and_weights(args, progress)
    with progress.step(f"reading {args.input}"):
        hh = read_households(args.input, id_col=args.id_col)
    label = f"ranking {len(hh):,} households against {snap.label!r}"
    with progress.step(label + (" with uncertainty" if uncertainty else "")):
        result = pmt.rank(
            hh,
            ws,
            cutoffs=snap,
            id_col=args.id_col,
            allow_other_weights=args.allow_other_weights,
            uncertainty=uncertainty,
        )
    return snap, result


def weight_files(target: str | None) -> list[Path]:
    """The files of a weight set given as a folder (inputs that no output may overwrite)."""
    if not target:
        return []
    folder = Path(target)
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def emit_json(
    args: argparse.Namespace,
    progress: Progress,
    summary: Mapping[str, Any],
    *,
    provenance: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
) -> None:
    """Print the one ``--json`` document of the command (:func:`pmt.cli._json.document`)."""
    emit(document(args, summary, progress, provenance=provenance, outputs=outputs))


def snapshot_summary(snap: Any) -> dict[str, Any]:
    """A snapshot as JSON-ready data (``pmt snapshot show --json``, ``pmt adopt --json``)."""
    m = snap.manifest
    nat = snap.counts.loc["national"] if len(snap.counts) else None
    return {
        "label": m.label,
        "date": m.date.isoformat(),
        "content_hash": snap.content_hash,
        "weights_id": m.weights_id,
        "weights_hash": m.weights_hash,
        "n_classes": m.n_classes,
        "cutoff_mode": m.cutoff_mode,
        "eligibility": snap.eligibility,
        "households": m.households,
        "people": m.people,
        "provinces": sorted(s for s in snap.cutoffs if s != "national"),
        "national_cutoffs": snap.cutoffs.get("national", []),
        "national_households_by_desil": [] if nat is None else nat["households"].tolist(),
    }


def print_snapshot(snap: Any, out: Any) -> None:
    """A snapshot as text."""
    m = snap.manifest
    out.write(f"{snap!r}\n\n")
    out.write(f"label         {m.label}\ndate          {m.date}\n")
    out.write(f"content hash  {snap.content_hash}\nfolder        {snap.path}\n")
    out.write(f"weights       {m.weights_id} {m.weights_hash}\n")
    out.write(f"cut           cutoffs={m.cutoff_mode}, n={m.n_classes}, {m.weighting} weights\n")
    out.write(f"eligible      {snap.eligibility}\n")
    out.write(f"households    {m.households:,} ({m.rejected:,} rejected), people {m.people:,.0f}\n")
    nat = snap.summary().loc["national"]
    out.write("\nNational desil as adopted:\n")
    table = nat.assign(share_people_pct=(100 * nat["share_people"]).round(2)).drop(
        columns="share_people"
    )
    out.write(table.to_string() + "\n")
    cut = ", ".join(f"{c:.4f}" for c in snap.cutoffs["national"])
    out.write(f"\nNational cutoffs c1..c{m.n_classes - 1}: {cut}\n")
