"""``pmt calibrate SURVEY --out FOLDER``: calibrate a weight set on a survey (``pmt.calibrate``).

``--compare`` (and ``--cv``) run :func:`pmt.cross_validate` and print its
comparison table; ``--out`` writes the weight set with its diagnostics
(:meth:`pmt.calibration.Calibration.save`).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, Progress, check_paths
from ._json import add_json_option, document, emit, jsonable

__all__ = ["add_cli", "add_parser", "run"]


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    """Add ``pmt calibrate`` (its options are those of :func:`pmt.calibrate`)."""
    from ..calibration import ESTIMATORS, POOLING

    c: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help="calibrate a weight set on a survey (CSV, Parquet or Stata .dta)",
        description="Recalibrate PMT weights from a household survey: per-capita consumption, "
        "survey weight, PSU, strata and the spec's variables. Writes a weight set "
        "folder that `pmt rank --weights FOLDER` loads. See docs/calibration.md.",
    )
    c.add_argument("input", help="survey file: .csv, .parquet or .dta")
    c.add_argument("--out", help="folder to write the weight set to")
    c.add_argument(
        "--spec",
        default="default",
        help="variable spec: 'default', a spec .json, or a weight set to copy it from",
    )
    c.add_argument(
        "--poverty-lines",
        help="CSV: poverty_line with region_key, or province_code/district_code [+ urban]",
    )
    c.add_argument("--consumption", default="consumption", help="per-capita consumption column")
    c.add_argument(
        "--weight", default="weight", help="survey weight column ('none': an unweighted survey)"
    )
    c.add_argument(
        "--coverage",
        nargs="+",
        help="regions the set covers: province/district codes, or 'national' (default: the "
        "provinces the survey has households in)",
    )
    c.add_argument(
        "--coverage-fallback",
        choices=("national",),
        help="score households outside a partial coverage with the national model",
    )
    c.add_argument(
        "--errors",
        choices=("raise", "skip"),
        default="raise",
        help="--compare: stop at a failing estimator (raise) or record it and carry on (skip)",
    )
    c.add_argument("--psu", default="psu", help="PSU column")
    c.add_argument("--strata", default="strata", help="strata column ('none': district x urban)")
    c.add_argument("--id-col", default="hh_id", help="household id column ('none': no ids)")
    c.add_argument(
        "--scheme",
        choices=["BPS", "Kemendagri"],
        default="BPS",
        help="region-code scheme of the survey's district codes",
    )
    c.add_argument(
        "--estimator", choices=list(ESTIMATORS), default="wls", help="estimator (default wls)"
    )
    c.add_argument("--tau", type=float, default=0.5, help="quantile (estimator quantile)")
    c.add_argument(
        "--truncate", type=float, default=0.5, help="poorest share kept (estimator poverty_wls)"
    )
    c.add_argument(
        "--solver",
        choices=["ipm", "highs"],
        default="ipm",
        help="quantile regression solver (default ipm)",
    )
    c.add_argument("--stepwise", action="store_true", help="stepwise variable selection")
    c.add_argument("--p-enter", type=float, default=0.05, help="stepwise p-to-enter")
    c.add_argument("--p-remove", type=float, default=0.10, help="stepwise p-to-remove")
    c.add_argument("--keep", nargs="*", help="variables always kept by stepwise selection")
    c.add_argument(
        "--pooling",
        choices=list(POOLING),
        default="shrink",
        help="regional structure (default shrink: partial pooling)",
    )
    c.add_argument("--min-households", type=int, help="households a model needs")
    c.add_argument("--min-psus", type=int, default=2, help="PSUs a model needs (default 2)")
    c.add_argument(
        "--pooling-folds",
        type=int,
        default=5,
        help="PSU folds choosing the pooling strengths (default 5)",
    )
    c.add_argument("--seed", type=int, default=0, help="seed of the folds (default 0)")
    c.add_argument(
        "--on-collinear",
        choices=["raise", "drop"],
        default="raise",
        help="constant or collinear terms: refuse, or drop and record them",
    )
    c.add_argument("--name", default="calibrated", help="name of the weight set")
    c.add_argument("--version", default="1.0.0", help="version of the weight set")
    c.add_argument("--description", help="description of the weight set")
    c.add_argument("--survey-name", help="recorded in the provenance")
    c.add_argument("--survey-period", help="recorded in the provenance")
    c.add_argument(
        "--region-vintage",
        default="as coded in the survey",
        help="vintage of the region codes, recorded in the manifest",
    )
    c.add_argument("--synthetic", action="store_true", help="label the set synthetic")
    c.add_argument("--cv", type=int, help="also report K-fold out-of-sample metrics")
    c.add_argument(
        "--compare",
        nargs="+",
        metavar="ESTIMATOR",
        help="compare estimators out of sample, e.g. wls quantile:tau=0.3 "
        "poverty_wls:truncate=0.4 wls:pooling=fallback",
    )
    c.add_argument(
        "--quota",
        type=float,
        action="append",
        help="targeting quota H for the comparison (repeatable; default 0.2, 0.4)",
    )
    add_json_option(c)
    c.set_defaults(handler=run)
    return c


def add_cli(subparsers: Any) -> None:
    """Register ``pmt calibrate`` on the main parser's subparsers (``handler`` runs it)."""
    add_parser(subparsers, "calibrate")


