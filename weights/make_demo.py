"""Build the synthetic ``demo`` weight set, reproducibly, by recalibration.

    python weights/make_demo.py            # rewrites weights/demo/ (about a minute)

The demo set is made the way a real one would be: :func:`pmt.calibrate` on a
survey. The survey is SYNTHETIC — :func:`pmt.synth.survey`, a SUSENAS-like
sample (stratified by district x urban/rural, PSUs of about ten households,
survey weights grossing up to 70 M households) whose per-capita consumption
comes from known, invented regional models — so the coefficients are
estimates of invented models: they are not official Indonesian PMT weights
(none are public) and must not be used to target anyone. Poverty lines are
the illustrative values per province x urban/rural of the synthetic survey,
of the right order (Rupiah per person per month) but not BPS figures.

The calibration: weighted least squares on log per-capita consumption with
person weights (hh_size x survey weight); one model per district x urban,
district, province x urban, province and the nation, each partially pooled
toward its parent with strengths chosen by 5-fold cross-validation over PSUs;
regions with fewer than 30 households or 2 PSUs in the survey have no model
of their own and fall back along the chain. The default spec has two exact
linear dependencies in any survey that follows the questionnaire's skip
patterns (``power_va`` is 0 exactly when ``lighting`` is not PLN-metered;
``head_sector`` and ``head_status`` are both 0 exactly when the head does not
work): one term of each is dropped (``on_collinear="drop"``), which leaves
every prediction for a household that follows the skip patterns unchanged.
Reference cutoffs (national and per province) are computed on the survey,
person-weighted, with the exact desil rule. ``diagnostics.csv`` and
``calibration.txt`` beside the weight files report every model's sample,
fit and pooling.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pmt  # noqa: E402
from pmt.calibration import Calibration, CalibrationWarning, calibrate  # noqa: E402
from pmt.regions import LEVELS  # noqa: E402

SEED = 20261127
CREATED = dt.date(2026, 11, 27)
SURVEY_HOUSEHOLDS = 100_000
DESCRIPTION = ("SYNTHETIC demonstration weight set: calibrated by pmt.calibrate on a synthetic "
               "SUSENAS-like survey (pmt.synth.survey) whose consumption follows invented "
               "models; illustrative poverty lines. Not official Indonesian PMT weights (none "
               "are public); do not use it to target anyone.")


def build() -> Calibration:
    """Calibrate the demo set (deterministic: fixed seed, date and options)."""
    survey, truth = pmt.synth.survey(SURVEY_HOUSEHOLDS, seed=SEED, return_truth=True)
    with warnings.catch_warnings():
        # rare codes never drawn in the sample get 0: recorded in the manifest
        warnings.simplefilter("ignore", CalibrationWarning)
        cal = calibrate(
            survey, pmt.default_spec(), poverty_lines=truth.poverty_lines,
            estimator="wls", pooling="shrink", pooling_folds=5, seed=SEED, on_collinear="drop",
            name="demo", version="2.0.0", created=CREATED, description=DESCRIPTION,
            synthetic=True,
            region_vintage="2023 (synthetic district numbering; Papua codes 92/95/96/97 "
                           "unconfirmed)",
            survey_name=f"pmt.synth.survey({SURVEY_HOUSEHOLDS}, seed={SEED})",
            survey_period="synthetic",
            provenance={"script": "weights/make_demo.py", "seed": SEED})
    levels = cal.levels()
    missing = [lvl for lvl in LEVELS if levels.get(lvl, 0) == 0]
    if missing:
        raise SystemExit(f"the demo set must have models at every level; none at {missing}")
    return cal


if __name__ == "__main__":
    start = time.perf_counter()
    cal = build()
    ws = cal.save(HERE / "demo")
    print(cal.report())
    print(f"\n{ws!r}\n{ws.content_hash}\nbuilt in {time.perf_counter() - start:.0f} s")
