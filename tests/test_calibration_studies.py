"""Reproducible calibration studies: folds, failures, timings, provenance, survey checks.

Small synthetic surveys (:func:`pmt.synth.survey`) with fixed pooling strengths
keep every test quick; the computations compared against are written out here.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pmt
import pmt.calibration as C
from pmt import errors as E
from pmt.calibration.cv import fold_assignment
from pmt.calibration.data import CONSUMPTION_RANGE, prepare

#: Fixed pooling strengths: these tests are not about choosing them.
FIXED = {lvl: (3000.0, 100.0) for lvl in C.LEVEL_ORDER}


@pytest.fixture(scope="module")
def tiny():
    """2,000 households in two provinces, with the truth's poverty lines."""
    return pmt.synth.survey(2_000, seed=2, provinces=(33, 51), return_truth=True)


def _kw(truth, **kw):
    return {
        "poverty_lines": truth.poverty_lines,
        "on_collinear": "drop",
        "lambdas": FIXED,
        **kw,
    }


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.CalibrationWarning)
        return fn(*args, **kw)


def _prepared(s, truth):
    return _quiet(
        prepare,
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


# --------------------------------------------------------------------------- folds


def test_folds_as_count_column_or_array_give_the_same_study(tiny):
    s, truth = tiny
    by_count = _quiet(C.cross_validate, s, folds=3, seed=5, **_kw(truth))
    assignment = by_count.predictions["fold"].to_numpy()
    # the same folds given as an array (relabelled) and as a column
    labels = np.array(["a", "b", "c"])[assignment]
    by_array = _quiet(C.cross_validate, s, folds=labels, seed=5, **_kw(truth))
    with_col = s.assign(my_fold=labels)
    by_column = _quiet(C.cross_validate, with_col, folds="my_fold", seed=5, **_kw(truth))
    pred = by_count.predictions["pred_estimator"].to_numpy()
    fps = {cv.provenance["folds_fingerprint"] for cv in (by_count, by_array, by_column)}
    assert len(fps) == 2  # the array and the column are the same folds; 0/1/2 are other labels
    assert by_array.provenance["folds_fingerprint"] == by_column.provenance["folds_fingerprint"]
    for other in (by_array, by_column):
        np.testing.assert_array_equal(other.predictions["pred_estimator"].to_numpy(), pred)
        assert other.settings["fold_labels"] == ["a", "b", "c"]
        assert list(other.folds["fold"]) == ["a", "b", "c"]
        cols = [c for c in by_count.table.columns if not c.endswith("_seconds")]
        pd.testing.assert_frame_equal(other.table[cols], by_count.table[cols])
    # a held-out fold's predictions come from a set fitted without any of its households
    ws = by_array.fold_weights["estimator"][1]
    sel = labels == "b"
    np.testing.assert_allclose(pmt.score(s, ws).to_numpy()[sel], pred[sel])


def test_fold_assignment_rules(tiny):
    s, truth = tiny
    data = _prepared(s, truth)
    n = data.n
    two = np.arange(n) % 2
    fold, labels = fold_assignment(two, data, 0)
    assert labels == (0, 1) and (fold == two).all()
    fold, labels = fold_assignment(pd.Series(np.where(two, "x", "y")), data, 0)
    assert labels == ("x", "y") and (fold == 1 - two).all()
    with pytest.raises(TypeError, match=r"folds=2\.0.*whole number"):
        fold_assignment(2.0, data, 0)
    with pytest.raises(TypeError, match="1-d"):
        fold_assignment(np.zeros((n, 2)), data, 0)
    with pytest.raises(E.ArgumentError, match="at least 2 folds") as info:
        fold_assignment(1, data, 0)
    assert info.value.argument == "folds"
    with pytest.raises(E.ArgumentError, match=r"1,999 fold labels for 2,000 households"):
        fold_assignment(two[1:], data, 0)
    with pytest.raises(E.ArgumentError, match=r"1 fold \(rule: at least 2 folds"):
        fold_assignment(np.zeros(n), data, 0)
    withnan = two.astype(float)
    withnan[[3, 7]] = np.nan
    with pytest.raises(E.MissingValueError, match=r"2 of 2,000 rows have none, e.g. rows 3, 7"):
        fold_assignment(withnan, data, 0)
    cat = pd.Categorical(two, categories=[0, 1, 2])
    with pytest.raises(E.ArgumentError, match=r"folds \[2\] have no households"):
        fold_assignment(pd.Series(cat), data, 0)
    with pytest.raises(E.MissingColumnError, match="folds='nope': the survey has no such column"):
        fold_assignment("nope", data, 0)
    with pytest.raises(E.SmallSampleError, match="at least 10000 PSUs"):
        fold_assignment(10_000, data, 0)


# --------------------------------------------------------------------------- failures


class _Boom(C.Estimator):
    """Least squares that fails on any training part holding fold 'b' of the survey."""

    name = "boom"

    def fit(
        self, design, y, weights, *, clusters, names, options, with_se=False, keep_result=False
    ):
        if design.shape[0] < self.limit:
            raise np.linalg.LinAlgError("singular matrix (on purpose)")
        sw = np.sqrt(weights)
        return C.Fitted(np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)[0])


