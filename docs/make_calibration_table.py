"""Compare the calibration estimators (pmt.calibration) out of sample on a synthetic survey.

    python docs/make_calibration_table.py      # rewrites the table in docs/calibration.md

Runs :func:`pmt.calibration.cross_validate` (5 folds by PSU) on
``pmt.synth.survey(60_000, seed=2026)`` for each estimator below and writes
the comparison table between the ``comparison-table`` markers of
``docs/calibration.md``, with the command and the time it took. Takes about
ten minutes on two cores. The numbers are measured on SYNTHETIC data whose
truth is a sparse regional log-linear model (see ``pmt.synth.survey``): they
show how to read the table, not how PMTs perform in Indonesia.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pmt  # noqa: E402
from pmt.calibration import CalibrationWarning, cross_validate  # noqa: E402

HOUSEHOLDS = 60_000
SEED = 2026
NATIONAL_ONLY = {"pooling": "fallback", "min_households": 10**9}
ESTIMATORS = {
    "WLS, one national model": NATIONAL_ONLY,
    "WLS, per district x urban (no pooling)": {"pooling": "none", "min_households": 1,
                                               "min_psus": 1},
    "WLS, own model where n >= 5/coef, else fallback": {"pooling": "fallback"},
    "WLS, partial pooling (default)": {},
    "WLS + stepwise (p 0.05/0.10), partial pooling": {"select": "stepwise"},
    "quantile tau=0.2, partial pooling": {"estimator": "quantile", "tau": 0.2},
    "quantile tau=0.4, partial pooling": {"estimator": "quantile", "tau": 0.4},
    "poverty-weighted WLS, poorest 40 %, partial pooling": {"estimator": "poverty_wls",
                                                            "truncate": 0.4},
    "poverty-weighted WLS, poorest 60 %, partial pooling": {"estimator": "poverty_wls",
                                                            "truncate": 0.6},
}
START, END = "<!-- comparison-table -->", "<!-- /comparison-table -->"


def main() -> str:
    survey, truth = pmt.synth.survey(HOUSEHOLDS, seed=SEED, return_truth=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        cv = cross_validate(survey, estimators=ESTIMATORS, folds=5, quotas=(0.2, 0.4),
                            seed=SEED, poverty_lines=truth.poverty_lines, on_collinear="drop")
    took = time.perf_counter() - t0
    cols = {"r2": "R² (oos)", "spearman": "Spearman", "exclusion_error_0.2": "EE 20 %",
            "exclusion_error_0.4": "EE 40 %", "inclusion_error_nonpoor_0.4": "IE non-poor 40 %",
            "cgh_0.4": "CGH 40 %", "ee_fold_sd_0.4": "sd EE 40 % (folds)",
            "in_sample_r2": "R² (in sample)"}
    table = cv.table[list(cols)].rename(columns=cols)
    table.loc["the true model (not estimable; for scale)"] = _oracle(survey, truth, cv, cols)
    lines = ["| estimator | " + " | ".join(table.columns) + " |",
             "|---|" + "---:|" * len(table.columns)]
    for name, row in table.iterrows():
        lines.append(f"| {name} | " + " | ".join("" if v != v else f"{v:.3f}" for v in row)
                     + " |")
    text = "\n".join([
        START,
        f"Measured by `python docs/make_calibration_table.py` (pmt {pmt.__version__}): "
        f"`pmt.synth.survey({HOUSEHOLDS:_}, seed={SEED})`, 5 PSU folds, every estimator "
        f"refitted on each training part (selection and pooling strengths included); "
        f"{took / 60:.0f} minutes on two shared cores.",
        "",
        *lines,
        END])
    doc = HERE / "calibration.md"
    body = doc.read_text(encoding="utf-8")
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(head + text + tail, encoding="utf-8")
    print(cv.to_markdown(cv.headline()))
    return text


def _oracle(survey, truth, cv, cols) -> list[float]:  # type: ignore[no-untyped-def]
    """The table's metrics for the true expected welfare, on the same households."""
    import numpy as np

    from pmt.encode import encode
    from pmt.evaluation import evaluate

    pred = pmt.score(survey, truth).to_numpy()
    true = cv.predictions["true_welfare"].to_numpy()
    w = cv.predictions["person_weight"].to_numpy()
    ev = evaluate(true, pred, weight=w, quotas=(0.2, 0.4)).table
    enc = encode(survey, truth)
    y = true + enc.cell_shift[enc.cell]  # R² of log consumption, as for the estimators
    r2 = 1 - np.average((true - pred) ** 2, weights=w) / np.average(
        (y - np.average(y, weights=w)) ** 2, weights=w)
    folds = cv.predictions["fold"].to_numpy()
    ee = [evaluate(true[folds == k], pred[folds == k], weight=w[folds == k],
                   quotas=(0.4,)).table["exclusion_error"].iloc[0] for k in range(5)]
    values = {"r2": r2, "spearman": ev["spearman"].iloc[0],
              "exclusion_error_0.2": ev.loc["quota 0.2", "exclusion_error"],
              "exclusion_error_0.4": ev.loc["quota 0.4", "exclusion_error"],
              "inclusion_error_nonpoor_0.4": ev.loc["quota 0.4", "inclusion_error_nonpoor"],
              "cgh_0.4": ev.loc["quota 0.4", "cgh"], "ee_fold_sd_0.4": float(np.std(ee, ddof=1)),
              "in_sample_r2": float("nan")}
    return [float(values[c]) for c in cols]


if __name__ == "__main__":
    main()
