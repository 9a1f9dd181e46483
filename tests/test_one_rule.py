"""One implementation of each rule: the derived paths agree with the one they derive from.

* ``what_if`` is ranking the changed table with the same cutoffs (``pmt.rank(...,
  cutoffs=mapping)``), bit for bit; with no change it reproduces the original desil.
* ``explain``'s contributions, added left to right, are ``pmt.score`` bit for bit,
  and each equals a naive recomputation from the coefficients.
* ``evaluate``'s quota rule selects exactly what ``pmt.assign_desil`` selects (ties
  never split), and ``rank(max_desil=k)`` eligibility is the quota ``k/10``.
* Calibration's in-sample R² (per model and per cross-validation fold) and its
  cross-validated predictions are ``pmt.score``'s, and poverty-weighted least
  squares fits the poorest share by the desil rule.

Data are small and tied on purpose (copied households, rounded welfare).
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import warnings
from fractions import Fraction
from typing import TypedDict

import numpy as np
import pandas as pd
import pytest
from conftest import make_households, tiny_weight_set
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pmt
from pmt.errors import SmallPopulationWarning
from pmt.evaluation import EvaluationError, evaluate, explain, what_if
from pmt.regions import fallback_chain
from pmt.weights import Manifest, WeightSet

C = importlib.import_module("pmt.calibration")

WS = tiny_weight_set()
SPEC = WS.spec
LOOKUPS = SPEC.lookup_variables
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
#: Each example ranks a few hundred households several times: a few examples per property.
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=HEALTH)
FEW = settings(max_examples=5, deadline=None, suppress_health_check=HEALTH)
MANY = settings(max_examples=25, deadline=None, suppress_health_check=HEALTH)
# registry rankings of a few hundred households are coarse, and say so
pytestmark = pytest.mark.filterwarnings("ignore::pmt.errors.SmallPopulationWarning")


def _changes(hh: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """New codes for one to three lookup variables (valid codes, household by household)."""
    picks = rng.choice(len(LOOKUPS), size=int(rng.integers(1, 4)), replace=False)
    return {
        LOOKUPS[i].name: rng.choice(np.array(LOOKUPS[i].code_values), len(hh))
        for i in picks.tolist()
    }


class _Rule(TypedDict, total=False):
    max_desil: int
    line: float


def _rule(rng: np.random.Generator, n_classes: int) -> _Rule:
    if rng.random() < 0.5:
        return {"max_desil": int(rng.integers(1, n_classes + 1))}
    return {"line": float(np.round(rng.normal(0.0, 0.5), 2))}


# =========================================================================== what_if


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(20, 300),
    tie=st.sampled_from([0.0, 0.3, 0.7]),
    n_classes=st.sampled_from([10, 5, 4]),
    via_result=st.booleans(),
    subset=st.booleans(),
)
def test_what_if_is_ranking_the_changed_table_with_the_same_cutoffs(
    seed: int, n: int, tie: float, n_classes: int, via_result: bool, subset: bool
) -> None:
    rng = np.random.default_rng(seed)
    hh = make_households(n, seed, tie_frac=tie)
    rule = _rule(rng, n_classes)
    original = pmt.rank(hh, WS, n=n_classes, **rule)
    cut = original.registry_cutoffs
    rows = (
        np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
        if subset
        else np.arange(n)
    )
    base = hh.iloc[rows]
    changes = _changes(base, rng)
    changed = base.copy()
    for col, value in changes.items():
        changed[col] = value
    wi = (
        what_if(hh, WS, changes, result=original, rows=rows)
        if via_result
        else what_if(hh, WS, changes, cutoffs=cut, rows=rows, **rule)
    )
    after = pmt.rank(changed, WS, cutoffs=cut, n=n_classes, **rule)
    before = pmt.rank(base, WS, cutoffs=cut, n=n_classes, **rule)
    for tag, res in (("before", before), ("after", after)):
        np.testing.assert_array_equal(wi[f"welfare_{tag}"].to_numpy(), res.welfare)
        np.testing.assert_array_equal(wi[f"desil_national_{tag}"].to_numpy(), res.desil_national)
        prov = wi[f"desil_provincial_{tag}"]
        assert not prov.isna().any()  # the cutoffs cover every province
        np.testing.assert_array_equal(prov.to_numpy(int), res.desil_provincial)
        np.testing.assert_array_equal(wi[f"eligible_{tag}"].to_numpy(), res.eligible)
        assert wi[f"model_key_{tag}"].tolist() == [res.model_keys[m] for m in res.model]
    assert wi.attrs["eligibility"] == original.eligibility == after.eligibility
    np.testing.assert_array_equal(wi["welfare_change"], after.welfare - before.welfare)
    # before the change: the original ranking's desil and eligibility, household by household
    # (registry cutoffs applied to the data they came from give the registry desil)
    np.testing.assert_array_equal(wi["desil_national_before"], original.desil_national[rows])
    np.testing.assert_array_equal(
        wi["desil_provincial_before"].to_numpy(int), original.desil_provincial[rows]
    )
    np.testing.assert_array_equal(wi["eligible_before"], original.eligible[rows])


@FEW
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(30, 300), keep=st.integers(0, 3))
def test_what_if_provinces_without_cutoffs_get_na(seed: int, n: int, keep: int) -> None:
    rng = np.random.default_rng(seed)
    hh = make_households(n, seed, tie_frac=0.3)
    full = pmt.rank(hh, WS).registry_cutoffs
    provinces = sorted(k for k in full if k != "national")
    covered = rng.choice(provinces, size=min(keep, len(provinces)), replace=False).tolist()
    partial = {"national": full["national"], **{p: full[p] for p in covered}}
    changes = _changes(hh, rng)
    changed = hh.copy()
    for col, value in changes.items():
        changed[col] = value
    wi = what_if(hh, WS, changes, cutoffs=partial)
    ref = pmt.rank(changed, WS, cutoffs=full)  # same national row; every province covered
    np.testing.assert_array_equal(wi["desil_national_after"], ref.desil_national)
    np.testing.assert_array_equal(wi["eligible_after"], ref.eligible)
    is_covered = np.isin(ref.province, [int(p) for p in covered])
    prov = wi["desil_provincial_after"]
    np.testing.assert_array_equal(prov.isna().to_numpy(), ~is_covered)
    np.testing.assert_array_equal(prov[is_covered].to_numpy(int), ref.desil_provincial[is_covered])


def test_what_if_takes_cutoff_checks_from_rank() -> None:
    hh = make_households(40, 3)
    cut = pmt.rank(hh, WS).registry_cutoffs
    with pytest.raises(pmt.errors.ArgumentError, match="give max_desil or line, not both"):
        what_if(hh, WS, {}, cutoffs=cut, max_desil=4, line=0.0)
    bad = {**cut, "national": cut["national"][::-1] - np.arange(9)}
    with pytest.raises(pmt.errors.ArgumentError, match=r"cutoffs\['national'\].*non-decreasing"):
        what_if(hh, WS, {}, cutoffs=bad)
    with pytest.raises(pmt.errors.ArgumentError, match="'national' entry"):
        what_if(hh, WS, {}, cutoffs={"31": cut["national"]})
    given_res = pmt.rank(hh, WS, cutoffs=cut)
    with pytest.raises(EvaluationError, match="pass the same mapping as cutoffs="):
        what_if(hh, WS, {}, result=given_res)


# =========================================================================== explain


def _line_of(district: int, urban: int) -> float:
    lines = WS.poverty_lines
    return next(lines[k] for k in fallback_chain(district, urban) if k in lines)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200), tie=st.sampled_from([0.0, 0.5]))
def test_explain_contributions_add_up_to_score_bit_for_bit(seed: int, n: int, tie: float) -> None:
    hh = make_households(n, seed, tie_frac=tie)
    e = explain(hh, WS)
    welfare = pmt.score(hh, WS).to_numpy()
    np.testing.assert_array_equal(e["welfare"].to_numpy(), welfare)
    names = list(e.columns[2:-1])
    assert names == [
        "intercept",
        *(v.name for v in LOOKUPS),
        *SPEC.numeric_terms,
        "minus_log_poverty_line",
    ]
    acc = e[names[0]].to_numpy().copy()
    for name in names[1:]:  # the kernel's order of summation
        acc = acc + e[name].to_numpy()
    np.testing.assert_array_equal(acc, welfare)

    # naive: each term from the coefficients of the model that scored the household
    coef, terms = WS.coefficients, list(SPEC.terms)
    m = np.array([WS.model_keys.index(k) for k in e["model_key"]])
    np.testing.assert_array_equal(e["intercept"], coef[m, 0])
    for v in LOOKUPS:
        col = [terms.index(f"{v.name}={int(c)}") for c in hh[v.name]]
        np.testing.assert_array_equal(e[v.name], coef[m, col])
    size = hh["hh_size"].to_numpy(float)
    derived = {
        "log_floor_area_pc": np.log(hh["floor_area"].to_numpy(float) / size),
        "log_hh_size": np.log(size),
        "share_dependents": (hh["n_children"] + hh["n_elderly"]).to_numpy() / size,
        "share_working": hh["n_working"].to_numpy() / size,
    }
    for t in SPEC.numeric_terms:
        beta = coef[m, terms.index(t)]
        if t in derived:
            np.testing.assert_allclose(e[t], beta * derived[t], rtol=1e-12, atol=1e-15)
        else:
            np.testing.assert_array_equal(e[t], beta * hh[t].to_numpy(float))
    line = [_line_of(d, u) for d, u in zip(hh["district_code"], hh["urban"], strict=True)]
    np.testing.assert_array_equal(e["minus_log_poverty_line"], [-math.log(x) for x in line])


# =========================================================================== evaluate's quotas


def _exact_poorest(x: np.ndarray, w: np.ndarray, share: Fraction) -> np.ndarray:
    """S < share * T in exact rational arithmetic (integer weights), O(n^2)."""
    total = int(w.sum())
    below = np.array([int(w[x < xi].sum()) for xi in x])
    return np.array([Fraction(s) < share * total for s in below.tolist()])


@st.composite
def _tied(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 150))
    levels = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    true = rng.integers(0, levels, n) * 0.25 - 1.0  # few values: heavy ties
    pred = rng.integers(0, levels, n) * 0.25 - 1.0
    w = rng.integers(0, 9, n).astype(float)  # whole people, some zero
    w[rng.integers(0, n)] += 1.0  # a positive total
    if draw(st.booleans()):  # people x survey weight
        w = w * rng.choice([0.3, 1.7, 2.9, 10.1], n)
    return true, pred, w


QUOTAS = [(Fraction(k, 10), k / 10) for k in range(1, 10)] + [
    (Fraction(1, 4), 0.25),
    (Fraction(2, 3), 2 / 3),
    (Fraction(0.37), 0.37),
]


def _rule_selection(x: np.ndarray, w: np.ndarray, share: float) -> np.ndarray:
    """The selection pmt.assign_desil makes for the poorest ``share``."""
    if round(share * 10) / 10 == share:
        return pmt.assign_desil(x, w, n=10).desil <= round(share * 10)
    frac = Fraction(share).limit_denominator(100)
    if float(frac) == share:
        return pmt.assign_desil(x, w, n=frac.denominator).desil <= frac.numerator
    return pmt.assign_desil(x, w).share_below < share


@MANY
@pytest.mark.filterwarnings("ignore::pmt.errors.EvaluationWarning")  # NaN metrics of tied data
@given(case=_tied(), picks=st.lists(st.sampled_from(QUOTAS), min_size=1, max_size=4, unique=True))
def test_quota_targets_exactly_the_desil_rule_selection(case, picks) -> None:
    true, pred, w = case
    # evaluate refuses weights of 0 and a constant true welfare (docs/evaluation.md)
    w = np.where(w > 0, w, 1.0)
    if np.ptp(true) == 0:
        true = np.append(true[:-1], true[-1] - 0.25)
    shares = [h for _, h in picks]
    ev = evaluate(true, pred, weight=w, quotas=shares)
    for r, (exact, h) in enumerate(picks):
        P, T = ev.poor[r], ev.targeted[r]
        np.testing.assert_array_equal(P, _rule_selection(true, w, h))
        np.testing.assert_array_equal(T, _rule_selection(pred, w, h))
        if (w == np.round(w)).all():  # exact arithmetic is possible
            np.testing.assert_array_equal(P, _exact_poorest(true, w, exact))
            np.testing.assert_array_equal(T, _exact_poorest(pred, w, exact))
        if exact.denominator == 10:  # rank's own eligibility rule: desil (n=10) <= k
            k = exact.numerator * 10 // exact.denominator
            np.testing.assert_array_equal(T, pmt.assign_desil(pred, w).desil <= k)
        for x, mark in ((true, P), (pred, T)):  # ties never split
            for value in np.unique(x):
                assert len(set(mark[x == value].tolist())) == 1
    # the given-poor rule targets the poor's share by the same rule
    poor = ev.poor[0]
    share = float((w * poor).sum() / w.sum())
    if 0.0 < share < 1.0:
        given_ev = evaluate(true, pred, weight=w, poor=poor, quotas=(), lines=())
        np.testing.assert_array_equal(given_ev.targeted[0], _rule_selection(pred, w, share))


@FEW
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 300), k=st.integers(1, 9))
@pytest.mark.filterwarnings("ignore::pmt.errors.EvaluationWarning")  # NaN metrics of some draws
def test_rank_eligibility_is_the_quota(seed: int, n: int, k: int) -> None:
    hh = make_households(n, seed, tie_frac=0.5)
    res = pmt.rank(hh, WS, max_desil=k)
    true = np.round(res.welfare + np.random.default_rng(seed).normal(0, 0.2, n), 1)
    ev = evaluate(true, res, quotas=k / 10)
    np.testing.assert_array_equal(ev.targeted[0], res.eligible)
    np.testing.assert_array_equal(ev.targeted[0], res.desil_national <= k)


# =========================================================================== calibration

FIXED = {lvl: (3000.0, 100.0) for lvl in C.LEVEL_ORDER}


def _r2(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """Weighted R² with exactly rounded sums (the definition, written out)."""
    total = math.fsum(w.tolist())
    mean = math.fsum((w * y).tolist()) / total
    sst = math.fsum((w * (y - mean) ** 2).tolist())
    return 1.0 - math.fsum((w * (y - yhat) ** 2).tolist()) / sst


def _without_lines(keys: tuple[str, ...], coef: np.ndarray) -> WeightSet:
    """A weight set whose welfare is the raw prediction of log per-capita consumption."""
    manifest = Manifest(
        name="raw",
        version="0",
        created=dt.date(2026, 1, 1),
        description="models without poverty lines",
        synthetic=True,
        region_vintage="test",
        spec=SPEC,
    )
    return WeightSet(manifest, keys, np.asarray(coef).reshape(len(keys), -1), {})


@pytest.fixture(scope="module")
def survey():
    return pmt.synth.survey(1000, seed=3, provinces=[31, 32], return_truth=True)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C.CalibrationWarning)
        warnings.simplefilter("ignore", SmallPopulationWarning)
        return fn(*args, **kw)


def _node(survey: pd.DataFrame, key: str) -> np.ndarray:
    """Rows of the households a model key covers."""
    if key == "national":
        return np.ones(len(survey), dtype=bool)
    code, _, urban = key.partition("-")
    d = survey["district_code"].to_numpy()
    sel = (d // 100 == int(code)) if len(code) == 2 else (d == int(code))
    if urban:
        sel &= survey["urban"].to_numpy() == (urban == "urban")
    return sel


def test_calibration_r2_is_scored_by_pmt_score(survey) -> None:
    s, truth = survey
    cal = _quiet(
        C.calibrate, s, poverty_lines=truth.poverty_lines, on_collinear="drop", lambdas=FIXED
    )
    ws = cal.weights
    assert (cal.levels() > 0).all()
    y = np.log(s["consumption"].to_numpy(float))
    pw = s["hh_size"].to_numpy(float) * s["weight"].to_numpy(float)
    levels = cal.models["level"]
    # every model down to province x urban, and a few of each finer level
    keys = [k for lvl in levels.unique() for k in levels.index[levels == lvl][:4]]
    assert len(keys) >= 10
    for key in keys:
        i = ws.model_keys.index(key)
        sel = _node(s, key)
        # the node's households, every one scored by this model (a one-model set)
        yhat = pmt.score(s[sel], _without_lines(("national",), ws.coefficients[i])).to_numpy()
        assert cal.models.loc[key, "r2"] == _r2(y[sel], yhat, pw[sel]), key
        assert cal.models.loc[key, "households"] == sel.sum()


def test_poverty_weighted_fit_takes_the_poorest_share_by_the_desil_rule(survey) -> None:
    s, truth = survey
    cal = _quiet(
        C.calibrate,
        s,
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
        estimator="poverty_wls",
        truncate=0.4,
        pooling="fallback",
        min_households=10**9,
    )
    # observed welfare log(consumption) - log(line), the line as the scorer applies it
    minus_line = explain(s, cal.weights)["minus_log_poverty_line"].to_numpy()
    welfare = np.log(s["consumption"].to_numpy(float)) + minus_line
    pw = s["hh_size"].to_numpy(float) * s["weight"].to_numpy(float)
    poorest = pmt.assign_desil(welfare, pw).desil <= 4
    assert cal.models.loc["national", "households_fitted"] == poorest.sum()
    assert cal.national.nobs == poorest.sum()


def test_cross_validation_scores_through_pmt_score(survey) -> None:
    s, truth = survey
    cv = _quiet(
        C.cross_validate,
        s,
        poverty_lines=truth.poverty_lines,
        on_collinear="drop",
        lambdas=FIXED,
        folds=3,
        estimators={"wls": {}, "pw": {"estimator": "poverty_wls", "truncate": 0.4}},
    )
    y = np.log(s["consumption"].to_numpy(float))
    pw = s["hh_size"].to_numpy(float) * s["weight"].to_numpy(float)
    fold = cv.predictions["fold"].to_numpy()
    for label in ("wls", "pw"):
        raw = np.full(len(s), np.nan)
        for k, ws in enumerate(cv.fold_weights[label]):
            test, train = fold == k, fold != k
            np.testing.assert_array_equal(
                cv.predictions[f"pred_{label}"].to_numpy()[test], pmt.score(s, ws).to_numpy()[test]
            )
            hat = pmt.score(s, _without_lines(ws.model_keys, ws.coefficients)).to_numpy()
            row = cv.folds[(cv.folds["estimator"] == label) & (cv.folds["fold"] == k)]
            assert row["in_sample_r2"].item() == _r2(y[train], hat[train], pw[train])
            assert row["r2"].item() == _r2(y[test], hat[test], pw[test])
            raw[test] = hat[test]
        assert cv.table.loc[label, "r2"] == _r2(y, raw, pw)
        assert cv.table.loc[label, "in_sample_r2"] == pytest.approx(
            cv.folds.loc[cv.folds["estimator"] == label, "in_sample_r2"].mean(), rel=1e-15
        )
