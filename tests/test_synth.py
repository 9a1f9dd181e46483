"""The synthetic data generators of :mod:`pmt.synth`, checked against their documented rules.

Expected values are derived independently of the generator: district counts
from :func:`pmt.regions.province_table`, coherence rules from the variable
definitions, the block contract from the docstring of :func:`pmt.synth.registry`.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import pmt
from pmt.regions import province_table
from pmt.spec import Variable


@pytest.fixture(scope="module")
def hh() -> pd.DataFrame:
    return pmt.synth.registry(40_000, seed=11)


# --------------------------------------------------------------------------- districts


@pytest.mark.parametrize("scheme", ["BPS", "Kemendagri"])
def test_districts_follow_the_province_table(scheme: str) -> None:
    d = pmt.synth.districts(scheme)
    table = province_table(scheme)
    assert len(d) == sum(p.n_kabupaten + p.n_kota for p in table.values()) == 514
    assert d["district_code"].is_monotonic_increasing and d["district_code"].is_unique
    for code, p in table.items():
        rows = d[d["province_code"] == code]
        kab = rows[rows["kind"] == "kabupaten"]["district_code"] - code * 100
        kota = rows[rows["kind"] == "kota"]["district_code"] - code * 100
        assert list(kab) == list(range(1, p.n_kabupaten + 1)), p.name
        assert list(kota) == list(range(71, 71 + p.n_kota)), p.name
        assert set(rows["province_name"]) == {p.name}
    assert d["household_share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (d["household_share"] > 0).all()
    assert d["urban_share"].between(0, 1).all()
    assert d.dtypes["district_code"] == np.int16 and d.dtypes["province_code"] == np.int8


def test_districts_agree_between_schemes_except_codes() -> None:
    bps = pmt.synth.districts("BPS").set_index(["province_name", "kind"], append=True)
    kem = pmt.synth.districts("Kemendagri")
    # same province, same position within it -> same shares and effects
    key = ["province_name", "kind", "household_share", "urban_share", "welfare_effect"]
    a = bps.reset_index()[key].sort_values(key).reset_index(drop=True)
    b = kem[key].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_districts_returns_a_copy() -> None:
    d = pmt.synth.districts()
    d["household_share"] = 0.0
    assert pmt.synth.districts()["household_share"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- registry


def test_registry_columns_and_dtypes(hh: pd.DataFrame) -> None:
    spec = pmt.default_spec()
    assert list(hh.columns) == [
        "hh_id",
        "district_code",
        "urban",
        "hh_size",
        *(v.name for v in spec.variables),
    ]
    assert hh["hh_id"].dtype == np.int64 and (hh["hh_id"] == np.arange(1, len(hh) + 1)).all()
    assert hh["district_code"].dtype == np.int16 and hh["urban"].dtype == np.int8
    assert set(hh["district_code"]) <= set(pmt.synth.districts()["district_code"])
    assert hh["hh_size"].between(1, 15).all()
    for v in spec.variables:
        col = hh[v.name]
        if v.kind == "binary":
            assert col.dtype == np.int8 and set(col.unique()) <= {0, 1}, v.name
        elif v.kind == "categorical":
            assert set(col.unique()) <= set(v.code_values), v.name
        else:
            assert v.min is None or (col >= v.min).all(), v.name
            assert v.max is None or (col <= v.max).all(), v.name
            if v.max_hh_size:
                assert (col <= hh["hh_size"]).all(), v.name


def test_registry_households_are_coherent(hh: pd.DataFrame) -> None:
    assert (hh["n_children"] + hh["n_elderly"] <= hh["hh_size"]).all()
    # no PLN meter without PLN metered lighting (lighting code 1)
    assert (hh.loc[hh["lighting"] != 1, "power_va"] == 0).all()
    # a head who does not work has neither industry nor status
    assert ((hh["head_sector"] == 0) == (hh["head_status"] == 0)).all()
    # no toilet type without a toilet (ownership 6: none)
    assert (hh.loc[hh["toilet_ownership"] == 6, "toilet_type"] == 4).all()
    # no refrigerator without electricity (lighting 4: not electric)
    assert (hh.loc[hh["lighting"] == 4, "has_refrigerator"] == 0).all()


def test_registry_has_joint_structure(hh: pd.DataFrame) -> None:
    # richer households are richer on many variables at once
    educated = hh["head_education"] >= 4
    assert hh.loc[educated, "has_car"].mean() > 2 * hh.loc[~educated, "has_car"].mean()
    assert hh.loc[hh["urban"] == 1, "has_ac"].mean() > hh.loc[hh["urban"] == 0, "has_ac"].mean()
    # Jakarta is richer than the Papua highlands
    codes = {p.name: code for code, p in province_table("BPS").items()}
    prov = hh["district_code"] // 100
    assert (
        hh.loc[prov == codes["DKI Jakarta"], "has_refrigerator"].mean()
        > hh.loc[prov == codes["Papua Pegunungan"], "has_refrigerator"].mean() + 0.2
    )


def test_registry_is_independent_of_chunk_size_and_reports_progress() -> None:
    n = 70_000  # two blocks of 65,536 rows
    calls: list[tuple[int, int]] = []
    a = pmt.synth.registry(n, seed=4, chunk_size=1, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(65_536, n), (n, n)]
    calls.clear()
    b = pmt.synth.registry(n, seed=4, chunk_size=10**9, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(n, n)]
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(a, pmt.synth.registry(n, seed=4), check_exact=True)


def test_registry_blocks_are_independent_streams() -> None:
    # block 0 is drawn from default_rng([seed, 0]) alone: the same for any larger n
    a = pmt.synth.registry(65_536 + 10, seed=2)
    b = pmt.synth.registry(2 * 65_536, seed=2)
    pd.testing.assert_frame_equal(a.iloc[:65_536], b.iloc[:65_536], check_exact=True)
    c = pmt.synth.registry(65_536 + 10, seed=3)
    assert not a.iloc[:65_536].drop(columns="hh_id").equals(c.iloc[:65_536].drop(columns="hh_id"))


def test_registry_kemendagri_uses_its_province_codes() -> None:
    hh = pmt.synth.registry(20_000, seed=1, scheme="Kemendagri")
    assert set(hh["district_code"] // 100) <= set(province_table("Kemendagri"))
    assert set(hh["district_code"]) <= set(pmt.synth.districts("Kemendagri")["district_code"])


def test_registry_draws_variables_unknown_to_the_catalogue() -> None:
    base = pmt.default_spec()
    extra = (
        Variable(name="x_cat", kind="categorical", label="c", codes={3: "a", 7: "b", 9: "c"}),
        Variable(name="x_bin", kind="binary", label="b"),
        Variable(name="x_cnt", kind="count", label="n", min=1, max=20),
        Variable(name="x_mem", kind="count", label="m", min=0, max=40, max_hh_size=True),
        Variable(name="x_cont", kind="continuous", label="f", min=0.0, max=5.0),
        Variable(name="x_lo", kind="continuous", label="f", min=2.0),
    )
    spec = base.model_copy(update={"variables": base.variables + extra, "max_household_size": 9})
    hh = pmt.synth.registry(5_000, seed=6, spec=spec)
    assert hh["hh_size"].between(1, 9).all()
    assert set(hh["x_cat"].unique()) == {3, 7, 9}
    assert hh["x_bin"].dtype == np.int8 and set(hh["x_bin"].unique()) == {0, 1}
    assert hh["x_cnt"].between(1, 20).all()
    assert (hh["x_mem"] <= hh["hh_size"]).all() and (hh["x_mem"] >= 0).all()
    assert hh["x_cont"].dtype == np.float32 and hh["x_cont"].between(0, 5).all()
    assert (hh["x_lo"] >= 2).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": 0}, ValueError, "n_households must be an int >= 1; got 0"),
        ({"n": "5"}, TypeError, "n_households must be an int >= 1; got '5' (str)"),
        ({"n": True}, TypeError, "n_households must be an int >= 1; got True (bool)"),
        ({"n": 5, "seed": -1}, ValueError, "seed must be an int >= 0; got -1"),
        ({"n": 5, "seed": 1.0}, ValueError, "seed must be an int >= 0; got 1.0 (float)"),
        ({"n": 5, "chunk_size": 0}, ValueError, "chunk_size must be an int >= 1; got 0"),
        ({"n": 5, "spec": "x"}, TypeError, "spec must be a pmt.VariableSpec or None; got str"),
        ({"n": 5, "scheme": "ISO"}, ValueError, "'ISO'"),
    ],
)
def test_registry_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    n = kwargs.pop("n")
    with pytest.raises(error) as info:
        pmt.synth.registry(n, **kwargs)
    assert message in str(info.value)


def test_integer_argument_type_errors_are_also_value_errors() -> None:
    with pytest.raises(ValueError, match="must be an int"):
        pmt.synth.registry(2.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- survey


def test_survey_regional_weights_gross_up_to_the_provinces_households() -> None:
    d = pmt.synth.districts()
    s = pmt.synth.survey(3_000, seed=5, provinces=(51, 53))
    expected = 70e6 * d.loc[d["province_code"].isin([51, 53]), "household_share"].sum()
    assert s["weight"].sum() == pytest.approx(expected, rel=1e-9)
    # every sampled district has at least two PSUs
    psus = s.groupby("district_code")["psu"].nunique()
    assert set(psus.index) == set(d.loc[d["province_code"].isin([51, 53]), "district_code"])
    assert psus.min() >= 2
    assert s["psu"].dtype == np.int32 and s["strata"].dtype == np.int32
    assert s.attrs["synthetic"] is True and s.attrs["generator"] == "pmt.synth.survey"


def test_survey_truth_is_labelled_synthetic_and_national_without_heterogeneity() -> None:
    _, truth = pmt.synth.survey(
        2_000, seed=1, provinces=(31,), heterogeneity=0.0, return_truth=True
    )
    assert truth.manifest.synthetic is True and "SYNTHETIC" in truth.manifest.description
    coef = np.asarray(truth.coefficients)
    # heterogeneity 0: one national model everywhere (same level and slopes in every cell)
    np.testing.assert_array_equal(coef[1:, 1:], np.broadcast_to(coef[0, 1:], coef[1:, 1:].shape))
    np.testing.assert_array_equal(coef[1:, 0], np.full(coef.shape[0] - 1, coef[0, 0]))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"heterogeneity": -1.0}, ValueError, "heterogeneity, noise_sd and psu_sd must be >= 0"),
        ({"noise_sd": -0.1}, ValueError, "heterogeneity, noise_sd and psu_sd must be >= 0"),
        ({"households_per_psu": 0}, ValueError, "households_per_psu must be an int >= 1; got 0"),
        ({"spec": 3}, TypeError, "spec must be a pmt.VariableSpec or None; got int"),
        ({"scheme": "ISO"}, ValueError, "'ISO'"),
        ({"provinces": (31, 99)}, ValueError, "provinces [99] are not provinces of the BPS"),
    ],
)
def test_survey_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        pmt.synth.survey(2_000, seed=1, **kwargs)
    assert message in str(info.value)


# --------------------------------------------------------------------------- layout


def test_synth_loads_lazily_and_its_modules_are_modules() -> None:
    code = (
        "import sys, types, pmt; assert 'pmt.synth' not in sys.modules; "
        "assert callable(pmt.synth.registry) and callable(pmt.synth.survey); "
        "import pmt.synth._registry as r, pmt.synth._survey as s; "
        "assert isinstance(r, types.ModuleType) and isinstance(s, types.ModuleType); "
        "assert sorted(pmt.synth.__all__) == ['districts', 'registry', 'survey']"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