def test_a_failing_estimator_raises_naming_it_or_is_skipped_and_recorded(tiny, monkeypatch):
    s, truth = tiny
    labels = np.where(np.asarray(s["psu"]) % 3 == 0, "big", "small")  # 'big' training = 2/3
    boom = _Boom()
    n_small_train = int((labels == "big").sum())  # training part of fold 'small'
    boom.limit = n_small_train + 1  # fails only when trained on fold 'big' alone
    monkeypatch.setitem(C.ESTIMATORS, "boom", boom)
    ests = {
        "WLS": {},
        "broken": {"estimator": "boom", "pooling": "fallback", "min_households": 10**9},
    }
    with pytest.raises(E.FoldError, match=r"estimator 'broken' failed on fold 'small'") as info:
        _quiet(C.cross_validate, s, estimators=ests, folds=labels, **_kw(truth))
    err = info.value
    assert err.estimator == "broken" and err.fold == "small"
    assert isinstance(err.__cause__, np.linalg.LinAlgError) and err.error is err.__cause__
    assert "LinAlgError: singular matrix (on purpose)" in str(err) and "errors='skip'" in str(err)
    assert isinstance(err, ValueError)

    cv = _quiet(C.cross_validate, s, estimators=ests, folds=labels, errors="skip", **_kw(truth))
    assert cv.failures.to_dict("records") == [
        {
            "estimator": "broken",
            "fold": "small",
            "error": "LinAlgError",
            "message": "singular matrix (on purpose)",
        }
    ]
    assert cv.table.loc["broken", "failed_folds"] == 1 and cv.table.loc["WLS", "failed_folds"] == 0
    assert cv.table.loc["broken", ["r2", "exclusion_error_0.2"]].isna().all()
    assert cv.table.loc["WLS", ["r2", "exclusion_error_0.2"]].notna().all()
    assert cv.fold_weights["broken"][labels_index(cv, "small")] is None
    assert list(cv.folds.loc[cv.folds["estimator"] == "broken", "fold"]) == ["big"]
    assert "broken" not in cv.evaluations
    # the working estimator is unaffected by its neighbour's failure
    alone = _quiet(C.cross_validate, s, estimators={"WLS": {}}, folds=labels, **_kw(truth))
    np.testing.assert_array_equal(alone.predictions["pred_WLS"], cv.predictions["pred_WLS"])
    with pytest.raises(E.ArgumentError, match="errors='ignore'"):
        C.cross_validate(s, folds=labels, errors="ignore", **_kw(truth))


def labels_index(cv, label):
    return cv.settings["fold_labels"].index(label)


def test_timings_seed_version_and_fingerprint(tiny):
    s, truth = tiny
    cv = _quiet(C.cross_validate, s, folds=2, seed=3, **_kw(truth))
    t = cv.table
    assert cv.headline() == [
        "r2",
        "spearman",
        *[
            f"{m}_{q}"
            for q in ("0.2", "0.4")
            for m in ("exclusion_error", "inclusion_error_nonpoor", "cgh")
        ],
        "in_sample_r2",
    ]
    assert (t["fit_seconds"] > 0).all() and (t["score_seconds"] > 0).all()
    per_fold = cv.folds.groupby("estimator")[["fit_seconds", "score_seconds"]].sum()
    np.testing.assert_allclose(per_fold.loc["estimator"], t.loc["estimator", per_fold.columns])
    cal = _quiet(C.calibrate, s, seed=3, **_kw(truth))
    for res in (cv, cal):
        assert res.provenance["seed"] == 3
        assert res.provenance["pmt_version"] == pmt.__version__
    # the fingerprint: a hash of the columns used, independent of the rest of the table
    fp = cv.provenance["data_fingerprint"]
    assert fp == cal.provenance["data_fingerprint"] == cal.survey["data_fingerprint"]
    assert cal.weights.manifest.provenance["survey"]["data_fingerprint"] == fp
    extra = s.assign(unused=1.0)[[*list(s.columns)[::-1], "unused"]]
    assert _quiet(C.calibrate, extra, seed=3, **_kw(truth)).provenance["data_fingerprint"] == fp
    changed = s.copy()
    changed.loc[5, "consumption"] *= 1.01
    assert _quiet(C.calibrate, changed, seed=3, **_kw(truth)).provenance["data_fingerprint"] != fp
    # written out: sha256 over the row count, then each used column's name and pandas hash
    used = ["consumption", "weight", "psu", "strata", "hh_id", "district_code", "urban", "hh_size"]
    used += [v.name for v in pmt.default_spec().variables]
    h = hashlib.sha256(f"rows={len(s)}".encode())
    for c in used:
        h.update(b"\0" + c.encode() + b"\0")
        h.update(pd.util.hash_pandas_object(s[c], index=False).to_numpy().tobytes())
    assert fp == "sha256:" + h.hexdigest()


# --------------------------------------------------------------------------- survey checks


