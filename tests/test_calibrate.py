"""Recalibration: estimators, selection, pooling, validation, output, bad input, the survey.

Truths come from :func:`pmt.synth.survey`, whose consumption follows KNOWN
regional models; tolerances are stated where they are asserted. Surveys are
kept small so that the module runs in about a minute on two busy cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib
import inspect
import json
import math
import re
import sys
import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import pmt
import pmt.calibration as C
from pmt import errors as E
from pmt._blas import single_threaded
from pmt.calibration.data import prepare
from pmt.calibration.options import options_from
from pmt.calibration.pooling import Fitter
from pmt.calibration.qreg import QuantRegFit, check_loss, cluster_cov, fit_quantile
from pmt.calibration.stepwise import stepwise
from pmt.cli import calibrate as calibrate_cli
from pmt.regions import LEVELS

#: Fixed pooling strengths, for tests about something else than choosing them.
FIXED = {lvl: (3000.0, 100.0) for lvl in C.LEVEL_ORDER}


def _quiet(**kw):
    """calibrate() with the rare-code warning silenced (small surveys miss rare codes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.CalibrationWarning)
        return C.calibrate(**kw)


@pytest.fixture(scope="module")
def small():
    """A national survey of 8,000 households and its truth."""
    return pmt.synth.survey(8_000, seed=11, return_truth=True)


@pytest.fixture(scope="module")
def cal(small):
    """WLS with partial pooling, strengths chosen by cross-validation."""
    s, truth = small
    return _quiet(
        survey=s,
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
        survey_name="SYN-SUSENAS",
        survey_period="2026-03",
        pooling_folds=3,
        name="test-cal",
        created=dt.date(2026, 11, 27),
    )


def _true_units(truth):
    """Variables (selection units) with a non-zero true national effect."""
    spec, nat = truth.spec, truth.coefficients[truth.model_keys.index("national")]
    units = [(v.name, [f"{v.name}={c}" for c in v.code_values]) for v in spec.lookup_variables]
    units += [(t, [t]) for t in spec.numeric_terms]
    return {name for name, terms in units if any(nat[spec.terms.index(t)] for t in terms)}


# --------------------------------------------------------------------------- quantile regression


