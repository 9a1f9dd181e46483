"""Spec terms (pmt.terms) and specs without an urban split.

The terms are checked against a slow per-row reference; the design matrix of
calibration and the registry encoder must give the same values bit for bit;
a spec with the right non-linear terms must predict held-out welfare better.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pydantic
import pytest
from scipy.stats import spearmanr

import pmt
from pmt import errors as E
from pmt.calibration.data import prepare
from pmt.encode import encode
from pmt.spec import Variable, VariableSpec, default_spec
from pmt.terms import Derived
from pmt.weights import Manifest, WeightSet

KNOT = math.log(10.0)
LINES = {"33": 500_000.0, "34": 520_000.0}

VARIABLES = (
    Variable(name="has_car", kind="binary", label="Car"),
    Variable(name="has_refrigerator", kind="binary", label="Refrigerator"),
    Variable(name="has_gold", kind="binary", label="Gold", in_model=False),
    Variable(
        name="head_education",
        kind="categorical",
        label="Education of the head",
        codes={
            0: "none",
            1: "primary",
            2: "junior",
            3: "senior",
            4: "diploma",
            5: "bachelor",
            6: "post",
        },
    ),
    Variable(name="head_age", kind="count", label="Age of the head", min=10, max=110),
    Variable(
        name="floor_area", kind="continuous", label="Floor area", min=1, max=2000, in_model=False
    ),
    Variable(name="n_children", kind="count", label="Children", min=0, max=30, max_hh_size=True),
)

#: Every op, hh_size as a term, splines with two knots, products with urban and a binary.
DERIVED = (
    Derived(name="size", op="value", args=("hh_size",)),
    Derived(name="size_sq", op="power", args=("hh_size",), power=2),
    Derived(name="log_size", op="log", args=("hh_size",)),
    Derived(name="size_spline", op="spline", args=("hh_size",), knots=(3, 6)),
    Derived(name="age_sq", op="power", args=("head_age",), power=2),
    Derived(name="age_spline", op="spline", args=("head_age",), knots=(35.0, 55.5)),
    Derived(name="log_area_pc", op="log_per_capita", args=("floor_area",)),
    Derived(name="area_knot", op="spline", args=("log_area_pc",), knots=(KNOT,)),
    Derived(name="kids_log1p", op="log1p", args=("n_children",)),
    Derived(name="share_kids", op="per_capita", args=("n_children",)),
    Derived(name="age_x_urban", op="product", args=("head_age", "urban")),
    Derived(name="car_x_age", op="product", args=("has_car", "head_age")),
    Derived(name="gold_x_area_x_urban", op="product", args=("has_gold", "log_area_pc", "urban")),
)


def _spec(derived: tuple[Derived, ...] = DERIVED, *, urban: bool = True) -> VariableSpec:
    return VariableSpec(
        name="my-survey", version="1", variables=VARIABLES, derived=derived, urban=urban
    )


def _reference(row: pd.Series) -> dict[str, float]:
    """Each term of DERIVED for one household, computed the slow obvious way."""
    size, age, area = float(row.hh_size), float(row.head_age), float(row.floor_area)
    kids, urban = float(row.n_children), float(row.urban)
    log_area_pc = math.log(area / size)
    return {
        "size": size,
        "size_sq": size**2,
        "log_size": math.log(size),
        "size_spline_1": max(0.0, size - 3),
        "size_spline_2": max(0.0, size - 6),
        "age_sq": age**2,
        "age_spline_1": max(0.0, age - 35.0),
        "age_spline_2": max(0.0, age - 55.5),
        "log_area_pc": log_area_pc,
        "area_knot_1": max(0.0, log_area_pc - KNOT),
        "kids_log1p": math.log1p(kids),
        "share_kids": kids / size,
        "age_x_urban": age * urban,
        "car_x_age": float(row.has_car) * age,
        "gold_x_area_x_urban": float(row.has_gold) * log_area_pc * urban,
    }


@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    return pmt.synth.survey(1200, seed=5, provinces=[33, 34], heterogeneity=0)


def _draft(spec: VariableSpec, keys: tuple[str, ...] = ("national",)) -> WeightSet:
    manifest = Manifest(
        name="terms-test",
        version="1",
        created=dt.date(2026, 1, 1),
        description="test",
        synthetic=True,
        region_vintage="test",
        spec=spec,
    )
    rng = np.random.default_rng(0)
    coef = rng.normal(0, 0.01, (len(keys), len(spec.terms)))
    return WeightSet(manifest, keys, coef)


def test_term_names_expand_splines():
    spec = _spec()
    names = tuple(_reference(pd.Series(1.0, index=_COLUMNS)))
    assert spec.numeric_terms == ("head_age", "n_children", *names)
    assert spec.terms[-len(names) :] == names


_COLUMNS = ["hh_size", "head_age", "floor_area", "n_children", "urban", "has_car", "has_gold"]


def test_encoder_terms_match_a_slow_reference(survey):
    spec = _spec()
    sample = survey.iloc[:200]
    enc = encode(sample, _draft(spec))
    names = spec.numeric_terms
    for i, (_, row) in enumerate(sample.iterrows()):
        ref = _reference(row)
        for term, value in ref.items():
            got = enc.numeric[i, names.index(term)]
            assert got == value, (term, i)  # bit for bit: logs and powers are the C library's
    # the reference is not trivially satisfied: hinges are active for some rows and not others
    j = names.index("age_spline_2")
    assert (enc.numeric[:, j] > 0).any() and (enc.numeric[:, j] == 0).any()


@pytest.mark.parametrize("op", ["log", "log1p", "power", "log_per_capita"])
def test_logs_and_powers_are_the_c_librarys_on_every_machine(op):
    """Derived logs and powers equal Python's math functions bit for bit, non-finite ones too.

    numpy's np.log, np.log1p and np.power differ from them in the last bit for
    some values on processors with AVX-512, so pmt does not use them. The
    values span many magnitudes and more than one task of the kernel, and the
    domain's edges sit among them (the kernel resumes after each).
    """
    rng = np.random.default_rng(7)
    n = 300_000
    a = np.exp(rng.uniform(-40.0, 40.0, n)) * rng.choice([1.0, 1.0, 1.0, -1.0], n)
    a[:1000] = rng.integers(0, 50, 1000)  # small whole numbers: household sizes, counts
    edges = [0.0, -0.0, -1.0, -1e-300, np.nan, np.inf, -np.inf, 5e-324, 1.0, -0.5]
    where = rng.choice(np.arange(1000, n), len(edges), replace=False)
    a[where] = edges
    size = rng.integers(1, 41, n)
    power = 2.5

    def c_function(kind: str, x: float) -> float:
        """The math module's value; NaN or -inf where Python raises and C returns them."""
        try:
            if kind == "power":
                return math.pow(x, power)
            return math.log1p(x) if kind == "log1p" else math.log(x)
        except OverflowError:
            return math.inf
        except ValueError:
            at = -1.0 if kind == "log1p" else 0.0
            return -math.inf if kind != "power" and x == at else math.nan

    if op == "log_per_capita":
        pairs = zip(a.tolist(), size.tolist(), strict=True)
        expected = [c_function("log", x / s) for x, s in pairs]
    else:
        expected = [c_function(op, x) for x in a.tolist()]
    term = Derived(name="t", op=op, args=("x",), power=power if op == "power" else None)
    out = {"t": np.empty(n)}
    pmt.terms.fill((term,), {"x": a.copy(), "hh_size": size}, out)
    same = out["t"].view(np.int64) == np.array(expected).view(np.int64)
    nan_both = np.isnan(out["t"]) & np.isnan(expected)
    assert (same | nan_both).all(), a[~(same | nan_both)][:5]