def test_unweighted_survey_without_strata(tiny):
    s, truth = tiny
    plain = s.drop(columns=["weight", "strata"])
    cal = _quiet(C.calibrate, plain, weight=None, strata=None, **_kw(truth))
    # unweighted: the same fit as weights all equal to 1
    ones = _quiet(C.calibrate, s.assign(weight=1.0), strata=None, **_kw(truth))
    np.testing.assert_allclose(cal.weights.coefficients, ones.weights.coefficients, atol=1e-10)
    assert cal.survey["columns"]["weight"] == "(none: unweighted)"
    assert cal.survey["strata"] == len(np.unique(s["district_code"] * 2 + s["urban"]))
    assert "no survey weight" in cal.weights.manifest.provenance["reference_cutoffs"]
    cv = _quiet(C.cross_validate, plain, weight=None, strata=None, folds=2, **_kw(truth))
    assert cv.provenance["columns"]["strata"] == "(district x urban)"


@pytest.mark.parametrize(
    ("drop", "arg", "fix"),
    [
        ("strata", "strata", "pass strata=None for a survey without strata"),
        ("weight", "weight", "pass weight=None for a survey without weights"),
        ("psu", "psu", "pass psu='<your column>'"),
        ("consumption", "consumption", "pass consumption='<your column>'"),
        ("hh_id", "id_col", "pass id_col=None for a survey without ids"),
        ("has_ac", "spec", "pass spec= a VariableSpec that names the survey's own variables"),
    ],
)
def test_a_missing_column_names_the_argument_that_fixes_it(tiny, drop, arg, fix):
    s, truth = tiny
    with pytest.raises(E.MissingColumnError) as info:
        C.calibrate(s.drop(columns=[drop]), **_kw(truth))
    msg = str(info.value)
    assert f"no column{'s' if arg == 'spec' else ''} " in msg and fix in msg, msg
    assert info.value.column == drop
    assert "Fix:" in msg


def test_consumption_in_the_wrong_unit_warns(tiny):
    s, truth = tiny
    low, high = CONSUMPTION_RANGE
    assert (low, high) == (50_000.0, 50_000_000.0)
    thousands = s.assign(consumption=s["consumption"] / 1000)  # thousand rupiah
    with pytest.warns(E.ConsumptionUnitWarning, match=r"rupiah per person per month") as rec:
        _quiet_except_unit(thousands, truth)
    median = float(np.median(thousands["consumption"]))
    assert f"{median:,.6g}" in str(rec[0].message) and "'consumption'" in str(rec[0].message)
    with pytest.warns(E.ConsumptionUnitWarning):
        _quiet_except_unit(s.assign(consumption=s["consumption"] * 12 * 100), truth)
    # a plausible survey does not warn (median about 1.2 M Rp)
    with warnings.catch_warnings():
        warnings.simplefilter("error", E.ConsumptionUnitWarning)
        _quiet_except_unit(s, truth)
    assert issubclass(E.ConsumptionUnitWarning, C.CalibrationWarning)


def _quiet_except_unit(s, truth):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "codes are never observed", C.CalibrationWarning)
        return C.calibrate(s, **_kw(truth, pooling="fallback"))


# --------------------------------------------------------------------------- coverage


def _lines_for(truth, provinces):
    return {k: v for k, v in truth.poverty_lines.items() if k[:2] in provinces}


@pytest.fixture(scope="module")
def partial(tiny):
    """A set calibrated on the two-province survey, with lines for those provinces only."""
    s, truth = tiny
    return _quiet(C.calibrate, s, **_kw(truth, poverty_lines=_lines_for(truth, ("33", "51"))))


def test_coverage_is_inferred_and_recorded(partial):
    m = partial.weights.manifest
    assert (m.coverage, m.covers, m.coverage_fallback) == ("partial", ("33", "51"), None)
    assert m.provenance["coverage"] == {
        "regions": ["33", "51"],
        "how": "inferred from the survey",
        "fallback": None,
    }
    # every province of the scheme in the survey: a national set
    from pmt.calibration.coverage import resolve_coverage
    from pmt.regions import province_table

    every = np.array([p * 100 + 1 for p in province_table("BPS")])
    assert resolve_coverage(None, every, "BPS") is None
    assert resolve_coverage(None, every[:3], "BPS") == ("11", "12", "13")
    assert resolve_coverage("national", every[:3], "BPS") is None
    assert resolve_coverage([13, "1101", 1201], every[:3], "BPS") == ("1101", "1201", "13")


