"""``pmt evaluate`` and ``pmt compare``: targeting metrics of a file, and two rankings crossed.

``pmt evaluate`` reads true welfare and predicted welfare (a column, or the
file scored with a weight set) and prints the headline metrics of
:func:`pmt.evaluate`; ``pmt compare`` matches two files written by ``pmt
rank`` (:func:`pmt.compare`). Both write the reports of :mod:`pmt.report`
with ``--out`` (.md or .csv) and ``--plots`` (a folder of PNGs). One module,
two commands: :func:`run` tells them apart by ``args.command``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, Progress, check_paths
from ._json import add_json_option, document, emit, jsonable


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt evaluate`` or ``pmt compare`` (``name``) to the main parser's subparsers."""
    if name == "compare":
        return _add_compare(subparsers, name)
    p: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="targeting metrics of predicted against true welfare",
        description="Targeting metrics (docs/evaluation.md) of predicted against true welfare: "
        "exclusion and inclusion errors, CGH, AUC, poverty impact, by rule and "
        "threshold. See docs/evaluation.md.",
    )
    p.add_argument("input", help="CSV, Parquet or Stata file, one row per household")
    p.add_argument("--true", required=True, help="column of true welfare (log ratio to line)")
    p.add_argument("--predicted", help="column of predicted welfare")
    p.add_argument("--weights", help="score the households in the file with this weight set")
    p.add_argument(
        "--weight",
        default="hh_size",
        help="person-weight column (default hh_size; 'none' = 1 per household)",
    )
    p.add_argument("--survey-weight", help="survey-weight column (households), multiplied in")
    p.add_argument(
        "--quota",
        type=float,
        action="append",
        default=[],
        help="quota rule: the poorest share H (repeatable; default 0.2 and 0.4)",
    )
    p.add_argument(
        "--line",
        type=float,
        action="append",
        default=[],
        help="line rule: welfare <= Z (repeatable)",
    )
    p.add_argument(
        "--unit",
        choices=["people", "households", "both"],
        default="people",
        help="count people (person weights) or households in the metrics "
        "(default people; both = a table for each)",
    )
    p.add_argument("--budget", type=float, help="transfer budget in poverty lines x people")
    p.add_argument("--benefit", help="column: benefit per household if targeted")
    p.add_argument("--by", help="breakdown column, or 'province' (from district_code)")
    p.add_argument(
        "--id-col", default="hh_id", metavar="COLUMN", help="household id column (default hh_id)"
    )
    p.add_argument("--out", help="write the tables to this .csv or .md file")
    p.add_argument("--plots", help="write PNG plots into this folder (needs matplotlib)")
    add_json_option(p)
    p.set_defaults(handler=_evaluate)
    return p


def _add_compare(subparsers: Any, name: str) -> argparse.ArgumentParser:
    c: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="compare two rankings matched by household id",
        description="Desil transitions, eligibility gained and lost, and the households that "
        "moved most between two result files written by `pmt rank`.",
    )
    c.add_argument("a", help="first result file (.parquet or .csv from pmt rank)")
    c.add_argument("b", help="second result file")
    c.add_argument(
        "--id-col",
        default="hh_id",
        metavar="COLUMN",
        help="household id column that matches the two files (default hh_id)",
    )
    c.add_argument("--sizes", help="household file with the id and hh_size, for people counts")
    c.add_argument("--movers", type=int, default=20, help="households listed as movers")
    c.add_argument("--out", help="write the tables to this .md (all) or .csv (transitions) file")
    c.add_argument("--plots", help="write PNG heat maps into this folder (needs matplotlib)")
    add_json_option(c)
    c.set_defaults(handler=_compare)
    return c


def add_cli(subparsers: Any) -> None:
    """Register ``pmt evaluate`` and ``pmt compare`` on the main parser's subparsers.

    Each sets ``handler`` (a function of ``(args, progress=None)`` returning the
    exit status), as the deprecated ``pmt.evaluate.add_cli`` did.
    """
    for name in ("evaluate", "compare"):
        add_parser(subparsers, name)


def run(args: argparse.Namespace, progress: Progress | None = None) -> int:
    """Run ``pmt evaluate`` or ``pmt compare`` (by ``args.command``); the exit status."""
    command = _compare if args.command == "compare" else _evaluate
    return command(args, progress or Progress(quiet=True))


def _read_table(path: str) -> Any:
    from ..io import read_households

    return read_households(path)


def _provenance(path: str) -> dict[str, Any]:
    """The provenance ``pmt rank`` wrote into a Parquet file's metadata (empty otherwise)."""
    import json

    if Path(path).suffix.lower() not in (".parquet", ".pq"):
        return {}
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"pmt")
    return json.loads(raw) if raw else {}


def _column(frame: Any, col: str, option: str) -> Any:
    if col not in frame.columns:
        from ..errors import MissingColumnError

        raise MissingColumnError(
            f"{option} {col}: no such column; the file has "
            f"{list(frame.columns[:12])}{' ...' if len(frame.columns) > 12 else ''}."
            f" Fix: name an existing column with {option}.",
            column=col,
        )
    return frame[col].to_numpy()