def test_design_matrix_and_registry_encoder_agree_bit_for_bit(survey):
    spec = _spec()
    data = prepare(
        survey,
        spec,
        poverty_lines=LINES,
        consumption="consumption",
        weight="weight",
        psu="psu",
        strata="strata",
        id_col="hh_id",
        scheme="BPS",
    )
    # the same households as a registry: another order, an Arrow table, other columns dropped
    import pyarrow as pa

    order = np.random.default_rng(1).permutation(len(survey))
    registry = survey.drop(columns=["consumption", "weight", "psu", "strata"]).iloc[order]
    enc = encode(pa.Table.from_pandas(registry, preserve_index=False), _draft(spec))
    inverse = np.argsort(order)
    for j, term in enumerate(spec.numeric_terms):
        from_design = data.X[:, data.columns.index(term)]
        from_registry = enc.numeric[inverse, j]
        assert np.array_equal(from_design.view(np.int64), from_registry.view(np.int64)), term


def test_scoring_uses_the_terms(survey):
    """A set with one non-zero coefficient on a term scores exactly coef x term (+ intercept)."""
    spec = _spec()
    base = _draft(spec)
    coef = np.zeros_like(base.coefficients)
    coef[0, spec.terms.index("age_spline_2")] = 0.5
    ws = WeightSet(base.manifest, base.model_keys, coef)
    sample = survey.iloc[:50]
    welfare = pmt.score(sample, ws).to_numpy()
    expect = [0.5 * max(0.0, float(a) - 55.5) for a in sample["head_age"]]
    np.testing.assert_allclose(welfare, expect, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("derived", "message"),
    [
        (Derived(name="x", op="log", args=("nope",)), "uses unknown columns ['nope']"),
        (Derived(name="x", op="log", args=("head_education",)), "must use numeric columns"),
        (Derived(name="head_age", op="log", args=("hh_size",)), "reuses a column name"),
        (Derived(name="x", op="spline", args=("age_sq",), knots=(1.0,)), "unknown columns"),
    ],
)
def test_bad_terms_are_refused(derived, message):
    with pytest.raises(
        pydantic.ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        _spec((derived,))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"op": "power", "args": ("hh_size",)}, "'power' is required with op 'power'"),
        ({"op": "log", "args": ("hh_size",), "power": 2}, "'power' is required with op 'power'"),
        ({"op": "spline", "args": ("hh_size",)}, "'knots' is required with op 'spline'"),
        ({"op": "spline", "args": ("hh_size",), "knots": (5, 3)}, "increasing"),
        ({"op": "spline", "args": ("hh_size",), "knots": ()}, "one or more"),
        ({"op": "product", "args": ("hh_size",)}, "two or more"),
        ({"op": "log1p", "args": ("hh_size", "head_age")}, "takes one argument"),
        ({"op": "cube", "args": ("hh_size",)}, "op"),
    ],
)
def test_bad_derived_entries(kwargs, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        Derived(name="x", **kwargs)


def test_a_spline_term_name_may_not_clash():
    with pytest.raises(pydantic.ValidationError, match=r"reuses a column name \('s_1'\)"):
        _spec(
            (
                Derived(name="s_1", op="value", args=("hh_size",)),
                Derived(name="s", op="spline", args=("hh_size",), knots=(2.0,)),
            )
        )


def test_a_term_outside_its_domain_is_a_typed_error(survey):
    spec = _spec((Derived(name="log_kids", op="log", args=("n_children",)),))
    sample = survey.iloc[:100]
    zero = np.flatnonzero(sample["n_children"].to_numpy() == 0)
    assert zero.size
    with pytest.raises(E.InvalidValueError, match="derived feature 'log_kids'") as err:
        encode(sample, _draft(spec))
    assert "log1p" in str(err.value)  # the fix names the op that is defined at 0
    assert list(err.value.rows) == zero[:5].tolist()


def test_saved_json_omits_unset_fields_and_round_trips():
    default = default_spec().model_dump(mode="json")
    assert "urban" not in default
    assert all("power" not in d and "knots" not in d for d in default["derived"])
    spec = _spec(urban=True)
    text = spec.model_dump_json()
    assert '"urban":' not in text and '"power":2.0' in text and '"knots":[3.0,6.0]' in text
    assert VariableSpec.model_validate_json(text) == spec
    assert VariableSpec.model_validate_json(_no_urban_spec().model_dump_json()).urban is False


# --------------------------------------------------------------------------- no urban split


def _no_urban_spec() -> VariableSpec:
    derived = tuple(d for d in DERIVED if "urban" not in d.args)
    return _spec(derived, urban=False)


def test_urban_is_refused_as_an_arg_without_an_urban_split():
    with pytest.raises(pydantic.ValidationError, match="no urban split"):
        _spec(DERIVED, urban=False)


def test_a_set_without_urban_scores_a_table_without_the_column(survey):
    spec = _no_urban_spec()
    ws = _draft(spec, ("national", "33", "3301"))
    table = survey.iloc[:300]
    without = pmt.score(table.drop(columns=["urban"]), ws)
    flipped = pmt.score(table.assign(urban=1 - table["urban"]), ws)  # ignored if present
    np.testing.assert_array_equal(without.to_numpy(), flipped.to_numpy())


def test_a_set_with_urban_needs_the_column(survey):
    ws = _draft(_spec(), ("national",))
    with pytest.raises(E.MissingColumnError, match="urban: false") as err:
        pmt.score(survey.iloc[:10].drop(columns=["urban"]), ws)
    assert err.value.column == "urban"


def test_urban_keys_are_refused_without_an_urban_split():
    with pytest.raises(E.WeightSetError, match=r"no urban split \(urban: false\)") as err:
        _draft(_no_urban_spec(), ("national", "33-urban", "3301-rural"))
    assert len(err.value.problems) == 2


def test_calibrating_without_urban_keys_models_by_district(survey, tmp_path):
    cal = pmt.calibrate(
        survey.drop(columns=["urban"]),
        _no_urban_spec(),
        poverty_lines=LINES,
        strata=None,
    )
    keys = cal.weights.model_keys
    assert "national" in keys and any(len(k) == 4 for k in keys)
    assert not any("-" in k for k in keys)
    assert cal.weights.manifest.model_level == "district"
    assert cal.weights.manifest.spec.model_dump()["urban"] is False  # saved: not the default
    loaded = pmt.load_weights(pmt.save_weights(cal.weights, tmp_path / "set").path)
    assert loaded.content_hash == cal.weights.content_hash and loaded.spec.urban is False
    registry = survey.drop(columns=["urban", "consumption"])
    np.testing.assert_array_equal(
        pmt.score(registry, loaded).to_numpy(), pmt.score(registry, cal.weights).to_numpy()
    )


# --------------------------------------------------------------------------- non-linear effects


def test_splines_and_powers_recover_a_nonlinear_effect():
    """Out of sample, a spec with age squared and a floor-area spline beats the linear one."""
    variables = VARIABLES[:2] + VARIABLES[4:6]
    linear = (
        Derived(name="log_size", op="log", args=("hh_size",)),
        Derived(name="log_area_pc", op="log_per_capita", args=("floor_area",)),
    )
    nonlinear = (
        *linear,
        Derived(name="age_sq", op="power", args=("head_age",), power=2),
        Derived(name="area_knot", op="spline", args=("log_area_pc",), knots=(KNOT,)),
    )
    kw = {"provinces": [33, 34], "nonlinear": 1.0, "heterogeneity": 0}
    train = pmt.synth.survey(3000, seed=3, **kw)
    test = pmt.synth.survey(3000, seed=4, **kw)
    line = test["district_code"].floordiv(100).astype(str).map(LINES).to_numpy()
    observed = np.log(test["consumption"].to_numpy() / line)
    r2, rho = [], []
    for derived in (linear, nonlinear):
        spec = VariableSpec(name="s", version="1", variables=variables, derived=derived)
        cal = pmt.calibrate(
            train, spec, poverty_lines=LINES, pooling="fallback", min_households=10**6
        )
        predicted = pmt.score(test, cal.weights).to_numpy()
        r2.append(
            1 - np.sum((observed - predicted) ** 2) / np.sum((observed - observed.mean()) ** 2)
        )
        rho.append(spearmanr(predicted, observed)[0])
    assert r2[1] > r2[0] + 0.015, r2
    assert rho[1] > rho[0], rho


def test_the_synthetic_survey_takes_a_spec_without_urban():
    frame, truth = pmt.synth.survey(
        300, seed=2, spec=_no_urban_spec(), provinces=[33], return_truth=True
    )
    assert {v.name for v in VARIABLES} <= set(frame.columns)
    assert truth.spec.urban  # the true models are per district x urban cell
    ws = _draft(_no_urban_spec(), ("national",))
    assert np.isfinite(pmt.score(frame.drop(columns=["urban"]), ws).to_numpy()).all()
