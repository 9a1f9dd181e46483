"""Candidate terms (:func:`pmt.calibration.expand_terms`).

What is added, where the knots go, and that a penalised fit on the widened
spec predicts held-out welfare better.
"""

from __future__ import annotations

import numpy as np
import pytest

import pmt
from pmt.calibration import expand_terms
from pmt.spec import Variable, VariableSpec, default_spec
from pmt.terms import Derived

LINES = {"33": 500_000.0, "34": 520_000.0}


@pytest.fixture(scope="module")
def survey():
    return pmt.synth.survey(2_000, seed=7, provinces=(33, 34))


def _by_name(spec: VariableSpec) -> dict[str, Derived]:
    return {d.name: d for d in spec.derived}


def test_the_specs_terms_come_first_and_the_candidates_are_the_documented_ones():
    spec = default_spec()
    wide = expand_terms(spec)
    assert wide.name == spec.name + "+expanded" and wide.version == spec.version
    assert wide.variables == spec.variables
    assert wide.terms[: len(spec.terms)] == spec.terms  # a fitted set still reads the same columns
    new = _by_name(wide)
    assert set(_by_name(spec)) <= set(new)
    assert new["head_age_sq"].op == "power" and new["head_age_sq"].power == 2
    assert new["head_age_sq"].args == ("head_age",)
    assert new["log_head_age"].op == "log"  # head_age has min 10
    assert new["log1p_n_children"].op == "log1p"  # counts have min 0
    assert new["hh_size_linear"].op == "value" and new["hh_size_linear"].args == ("hh_size",)
    assert new["log_floor_area_pc_sq"].args == ("log_floor_area_pc",)  # a derived base
    # the spec logs hh_size already: no second log of it; floor area is not in the model
    assert [d for d in wide.derived if d.op == "log" and d.args == ("hh_size",)] == [
        spec.derived[1]
    ]
    assert not any("floor_area" in d.args for d in wide.derived[len(spec.derived) :])
    assert not any(d.op in ("spline", "product") for d in wide.derived)  # knots=0, urban=False
    # every candidate is a square, a log or household size
    for d in wide.derived[len(spec.derived) :]:
        assert d.op in ("power", "log", "log1p", "value"), d


def test_knots_sit_at_the_surveys_quantiles(survey):
    wide = expand_terms(default_spec(), survey, knots=3, squares=False, logs=False)
    new = _by_name(wide)
    age = survey["head_age"].to_numpy(np.float64)
    want = np.unique(np.round(np.quantile(age, [0.25, 0.5, 0.75]), 6))
    assert new["head_age_knot"].knots == tuple(want)
    # a derived base, computed here by hand: log of floor area per person
    area = np.log(survey["floor_area"].to_numpy() / survey["hh_size"].to_numpy())
    want = np.unique(np.round(np.quantile(area, [0.25, 0.5, 0.75]), 6))
    np.testing.assert_array_equal(new["log_floor_area_pc_knot"].knots, want)
    size = survey["hh_size"].to_numpy(np.float64)
    inside = [k for k in np.unique(np.quantile(size, [0.25, 0.5, 0.75])) if size.min() < k]
    assert new["hh_size_linear_knot"].knots == tuple(k for k in inside if k < size.max())


def test_names_the_spec_uses_keep_the_specs_entry_and_urban_needs_a_split():
    spec = default_spec()
    data = spec.model_dump()
    cube = Derived(name="head_age_sq", op="power", args=("head_age",), power=3)
    data["derived"] = [*data["derived"], cube.model_dump()]
    own = VariableSpec.model_validate(data)
    assert _by_name(expand_terms(own))["head_age_sq"] == cube
    # the same term under another name is not added twice (it would be collinear)
    data["derived"][-1] = Derived(
        name="age_squared", op="power", args=("head_age",), power=2
    ).model_dump()
    renamed = expand_terms(VariableSpec.model_validate(data))
    assert [d.name for d in renamed.derived if d.args == ("head_age",) and d.op == "power"] == [
        "age_squared"
    ]
    with_urban = _by_name(expand_terms(spec, urban=True, squares=False, logs=False))
    assert with_urban["head_age_x_urban"].op == "product"
    assert with_urban["head_age_x_urban"].args == ("head_age", "urban")
    rural = VariableSpec.model_validate({**spec.model_dump(), "urban": False})
    assert not any(d.name.endswith("_x_urban") for d in expand_terms(rural, urban=True).derived)


def test_bad_arguments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"knots are placed at the survey's quantiles.*pass the"):
        expand_terms(default_spec(), knots=2)
    with pytest.raises(ValueError, match="knots must be 0 or more; got -1"):
        expand_terms(default_spec(), knots=-1)


def test_a_penalised_fit_on_the_widened_spec_predicts_held_out_welfare_better():
    """The synthetic truth has age squared and a knot in log area per person (nonlinear=1)."""
    variables = (
        Variable(name="has_car", kind="binary", label="Car"),
        Variable(name="has_refrigerator", kind="binary", label="Refrigerator"),
        Variable(name="head_age", kind="count", label="Age", min=10, max=110),
        Variable(
            name="floor_area", kind="continuous", label="Area", min=1, max=5000, in_model=False
        ),
    )
    derived = (
        Derived(name="log_size", op="log", args=("hh_size",)),
        Derived(name="log_area_pc", op="log_per_capita", args=("floor_area",)),
    )
    spec = VariableSpec(name="s", version="1", variables=variables, derived=derived)
    kw = {"provinces": [33, 34], "nonlinear": 1.0, "heterogeneity": 0}
    train = pmt.synth.survey(3000, seed=3, **kw)
    test = pmt.synth.survey(3000, seed=4, **kw)
    line = test["district_code"].floordiv(100).astype(str).map(LINES).to_numpy()
    observed = np.log(test["consumption"].to_numpy() / line)
    wide = expand_terms(spec, train, knots=3)
    r2 = []
    for s in (spec, wide):
        cal = pmt.calibrate(
            train,
            s,
            estimator="lasso",
            poverty_lines=LINES,
            pooling="fallback",
            min_households=10**6,
            on_collinear="drop",
        )
        predicted = pmt.score(test, cal.weights).to_numpy()  # the scorer computes the terms
        r2.append(1 - np.mean((observed - predicted) ** 2) / np.var(observed))
    assert r2[1] > r2[0] + 0.015, r2
    kept = dict(zip(cal.weights.spec.terms, cal.weights.coefficients[0], strict=True))
    assert any(kept[t] != 0 for t in ("head_age_sq", "head_age_knot_1", "head_age_knot_2"))
