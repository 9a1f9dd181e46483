"""How sure a desil is: residual variances, probabilities, the verification list, calibration.

The calibration test uses the synthetic survey whose true model and error
variance are known: with the true model and the true variance, the predicted
probability of being poor must match the observed share poor in every band,
within sampling error.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import make_households

import pmt
from pmt.errors import ArgumentError, WeightSetError
from pmt.operations.uncertainty import (
    MIN_HOUSEHOLDS,
    calibration_check,
    cv_calibration,
    desil_probabilities,
    verification_list,
)
from pmt.regions import fallback_chain
from pmt.weights import WeightSet

NOISE, PSU = 0.40, 0.15
PROVINCES = [31, 32, 33]


@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    s = pmt.synth.survey(4000, seed=1, heterogeneity=0.0, provinces=PROVINCES)
    assert isinstance(s, pd.DataFrame)
    return s


@pytest.fixture(scope="module")
def calibrated(survey: pd.DataFrame) -> WeightSet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pmt.errors.CalibrationWarning)
        return pmt.calibrate(survey, pooling="fallback", on_collinear="drop").weights


def test_calibrate_stores_residual_variances(survey: pd.DataFrame, calibrated: WeightSet) -> None:
    rv = calibrated.manifest.residual_variance
    assert rv is not None and set(rv) == set(calibrated.model_keys)
    # independently: observed welfare minus pmt.rank's welfare, per scoring model
    res = pmt.rank(survey, calibrated, cutoffs="reference")
    assert not calibrated.poverty_lines  # welfare is the predicted log consumption
    observed = np.log(survey["consumption"].to_numpy())
    r = observed - res.welfare
    w = survey["weight"].to_numpy() * survey["hh_size"].to_numpy()
    k = np.count_nonzero(calibrated.coefficients, axis=1)  # coefficients each model fitted
    n = len(r)
    pooled = np.sum(w * r**2) / np.sum(w) * n / (n - k.max())
    for i, key in enumerate(calibrated.model_keys):
        m = res.model == i
        size = int(m.sum())
        if size >= MIN_HOUSEHOLDS and size > 2 * k[i]:
            own = np.sum(w[m] * r[m] ** 2) / np.sum(w[m]) * size / (size - k[i])
            assert rv[key] == pytest.approx(own, rel=1e-9)
        else:
            assert rv[key] == pytest.approx(pooled, rel=1e-9)
    # the true error variance is NOISE^2 + PSU^2; the corrected estimate is close to it
    assert 0.85 * (NOISE**2 + PSU**2) < pooled < 1.15 * (NOISE**2 + PSU**2)
    # saved and loaded back, the variances are part of the hashed manifest
    demo = pmt.load_weights("demo")
    assert demo.manifest.residual_variance is None  # old sets load, hash unchanged
    assert "residual_variance" not in demo.manifest.model_dump_json()


def test_probabilities_by_the_formula(calibrated: WeightSet) -> None:
    hh = make_households(300, 3, districts=(3171, 3201, 3273))
    res = pmt.rank(hh, calibrated, cutoffs="reference", uncertainty=True)
    assert res.p_eligible is not None and res.p_desil is not None
    rv = calibrated.manifest.residual_variance
    assert rv is not None
    cut = calibrated.cutoffs["national"]
    for i in range(0, res.n_households, 37):  # a slow, plain reading of the formula
        s = math.sqrt(rv[calibrated.model_keys[res.model[i]]])
        phi = [
            0.0,
            *(0.5 * (1 + math.erf((c - res.welfare[i]) / (s * math.sqrt(2)))) for c in cut),
            1.0,
        ]
        want = [phi[d + 1] - phi[d] for d in range(10)]
        np.testing.assert_allclose(res.p_desil[i], want, rtol=0, atol=1e-12)
        assert res.p_eligible[i] == pytest.approx(phi[4], abs=1e-12)
    np.testing.assert_allclose(res.p_desil.sum(axis=1), 1.0, atol=1e-12)
    # eligible exactly when the probability of being eligible is at least one half
    assert np.array_equal(res.eligible, res.p_eligible >= 0.5)
    frame = res.to_frame()
    assert {"p_eligible", "p_desil_1", "p_desil_10"} <= set(frame.columns)
    table = res.to_arrow()  # the Arrow form (and streamed files) carry the same columns
    assert table.column_names == list(frame.columns)
    for name in ("p_eligible", "p_desil_1", "p_desil_10"):
        np.testing.assert_array_equal(table.column(name).to_numpy(), frame[name].to_numpy())
    z = float(np.median(res.welfare))
    line = pmt.rank(hh, calibrated, line=z, uncertainty=True)
    assert line.p_eligible is not None
    assert np.array_equal(line.eligible, line.p_eligible >= 0.5)


def test_verification_list_order_and_row_order(calibrated: WeightSet) -> None:
    hh = make_households(200, 4, districts=(3171, 3201, 3273), tie_frac=0.2)
    res = pmt.rank(hh, calibrated, cutoffs="reference", uncertainty=True)
    v = verification_list(res, limit=50)
    assert len(v) == 50
    u = v["uncertainty"].to_numpy()
    assert (np.diff(u) <= 0).all() and u[0] == pytest.approx(
        1 - abs(2 * v["p_eligible"].iloc[0] - 1)
    )
    assert set(v["hh_id"]) <= set(hh["hh_id"])
    perm = hh.sample(frac=1.0, random_state=1)
    again = verification_list(
        pmt.rank(perm, calibrated, cutoffs="reference", uncertainty=True), limit=50
    )
    assert again["hh_id"].tolist() == v["hh_id"].tolist()
    assert (verification_list(res, min_uncertainty=0.5)["uncertainty"] >= 0.5).all()
    with pytest.raises(ArgumentError, match="uncertainty=True"):
        verification_list(pmt.rank(hh, calibrated, cutoffs="reference"))
    with pytest.raises(WeightSetError, match="records no residual variances"):
        pmt.rank(hh, "demo", cutoffs="reference", uncertainty=True)


def test_probabilities_are_calibrated_on_the_true_model() -> None:
    """With the true model and error variance, P(poor) matches the observed share, band by band."""
    s, truth = pmt.synth.survey(
        20_000,
        seed=5,
        heterogeneity=0.0,
        provinces=PROVINCES,
        households_per_psu=1,
        noise_sd=NOISE,
        psu_sd=PSU,
        return_truth=True,
    )
    assert isinstance(truth, WeightSet) and isinstance(s, pd.DataFrame)
    known = WeightSet(
        truth.manifest.model_copy(
            update={"residual_variance": dict.fromkeys(truth.model_keys, NOISE**2 + PSU**2)}
        ),
        truth.model_keys,
        np.array(truth.coefficients),
        dict(truth.poverty_lines),
    )
    check = calibration_check(known, s, line=0.0)
    table = check.reliability
    gap = (table["observed_share_poor"] - table["mean_predicted"]).abs()
    assert (gap <= 4 * table["standard_error"] + 0.01).all(), table
    assert check.brier < check.brier_reference
    # a wrong variance (too small: overconfident) is caught by the same check
    wrong = WeightSet(
        truth.manifest.model_copy(
            update={"residual_variance": dict.fromkeys(truth.model_keys, (NOISE**2 + PSU**2) / 9)}
        ),
        truth.model_keys,
        np.array(truth.coefficients),
        dict(truth.poverty_lines),
    )
    bad = calibration_check(wrong, s, line=0.0).reliability
    assert (
        (bad["observed_share_poor"] - bad["mean_predicted"]).abs() > 4 * bad["standard_error"]
    ).any()


def test_desil_probabilities_shape() -> None:
    p = desil_probabilities([0.0, 1.0], [0.5, 0.5], [-1.0, 0.0, 1.0])
    assert p.shape == (2, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[0, 1] == pytest.approx(0.5 - 0.5 * (1 + math.erf(-2 / math.sqrt(2))))


def test_cross_validation_reports_calibration_of_the_probabilities(survey: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pmt.errors.CalibrationWarning)
        cv = pmt.cross_validate(survey, folds=3, pooling="fallback", on_collinear="drop")
    pred = cv.predictions
    # each household's sigma is that of the model that scored it in its held-out fold's set
    for k, ws in enumerate(cv.fold_weights["estimator"]):
        assert ws is not None and ws.manifest.residual_variance is not None
        rows = np.flatnonzero(pred["fold"].to_numpy() == cv.settings["fold_labels"][k])
        rv = ws.manifest.residual_variance
        keys = set(ws.model_keys)
        sub = survey.iloc[rows]
        scoring = [  # the model that scores each household: first of the fallback chain
            next(k for k in fallback_chain(int(d), int(u)) if k in keys)
            for d, u in zip(sub["district_code"], sub["urban"], strict=True)
        ]
        want = np.sqrt([rv[k] for k in scoring])
        np.testing.assert_allclose(pred["sigma_estimator"].to_numpy()[rows], want, rtol=1e-12)
    check = cv_calibration(cv, share=0.4)["estimator"]
    # the Brier score by a slow reading of its definition
    true = pred["true_welfare"].to_numpy()
    w = pred["person_weight"].to_numpy()
    order = np.argsort(true)
    cut = true[order][np.searchsorted(np.cumsum(w[order]), 0.4 * w.sum())]
    poor = true <= cut
    p = np.array(
        [
            0.5 * (1 + math.erf((cut - mu) / (s * math.sqrt(2))))
            for mu, s in zip(pred["pred_estimator"], pred["sigma_estimator"], strict=True)
        ]
    )
    assert check.brier == pytest.approx(np.sum(w * (p - poor) ** 2) / w.sum(), rel=1e-9)
    assert check.brier < check.brier_reference
    table = check.reliability
    assert table["households"].sum() == len(pred)
    # observed share poor rises with the predicted probability, band by band (within noise)
    assert pd.Series(table["observed_share_poor"].to_numpy()).is_monotonic_increasing or (
        np.corrcoef(table["mean_predicted"], table["observed_share_poor"])[0, 1] > 0.95
    )