def _weights(frame: Any, col: str, option: str) -> Any:
    """A weight column as float64, every value > 0 (``hh_size``: whole, >= 1).

    A household of weight 0 would drop out of every metric silently: refused
    with the column, the rows and the fix, as :func:`pmt.rank` refuses it.
    """
    import numpy as np
    import pandas as pd

    from ..errors import HouseholdSizeError, InvalidValueError, format_examples

    values = pd.to_numeric(pd.Series(_column(frame, col, option)), errors="coerce")
    w = values.to_numpy(dtype=np.float64, na_value=np.nan)
    size = col == "hh_size"
    with np.errstate(invalid="ignore"):
        ok = (w >= 1) & (w == np.floor(w)) if size else w > 0
    bad = np.flatnonzero(~ok)
    if bad.size:
        rule = "a whole number >= 1" if size else "a number > 0"
        shown = format_examples(bad[:5], frame[col].iloc[bad[:5]].tolist())
        error = HouseholdSizeError if size else InvalidValueError
        raise error(
            f"column {col!r} ({option}): each household's weight must be {rule} (rule: "
            "every household evaluated counts; weight 0 would drop it silently); "
            f"{bad.size:,} of {w.size:,} rows break it, e.g. {shown}. Fix: correct "
            "those rows or drop them from the file"
            + ("; --weight none weighs households equally." if option == "--weight" else "."),
            column=col,
            rows=bad[:5],
        )
    return w


def _check_paths(
    args: argparse.Namespace, inputs: dict[str, Any], plot_names: tuple[str, ...]
) -> None:
    """Check the arguments before any work.

    ``--out`` is .csv or .md, matplotlib is there for ``--plots``, and no
    output is an input or unwritable (:func:`pmt.cli.check_paths`).
    """
    from ..errors import OutputPathError

    if args.out and Path(args.out).suffix.lower() not in (".csv", ".md"):
        raise OutputPathError(
            f"--out {args.out}: unknown report type "
            f"{Path(args.out).suffix!r} (rule: reports are .csv or .md). "
            "Fix: end the name with .md or .csv.",
            argument="--out",
            path=str(args.out),
        )
    outputs: list[tuple[str, Any]] = [("--out", args.out)]
    folders = {}
    if args.plots:
        from ..report.plots import require_matplotlib

        require_matplotlib()  # raises ImportError with the fix if matplotlib is missing
        folders["--plots"] = Path(args.plots)
        outputs += [("--plots", Path(args.plots) / name) for name in plot_names]
    check_paths(
        inputs=inputs, outputs=outputs, weights=getattr(args, "weights", None), folders=folders
    )


def _write_report(path: Path, text: str) -> None:
    from ..io import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _evaluate(args: argparse.Namespace, progress: Progress | None = None) -> int:
    progress = progress or Progress(quiet=True)
    import numpy as np

    import pmt

    from ..evaluation import evaluate
    from ..report.plots import EVALUATION_PLOTS
    from ..report.tables import evaluation_report, evaluation_table, to_markdown

    _check_paths(args, {"INPUT": args.input}, EVALUATION_PLOTS)
    with progress.step(f"reading {args.input}", key="read"):
        frame = _read_table(args.input)
    true = _column(frame, args.true, "--true")
    if (args.predicted is None) == (args.weights is None):
        raise ValueError(
            "pmt evaluate needs exactly one of --predicted COL (a column of "
            "predicted welfare) or --weights NAME (score the households in the "
            "file)."
        )
    ws = None
    if args.predicted is not None:
        pred = _column(frame, args.predicted, "--predicted")
    else:
        with progress.step(f"loading weight set {args.weights!r}", key="load_weights"):
            ws = pmt.load_weights(args.weights)
        with progress.step(f"scoring {len(frame):,} households", key="score") as up:
            pred = pmt.score(frame, ws, id_col=args.id_col, progress=up).to_numpy()
    weight = None
    if args.weight.lower() != "none":
        weight = _weights(frame, args.weight, "--weight")
    hw = None
    if args.survey_weight:
        hw = _weights(frame, args.survey_weight, "--survey-weight")
        weight = hw if weight is None else weight * hw
    groups = None
    if args.by == "province":
        groups = np.array(
            [f"{int(d) // 100:02d}" for d in _column(frame, "district_code", "--by province")]
        )
    elif args.by:
        groups = _column(frame, args.by, "--by")
    benefit = None if args.benefit is None else _column(frame, args.benefit, "--benefit")
    unit: Any = ("people", "households") if args.unit == "both" else args.unit
    if weight is None and args.unit == "people":
        unit = "households"  # --weight none: every household weighs 1
    with progress.step(f"evaluating {len(true):,} households", key="evaluate"):
        ev = evaluate(
            true,
            pred,
            weight=weight,
            household_weight=hw,
            quotas=args.quota or None,
            lines=args.line or None,
            unit=unit,
            budget=args.budget,
            benefit=benefit,
            groups=groups,
        )
    out = sys.stdout
    if not args.json:
        out.write(to_markdown(ev.summary(), digits=4))
    by = args.by if groups is not None else None
    if args.out:
        path = Path(args.out)
        if path.suffix.lower() == ".md":
            _write_report(path, evaluation_report(ev, source=args.input, by=by))
        else:  # .csv (checked before any work)
            from ..io import write_table

            write_table(evaluation_table(ev, by=by), path)
        if not args.json:
            out.write(f"\nwrote {path}\n")
    if args.plots:
        from ..report.plots import write_evaluation_plots

        folder = Path(args.plots)  # its parent was checked before any work
        written = write_evaluation_plots(ev, folder)
        if not args.json:
            out.write(f"wrote {len(written)} plots to {folder}\n")
    if args.json:
        from .rank import _weights_info

        summary = {"households": len(true), "metrics": _by_column(ev.summary())}
        provenance = {"input": args.input, "true": args.true, "predicted": args.predicted}
        if ws is not None:
            provenance["weights"] = _weights_info(ws)
        emit(
            document(
                args,
                summary,
                progress,
                provenance=provenance,
                outputs={"out": args.out, "plots": args.plots},
            )
        )
    return EXIT_OK