def test_declared_coverage_is_checked(tiny):
    s, truth = tiny
    kw = _kw(truth)
    with pytest.raises(
        E.CalibrationError, match=r"coverage=\['33'\]: (\d|,)+ survey households"
    ) as info:
        C.calibrate(s, coverage=["33"], **kw)
    districts = sorted(s.loc[s["district_code"] // 100 == 51, "district_code"].unique())
    counts = s["district_code"].value_counts()
    for d in districts:  # every district outside the coverage, with its households
        assert f"{d:04d} ({counts[d]})" in str(info.value)
    with pytest.raises(E.ArgumentError, match="99 is not a province of the BPS scheme"):
        C.calibrate(s, coverage=["33", "99"], **kw)
    with pytest.raises(E.ArgumentError, match="neither a province code"):
        C.calibrate(s, coverage=["333"], **kw)
    with pytest.raises(E.ArgumentError, match="coverage='all'"):
        C.calibrate(s, coverage="all", **kw)
    with pytest.raises(TypeError, match="coverage must be None"):
        C.calibrate(s, coverage=33, **kw)
    with pytest.raises(E.ArgumentError, match="coverage_fallback='33'"):
        C.calibrate(s, coverage_fallback="33", **kw)
    cal = _quiet(C.calibrate, s, coverage=[33, 51, 3171], **kw)  # may cover more than the survey
    assert cal.weights.manifest.covers == ("3171", "33", "51")
    assert cal.weights.manifest.provenance["coverage"]["how"] == "declared"


def test_poverty_lines_are_needed_for_covered_regions_only_and_all_missing_are_listed(tiny):
    s, truth = tiny
    with pytest.raises(
        E.CalibrationError,
        match=r"1 missing:\n  - no poverty lines row covers province 51 \(Bali\)",
    ):
        C.calibrate(s, **_kw(truth, poverty_lines=_lines_for(truth, ("33",))))
    from pmt.regions import province_table

    with pytest.raises(E.CalibrationError) as info:
        C.calibrate(s, coverage="national", **_kw(truth, poverty_lines=_lines_for(truth, ("33",))))
    msg = str(info.value)
    missing = [p for p in province_table("BPS") if p != 33]
    assert f"{len(missing)} missing" in msg
    for p in missing:
        assert f"province {p:02d} (" in msg
    assert "province 33 (" not in msg


def test_households_outside_a_partial_set_are_refused_or_scored_by_its_fallback(tiny, partial):
    s, truth = tiny
    reg = pmt.synth.registry(1_500, seed=1)
    outside = ~np.isin(reg["district_code"].to_numpy() // 100, [33, 51])
    assert outside.any() and (~outside).any()
    with pytest.raises(E.UnknownRegionError, match=r"outside the set's coverage \['33', '51'\]"):
        pmt.score(reg, partial.weights)
    res = pmt.rank(reg, partial.weights, on_invalid="reject", cutoffs="reference")
    assert sorted(res.rejects["row"]) == np.flatnonzero(outside).tolist()
    assert set(res.rejects["rule"]) == {"unknown_region"}

    lines = {**_lines_for(truth, ("33", "51")), "national": 600_000.0}
    fb = _quiet(C.calibrate, s, coverage_fallback="national", **_kw(truth, poverty_lines=lines))
    ws = fb.weights
    assert ws.manifest.coverage_fallback == "national"
    got = pmt.score(reg, ws).to_numpy()
    # reference 1: the national model alone, as a one-model national set
    nat = ws.model_index()["national"]
    only = pmt.WeightSet(
        ws.manifest.model_copy(
            update={
                "coverage": "national",
                "covers": None,
                "coverage_fallback": None,
                "residual_variance": None,  # per model: the one-model set keeps none
            }
        ),
        ("national",),
        ws.coefficients[[nat]],
        dict(ws.poverty_lines),
    )
    np.testing.assert_allclose(got[outside], pmt.score(reg, only).to_numpy()[outside])
    # reference 2: inside the coverage, the ordinary fallback chain of every model
    chain = pmt.WeightSet(
        ws.manifest.model_copy(update={"covers": None, "coverage_fallback": None}),
        ws.model_keys,
        ws.coefficients,
        dict(ws.poverty_lines),
    )
    np.testing.assert_allclose(got[~outside], pmt.score(reg, chain).to_numpy()[~outside])


def test_coverage_fields_keep_old_hashes_and_enter_new_ones(partial, tmp_path):
    from pmt.weights.store import _saved_form, compute_hash

    demo = pmt.load_weights("demo")  # verified against its stored hash on load
    assert "covers" not in demo.manifest.model_dump_json()
    assert "coverage_fallback" not in demo.manifest.model_dump(mode="json")
    assert compute_hash(*_saved_form(demo)) == demo.manifest.content_hash
    saved = partial.save(tmp_path / "p")
    assert saved.manifest.covers == ("33", "51")
    assert saved.content_hash == partial.weights.content_hash
    other = partial.weights.manifest.model_copy(update={"covers": ("33",)})
    assert compute_hash(other, _saved_form(partial.weights)[1]) != saved.content_hash
    m = partial.weights.manifest
    with pytest.raises(ValueError, match="covers is for coverage 'partial' sets only"):
        pmt.Manifest.model_validate({**m.model_dump(), "coverage": "national"})
    with pytest.raises(ValueError, match="distinct province"):
        pmt.Manifest.model_validate({**m.model_dump(), "covers": ["3", "33"]})
    with pytest.raises(ValueError, match="coverage_fallback needs covers"):
        pmt.Manifest.model_validate(
            {**m.model_dump(), "covers": None, "coverage_fallback": "national"}
        )
    bad = m.model_copy(update={"coverage_fallback": "3171"})
    with pytest.raises(E.WeightSetError, match="coverage_fallback '3171' is not a model"):
        pmt.WeightSet(bad, partial.weights.model_keys, partial.weights.coefficients)


# --------------------------------------------------------------------------- penalised estimators


def _small_problem(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [rng.normal(size=(n, 4)) * [1.0, 2.0, 3.0, 0.5], rng.integers(0, 2, (n, 3))]
    ).astype(float)
    y = X @ np.r_[0.5, 0, -0.2, 0, 0.3, 0, 0.1] + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w / w.mean(), rng.integers(0, 30, n)


@pytest.mark.parametrize("l1", [1.0, 0.5])
def test_penalised_fit_is_statsmodels_fit_regularized_on_standardised_columns(l1):
    from statsmodels.api import WLS

    from pmt.calibration.penalised import elastic_net_path, moments

    X, y, w, _ = _small_problem()
    alpha = 0.04
    got = elastic_net_path(moments(X, y, w), np.array([alpha]), l1)[0]
    mean = w @ X / w.sum()
    sd = np.sqrt(w @ (X - mean) ** 2 / w.sum())
    Z = np.column_stack([np.ones(len(y)), (X - mean) / sd])
    ref = WLS(y, Z, weights=w).fit_regularized(
        alpha=np.r_[0.0, np.full(X.shape[1], alpha)], L1_wt=l1, cnvrg_tol=1e-12, maxiter=5000
    )
    np.testing.assert_allclose(got[1:], ref.params[1:] / sd, atol=1e-8)
    assert np.isclose(got[0], ref.params[0] - (mean / sd) @ ref.params[1:])
    assert (got[1:] == 0).any() if l1 == 1.0 else True  # the lasso zeroes some slopes here


def test_penalty_chosen_by_psu_folds_equals_a_direct_computation():
    from pmt.calibration.penalised import (
        _psu_folds,
        alpha_grid,
        cv_alpha,
        elastic_net_path,
        moments,
    )

    X, y, w, psu = _small_problem(1)
    alpha, cv = cv_alpha(X, y, w, psu, l1_ratio=1.0, folds=4, seed=9)
    fold = _psu_folds(psu, 4, 9)
    for g in np.unique(psu):  # whole PSUs
        assert np.unique(fold[psu == g]).size == 1
    alphas = alpha_grid(moments(X, y, w), 1.0)
    assert np.allclose(cv["alphas"], alphas) and cv["folds"] == 4
    # every training part fitted on its own rows, scored on the held-out rows
    sse = np.zeros(alphas.size)
    for f in range(4):
        tr, te = fold != f, fold == f
        path = elastic_net_path(moments(X[tr], y[tr], w[tr]), alphas, 1.0)
        resid = y[te][:, None] - path[:, :1].T - X[te] @ path[:, 1:].T
        sse += w[te] @ resid**2
    np.testing.assert_allclose(cv["cv_mse"], sse / w.sum(), rtol=1e-8)
    assert alpha == alphas[int(np.argmin(sse))]
    # the top of the grid zeroes every slope; the intercept is then the weighted mean
    top = elastic_net_path(moments(X, y, w), alphas[:1], 1.0)[0]
    assert (top[1:] == 0).all() and np.isclose(top[0], w @ y / w.sum())


def test_lasso_without_penalty_is_least_squares_and_options_are_checked(tiny):
    s, truth = tiny
    national = {"pooling": "fallback", "min_households": 10**9}
    wls = _quiet(C.calibrate, s, **_kw(truth, **national))
    for name in ("lasso", "elastic_net"):
        assert C.ESTIMATORS[name].name == name
        zero = _quiet(
            C.calibrate,
            s,
            estimator=name,
            estimator_options={"alpha": 0.0},
            **_kw(truth, **national),
        )
        np.testing.assert_allclose(zero.weights.coefficients, wls.weights.coefficients, atol=1e-6)
    cal = _quiet(C.calibrate, s, estimator="lasso", **_kw(truth, **national))
    fit = cal.national
    assert fit.cv is not None and fit.alpha == max(
        a
        for a, m in zip(fit.cv["alphas"], fit.cv["cv_mse"], strict=True)
        if m == min(fit.cv["cv_mse"])
    )
    assert 0 < fit.nonzero < np.count_nonzero(wls.weights.coefficients[0][1:])
    assert "lasso" in cal.report() and "CV over PSUs" in cal.report()
    bad = [
        ("lasso", {"alpha": -1.0}, "alpha=-1.0: the penalty must be a finite number >= 0"),
        ("lasso", {"penalty_folds": 1}, "penalty_folds=1"),
        (
            "elastic_net",
            {"l1_ratio": 0.0},
            r"l1_ratio=0.0: the L1 share of the penalty must lie in \(0, 1\]",
        ),
    ]
    for est, opt, msg in bad:
        with pytest.raises(E.ArgumentError, match=msg):
            C.calibrate(s, estimator=est, estimator_options=opt, **_kw(truth))


# --------------------------------------------------------------------------- the comparison table


def test_compare_ranks_by_the_named_metric_with_its_spread():
    from pmt.calibration.compare import compare

    folds = pd.DataFrame(
        {
            "estimator": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
            "fold": [0, 1, 2] * 3,
            "exclusion_error_0.3": [0.40, 0.42, 0.44, 0.39, 0.40, 0.44, 0.50, 0.50, 0.50],
            "auc_0.3": [0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.9, 0.9, 0.9],
            "rmse": [1.0] * 9,
        }
    )
    table = pd.DataFrame(
        {
            "exclusion_error_0.3": [0.41, 0.40, 0.5],
            "auc_0.3": [0.8, 0.7, 0.9],
            "rmse": [1.0, 1.0, 1.0],
            "fit_seconds": [1.0, 2.0, 3.0],
            "failed_folds": [0, 0, 0],
        },
        index=pd.Index(["A", "B", "C"], name="estimator"),
    )
    ee = compare(table, folds, (0.3,), "exclusion_error")
    assert list(ee.index) == ["B", "A", "C"] and list(ee["rank"]) == [1, 2, 3]
    b = [0.39, 0.40, 0.44]
    assert np.isclose(ee.loc["B", "fold_mean"], np.mean(b))
    assert np.isclose(ee.loc["B", "fold_sd"], np.std(b, ddof=1))
    assert (ee.loc["B", "fold_min"], ee.loc["B", "fold_max"]) == (0.39, 0.44)
    diff = np.array([0.40, 0.42, 0.44]) - b
    assert np.isclose(ee.loc["A", "diff_best_mean"], diff.mean())
    assert np.isclose(ee.loc["A", "diff_best_sd"], diff.std(ddof=1))
    assert ee.loc["B", "diff_best_mean"] == 0 and ee.loc["A", "value"] == 0.41
    assert list(compare(table, folds, (0.3,), "auc", 0.3).index) == ["C", "A", "B"]  # higher
    failed = table.assign(failed_folds=[0, 1, 0])
    out = compare(failed, folds, (0.3,), "exclusion_error")
    assert list(out.index) == ["A", "C", "B"] and out["rank"].isna().tolist() == [
        False,
        False,
        True,
    ]
    with pytest.raises(
        E.ArgumentError, match=r"quota=0.2: the cross-validation measured quotas \[0.3\]"
    ):
        compare(table, folds, (0.3,), "exclusion_error", 0.2)
    with pytest.raises(E.ArgumentError, match="metric='accuracy': not a metric"):
        compare(table, folds, (0.3,), "accuracy")
    with pytest.raises(E.ArgumentError, match="needs a quota"):
        compare(table, folds, (0.2, 0.3), "exclusion_error")
    with pytest.raises(E.ArgumentError, match="does not depend on a quota"):
        compare(table, folds, (0.3,), "rmse", 0.3)


def test_penalised_estimators_in_a_cross_validation_and_its_comparison(tiny):
    s, truth = tiny
    ests = {"WLS": {}, "lasso": {"estimator": "lasso"}, "elastic net": {"estimator": "elastic_net"}}
    cv = _quiet(C.cross_validate, s, estimators=ests, folds=3, quotas=(0.3,), **_kw(truth))
    total = cv.evaluations["lasso"].table.loc["quota 0.3", "total_accuracy"]
    assert np.isclose(cv.table.loc["lasso", "total_error_0.3"], 1 - total)
    for metric in ("exclusion_error", "total_error"):
        table = cv.compare(metric)
        col = f"{metric}_0.3"
        assert table.attrs["column"] == col
        assert list(table.index) == list(
            cv.folds.groupby("estimator")[col].mean().sort_values(kind="stable").index
        )
        np.testing.assert_allclose(table["value"], cv.table.loc[table.index, col])


# --------------------------------------------------------------------------- the synthetic survey


def test_survey_nonlinear_effects_and_a_region_without_urban_split():
    from pmt.synth._truth import nonlinear_effect

    kw = {"seed": 2, "provinces": (33, 51), "return_truth": True}
    plain, t0 = pmt.synth.survey(1_500, **kw)
    both, t1 = pmt.synth.survey(1_500, nonlinear=1.5, no_urban_split=(51,), **kw)
    bali = (both["district_code"] // 100 == 51).to_numpy()
    # the same households, weights and PSUs; strata by district in the unsplit province
    same = [c for c in plain.columns if c not in ("consumption", "strata")]
    pd.testing.assert_frame_equal(both[same], plain[same])
    np.testing.assert_array_equal(
        both["strata"][bali], both["district_code"][bali].astype(int) * 10
    )
    np.testing.assert_array_equal(both["strata"][~bali], plain["strata"][~bali])
    # the non-linear term, written out: an inverted U in age, a kink in floor area per person
    age = both["head_age"].to_numpy(float)
    lpc = np.log(both["floor_area"].to_numpy(float) / both["hh_size"].to_numpy(float))
    g = 1.5 * (-0.0004 * (age - 50) ** 2 + 0.10 * np.clip(lpc - np.log(10), 0, None))
    np.testing.assert_allclose(nonlinear_effect(both, 1.5), g)
    gap = np.log(both["consumption"].to_numpy()) - np.log(plain["consumption"].to_numpy())
    np.testing.assert_allclose(gap[~bali], g[~bali], atol=1e-6)  # consumption is rounded to cents
    # one model for urban and rural in the unsplit province; every other model unchanged
    i0, i1 = t0.model_index(), t1.model_index()
    for key in t0.model_keys:
        code = key.split("-")[0]
        if key.endswith("-urban") and code.startswith("51"):
            np.testing.assert_array_equal(
                t1.coefficients[i1[key]], t1.coefficients[i1[f"{code}-rural"]]
            )
            assert not np.array_equal(t0.coefficients[i0[key]], t1.coefficients[i1[key]])
        else:
            np.testing.assert_array_equal(t0.coefficients[i0[key]], t1.coefficients[i1[key]])
    prov = t1.manifest.provenance
    assert prov["nonlinear"] == 1.5 and prov["no_urban_split"] == [51]
    assert "nonlinear" not in t0.manifest.provenance
    with pytest.raises(ValueError, match=r"no_urban_split: \[99\] are not provinces"):
        pmt.synth.survey(500, no_urban_split=(99,))
    with pytest.raises(ValueError, match="nonlinear=nan"):
        pmt.synth.survey(500, nonlinear=float("nan"))


# --------------------------------------------------------------------------- the command line


def test_command_line_unweighted_partial_coverage_and_skipped_failures(tiny, tmp_path, capsys):
    from pmt import cli

    s, truth = tiny
    path = tmp_path / "survey.parquet"
    s.drop(columns=["weight", "strata"]).to_parquet(path)
    lines = tmp_path / "lines.csv"
    pd.Series(_lines_for(truth, ("33", "51")), name="poverty_line").rename_axis(
        "region_key"
    ).to_csv(lines)
    base = ["calibrate", str(path), "--poverty-lines", str(lines), "--on-collinear", "drop"]
    base += ["--weight", "none", "--strata", "none", "--pooling-folds", "2"]
    status = cli.main(
        ["--quiet", *base, "--out", str(tmp_path / "w"), "--coverage-fallback", "national"]
    )
    assert status == 0
    ws = pmt.load_weights(tmp_path / "w")
    assert (ws.manifest.coverage, ws.manifest.covers) == ("partial", ("33", "51"))
    assert ws.manifest.coverage_fallback == "national"
    assert ws.manifest.provenance["survey"]["columns"]["weight"] == "(none: unweighted)"
    capsys.readouterr()
    broken = "poverty_wls:truncate=0.001"  # too few households to fit: every fold fails
    args = ["--quiet", *base, "--compare", "wls", broken, "--cv", "2", "--errors", "skip"]
    assert cli.main(args) == 0
    assert "Out-of-sample comparison" in capsys.readouterr().out
    out2 = ["--out", str(tmp_path / "w2")]
    assert cli.main(["--quiet", *base, *out2, "--coverage", "33"]) == 2  # Bali is outside
    assert "coverage=['33']" in capsys.readouterr().err


# --------------------------------------------------------------------------- audit fixes


@pytest.fixture(scope="module")
def central():
    """1,500 households of one province (Central Java) and its poverty lines."""
    s, truth = pmt.synth.survey(1_500, seed=3, provinces=(33,), return_truth=True)
    lines = {k: v for k, v in truth.poverty_lines.items() if k.startswith("33")}
    return s, lines


def _cj(s, lines, **kw):
    return _quiet(C.calibrate, s, poverty_lines=lines, on_collinear="drop", **kw)


@pytest.mark.parametrize("value", [500_000.0, 1.0])
@pytest.mark.parametrize("pooling", ["shrink", "fallback"])
def test_consumption_without_variation_is_refused_before_fitting(central, value, pooling):
    s, lines = central
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(C.CalibrationError, match=r"'consumption'.*same per-capita.*Fix:"):
            C.calibrate(
                s.assign(consumption=value),
                poverty_lines=lines,
                on_collinear="drop",
                pooling=pooling,
                pooling_folds=2,
            )
    unit = [w for w in caught if w.category is pmt.errors.ConsumptionUnitWarning]
    assert len(unit) == (1 if value < CONSUMPTION_RANGE[0] else 0)


def test_a_model_without_residual_variance_is_refused_naming_it(central, monkeypatch):
    s, lines = central
    import pmt.calibration.assembly as A

    def exact(residual, weight, model, keys, n_params):
        return {k: (0.0 if k == "national" else 0.1) for k in keys}, []

    monkeypatch.setattr(A, "residual_variances", exact)
    with pytest.raises(C.CalibrationError, match=r"models \['national'\].*residual variance.*Fix:"):
        _cj(s, lines, pooling="fallback", min_households=10**9)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"33-urban": "abc"}, r"'33-urban' \('abc'\).*Fix: correct the line"),
        ({"33-urban": None}, r"'33-urban' \(None\).*Fix: correct the line"),
        ({"33-urban": float("nan")}, r"'33-urban' \(nan\)"),
        ({33: 1.0, "33": 2.0}, r"regions \['33'\] appear more than once.*Fix: keep one"),
    ],
)
def test_bad_poverty_lines_name_the_region_the_rule_and_the_fix(central, bad, match):
    _, lines = central
    with pytest.raises(C.CalibrationError, match=match):
        C.data.read_poverty_lines({**lines, **bad}, "BPS")