def run(args: argparse.Namespace, progress: Progress | None = None) -> int:
    """Run ``pmt calibrate``; the exit status."""
    progress = progress or Progress(quiet=True)
    from ..calibration import CalibrationWarning, calibrate, cross_validate
    from ..io import read_households
    from ..weights import WeightFiles

    if args.out is not None:  # before any work: no output is an input, the folder is writable
        names = WeightFiles()
        written = (
            "manifest.json",
            names.coefficients,
            names.poverty_lines,
            names.cutoffs,
            "diagnostics.csv",
            "calibration.txt",
        )
        spec_file = args.spec if args.spec and Path(args.spec).is_file() else None
        check_paths(
            inputs={
                "INPUT": args.input,
                "--poverty-lines": args.poverty_lines,
                "--spec": spec_file,
            },
            outputs=[("--out", Path(args.out) / n) for n in written if n],
            weights=args.spec,
            folders={"--out": args.out},
        )
    with progress.step(f"reading {args.input}", key="read"):
        survey = read_households(args.input)
    spec = _spec_arg(args.spec)
    common = {
        "consumption": args.consumption,
        "weight": None if args.weight.lower() == "none" else args.weight,
        "psu": args.psu,
        "strata": None if args.strata.lower() == "none" else args.strata,
        "id_col": None if args.id_col.lower() == "none" else args.id_col,
        "poverty_lines": args.poverty_lines,
        "region_scheme": args.scheme,
        "coverage": "national"
        if args.coverage == ["national"]
        else (None if args.coverage is None else list(args.coverage)),
    }
    opts: dict[str, Any] = {
        "estimator": args.estimator,
        "tau": args.tau,
        "truncate": args.truncate,
        "pooling": args.pooling,
        "min_psus": args.min_psus,
        "pooling_folds": args.pooling_folds,
        "seed": args.seed,
        "on_collinear": args.on_collinear,
        "solver": args.solver,
    }
    if args.min_households is not None:
        opts["min_households"] = args.min_households
    if args.stepwise:
        opts.update(
            select="stepwise",
            p_enter=args.p_enter,
            p_remove=args.p_remove,
            keep=tuple(args.keep or ()),
        )
    out = sys.stdout
    summary: dict[str, Any] = {}
    if args.compare:
        estimators = dict(_estimator_arg(t) for t in args.compare)
        folds = args.cv or 5
        with progress.step(
            f"comparing {len(estimators)} estimators out of sample ({folds} PSU folds)",
            key="cross_validate",
            unit="fits",
        ) as up:
            cv = cross_validate(
                survey,
                spec,
                estimators=estimators,
                folds=folds,
                errors=args.errors,
                quotas=args.quota or (0.2, 0.4),
                seed=args.seed,
                progress=up,
                **common,
                **{k: v for k, v in opts.items() if k not in ("estimator", "seed")},
            )
        summary["cross_validation"] = _cv_summary(cv)
        if not args.json:
            out.write(f"Out-of-sample comparison ({cv.settings['folds']} PSU folds):\n\n")
            out.write(cv.to_markdown(cv.headline()) + "\n")
        if args.out is None:
            if args.json:
                emit(document(args, summary, progress, provenance={"input": args.input}))
            return EXIT_OK
    if args.out is None:
        raise ValueError(
            "pmt calibrate needs --out FOLDER (or --compare to only compare estimators)"
        )
    with (
        progress.step(
            f"calibrating ({args.estimator}, pooling {args.pooling})", key="calibrate", unit="steps"
        ) as up,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", CalibrationWarning)
        cal = calibrate(
            survey,
            spec,
            name=args.name,
            version=args.version,
            description=args.description,
            survey_name=args.survey_name,
            survey_period=args.survey_period,
            region_vintage=args.region_vintage,
            synthetic=True if args.synthetic else None,
            coverage_fallback=args.coverage_fallback,
            provenance={
                "command": "pmt calibrate",
                "arguments": {
                    k: v
                    for k, v in vars(args).items()
                    if k not in ("handler", "command", "argv", "json")
                },
            },
            progress=up,
            **common,
            **opts,
        )
    for w in caught:
        sys.stderr.write(f"pmt: warning: {w.message}\n")
    with progress.step(f"writing weight set to {args.out}", key="write"):
        ws = cal.save(args.out)
    if not args.json:
        out.write(cal.report() + "\n")
    if args.cv and not args.compare:
        with progress.step(
            f"cross-validating ({args.cv} PSU folds)", key="cross_validate", unit="fits"
        ) as up:
            cv = cross_validate(
                survey,
                spec,
                folds=args.cv,
                quotas=args.quota or (0.2, 0.4),
                seed=args.seed,
                progress=up,
                **common,
                **{k: v for k, v in opts.items() if k != "seed"},
            )
        summary["cross_validation"] = _cv_summary(cv)
        if not args.json:
            out.write(
                f"\nOut-of-sample ({args.cv} PSU folds):\n\n{cv.to_markdown(cv.headline())}\n"
            )
    if args.json:
        summary["weight_set"] = {
            "id": ws.id,
            "content_hash": ws.content_hash,
            "method": cal.method,
            "models": len(ws.model_keys),
            "models_per_level": dict(ws.levels()),
            "survey": cal.survey,
        }
        emit(
            document(
                args, summary, progress, provenance={"input": args.input}, outputs={"out": args.out}
            )
        )
    else:
        out.write(f"\nwrote weight set {ws.id} to {args.out}\n")
    return EXIT_OK


def _cv_summary(cv: Any) -> dict[str, Any]:
    """The cross-validation part of ``pmt calibrate --json``: folds, every metric per estimator.

    ``headline`` names the columns worth reading first.
    """
    return {
        "folds": cv.settings["folds"],
        "headline": list(cv.headline()),
        "estimators": {
            str(label): {str(k): jsonable(v) for k, v in row.items()}
            for label, row in cv.table.iterrows()
        },
    }


def _spec_arg(value: str | None) -> Any:
    """``--spec``: None for the default spec, else a spec file's or a weight set's spec."""
    from ..spec import VariableSpec

    if value in (None, "default"):
        return None
    path = Path(value)
    if path.suffix.lower() == ".json" and path.is_file():
        import json

        raw = json.loads(path.read_text(encoding="utf-8"))
        return VariableSpec.model_validate(raw.get("spec", raw))
    from ..weights import load_weights

    return load_weights(value, verify_hash=False).spec


def _estimator_arg(text: str) -> tuple[str, dict[str, Any]]:
    """``wls`` / ``quantile:tau=0.3`` / ``poverty_wls:truncate=0.4,pooling=fallback``.

    Options that are not calibration options go to the estimator's own options
    (``estimator_options``).
    """
    import dataclasses

    from ..calibration import Options

    fields = {f.name for f in dataclasses.fields(Options)}
    label = text
    kind, _, rest = text.partition(":")
    kw: dict[str, Any] = {"estimator": kind}
    own: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        k, _, v = part.partition("=")
        (kw if k.strip() in fields else own)[k.strip()] = _parse_value(v.strip())
    if own:
        kw["estimator_options"] = own
    return label, kw


def _parse_value(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return None if v.lower() == "none" else v