def _qr_data(n, p, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    y = X @ rng.normal(size=p) + rng.standard_t(3, size=n)
    return X, y, rng


@pytest.mark.parametrize("tau", [0.2, 0.5, 0.8])
def test_weighted_quantile_regression_two_solvers_agree(tau):
    X, y, rng = _qr_data(400, 6, 1)
    w = rng.uniform(0.2, 5.0, 400)
    ipm = fit_quantile(X, y, w, tau=tau, solver="ipm")
    lp = fit_quantile(X, y, w, tau=tau, solver="highs")
    assert ipm.converged and lp.converged
    assert ipm.objective == pytest.approx(lp.objective, rel=1e-8)
    np.testing.assert_allclose(ipm.params, lp.params, atol=1e-6)
    assert ipm.objective == pytest.approx(check_loss(y - X @ ipm.params, tau, w))


@pytest.mark.parametrize("solver", ["ipm", "highs"])
def test_integer_weights_equal_replicated_rows(solver):
    X, y, rng = _qr_data(300, 5, 2)
    w = rng.integers(1, 4, 300)
    weighted = fit_quantile(X, y, w.astype(float), tau=0.3, solver=solver)
    replicated = fit_quantile(np.repeat(X, w, axis=0), np.repeat(y, w), tau=0.3, solver=solver)
    assert weighted.objective == pytest.approx(replicated.objective, rel=1e-9)
    np.testing.assert_allclose(weighted.params, replicated.params, atol=1e-7)


def test_unweighted_matches_statsmodels_quantreg():
    X, y, _ = _qr_data(500, 4, 3)
    ours = fit_quantile(X, y, tau=0.35)
    theirs = sm.QuantReg(y, X).fit(q=0.35, max_iter=5000, p_tol=1e-10)
    # QuantReg (IRLS) approximates the LP optimum; ours is the optimum itself
    np.testing.assert_allclose(ours.params, theirs.params, atol=1e-4)
    assert ours.objective <= check_loss(y - X @ theirs.params, 0.35) + 1e-9
    # standard errors of the same order (different estimators of the sandwich)
    se = np.sqrt(np.diag(cluster_cov(X, y, None, ours.params, 0.35)))
    assert np.all((se / theirs.bse > 0.6) & (se / theirs.bse < 1.6))


@pytest.mark.parametrize("n", [40, 400])  # fewer rows than columns uses the Woodbury path
def test_penalised_quantile_regression_is_optimal(n):
    X, y, rng = _qr_data(n, 60, 4)
    w = rng.uniform(0.5, 2, n)
    pen = np.r_[2.0, np.full(59, 25.0)]
    prior = rng.normal(0, 0.1, 60)
    fit = fit_quantile(X, y, w, tau=0.4, penalty=pen, prior=prior)
    assert fit.converged

    def objective(b):
        return check_loss(y - X @ b, 0.4, w) + 0.5 * np.sum(pen * (b - prior) ** 2)

    best = objective(fit.params)
    for _ in range(100):
        assert objective(fit.params + rng.normal(0, 1e-3, 60)) >= best - 1e-9


# --------------------------------------------------------------------------- stepwise


def test_stepwise_removal_pvalues_equal_statsmodels_cluster_wald():
    rng = np.random.default_rng(5)
    n, g = 3000, 150
    cl = rng.integers(0, g, n)
    X = rng.normal(size=(n, 7))
    X[:, 3:6] = (rng.integers(0, 4, n)[:, None] == np.arange(1, 4)).astype(float)  # a 4-code var
    y = 0.5 * X[:, 0] - 0.3 * X[:, 3] + 0.2 * X[:, 4] + rng.normal(size=n) + rng.normal(size=g)[cl]
    w = rng.uniform(0.5, 3, n)
    X, y = X - np.average(X, axis=0, weights=w), y - np.average(y, weights=w)
    units = [np.array([0]), np.array([1]), np.array([2]), np.array([3, 4, 5]), np.array([6])]
    res = stepwise(X, y, w, cl, units, p_enter=0.05, p_remove=0.10)
    assert {0, 3} <= set(res.selected)
    cols = np.sort(np.concatenate([units[u] for u in res.selected]))
    fit = sm.WLS(y, X[:, cols], weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": cl}, use_t=True
    )
    for u in res.selected:
        R = np.zeros((units[u].size, cols.size))
        for i, c in enumerate(units[u]):
            R[i, np.searchsorted(cols, c)] = 1.0
        p = float(fit.f_test(R).pvalue)
        assert res.final_pvalues[u] == pytest.approx(p, rel=1e-6), u


def test_stepwise_finds_the_true_variables():
    s, truth = pmt.synth.survey(20_000, seed=21, return_truth=True)
    cal = _quiet(
        survey=s,
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
        select="stepwise",
        p_enter=0.01,
        p_remove=0.02,
        pooling="fallback",
        min_households=10**9,
    )
    chosen = set(cal.selection.attrs["selected"])
    true = _true_units(truth)
    assert len(true) == 19
    assert true <= chosen, f"missed {true - chosen}"
    assert len(chosen - true) <= 2, f"false positives {chosen - true}"  # 31 null variables
    # a categorical variable enters and leaves whole; unselected terms are 0 everywhere
    coef = cal.coefficients
    floor = coef[coef["term"].str.startswith("floor_material=")]
    assert floor["active"].all()
    dropped = set(cal.dropped.loc[cal.dropped["reason"].str.startswith("not selected"), "term"])
    assert dropped == set(cal.selection.attrs["candidates"]) - chosen
    terms = cal.weights.spec.terms
    for name in dropped:
        cols = [i for i, t in enumerate(terms) if t == name or t.startswith(name + "=")]
        assert not cal.weights.coefficients[:, cols].any(), name


# --------------------------------------------------------------------------- calibrate


def test_recovers_the_true_coefficients():
    """One national truth (heterogeneity 0): the estimates recover it.

    Every estimate within 4.5 cluster-robust SEs of the truth, about 5 % beyond
    1.96 SE (at most 12 %), median absolute error under 0.02.
    """
    s, truth = pmt.synth.survey(16_000, seed=3, heterogeneity=0.0, return_truth=True)
    cal = _quiet(
        survey=s,
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
        pooling="fallback",
        min_households=10**9,
    )
    nat = cal.coefficients.query("model_key == 'national' and active")
    true = truth.coefficients[truth.model_keys.index("national")]
    t = np.array([true[truth.spec.terms.index(term)] for term in nat["term"]])
    z = ((nat["coef"] - t) / nat["se"]).to_numpy()[1:]
    assert np.abs(z).max() < 4.5
    assert np.mean(np.abs(z) > 1.96) < 0.12
    assert np.median(np.abs(nat["coef"].to_numpy() - t)[1:]) < 0.02
    # the statsmodels results are kept untouched
    res = cal.national
    assert res.cov_type == "cluster"
    np.testing.assert_allclose(res.params.to_numpy(), nat["coef"].to_numpy())


def test_design_columns_map_onto_the_spec_terms(small, cal):
    s, truth = small
    ws = cal.weights
    spec = ws.spec
    # reference codes have coefficient 0 in every model
    for v in spec.lookup_variables:
        assert not ws.coefficients[:, spec.terms.index(f"{v.name}={v.code_values[0]}")].any()
    # the design matrix the models are fitted on, times the coefficients of the model that
    # scores each household (rank's model column), is what the scorer predicts
    data = prepare(
        s,
        None,
        poverty_lines=truth.poverty_lines,
        consumption="consumption",
        weight="weight",
        psu="psu",
        strata="strata",
        id_col="hh_id",
        scheme="BPS",
    )
    model = pmt.rank(s, ws, cutoffs="reference", weight="weight").model
    own = (data.X * ws.coefficients[model][:, data.term_pos]).sum(axis=1)
    scored = pmt.score(s, ws).to_numpy() + data.shift
    np.testing.assert_allclose(own, scored, atol=1e-9)


def test_reference_cutoffs_reproduce_the_survey_desil(small, cal):
    s, _ = small
    ws = cal.weights
    assert set(ws.cutoffs) == {"national"} | {f"{p:02d}" for p in pmt.regions.PROVINCES}
    ref = pmt.rank(s, ws, cutoffs="reference", weight="weight")
    reg = pmt.rank(s, ws, cutoffs="registry", weight="weight")
    np.testing.assert_array_equal(ref.desil_national, reg.desil_national)
    np.testing.assert_array_equal(ref.desil_provincial, reg.desil_provincial)
    # a registry holding only the poorest 40 % still gets national desil 1-4
    poor = s[reg.desil_national <= 4]
    sub = pmt.rank(poor, ws, cutoffs="reference", weight="weight")
    np.testing.assert_array_equal(sub.desil_national, reg.desil_national[reg.desil_national <= 4])


def test_models_levels_and_their_record(small, cal):
    s, truth = small
    # a level whose cross-validated strengths are (inf, inf) would copy its parents: it has
    # no models, and its households fall back along the chain
    for lvl, (lam, lam0) in cal.lambdas.items():
        assert (cal.levels()[lvl] == 0) == (math.isinf(lam) and math.isinf(lam0)), lvl
    fixed = _quiet(survey=s, poverty_lines=truth.poverty_lines, on_collinear="drop", lambdas=FIXED)
    levels = fixed.levels()
    assert all(levels[lvl] > 0 for lvl in LEVELS), levels
    m = fixed.models
    assert (m.loc[m["level"] != "national", "fit"] == "shrunk").all()
    assert m.loc["national", "fit"] == "root"
    du = m[m["level"] == "district_urban"]
    assert (du["parent"] == du.index.str[:2] + du.index.str[4:]).all()  # 3201-urban -> 32-urban
    assert (m.loc[m["level"] == "district", "parent"].str.len() == 2).all()
    assert (m["households"] >= 30).all() and (m["psus"] >= 2).all()
    child = m[m["level"] != "national"]
    assert (child["lambda"] == 3000).all() and (child["lambda_intercept"] == 100).all()
    # cells too small for a model fall back along the chain
    cells = s.groupby(["district_code", "urban"]).size()
    small_cells = [f"{d:04d}-{'urban' if u else 'rural'}" for (d, u), k in cells.items() if k < 30]
    assert small_cells and not set(small_cells) & set(fixed.weights.model_keys)
    # the manifest records every model's level, parent and pooling strength
    prov = fixed.weights.manifest.provenance
    cols = prov["models"]["columns"]
    rows = {r[0]: dict(zip(cols, r, strict=True)) for r in prov["models"]["rows"]}
    assert set(rows) == set(fixed.weights.model_keys)
    assert rows["national"]["fit"] == "root"
    assert all(rows[k]["parent"] == m.loc[k, "parent"] for k in du.index)
    assert set(prov["pooling"]["lambdas"]) == set(C.LEVEL_ORDER)
    assert set(cal.lambda_path["level"]) == set(C.LEVEL_ORDER)


def test_save_writes_a_loadable_set_with_provenance(cal, tmp_path):
    ws = cal.save(tmp_path / "set")
    assert ws.content_hash == cal.weights.content_hash
    loaded = pmt.load_weights(tmp_path / "set")
    assert loaded.content_hash == ws.content_hash
    raw = json.loads((tmp_path / "set" / "manifest.json").read_text())
    prov = raw["provenance"]
    assert prov["survey"]["name"] == "SYN-SUSENAS" and prov["survey"]["period"] == "2026-03"
    assert prov["estimator"]["estimator"] == "wls" and prov["estimator"]["pooling"] == "shrink"
    assert prov["pmt_version"] == pmt.__version__ and prov["created"] == "2026-11-27"
    assert prov["survey"]["data_hash"].startswith("sha256:")
    assert raw["content_hash"] == ws.content_hash and raw["synthetic"] is True
    diag = pd.read_csv(tmp_path / "set" / "diagnostics.csv", index_col=0)
    assert len(diag) == len(ws.model_keys)
    assert "national" in (tmp_path / "set" / "calibration.txt").read_text()
    assert (tmp_path / "set" / "calibration.txt").read_text() == cal.report() + "\n"
    assert "SYN-SUSENAS" in cal.report() and "shrink" in repr(cal)


def test_quantile_estimator_national_model_is_the_weighted_quantile_fit(small):
    s, truth = small
    cal = _quiet(
        survey=s,
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
        estimator="quantile",
        tau=0.3,
        pooling="fallback",
        min_households=10**9,
    )
    data = prepare(
        s,
        None,
        poverty_lines=truth.poverty_lines,
        consumption="consumption",
        weight="weight",
        psu="psu",
        strata="strata",
        id_col="hh_id",
        scheme="BPS",
    )
    active = cal.coefficients.query("model_key == 'national'")["active"].to_numpy()
    X = data.X[:, active]
    with single_threaded():  # many small BLAS calls: threads only add overhead
        direct = fit_quantile(X, data.y, data.pw, tau=0.3)
    nat = cal.national
    np.testing.assert_allclose(nat.params, direct.params, atol=1e-6)
    assert nat.bse is not None and np.isfinite(nat.bse).all()
    # about 30 % of people are below the national quantile model
    below = data.y < X @ nat.params
    assert np.average(below, weights=data.pw) == pytest.approx(0.3, abs=0.01)


def test_poverty_weighted_least_squares_fits_the_poorest_share(small):
    s, truth = small
    cal = _quiet(
        survey=s,
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
        estimator="poverty_wls",
        truncate=0.4,
        lambdas=FIXED,
    )
    nat = cal.models.loc["national"]
    assert nat["households_fitted"] < 0.55 * len(s)
    assert cal.national.nobs == nat["households_fitted"]
    # the households fitted are the poorest 40 % of people by observed welfare
    data = prepare(
        s,
        None,
        poverty_lines=truth.poverty_lines,
        consumption="consumption",
        weight="weight",
        psu="psu",
        strata="strata",
        id_col="hh_id",
        scheme="BPS",
    )
    fitted = Fitter(data, cal.options, np.ones(len(data.columns), bool)).fit_rows(np.arange(data.n))
    assert fitted.size == nat["households_fitted"]
    share = data.pw[fitted].sum() / data.pw.sum()
    assert share == pytest.approx(0.4, abs=0.005)
    assert data.welfare[fitted].max() <= np.delete(data.welfare, fitted).min()


def test_pooling_beats_per_district_ols_out_of_sample():
    """Partially pooled models predict held-out PSUs far better than per-district OLS.

    Small districts: about 100 households per district x urban, 131 coefficients.
    """
    s, truth = pmt.synth.survey(8_000, seed=8, provinces=(51, 52, 53), return_truth=True)
    cv = C.cross_validate(
        s,
        estimators={
            "pooled": {"pooling_folds": 3},
            "per-district OLS": {"pooling": "none", "min_households": 1, "min_psus": 1},
        },
        folds=3,
        quotas=(0.2, 0.4),
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
    )
    t = cv.table
    assert t.loc["pooled", "r2"] > 0.35
    assert t.loc["pooled", "r2"] > t.loc["per-district OLS", "r2"] + 0.2
    assert t.loc["per-district OLS", "in_sample_r2"] > t.loc["pooled", "in_sample_r2"]
    for q in ("0.2", "0.4"):
        assert (
            t.loc["pooled", f"exclusion_error_{q}"]
            < t.loc["per-district OLS", f"exclusion_error_{q}"]
        )
    assert "| pooled |" in cv.to_markdown()
    # the comparison table is the summary; the per-household predictions the frame
    pd.testing.assert_frame_equal(cv.summary(), cv.table)
    pd.testing.assert_frame_equal(cv.to_frame(), cv.predictions)
    assert cv.to_frame().index.equals(s.index)
    assert repr(cv) == "<CrossValidation 2 estimators, 3 PSU folds, 8,000 households>"
    assert cv._repr_html_().startswith("<p><code>&lt;CrossValidation 2 estimators")
    assert "<th>per-district OLS</th>" in cv._repr_html_()
    # folds hold whole PSUs; every household is predicted once
    assert cv.predictions.groupby(s["psu"].to_numpy())["fold"].nunique().max() == 1
    assert cv.predictions.filter(like="pred_").notna().all().all()
    assert set(cv.folds["fold"]) == {0, 1, 2}


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def tiny():
    return pmt.synth.survey(2_000, seed=2, provinces=(33, 51), return_truth=True)


def _cal(s, truth, **kw):
    kw = {"poverty_lines": truth.poverty_lines, "on_collinear": "drop", "lambdas": FIXED, **kw}
    return _quiet(survey=s, **kw)


def test_missing_or_non_positive_consumption(tiny):
    s, truth = tiny
    bad = s.copy()
    bad.loc[[3, 7], "consumption"] = np.nan
    with pytest.raises(E.MissingValueError, match=r"'consumption'.*rows 3.*7") as exc:
        _cal(bad, truth)
    assert exc.value.column == "consumption" and exc.value.rows == (3, 7)
    bad = s.copy()
    bad.loc[5, "consumption"] = 0.0
    with pytest.raises(E.InvalidValueError, match="greater than 0"):
        _cal(bad, truth)
    with pytest.raises(E.MissingColumnError, match="consumption"):
        _cal(s.drop(columns="consumption"), truth)


def test_zero_weight_and_missing_psu(tiny):
    s, truth = tiny
    bad = s.copy()
    bad.loc[4, "weight"] = 0.0
    with pytest.raises(E.InvalidValueError, match=r"'weight'.*greater than 0"):
        _cal(bad, truth)
    bad = s.copy().astype({"psu": "float64"})
    bad.loc[9, "psu"] = np.nan
    with pytest.raises(E.MissingValueError, match=r"'psu'.*row 9"):
        _cal(bad, truth)


def test_collinear_and_constant_variables(tiny):
    s, truth = tiny
    # the default spec has skip-pattern dependencies: named, with the fix
    with pytest.raises(C.CollinearityError, match=r"power_va.*lighting|lighting.*power_va") as e:
        _cal(s, truth, on_collinear="raise")
    assert any(t.startswith("head_s") for t in e.value.terms)
    bad = s.copy()
    bad["has_boat"] = 1
    with pytest.raises(C.CollinearityError, match=r"has_boat.*constant|constant.*has_boat"):
        _cal(bad, truth, on_collinear="raise")
    cal = _cal(bad, truth)  # dropped, with a record
    reasons = dict(zip(cal.dropped["term"], cal.dropped["reason"], strict=True))
    assert reasons["has_boat"].startswith("constant")
    assert any(r.startswith("collinear") for r in reasons.values())
    assert not cal.weights.coefficients[:, cal.weights.spec.terms.index("has_boat=1")].any()


def _without_parquet(s):
    """The survey with no parquet / vinyl floors (code 3 becomes ceramic, code 2)."""
    s = s.copy()
    s.loc[s["floor_material"] == 3, "floor_material"] = 2
    return s


def test_unobserved_codes_warn_and_score_as_the_reference(tiny):
    s, truth = tiny
    s = _without_parquet(s)
    with pytest.warns(C.CalibrationWarning, match=r"never observed.*floor_material=3"):
        cal = C.calibrate(s, poverty_lines=truth.poverty_lines, on_collinear="drop", lambdas=FIXED)
    unobserved = cal.dropped.loc[cal.dropped["reason"].str.startswith("unobserved"), "term"]
    assert "floor_material=3" in set(unobserved)
    terms = cal.weights.spec.terms
    assert not cal.weights.coefficients[:, [terms.index(t) for t in unobserved]].any()


def test_too_small_for_any_model(tiny):
    s, truth = tiny
    with pytest.raises(C.SmallSampleError, match="pooling='none'") as exc:
        _cal(s, truth, pooling="none", min_households=60)
    assert exc.value.regions
    with pytest.raises(C.SmallSampleError, match="coefficients"):
        _cal(s.iloc[:40], truth)


def test_quantile_regression_with_partial_pooling(tiny):
    s, truth = tiny
    cal = _cal(s, truth, estimator="quantile", tau=0.4)
    m = cal.models
    assert (m.loc[m["level"] != "national", "fit"] == "shrunk").all() and len(m) > 10
    assert isinstance(cal.national, QuantRegFit) and cal.national.converged
    res = pmt.rank(s, cal.weights, cutoffs="reference", weight="weight")
    assert np.isfinite(res.welfare).all()


def test_poverty_lines_in_several_forms(tiny):
    s, truth = tiny
    table = pd.DataFrame(
        [(int(k[:2]), int(k.endswith("urban")), v) for k, v in truth.poverty_lines.items()],
        columns=["province_code", "urban", "poverty_line"],
    )
    a = _cal(s, truth, pooling="fallback", min_households=10**9)
    b = _cal(s, truth, poverty_lines=table, pooling="fallback", min_households=10**9)
    assert a.weights.content_hash == b.weights.content_hash
    # the survey covers provinces 33 and 51: both lack a line, and both are named
    with pytest.raises(C.CalibrationError, match=r"every covered region \['33', '51'\].*2 missing"):
        _cal(s, truth, poverty_lines={"31-urban": 800_000.0}, pooling="fallback")
    with pytest.raises(C.CalibrationError, match="positive"):
        _cal(s, truth, poverty_lines={"national": -1.0})
    none = _cal(s, truth, poverty_lines=None, pooling="fallback", min_households=10**9)
    assert not none.weights.has_poverty_lines


def test_options_are_validated(tiny):
    s, truth = tiny
    with pytest.raises(ValueError, match="tau"):
        _cal(s, truth, estimator="quantile", tau=1.5)
    with pytest.raises(ValueError, match="p_enter"):
        _cal(s, truth, select="stepwise", p_enter=0.2, p_remove=0.1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'shrinkage'"):
        _cal(s, truth, shrinkage=3)
    with pytest.raises(TypeError, match="unknown calibration options"):
        C.cross_validate(s, estimators={"x": {"shrinkage": 3}}, folds=2)
    with pytest.raises(E.ArgumentError, match="estimator='ridge': must be one of") as exc:
        _cal(s, truth, estimator="ridge")
    assert exc.value.argument == "estimator"
    with pytest.raises(E.ArgumentError, match="solver='highs': the HiGHS linear program"):
        _cal(s, truth, estimator="quantile", solver="highs", pooling="shrink")
    with pytest.raises(TypeError, match=r"\['alpha'\] are not options of the estimator 'wls'"):
        _cal(s, truth, estimator_options={"alpha": 1.0})
    with pytest.raises(TypeError, match=r"\['tau'\] are parameters of calibrate"):
        _cal(s, truth, estimator="quantile", estimator_options={"tau": 0.3})
    with pytest.raises(TypeError, match="DataFrame"):
        C.calibrate(s.to_numpy())


# --------------------------------------------------------------------------- the public API


def test_every_option_is_a_documented_keyword_with_the_options_default():
    fields = [f.name for f in dataclasses.fields(C.Options)]
    assert len(fields) == 17
    for fn in (C.calibrate, C.cross_validate):
        sig = inspect.signature(fn)
        # inspect.getdoc: the same text whether or not Python strips the indent (3.13 does)
        doc = inspect.getdoc(fn) or ""
        params = doc.split("Parameters\n----------\n")[1].split("Returns\n")[0]
        for name, p in sig.parameters.items():
            if name in ("survey", "spec"):
                continue
            assert p.kind is inspect.Parameter.KEYWORD_ONLY, (fn.__name__, name)
            documented = re.search(rf"^(\w+, )*{name}(, \w+)*( :|$)", params, re.M)
            assert documented, (fn.__name__, name)
        # the signature's defaults are the defaults of Options
        assert options_from({f: sig.parameters[f].default for f in fields}) == C.Options()
    assert all(est.name == key for key, est in C.ESTIMATORS.items())


class CappedWLS(C.Estimator):
    """A toy estimator: least squares with person weights capped at ``cap`` times their mean."""

    name = "capped_wls"
    options: ClassVar[dict[str, float]] = {"cap": 5.0}

    def check(self, options):
        cap = options.estimator_option("cap")
        if not cap > 0:
            raise E.ArgumentError(f"cap={cap!r}: must be greater than 0", argument="cap")

    def fit(
        self, design, y, weights, *, clusters, names, options, with_se=False, keep_result=False
    ):
        w = np.minimum(weights, options.estimator_option("cap"))
        sw = np.sqrt(w)
        return C.Fitted(np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)[0])


def test_an_added_estimator_is_one_class_and_one_line_in_the_table(tiny, monkeypatch):
    s, truth = tiny
    national = {"pooling": "fallback", "min_households": 10**9}
    with monkeypatch.context() as m:
        m.setitem(C.ESTIMATORS, "capped_wls", CappedWLS())
        cal = _cal(s, truth, estimator="capped_wls", estimator_options={"cap": 1.5}, **national)
        # the national model is statsmodels' WLS with the capped weights, on the same columns
        data = prepare(
            s,
            None,
            poverty_lines=truth.poverty_lines,
            consumption="consumption",
            weight="weight",
            psu="psu",
            strata="strata",
            id_col="hh_id",
            scheme="BPS",
        )
        nat = cal.coefficients.query("model_key == 'national'")
        active = nat["active"].to_numpy()
        w = np.minimum(data.pw / data.pw.mean(), 1.5)
        ref = sm.WLS(data.y, data.X[:, active], weights=w).fit()
        np.testing.assert_allclose(
            nat["coef"].to_numpy()[active], ref.params, rtol=1e-9, atol=1e-12
        )
        assert not np.isfinite(nat["se"]).any()  # the toy gives no standard errors
        plain = _cal(s, truth, **national)  # capping changes the fit
        assert np.abs(plain.weights.coefficients - cal.weights.coefficients).max() > 1e-3
        record = cal.weights.manifest.provenance["estimator"]
        assert record["estimator"] == "capped_wls" and record["estimator_options"] == {"cap": 1.5}
        assert "estimator   capped_wls" in cal.report()
        # its default option, and partial pooling by the protocol's least-squares default
        pooled = _cal(s, truth, estimator="capped_wls")
        assert pooled.weights.manifest.provenance["estimator"]["estimator"] == "capped_wls"
        assert (pooled.models.loc[pooled.models["level"] != "national", "fit"] == "shrunk").all()
        assert np.isfinite(pmt.score(s, pooled.weights)).all()
        with pytest.raises(E.ArgumentError, match="cap=0: must be greater than 0"):
            _cal(s, truth, estimator="capped_wls", estimator_options={"cap": 0})
        with pytest.raises(
            TypeError,
            match=r"\['kap'\] are not options of the estimator "
            r"'capped_wls'; it takes \['cap'\]",
        ):
            _cal(s, truth, estimator="capped_wls", estimator_options={"kap": 2})
    with pytest.raises(E.ArgumentError, match="must be one of"):  # removed again
        _cal(s, truth, estimator="capped_wls")


def test_result_objects_summarise_frame_and_render(cal):
    summary = cal.summary()
    pd.testing.assert_frame_equal(summary, cal.models)
    assert summary is not cal.models
    pd.testing.assert_frame_equal(cal.to_frame(), cal.coefficients)
    text = repr(cal)
    assert "\n" not in text and text.startswith("<Calibration test-cal@1.0.0: wls, pooling=shrink")
    html = cal._repr_html_()
    assert html.startswith("<p><code>&lt;Calibration test-cal@1.0.0") and "<table" in html
    assert "<th>national</th>" in html
    assert cal.report().startswith("Calibration of weight set test-cal@1.0.0 (synthetic)")


def test_the_old_module_path_warns_and_still_works(tiny, monkeypatch):
    s, truth = tiny
    monkeypatch.setattr(pmt, "calibrate", pmt.calibrate)  # restored afterwards
    monkeypatch.delitem(sys.modules, "pmt.calibrate", raising=False)
    try:
        with pytest.warns(
            DeprecationWarning,
            match=r"pmt\.calibrate is deprecated.*"
            r"pmt\.calibration",
        ):
            old = importlib.import_module("pmt.calibrate")
        assert old.Calibration is C.Calibration and old.cross_validate is C.cross_validate
        assert old.CalibrationError is E.CalibrationError is C.CalibrationError
        assert pmt.calibrate is old  # importing the submodule binds it on pmt ...
        kw = {
            "poverty_lines": truth.poverty_lines,
            "on_collinear": "drop",
            "pooling": "fallback",
            "min_households": 10**9,
            "created": dt.date(2026, 1, 2),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", C.CalibrationWarning)
            cal = pmt.calibrate(s, **kw)  # ... and it stays callable as the function
            assert cal.weights.content_hash == C.calibrate(s, **kw).weights.content_hash
        parser = argparse.ArgumentParser(prog="pmt")
        old.add_cli(parser.add_subparsers(dest="command"))
        assert parser.parse_args(["calibrate", "x.csv"]).estimator == "wls"
    finally:
        sys.modules.pop("pmt.calibrate", None)


def test_compare_arguments_route_an_estimators_own_options():
    label, kw = calibrate_cli._estimator_arg("capped_wls:cap=2.5,pooling=fallback,seed=3")
    assert label == "capped_wls:cap=2.5,pooling=fallback,seed=3"
    assert kw == {
        "estimator": "capped_wls",
        "pooling": "fallback",
        "seed": 3,
        "estimator_options": {"cap": 2.5},
    }


# --------------------------------------------------------------------------- the synthetic survey


def test_survey_design_and_truth():
    s, truth = pmt.synth.survey(6_000, seed=4, return_truth=True)
    again = pmt.synth.survey(6_000, seed=4)
    pd.testing.assert_frame_equal(s, again)
    assert len(s) == 6_000 and s["hh_id"].is_unique and s.attrs["synthetic"] is True
    assert (s["consumption"] > 0).all() and (s["weight"] > 0).all()
    # weights gross up to the population; PSUs nest in strata; every district is sampled
    assert s["weight"].sum() == pytest.approx(70e6, rel=1e-9)
    assert s.groupby("psu")["strata"].nunique().max() == 1
    assert s["district_code"].nunique() == len(pmt.synth.districts())
    assert (s["strata"] == s["district_code"].astype(int) * 10 + s["urban"]).all()
    # same variables and distributions as the registry (person-weighted shares)
    reg = pmt.synth.registry(60_000, seed=1)
    assert list(s.columns[: reg.shape[1]]) == list(reg.columns)
    for col in ("has_refrigerator", "has_motorcycle", "urban"):
        wa = np.average(s[col], weights=s["weight"])
        assert wa == pytest.approx(reg[col].mean(), abs=0.03), col
    # consumption = exp(truth + PSU effect + noise): residual sd sqrt(0.40^2 + 0.15^2)
    welfare = pmt.score(s, truth).to_numpy()
    enc = pmt.encode.encode(s, truth)
    resid = np.log(s["consumption"].to_numpy()) - welfare - enc.cell_shift[enc.cell]
    assert abs(resid.mean()) < 0.02
    assert resid.std() == pytest.approx(math.hypot(0.40, 0.15), rel=0.05)
    # sparse truth: 19 variables matter, the same in every region
    assert len(_true_units(truth)) == 19


def test_survey_arguments():
    with pytest.raises(ValueError, match="too small"):
        pmt.synth.survey(500, seed=1)
    with pytest.raises(ValueError, match="provinces"):
        pmt.synth.survey(1_000, seed=1, provinces=(10,))
    s = pmt.synth.survey(600, seed=1, provinces=(31, 36))
    assert set(s["district_code"] // 100) == {31, 36}


# --------------------------------------------------------------------------- command line


def test_command_line_reads_stata_and_writes_a_weight_set(tiny, tmp_path, capsys):
    s, truth = tiny
    s = _without_parquet(s)
    path = tmp_path / "susenas.dta"
    s.astype({"hh_id": "int32"}).to_stata(path, write_index=False)
    lines = tmp_path / "lines.csv"
    pd.DataFrame(
        {
            "region_key": list(truth.poverty_lines),
            "poverty_line": list(truth.poverty_lines.values()),
        }
    ).to_csv(lines, index=False)
    parser = argparse.ArgumentParser(prog="pmt")
    calibrate_cli.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "calibrate",
            str(path),
            "--out",
            str(tmp_path / "w"),
            "--poverty-lines",
            str(lines),
            "--on-collinear",
            "drop",
            "--pooling",
            "fallback",
            "--survey-name",
            "SUSENAS-like",
            "--name",
            "cli-set",
        ]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr()
    assert "wrote weight set cli-set@1.0.0" in out.out
    assert "never observed" in out.err  # the warning goes to stderr
    ws = pmt.load_weights(tmp_path / "w")
    assert ws.manifest.provenance["survey"]["name"] == "SUSENAS-like"
    res = pmt.rank(s, ws, cutoffs="reference", weight="weight")
    assert res.n_households == len(s)


def test_command_line_compares_estimators(tiny, tmp_path, capsys):
    s, truth = tiny
    path = tmp_path / "survey.parquet"
    s.to_parquet(path)
    lines = tmp_path / "lines.csv"
    pd.DataFrame(
        [(int(k[:2]), int(k.endswith("urban")), v) for k, v in truth.poverty_lines.items()],
        columns=["province_code", "urban", "poverty_line"],
    ).to_csv(lines, index=False)
    parser = argparse.ArgumentParser(prog="pmt")
    calibrate_cli.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "calibrate",
            str(path),
            "--poverty-lines",
            str(lines),
            "--on-collinear",
            "drop",
            "--cv",
            "2",
            "--compare",
            "wls:pooling=fallback,min_households=1000000000",
            "quantile:tau=0.3,pooling=fallback,min_households=1000000000",
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.CalibrationWarning)
        assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "Out-of-sample comparison (2 PSU folds)" in out
    assert "| quantile:tau=0.3" in out and "exclusion_error_0.4" in out


def test_the_shipped_demo_set_is_a_calibration():
    """weights/make_demo.py builds ``demo`` through pmt.calibrate on a synthetic survey."""
    ws = pmt.load_weights("demo")
    prov = ws.manifest.provenance
    assert prov["method"] == "pmt.calibrate" and prov["script"] == "weights/make_demo.py"
    assert prov["survey"]["name"].startswith("pmt.synth.survey(")
    assert ws.manifest.synthetic is True and "SYNTHETIC" in ws.manifest.description
    assert all(n > 0 for n in ws.levels().values())
    assert {r[2] for r in prov["models"]["rows"]} == {"root", "shrunk"}
