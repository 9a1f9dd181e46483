"""Rank the calibration estimators by targeting error on synthetic surveys of two sizes.

    python docs/make_estimator_table.py          # rewrites the tables in docs/calibration.md
    python docs/make_estimator_table.py --terms  # only the tables with better terms

Runs :func:`pmt.calibration.cross_validate` (5 folds by PSU) on a small
regional survey and a larger national one, both ``pmt.synth.survey(...,
nonlinear=1.0)`` (the true log consumption has non-linear effects of age and
floor area that no linear model of the default spec can hold), and writes
:meth:`~pmt.calibration.CrossValidation.compare` by the exclusion error at a
30 % quota — with its spread over the folds and the paired gap to the best —
between the ``estimator-table`` markers of ``docs/calibration.md``. The
numbers are measured on SYNTHETIC data: they show how to choose, not how
PMTs perform in Indonesia. Takes about 25 minutes on two cores.

With ``--terms`` it instead compares, on the same folds, two estimators on
the default spec with two more terms — the square of the head's age and a
spline knot in log floor area per person at 10 m², the form of the survey's
non-linear truth — and the lasso on the default spec widened by
:func:`pmt.calibration.expand_terms` (logs, squares and three knots at the
survey's quantiles: candidates chosen without knowing the truth), and writes
those tables between the ``terms-table`` markers.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pmt  # noqa: E402
from pmt.calibration import CalibrationWarning, cross_validate  # noqa: E402

SEED = 2027
NATIONAL_ONLY = {"pooling": "fallback", "min_households": 10**9}
STUDIES = {
    "a regional survey: 5,000 households in 3 provinces": {
        "n": 5_000,
        "provinces": (32, 33, 35),
    },
    "a national survey: 30,000 households": {"n": 30_000, "provinces": None},
}
ESTIMATORS = {
    "WLS, one national model": NATIONAL_ONLY,
    "WLS, partial pooling (default)": {},
    "lasso, one national model": {"estimator": "lasso", **NATIONAL_ONLY},
    "lasso, partial pooling": {"estimator": "lasso"},
    "elastic net 0.5, partial pooling": {"estimator": "elastic_net"},
    "quantile tau=0.4, partial pooling": {"estimator": "quantile", "tau": 0.4},
    "poverty-weighted WLS, poorest 60 %, partial pooling": {
        "estimator": "poverty_wls",
        "truncate": 0.6,
    },
}
TERMS = {
    "WLS, partial pooling, + age² and area spline": {},
    "lasso, partial pooling, + age² and area spline": {"estimator": "lasso"},
}
EXPANDED = {
    "lasso, partial pooling, expand_terms(knots=3)": {"estimator": "lasso"},
}
START, END = "<!-- estimator-table -->", "<!-- /estimator-table -->"
TERMS_START, TERMS_END = "<!-- terms-table -->", "<!-- /terms-table -->"


def spec_with_terms(survey: object = None) -> pmt.VariableSpec:
    """The default spec and two derived terms: ``head_age ** 2``, a knot in log area per person."""
    from pmt.terms import Derived

    spec = pmt.spec.default_spec()
    data = spec.model_dump()
    data["name"] = spec.name + "+age2+area-knot"
    data["derived"] = [
        *data["derived"],
        Derived(name="head_age_sq", op="power", args=("head_age",), power=2).model_dump(),
        Derived(
            name="floor_area_knot",
            op="spline",
            args=("log_floor_area_pc",),
            knots=(round(math.log(10.0), 6),),
        ).model_dump(),
    ]
    return pmt.VariableSpec.model_validate(data)


def spec_expanded(survey: object) -> pmt.VariableSpec:
    """The default spec widened by :func:`pmt.calibration.expand_terms`, knots on ``survey``."""
    from pmt.calibration import expand_terms

    return expand_terms(pmt.spec.default_spec(), survey, knots=3)


def study(
    n: int,
    provinces: tuple[int, ...] | None,
    estimators: dict[str, dict[str, object]] = ESTIMATORS,
    spec: Callable[[object], pmt.VariableSpec] | None = None,
) -> tuple[str, float]:
    """One study's Markdown table and its run time (seconds)."""
    survey, truth = pmt.synth.survey(
        n, seed=SEED, provinces=provinces, nonlinear=1.0, return_truth=True
    )
    covered = {k: v for k, v in truth.poverty_lines.items()
               if provinces is None or int(k[:2]) in provinces}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        cv = cross_validate(survey, spec and spec(survey), estimators=estimators, folds=5,
                            quotas=(0.3,), seed=SEED, poverty_lines=covered, on_collinear="drop")
    took = time.perf_counter() - t0
    ee = cv.compare("exclusion_error", quota=0.3)
    total = cv.compare("total_error", quota=0.3)
    lines = ["| rank | estimator | EE 30 % | folds: mean ± sd | min – max | gap to best ± sd "
             "| total error 30 % | Spearman | R² | fit s |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in ee.iterrows():
        lines.append(
            f"| {r['rank']} | {name} | {r['value']:.3f} | {r['fold_mean']:.3f} ± "
            f"{r['fold_sd']:.3f} | {r['fold_min']:.3f} – {r['fold_max']:.3f} | "
            f"{r['diff_best_mean']:+.3f} ± {r['diff_best_sd']:.3f} | "
            f"{total.loc[name, 'value']:.3f} | {cv.table.loc[name, 'spearman']:.3f} | "
            f"{cv.table.loc[name, 'r2']:.3f} | {r['fit_seconds']:.0f} |")
    return "\n".join(lines), took


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def main(terms: bool = False) -> str:
    start, end = (TERMS_START, TERMS_END) if terms else (START, END)
    parts = [start]
    for title, kw in STUDIES.items():
        runs = [(ESTIMATORS, None)]
        if terms:
            runs = [(TERMS, spec_with_terms), (EXPANDED, spec_expanded)]
        tables, took = [], 0.0
        for estimators, spec in runs:
            table, seconds = study(kw["n"], kw["provinces"], estimators, spec)
            tables.append(table)
            took += seconds
        where = "" if kw["provinces"] is None else f", provinces={kw['provinces']}"
        parts += [
            f"**{title}** — `pmt.synth.survey({kw['n']:_}, seed={SEED}{where}, "
            f"nonlinear=1.0)`, 5 PSU folds, ranked by the exclusion error at a 30 % quota "
            f"(`cv.compare('exclusion_error', quota=0.3)`); {_duration(took)} on two "
            "shared cores:",
            "",
            "\n\n".join(tables),
            "",
        ]
    how = " --terms` (pmt {v}, about 3 minutes)" if terms else "` (pmt {v}, about 25 minutes)"
    parts += [
        f"Measured by `python docs/make_estimator_table.py{how.format(v=pmt.__version__)}; "
        "SYNTHETIC data; fit seconds are wall-clock on a busy machine.",
        end,
    ]
    text = "\n".join(parts)
    doc = HERE / "calibration.md"
    body = doc.read_text(encoding="utf-8")
    if start in body:
        head, rest = body.split(start, 1)
        _, tail = rest.split(end, 1)
        doc.write_text(head + text + tail, encoding="utf-8")
    print(text)
    return text


if __name__ == "__main__":
    main(terms="--terms" in sys.argv[1:])