def test_poverty_line_tables_and_files_name_the_region(central, tmp_path):
    _, lines = central
    table = pd.DataFrame({"region_key": list(lines), "poverty_line": list(lines.values())})
    bad = table.astype({"poverty_line": object})
    bad.loc[0, "poverty_line"] = "abc"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    key = table.loc[0, "region_key"]
    with pytest.raises(C.CalibrationError, match=rf"'{key}' \('abc'\)"):
        C.data.read_poverty_lines(tmp_path / "bad.csv", "BPS")
    pd.concat([table, table.iloc[:1]]).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(C.CalibrationError, match=rf"regions \['{key}'\] appear more than once"):
        C.data.read_poverty_lines(tmp_path / "dup.csv", "BPS")


def test_an_empty_set_of_poverty_lines_is_refused(central, tmp_path):
    s, lines = central
    table = pd.DataFrame({"region_key": list(lines), "poverty_line": list(lines.values())})
    table.iloc[:0].to_csv(tmp_path / "header_only.csv", index=False)
    for empty in ({}, table.iloc[:0], tmp_path / "header_only.csv"):
        with pytest.raises(C.CalibrationError, match=r"no lines given.*poverty_lines=None"):
            _cj(s, empty, pooling="fallback", min_households=10**9)


def test_a_nan_pooling_strength_is_an_argument_error(central):
    s, lines = central
    for lam in (float("nan"), (3000.0, float("nan"))):
        with pytest.raises(E.ArgumentError, match=r"lambdas.*'district_urban'.*Fix:") as info:
            _cj(s, lines, lambdas={"district_urban": lam})
        assert info.value.argument == "lambdas"