def _by_column(table: Any) -> dict[str, Any]:
    """``{column: {row: value}}`` of a table, column and row labels as text."""

    def name(label: Any) -> str:
        return " / ".join(map(str, label)) if isinstance(label, tuple) else str(label)

    return {name(c): {name(r): jsonable(v) for r, v in table[c].items()} for c in table.columns}


def _compare(args: argparse.Namespace, progress: Progress | None = None) -> int:
    progress = progress or Progress(quiet=True)
    from ..evaluation import compare
    from ..report.plots import COMPARISON_PLOTS
    from ..report.tables import comparison_report, comparison_table, to_markdown

    _check_paths(args, {"A": args.a, "B": args.b, "--sizes": args.sizes}, COMPARISON_PLOTS)
    with progress.step(f"reading {args.a} and {args.b}", key="read"):
        fa, fb = _read_table(args.a), _read_table(args.b)
    fa.attrs.update(_provenance(args.a))
    fb.attrs.update(_provenance(args.b))
    if args.sizes:
        sizes = _read_table(args.sizes)
        key = args.id_col
        for col in (key, "hh_size"):
            _column(sizes, col, "--sizes")
        size_of = sizes.set_index(key)["hh_size"]
        if not size_of.index.is_unique:
            raise ValueError(f"--sizes {args.sizes}: household ids are not unique.")
        for f in (fa, fb):
            if "person_weight" not in f.columns and "hh_size" not in f.columns:
                f["hh_size"] = f[key].map(size_of).to_numpy(dtype="float64")

    def label(path: str, attrs: dict[str, Any]) -> str:
        mode = f", cutoffs={attrs['cutoff_mode']}" if "cutoff_mode" in attrs else ""
        return f"{Path(path).name} ({attrs.get('weights_id', '?')}{mode})"

    labels = (label(args.a, fa.attrs), label(args.b, fb.attrs))
    with progress.step(f"matching {len(fa):,} and {len(fb):,} households", key="compare"):
        cmp = compare(fa, fb, id_col=args.id_col, labels=labels)
    out = sys.stdout
    if not args.json:
        out.write(f"A = {labels[0]}\nB = {labels[1]}\n\n" + to_markdown(cmp.summary()))
        out.write(
            "\nNational desil transitions (households; rows A, columns B):\n\n"
            + to_markdown(cmp.transitions())
        )
    if args.out:
        path = Path(args.out)
        if path.suffix.lower() == ".md":
            _write_report(path, comparison_report(cmp, movers=args.movers))
        else:  # .csv (checked before any work)
            from ..io import write_table

            write_table(comparison_table(cmp), path)
        if not args.json:
            out.write(f"\nwrote {path}\n")
    if args.plots:
        from ..report.plots import write_comparison_plots

        folder = Path(args.plots)  # its parent was checked before any work
        written = write_comparison_plots(cmp, folder)
        if not args.json:
            out.write(f"wrote {len(written)} plot{'s' if len(written) > 1 else ''} to {folder}\n")
    if args.json:
        transitions = cmp.transitions()
        summary = {
            **_by_column(cmp.summary()).get("value", {}),
            "transitions": {
                "rows": f"{transitions.index.name} (A)",
                "columns": f"{transitions.columns.name} (B)",
                "row_labels": [str(r) for r in transitions.index],
                "column_labels": [str(c) for c in transitions.columns],
                "households": jsonable(transitions.to_numpy()),
            },
        }
        emit(
            document(
                args,
                summary,
                progress,
                provenance={
                    "a": {"file": args.a, "label": labels[0], **fa.attrs},
                    "b": {"file": args.b, "label": labels[1], **fb.attrs},
                },
                outputs={"out": args.out, "plots": args.plots},
            )
        )
    return EXIT_OK
