"""``pmt warmup``: compile pmt's numba kernels into the on-disk cache, once per environment."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._common import EXIT_OK, Progress


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt warmup`` to the main parser's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="compile pmt's kernels into numba's cache (run once when building an image)",
        description="Compile every numba kernel of pmt into numba's on-disk cache, or load "
        "it from there if it is already compiled. The first ranking in a fresh environment "
        "otherwise compiles the kernels it needs; run this where the environment is built "
        "(a container image, a new virtual environment) so that no later process pays for it.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (kernels, seconds, pmt version) on stdout",
    )
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt warmup``; the exit status."""
    import time

    import pmt

    start = time.perf_counter()
    with progress.step(
        "compiling pmt's kernels (or loading them from the cache)", unit="kernels"
    ) as up:
        names = pmt.warmup(progress=up)
    seconds = time.perf_counter() - start
    if args.json:
        doc = {"kernels": names, "seconds": round(seconds, 3), "pmt_version": pmt.__version__}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(f"{len(names)} kernels ready in {seconds:.1f} s\n")
    return EXIT_OK
