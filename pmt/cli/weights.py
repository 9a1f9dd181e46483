"""``pmt weights list|show|validate``: the shipped weight sets, one set's content, its checks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_OK, Progress
from ._json import add_json_option, document, emit


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
        help="a one-page summary of a weight set (--full: everything)",
        description="Print a one-page summary of a weight set: id, version, content hash, "
        "coverage, models per level, variables, poverty lines and cutoffs. --full adds "
        "every variable's codes or range, every poverty line and cutoff, and the "
        "provenance; --json prints the same as one JSON document.",
    )
    validate = actions.add_parser(
        "validate",
        help="'ok' and the content hash, or what is wrong as file:line",
        description="Load a weight set with every check (content hash, per-file hashes, "
        "file contents) and print 'ok', its content hash and its per-file hashes.",
    )
    show.add_argument(
        "--full",
        action="store_true",
        help="everything: each variable's codes or range, each poverty line and cutoff, "
        "the provenance (long)",
    )
    add_json_option(show)
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
    if args.json:
        emit(document(args, describe(ws, full=args.full), progress))
    else:
        sys.stdout.write(show_full(ws) if args.full else show_page(ws))
    return EXIT_OK


def describe(ws: Any, *, full: bool = False) -> dict[str, Any]:
    """What ``pmt weights show --json`` prints: the page's fields, and with ``full`` the rest."""
    m = ws.manifest
    lines = _poverty_line_summary(ws)
    out: dict[str, Any] = {
        "id": ws.id,
        "name": m.name,
        "version": m.version,
        "content_hash": ws.content_hash,
        "synthetic": m.synthetic,
        "description": m.description,
        "created": str(m.created),
        "folder": str(ws.path) if ws.path is not None else None,
        "region_scheme": m.region_scheme,
        "region_vintage": m.region_vintage,
        "coverage": m.coverage,
        "target": m.target,
        "model_level": m.model_level,
        "models": len(ws.model_keys),
        "models_per_level": dict(ws.levels()),
        "variables": [v.name for v in m.spec.variables],
        "derived": [d.name for d in m.spec.derived],
        "terms": len(m.spec.terms),
        "spec": f"{m.spec.name} {m.spec.version}",
        "poverty_lines": lines,
        "cutoffs": {"scopes": len(ws.cutoffs or {}), "classes": m.cutoff_classes},
        "file_hashes": dict(m.file_hashes or {}),
    }
    if full:
        out["variables"] = [_variable(v) for v in m.spec.variables]
        out["derived"] = [d.model_dump(mode="json", exclude={"label"}) for d in m.spec.derived]
        out["poverty_lines"] = {**lines, "by_region": dict(ws.poverty_lines or {})}
        out["cutoffs"]["by_scope"] = {k: list(v) for k, v in (ws.cutoffs or {}).items()}
        out["provenance"] = m.provenance
    return out


def _variable(v: Any) -> dict[str, Any]:
    """One variable of the spec for ``--full``: name, kind, label, codes or range."""
    out: dict[str, Any] = {"name": v.name, "kind": v.kind, "label": v.label}
    if v.kind == "categorical":
        out["codes"] = list(v.code_values)
    elif v.min is not None or v.max is not None:
        out["min"], out["max"] = v.min, v.max
    return out


def _poverty_line_summary(ws: Any) -> dict[str, Any]:
    """Count, lowest, median and highest poverty line of a weight set."""
    values = sorted((ws.poverty_lines or {}).values())
    if not values:
        return {"regions": 0}
    middle = len(values) // 2
    median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
    return {"regions": len(values), "min": values[0], "median": median, "max": values[-1]}


def _wrapped(label: str, words: list[str], width: int = 88) -> str:
    """``label`` then ``words`` comma-separated, wrapped under the value column."""
    import textwrap

    return (
        textwrap.fill(
            ", ".join(words),
            width=width,
            initial_indent=f"{label:14s}",
            subsequent_indent=" " * 14,
            break_on_hyphens=False,
        )
        + "\n"
    )


def show_page(ws: Any) -> str:
    """The one-page summary ``pmt weights show`` prints."""
    d = describe(ws)
    m = ws.manifest
    lines = d["poverty_lines"]
    text = f"{ws!r}\n\n"
    text += f"id            {d['id']}\n"
    text += f"synthetic     {m.synthetic}" + (
        " (invented for testing and demonstration: not for targeting anyone)\n"
        if m.synthetic
        else "\n"
    )
    text += f"content hash  {d['content_hash']}\n"
    text += f"created       {d['created']}\n"
    text += _wrapped("description", [str(d["description"])])
    text += f"folder        {d['folder']}\n"
    text += f"regions       {d['region_scheme']}, vintage {d['region_vintage']}\n"
    text += f"coverage      {d['coverage']}\n"
    text += f"target        {d['target']}\n"
    text += _wrapped(
        "models",
        [f"{d['models']:,} in all"] + [f"{k} {v:,}" for k, v in d["models_per_level"].items()],
    )
    text += _wrapped(
        "variables",
        [f"{len(d['variables'])} ({d['spec']}; {d['terms']} terms per model)", *d["variables"]],
    )
    if d["derived"]:
        text += _wrapped("derived", d["derived"])
    if lines["regions"]:
        text += (
            f"poverty lines {lines['regions']} regions, {lines['min']:,.0f} to "
            f"{lines['max']:,.0f} (median {lines['median']:,.0f}) per person per month\n"
        )
    else:
        text += "poverty lines none (welfare is the predicted log consumption)\n"
    if d["cutoffs"]["scopes"]:
        text += f"cutoffs       {d['cutoffs']['scopes']} scopes, n={d['cutoffs']['classes']}\n"
    else:
        text += "cutoffs       none (no --cutoffs reference)\n"
    text += "\nEvery code, line, cutoff and the provenance: pmt weights show --full\n"
    return text


def show_full(ws: Any) -> str:
    """The whole weight set for ``pmt weights show --full``: one value per line."""
    import json

    d = describe(ws, full=True)
    m = ws.manifest
    text = show_page(ws).rsplit("\nEvery code", 1)[0] + "\n"
    text += (
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
        text += f"  {v.name:24s} {v.kind:12s} {v.label}  {extra}\n"
    for dv in m.spec.derived:
        opt = f"; power={dv.power:g}" if dv.power is not None else ""
        opt += f"; knots={list(dv.knots)}" if dv.knots is not None else ""
        text += f"  {dv.name:24s} {'derived':12s} {dv.op}({', '.join(dv.args)}{opt})\n"
    text += "\npoverty lines (per person per month)\n"
    for key, value in d["poverty_lines"].get("by_region", {}).items():
        text += f"  {key:16s} {value:,.0f}\n"
    text += f"\ncutoffs (n={m.cutoff_classes})\n"
    for scope, cuts in d["cutoffs"].get("by_scope", {}).items():
        text += f"  {scope:10s} " + " ".join(f"{c:.4f}" for c in cuts) + "\n"
    text += "\nprovenance\n"
    for key, value in m.provenance.items():
        if isinstance(value, dict) and set(value) == {"columns", "rows"}:
            text += f"  {key}: a table of {len(value['rows'])} rows\n"
            text += "    " + "  ".join(str(c) for c in value["columns"]) + "\n"
            for row in value["rows"]:
                text += "    " + "  ".join("-" if c is None else str(c) for c in row) + "\n"
        else:
            for k, line in enumerate(
                json.dumps(value, indent=2, default=str, ensure_ascii=False).splitlines()
            ):
                text += (f"  {key}: " if k == 0 else "  ") + line + "\n"
    return text