def test_encoder_errors_in_calibration_give_calibrations_fix(central):
    s, lines = central
    zero = s.copy()
    zero.loc[4, "weight"] = 0.0
    with pytest.raises(E.InvalidValueError, match=r"'weight'.*row 4.*Fix:") as info:
        _cj(zero, lines)
    assert "on_invalid" not in str(info.value) and "drop those households" in str(info.value)
    assert info.value.rows == (4,)
    dup = s.copy()
    dup.loc[6, "hh_id"] = dup.loc[2, "hh_id"]
    with pytest.raises(E.DuplicateIdError, match=r"rows 2, 6.*Fix: make the household ids") as e:
        _cj(dup, lines)
    assert "on_invalid" not in str(e.value)
    # the ranking path keeps its own fix
    with pytest.raises(E.InvalidValueError, match="on_invalid='reject'"):
        pmt.rank(zero, "demo", weight="weight")


SHUFFLES = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SHUFFLES
@given(seed=st.integers(0, 2**32 - 1))
def test_calibration_does_not_depend_on_the_row_order(central, seed):
    s, lines = central
    shuffled = s.sample(frac=1, random_state=np.random.default_rng(seed))
    for kw in ({"pooling_folds": 2}, {"lambdas": FIXED}):
        a, b = _cj(s, lines, **kw), _cj(shuffled, lines, **kw)
        assert a.lambdas == b.lambdas
        assert a.weights.content_hash == b.weights.content_hash
    # without ids: the canonical order is by the values of the columns used
    plain = [x.drop(columns="hh_id") for x in (s, shuffled)]
    a, b = (_cj(x, lines, id_col=None, lambdas=FIXED) for x in plain)
    assert a.weights.content_hash == b.weights.content_hash


