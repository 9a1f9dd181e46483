"""``pmt weights list|show|validate``: the shipped weight sets, one set's content, its checks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt weights`` and its actions ``list``, ``show`` and ``validate``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="list, show or validate weight sets",
        description="List the weight sets shipped with pmt, show one set's manifest and "
        "variable spec, or validate a set's files against its recorded hashes.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="{list,show,validate}")
    actions.add_parser(
        "list",
        help="names of the weight sets shipped with pmt",
        description="Print the names of the weight sets shipped with pmt, one per line.",
    )
    show = actions.add_parser(
        "show",
        help="manifest, model counts per level, variable spec",
        description="Print a weight set's manifest, its models per level, poverty lines, "
        "cutoffs and variable spec.",
    )
    validate = actions.add_parser(
        "validate",
        help="'ok' and the content hash, or what is wrong as file:line",
        description="Load a weight set with every check (content hash, per-file hashes, "
        "file contents) and print 'ok', its content hash and its per-file hashes.",
    )
    for action in (show, validate):
        action.add_argument(
            "target", metavar="NAME|PATH", help="shipped name or folder of a weight set"
        )
    return p


def run(args: argparse.Namespace, progress: Progress) -> int:
    """Run ``pmt weights ACTION``; the exit status."""
    import pmt

    if args.action == "list":
        for name in pmt.available_weights():
            sys.stdout.write(f"{name}\n")
        return EXIT_OK
    ws = pmt.load_weights(args.target)
    if args.action == "validate":
        # load_weights verified content_hash and file_hashes (a mismatch names the file)
        sys.stdout.write(f"ok: {ws!r}\n{ws.content_hash}\n")
        for fname, digest in (ws.manifest.file_hashes or {}).items():
            sys.stdout.write(f"  {fname}  {digest}\n")
        if ws.manifest.file_hashes is None:
            sys.stdout.write(
                "note: this manifest records no per-file hashes, so a change "
                "could not be traced to one file; re-save the set with "
                "pmt.save_weights to record them\n"
            )
        return EXIT_OK
    _show(ws)
    return EXIT_OK


def _show(ws: Any) -> None:
    """Print a weight set for ``pmt weights show``."""
    m = ws.manifest
    out = sys.stdout
    out.write(f"{ws!r}\n\n")
    out.write(f"name          {m.name}\nversion       {m.version}\ncreated       {m.created}\n")
    out.write(f"synthetic     {m.synthetic}\ndescription   {m.description}\n")
    out.write(f"regions       {m.region_scheme}, vintage {m.region_vintage}\n")
    out.write(f"target        {m.target}\nmodel level   {m.model_level}\n")
    out.write(f"content hash  {ws.content_hash}\nfolder        {ws.path}\n")
    out.write("models        " + ", ".join(f"{k}: {v}" for k, v in ws.levels().items()) + "\n")
    out.write(f"poverty lines {len(ws.poverty_lines)} regions\n")
    out.write(f"cutoffs       {len(ws.cutoffs)} scopes, n={m.cutoff_classes}\n")
    out.write(f"provenance    {m.provenance}\n\n")
    out.write(
        f"variable spec {m.spec.name} {m.spec.version}: {len(m.spec.variables)} variables, "
        f"{len(m.spec.derived)} derived, {len(m.spec.terms)} terms per model\n"
    )
    for v in m.spec.variables:
        extra = (
            f"codes {list(v.code_values)}"
            if v.kind == "categorical"
            else f"[{v.min:g}, {v.max:g}]"
            if v.min is not None and v.max is not None
            else ""
        )
        out.write(f"  {v.name:24s} {v.kind:12s} {v.label}  {extra}\n")
    for d in m.spec.derived:
        out.write(f"  {d.name:24s} {'derived':12s} {d.op}({', '.join(d.args)})\n")
