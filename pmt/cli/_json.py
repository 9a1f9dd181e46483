"""``--json``: one machine-readable document on stdout instead of the tables.

Every command with ``--json`` (``rank``, ``evaluate``, ``compare``, ``weights
show``, ``calibrate``) prints exactly one JSON object, and nothing else, on
stdout::

    {"format": "pmt-cli/1", "command": "rank", "summary": {...},
     "provenance": {"pmt_version": "...", "argv": [...], ...},
     "outputs": {"--out": "..."}, "timings": {"load_weights": 0.12, ..., "total": 1.5}}

``summary`` is the command's own (see docs/cli.md); ``provenance`` holds the
pmt version, the command line and what produced the result (weight set id and
hash, cutoff mode, ...); ``timings`` the seconds each step took and the
total. Missing numbers (NaN) are ``null``. Progress and warnings stay on stderr.

A command that fails after its options were read still prints one document,
``{"format": ..., "command": ..., "error": {"type", "message", "exit_status"},
"provenance": {...}}``, besides the one-line error on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ._common import Progress

#: The ``format`` of the document; its number changes when a key changes meaning.
FORMAT = "pmt-cli/1"


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` to a command's parser."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout (summary, provenance with the pmt "
        "version, timings) instead of the tables",
    )


def jsonable(value: Any) -> Any:
    """``value`` with numpy and pandas scalars, paths and NaN made plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:  # pandas.NA, NaT
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def records(frame: Any, *, index: str | None = None) -> list[dict[str, Any]]:
    """A table as a list of row objects; the index becomes column ``index`` (if named)."""
    table = frame.reset_index() if index is not None else frame
    if index is not None and table.columns[0] != index:
        table = table.rename(columns={table.columns[0]: index})
    return [jsonable(row) for row in table.to_dict(orient="records")]


def document(
    args: argparse.Namespace,
    summary: Mapping[str, Any],
    progress: Progress,
    *,
    provenance: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``--json`` document of the command ``args`` ran: summary, provenance, outputs, timings.

    ``args.argv`` (set by :func:`pmt.cli.main`) is the command line recorded.
    """
    from .._version import __version__

    timings = dict(progress.timings)
    timings["total"] = round(time.perf_counter() - progress.started, 6)
    return {
        "format": FORMAT,
        "command": " ".join(_command_words(args)),
        "summary": jsonable(summary),
        "provenance": jsonable(
            {
                "pmt_version": __version__,
                "argv": ["pmt", *getattr(args, "argv", sys.argv[1:])],
                **(provenance or {}),
            }
        ),
        "outputs": jsonable({k: v for k, v in (outputs or {}).items() if v is not None}),
        "timings": timings,
    }


def error_document(args: argparse.Namespace, line: str, status: int) -> dict[str, Any]:
    """The ``--json`` document of a command that failed: the error line's parts, the status.

    ``line`` is the one-line error written to stderr (``pmt: error: Type: message``).
    """
    from .._version import __version__

    text = line.removeprefix("pmt: error: ")
    kind, _, message = text.partition(": ")
    return {
        "format": FORMAT,
        "command": " ".join(_command_words(args)),
        "error": {"type": kind, "message": message, "exit_status": status},
        "provenance": {
            "pmt_version": __version__,
            "argv": ["pmt", *getattr(args, "argv", sys.argv[1:])],
        },
    }


def _command_words(args: argparse.Namespace) -> list[str]:
    """``["weights", "show"]``: the command and sub-command ``args`` were parsed for."""
    words = [args.command]
    for dest in ("action", "what"):  # the sub-command dests of pmt weights and pmt synth
        if isinstance(getattr(args, dest, None), str):
            words.append(getattr(args, dest))
    return words


def emit(doc: Mapping[str, Any], out: TextIO | None = None) -> None:
    """Write ``doc`` as one JSON document (indented, keys in order) and a newline."""
    stream = out or sys.stdout
    stream.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