def test_cross_validation_does_not_depend_on_the_row_order(central):
    s, lines = central
    shuffled = s.sample(frac=1, random_state=5)
    kw = {"poverty_lines": lines, "on_collinear": "drop", "lambdas": FIXED, "quotas": (0.3,)}
    by_count = [_quiet(C.cross_validate, x, folds=2, **kw) for x in (s, shuffled)]
    labels = (s["psu"] % 3).to_numpy()
    by_array = [
        _quiet(C.cross_validate, s, folds=labels, **kw),
        _quiet(C.cross_validate, shuffled, folds=labels[s.index.get_indexer(shuffled.index)], **kw),
    ]
    for a, b in (by_count, by_array):
        cols = [c for c in a.table.columns if not c.endswith("_seconds")]
        pd.testing.assert_frame_equal(a.table[cols], b.table[cols], check_exact=True)
        fcols = [c for c in a.folds.columns if not c.endswith("_seconds")]
        pd.testing.assert_frame_equal(a.folds[fcols], b.folds[fcols], check_exact=True)
        # predictions come back in the input order, row for row
        pd.testing.assert_frame_equal(a.predictions.loc[shuffled.index], b.predictions)


def test_folds_too_small_to_score_and_no_estimators_are_refused(central):
    s, lines = central
    kw = {"poverty_lines": lines, "on_collinear": "drop", "pooling": "fallback"}
    folds = (s["psu"] % 3).to_numpy().copy()
    folds[0] = 99
    with pytest.raises(E.ArgumentError, match=r"fold 99 has 1 .*at least 10 households") as info:
        _quiet(C.cross_validate, s, folds=folds, estimators={"WLS": {}}, **kw)
    assert info.value.argument == "folds"
    with pytest.raises(E.ArgumentError, match=r"estimators=\{\}.*Fix:") as info:
        _quiet(C.cross_validate, s, folds=3, estimators={}, **kw)
    assert info.value.argument == "estimators"
