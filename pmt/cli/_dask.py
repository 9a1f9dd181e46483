"""``pmt rank --engine dask``: rank a Parquet dataset on a Dask cluster (:func:`pmt.dask.rank`).

INPUT is a Parquet file or a folder of them (optionally hive-partitioned, such
as ``province=31/``); ``--out`` and ``--rejects`` are written as Parquet
datasets (folders), each renamed onto its name only when complete. The
cluster is an existing one (``--scheduler ADDRESS``) or a ``LocalCluster`` of
``--workers N`` processes on this machine.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ._common import EXIT_NOTHING_RANKED, EXIT_OK, Progress, check_paths, print_summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The Dask options of ``pmt rank``."""
    p.add_argument(
        "--engine",
        choices=["memory", "dask"],
        default="memory",
        help="memory: this process (Parquet streamed in chunks); dask: a Dask cluster, "
        "INPUT and --out Parquet datasets (folders) (default %(default)s)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: the address of a running Dask scheduler (e.g. tcp://host:8786)",
    )
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --engine dask: start a local cluster of N worker processes "
        "(default: one per core)",
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse Dask options without ``--engine dask``, and a non-positive ``--workers``."""
    from ..errors import ArgumentError

    if args.engine != "dask" and (args.scheduler or args.workers is not None):
        raise ArgumentError(
            "--scheduler and --workers need --engine dask. Fix: add --engine dask.",
            argument="--engine",
        )
    if args.engine == "dask" and getattr(args, "json", False):
        raise ArgumentError(
            "--json is not available with --engine dask yet. Fix: drop --json; the "
            "provenance is in the output's Parquet metadata (key pmt).",
            argument="--json",
        )
    if args.workers is not None and args.workers < 1:
        raise ArgumentError(
            f"--workers must be at least 1; got {args.workers}.", argument="--workers"
        )


def _client(args: argparse.Namespace) -> Any:
    """A connected ``distributed.Client`` and, for a local cluster, the cluster (closed later)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError('pmt rank --engine dask needs Dask: pip install "pmt[dask]"') from None
    if args.scheduler:
        return Client(args.scheduler), None
    # the local scheduler runs in this process: its P2P shuffle logs each shuffle's start and
    # end at WARNING level, which is routine here, not a warning to the user
    logging.getLogger("distributed.shuffle._scheduler_plugin").setLevel(logging.ERROR)
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return Client(cluster), cluster


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Rank INPUT on a Dask cluster and write the datasets; the exit status."""
    import pmt

    check_paths(
        inputs={"INPUT": args.input},
        outputs=(),
        weights=args.weights,
        folders={"--out": args.out, "--rejects": args.rejects},
    )
    from pmt.dask import check_dataset_target

    check_dataset_target(args.out, "--out")
    if args.rejects:
        check_dataset_target(args.rejects, "--rejects")
    with progress.step(f"loading weight set {args.weights!r}", key="load_weights"):
        ws = pmt.load_weights(args.weights)
    options = {
        "cutoffs": args.cutoffs,
        "n": args.classes,
        "max_desil": args.max_desil,
        "line": args.line,
        "weight": args.weight,
        "weighting": args.weighting,
        "on_invalid": "reject" if args.rejects else "raise",
        "id_col": args.id_col,
        "region_scheme": args.region_scheme,
    }
    with progress.step("starting Dask", key="dask"):
        client, cluster = _client(args)
    try:
        import dask.dataframe as dd

        import pmt.dask

        source = Path(args.input)
        with progress.step(f"scoring {args.input} on {_where(args, client)}", key="score"):
            ddf = dd.read_parquet(str(source))
            result = pmt.dask.rank(ddf, ws, **options)
        with progress.step(f"ranking and writing {args.out}", key="write"):
            result.to_parquet(args.out, rejects=args.rejects)
        print_summary(result, sys.stdout, provinces=not args.national_only)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    sys.stdout.write(f"\nranked {result.n_households:,} of {result.n_input:,} rows -> {args.out}")
    if args.rejects:
        sys.stdout.write(f"; rejected {result.n_rejected:,} -> {args.rejects}")
    sys.stdout.write("\n")
    if result.n_households == 0:
        sys.stderr.write(
            f"pmt: error: no household was ranked: all {result.n_input:,} rows "
            f"were rejected; see {args.rejects} (exit status {EXIT_NOTHING_RANKED})\n"
        )
        return EXIT_NOTHING_RANKED
    return EXIT_OK


def _where(args: argparse.Namespace, client: Any) -> str:
    workers = len(client.scheduler_info().get("workers", {}))
    return f"{args.scheduler} ({workers} workers)" if args.scheduler else f"{workers} local workers"
