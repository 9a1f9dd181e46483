"""``pmt rank``: score and rank a household file with a weight set (:func:`pmt.rank`).

Parquet in and Parquet out are streamed in chunks (:func:`pmt.io.rank_file`);
other formats are read whole. ``--out`` and ``--rejects`` are written together:
both complete before either is renamed onto its final name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import EXIT_NOTHING_RANKED, EXIT_OK, Progress, check_paths, print_summary
from ._json import add_json_option, document, emit, records


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt rank`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="rank a household file (CSV, Parquet or Stata)",
        description="Score every household of INPUT with a weight set, rank them into "
        "national and provincial desil, and write one row per household to "
        "OUTPUT. Parquet in and out are streamed in chunks. See docs/cli.md.",
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        help="household file: .csv, .parquet or Stata .dta (docs/api.md lists the columns)",
    )
    p.add_argument(
        "--weights",
        required=True,
        metavar="NAME|PATH",
        help="shipped name or folder of a weight set",
    )
    p.add_argument("--out", required=True, metavar="OUTPUT", help="output .parquet or .csv")
    p.add_argument(
        "--rejects",
        metavar="FILE",
        help="set invalid rows aside in this file (.csv or .parquet), with the rule "
        "each broke, instead of failing",
    )
    p.add_argument(
        "--cutoffs",
        choices=["registry", "reference"],
        default="registry",
        help="registry: desil are deciles of the input itself (a full-population "
        "registry); reference: desil from the weight set's cutoffs (part of "
        "the population) (default %(default)s)",
    )
    p.add_argument(
        "--classes",
        type=int,
        default=10,
        metavar="N",
        help="number of classes (default %(default)s)",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--max-desil",
        type=int,
        default=None,
        metavar="K",
        help="eligible if national desil <= K (default 4)",
    )
    g.add_argument(
        "--line",
        type=float,
        metavar="Z",
        help="eligible if welfare <= Z instead (0 = at the poverty line)",
    )
    p.add_argument(
        "--weight", metavar="COLUMN", help="survey-weight column multiplied into person weights"
    )
    p.add_argument(
        "--weighting",
        choices=["person", "household"],
        default="person",
        help="desil as shares of people or of households (default %(default)s)",
    )
    p.add_argument(
        "--id-col",
        default="hh_id",
        metavar="COLUMN",
        help="household id column, passed through exactly (default %(default)s)",
    )
    p.add_argument(
        "--region-scheme",
        choices=["BPS", "Kemendagri"],
        help="the scheme of the input's district codes; refused unless it is the "
        "weight set's (default: assume the weight set's)",
    )
    p.add_argument("--national-only", action="store_true", help="print no provincial table")
    add_json_option(p)
    p.add_argument(
        "--chunk-size",
        type=int,
        default=1_000_000,
        metavar="ROWS",
        help="Parquet in and out are streamed in chunks of this many rows "
        "(the result does not depend on it; default %(default)s)",
    )
    from ._dask import add_arguments

    add_arguments(p)  # --engine, --scheduler, --workers
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt rank``; the exit status (3 if every row was rejected)."""
    import pmt
    from pmt.io import output_kind, read_households, write_tables

    from . import _dask

    _dask.check_arguments(args)
    if args.engine == "dask":  # Parquet datasets in and out, on a Dask cluster
        return _dask.run(args, progress)
    out_kind = output_kind(args.out, argument="--out")  # a typo fails before any work
    if args.rejects:
        output_kind(args.rejects, argument="--rejects")
    check_paths(
        inputs={"INPUT": args.input},
        outputs={"--out": args.out, "--rejects": args.rejects},
        weights=args.weights,
    )
    with progress.step(f"loading weight set {args.weights!r}", key="load_weights"):
        ws = pmt.load_weights(args.weights)
    on_invalid = "reject" if args.rejects else "raise"
    options = dict(
        cutoffs=args.cutoffs,
        n=args.classes,
        max_desil=args.max_desil,
        line=args.line,
        weight=args.weight,
        weighting=args.weighting,
        on_invalid=on_invalid,
        id_col=args.id_col,
        region_scheme=args.region_scheme,
    )
    if Path(args.input).suffix.lower() in (".parquet", ".pq") and out_kind == "parquet":
        from pmt.io import rank_file

        with progress.step(
            f"ranking {args.input} in chunks of {args.chunk_size:,} rows", key="rank"
        ) as up:
            result = rank_file(
                args.input,
                ws,
                args.out,
                chunk_size=args.chunk_size,
                rejects=args.rejects,
                progress=up,
                **options,
            )  # type: ignore[arg-type]
    else:
        with progress.step(f"reading {args.input}", key="read"):
            hh = read_households(args.input, id_col=args.id_col)
        with progress.step(f"scoring and ranking {len(hh):,} households", key="rank") as up:
            result = pmt.rank(hh, ws, progress=up, **options)  # type: ignore[arg-type]
        with progress.step(f"writing {args.out}", key="write"):
            tables = {args.out: (result.to_frame(), result.provenance)}
            if args.rejects:
                tables[args.rejects] = (result.rejects, result.provenance)
            write_tables(tables)  # both renamed only once both are complete
    if args.json:
        emit(
            document(
                args,
                summary(result, provinces=not args.national_only),
                progress,
                provenance={**result.provenance, "weights": _weights_info(ws)},
                outputs={"out": args.out, "rejects": args.rejects},
            )
        )
    else:
        print_summary(result, sys.stdout, provinces=not args.national_only)
        sys.stdout.write(
            f"\nranked {result.n_households:,} of {result.n_input:,} rows -> {args.out}"
        )
        if args.rejects:
            sys.stdout.write(f"; rejected {result.n_rejected:,} -> {args.rejects}")
        sys.stdout.write("\n")
    if result.n_households == 0:
        sys.stderr.write(
            f"pmt: error: no household was ranked: all {result.n_input:,} rows "
            f"were rejected; see {args.rejects} (exit status "
            f"{EXIT_NOTHING_RANKED})\n"
        )
        return EXIT_NOTHING_RANKED
    return EXIT_OK


def summary(result: Any, *, provinces: bool = True) -> dict[str, Any]:
    """The ``summary`` of ``pmt rank --json``: counts, rejects by rule, desil tables.

    ``desil``: households, people and share of people per desil, nationally
    (``scope`` ``"national"``) and, unless ``provinces`` is False, per province
    (``scope`` the 2-digit province code).
    """
    rules = result.rejects["rule"].value_counts(sort=False) if len(result.rejects) else {}
    out: dict[str, Any] = {
        "households_input": result.n_input,
        "households_ranked": result.n_households,
        "households_rejected": result.n_rejected,
        "rejected_by_rule": {str(k): int(v) for k, v in dict(rules).items()},
        "households_eligible": int(result.eligible.sum()),
        "eligibility": result.eligibility,
        "cutoff_mode": result.cutoff_mode,
        "desil": [],
    }
    if result.n_households:
        table = result.summary()
        if not provinces:
            table = table.loc[["national"]]
        out["desil"] = records(table.reset_index())
        out["registry_cutoffs_national"] = result.registry_cutoffs.get("national")
    return out


def _weights_info(ws: Any) -> dict[str, Any]:
    """The weight set a command used: id, version, content hash, synthetic, folder."""
    return {
        "id": ws.id,
        "version": ws.manifest.version,
        "content_hash": ws.content_hash,
        "synthetic": ws.manifest.synthetic,
        "folder": str(ws.path) if ws.path is not None else None,
    }
