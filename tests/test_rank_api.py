"""The result object and the options of ``pmt.rank``: labels, provenance, weighting, I/O."""

from __future__ import annotations

import json

import naive
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SPEC, make_households

import pmt
from pmt.weights import Manifest, WeightSet

REQUIRED = (
    "hh_id",
    "welfare",
    "model_key",
    "desil_national",
    "desil_provincial",
    "rank_national",
    "rank_provincial",
    "share_below_national",
    "share_below_provincial",
    "eligible",
)


@pytest.fixture(scope="module")
def df():
    return make_households(400, 8, tie_frac=0.15)


@pytest.fixture(scope="module")
def res(df, tiny_ws):
    return pmt.rank(df, tiny_ws)


# --------------------------------------------------------------------------- a worked example


@pytest.fixture(scope="module")
def tenure_only(weights_dir):
    """One national model; welfare = the coefficient of the household's tenure code.

    All other coefficients are 0 and there are no poverty lines, so welfare
    is exactly that coefficient (adding 0.0 terms changes nothing).
    """
    coef = np.zeros((1, len(SPEC.terms)))
    for code, value in {1: 0.6, 2: 0.2, 3: -0.4, 4: -0.1, 5: 0.9, 6: 0.0}.items():
        coef[0, SPEC.terms.index(f"tenure={code}")] = value
    m = Manifest(
        name="tenure-only",
        version="1",
        created="2026-01-01",
        description="worked example",
        synthetic=True,
        region_vintage="test",
        spec=SPEC,
    )
    return pmt.save_weights(WeightSet(m, ("national",), coef), weights_dir / "tenure-only")


def test_rank_worked_example_by_hand(tenure_only):
    """Ten households in provinces 31 and 32, n = 4 classes, person weight = size.

    welfare by tenure: 1 -> 0.6, 2 -> 0.2, 3 -> -0.4, 4 -> -0.1, 5 -> 0.9, 6 -> 0.0

    National, T = 24, class k starts where 4*S >= 24k, i.e. S >= 6, 12, 18:
      welfare  rows     people  S   desil rank
      -0.4     0,3,7    5        0  1     1
      -0.1     4        3        5  1     4
       0.0     6,9      6        8  2     5
       0.2     5        1       14  3     7
       0.6     2,8      6       15  3     8
       0.9     1        3       21  4     10

    Province 31 (rows 0,2,4,5,7,9), T = 14, S >= 3.5, 7, 10.5:
      -0.4 (0,7) S=0 d1 r1; -0.1 (4) S=4 d2 r3; 0.0 (9) S=7 d3 r4;
       0.2 (5) S=9 d3 r5; 0.6 (2) S=10 d3 r6  (10 < 10.5: no desil 4 in 31)
    Province 32 (rows 1,3,6,8), T = 10, S >= 2.5, 5, 7.5:
      -0.4 (3) S=0 d1 r1; 0.0 (6) S=1 d1 r2; 0.6 (8) S=5 d3 r3; 0.9 (1) S=7 d3 r4
    """
    df = make_households(10, 0, boundary_frac=0.0)
    df["hh_id"] = np.arange(100, 110)
    df["district_code"] = [3171, 3201, 3171, 3201, 3171, 3171, 3201, 3171, 3201, 3171]
    df["tenure"] = [3, 5, 1, 3, 4, 2, 6, 3, 1, 6]
    df["hh_size"] = [2, 3, 4, 1, 3, 1, 4, 2, 2, 2]
    for c in (
        "n_children",
        "n_elderly",
        "n_working",
        "n_disabled",
        "n_chronic_ill",
        "n_school_dropout",
    ):
        df[c] = 0
    res = pmt.rank(df, tenure_only, n=4, max_desil=2)
    f = res.to_frame()
    assert f["welfare"].tolist() == [-0.4, 0.9, 0.6, -0.4, -0.1, 0.2, 0.0, -0.4, 0.6, 0.0]
    assert f["desil_national"].tolist() == [1, 4, 3, 1, 1, 3, 2, 1, 3, 2]
    assert f["rank_national"].tolist() == [1, 10, 8, 1, 4, 7, 5, 1, 8, 5]
    assert f["share_below_national"].tolist() == [
        s / 24 for s in (0, 21, 15, 0, 5, 14, 8, 0, 15, 8)
    ]
    assert f["desil_provincial"].tolist() == [1, 3, 3, 1, 2, 3, 1, 1, 3, 3]
    assert f["rank_provincial"].tolist() == [1, 4, 6, 1, 3, 5, 2, 1, 3, 4]
    assert f["share_below_provincial"].tolist() == [
        0 / 14,
        7 / 10,
        10 / 14,
        0 / 10,
        4 / 14,
        9 / 14,
        1 / 10,
        0 / 14,
        5 / 10,
        7 / 14,
    ]
    assert f["eligible"].tolist() == [
        True,
        False,
        False,
        True,
        True,
        False,
        True,
        True,
        False,
        True,
    ]
    assert f["province_code"].tolist() == [31, 32, 31, 32, 31, 31, 32, 31, 32, 31]
    assert set(f["model_key"].astype(str)) == {"national"}
    assert f["hh_id"].tolist() == list(range(100, 110))


# --------------------------------------------------------------------------- the frame


def test_to_frame_columns(res):
    f = res.to_frame()
    assert set(REQUIRED) <= set(f.columns)
    assert f.columns[0] == "hh_id"
    assert f["desil_national"].dtype.kind == "i" and f["rank_national"].dtype.kind == "i"
    assert f["eligible"].dtype == bool and f["welfare"].dtype == np.float64
    assert len(f) == res.n_households


def test_model_key_and_level(res, df, tiny_ws):
    f = res.to_frame()
    expected = [
        naive.model_key(tiny_ws, d, u) for d, u in zip(df.district_code, df.urban, strict=True)
    ]
    assert f["model_key"].astype(str).tolist() == expected
    level = {
        "national": "national",
        "31": "province",
        "94": "province",
        "31-urban": "province_urban",
        "51-rural": "province_urban",
        "3171-urban": "district_urban",
        "3273-rural": "district_urban",
        "3201": "district",
    }
    assert f["model_level"].astype(str).tolist() == [level[k] for k in expected]
    # the fixture reaches every level of the fallback chain
    assert set(f["model_level"].astype(str)) == {
        "national",
        "province",
        "province_urban",
        "district",
        "district_urban",
    }


def test_index_and_order_follow_the_input(tiny_ws):
    df = make_households(50, 3)
    rng = np.random.default_rng(3)
    df.index = pd.Index([f"r{i}" for i in rng.permutation(50)], name="row_label")
    f = pmt.rank(df, tiny_ws).to_frame()
    pd.testing.assert_index_equal(f.index, df.index)
    np.testing.assert_array_equal(f["hh_id"].to_numpy(), df["hh_id"].to_numpy())
    s = pmt.score(df, tiny_ws)
    assert s.name == "welfare"
    pd.testing.assert_index_equal(s.index, df.index)
    np.testing.assert_array_equal(s.to_numpy(), f["welfare"].to_numpy())


def test_other_id_column_and_no_id(tiny_ws):
    df = make_households(30, 4)
    base = pmt.rank(df, tiny_ws).to_frame()
    renamed = df.rename(columns={"hh_id": "kk_id"})
    f = pmt.rank(renamed, tiny_ws, id_col="kk_id").to_frame()
    assert "kk_id" in f.columns and "hh_id" not in f.columns
    np.testing.assert_array_equal(f["desil_national"], base["desil_national"])
    g = pmt.rank(df.drop(columns="hh_id"), tiny_ws, id_col=None).to_frame()
    assert "hh_id" not in g.columns
    np.testing.assert_array_equal(g["welfare"], base["welfare"])


def test_attrs_carry_provenance(res, tiny_ws, tiny_ws_ref, df):
    attrs = res.to_frame().attrs
    assert attrs["weights_id"] == tiny_ws.id == "tiny@0.1"
    assert attrs["weights_hash"] == tiny_ws.content_hash == tiny_ws.manifest.content_hash
    assert attrs["weights_hash"].startswith("sha256:")
    assert attrs["cutoff_mode"] == "registry"
    assert attrs["weights_synthetic"] is True
    assert attrs["n_classes"] == 10
    assert attrs["households_input"] == attrs["households_ranked"] == len(df)
    assert attrs["households_rejected"] == 0
    assert attrs["eligibility"] == "desil_national <= 4"
    ref = pmt.rank(df, tiny_ws_ref, cutoffs="reference").to_frame().attrs
    assert ref["cutoff_mode"] == "reference"
    assert ref["weights_id"] == "tiny-ref@0.1"
    assert ref["weights_hash"] == tiny_ws_ref.content_hash != tiny_ws.content_hash


def test_repr_is_informative(res):
    text = repr(res)
    assert "400 ranked" in text and "tiny@0.1" in text and "registry" in text


def test_summary_totals(res, df):
    s = res.summary()
    assert s.index.names == ["scope", "desil"]
    size = df["hh_size"].to_numpy()
    national = s.loc["national"]
    assert list(national.index) == list(range(1, 11))
    assert national["households"].sum() == len(df)
    assert national["people"].sum() == size.sum()
    counts = pd.Series(res.desil_national).value_counts()
    assert national["households"].to_dict() == {k: int(counts.get(k, 0)) for k in range(1, 11)}
    for k in range(1, 11):
        assert national.loc[k, "people"] == size[res.desil_national == k].sum()
    provinces = sorted(s.index.get_level_values("scope").unique().drop("national"))
    assert provinces == sorted(f"{p:02d}" for p in set(df["district_code"] // 100))
    prov = s.drop(index="national", level="scope")
    assert prov["households"].sum() == len(df)
    assert prov["people"].sum() == size.sum()
    for p in provinces:
        at = (df["district_code"] // 100).to_numpy() == int(p)
        assert s.loc[p, "people"].sum() == size[at].sum()
        np.testing.assert_allclose(s.loc[p, "share_people"].sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(national["share_people"].sum(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("max_desil", [1, 4, 5, 10])
def test_eligible_quota_rule(df, tiny_ws, max_desil):
    res = pmt.rank(df, tiny_ws, max_desil=max_desil)
    np.testing.assert_array_equal(res.eligible, res.desil_national <= max_desil)
    assert res.to_frame().attrs["eligibility"] == f"desil_national <= {max_desil}"
    if max_desil == 10:
        assert res.eligible.all()


@pytest.mark.parametrize("line", [-0.5, 0.0, 0.25])
def test_eligible_line_rule(df, tiny_ws, line):
    res = pmt.rank(df, tiny_ws, line=line)
    np.testing.assert_array_equal(res.eligible, naive.welfare(df, tiny_ws) <= line)
    assert 0 < res.eligible.sum() < len(df)  # the line cuts through these data
    assert "welfare <=" in res.to_frame().attrs["eligibility"]


# --------------------------------------------------------------------------- weighting


@pytest.mark.parametrize(
    ("weighting", "survey"),
    [("person", False), ("household", False), ("person", True), ("household", True)],
)
def test_weighting_options(df, tiny_ws, weighting, survey):
    data = df.copy()
    kwargs = {"weighting": weighting}
    sw = np.random.default_rng(1).integers(1, 40, len(data)).astype(float)
    if survey:
        data["sw"] = sw
        kwargs["weight"] = "sw"
    res = pmt.rank(data, tiny_ws, **kwargs)
    p = data["hh_size"].to_numpy(float) if weighting == "person" else np.ones(len(data))
    if survey:
        p = p * sw
    np.testing.assert_array_equal(res.person_weight, p)
    for scope, groups in (("national", None), ("provincial", data["district_code"] // 100)):
        d, r, s = naive.desil(res.welfare, p, groups)
        np.testing.assert_array_equal(getattr(res, f"desil_{scope}"), d)
        np.testing.assert_array_equal(getattr(res, f"rank_{scope}"), r)
        np.testing.assert_allclose(getattr(res, f"share_below_{scope}"), s, rtol=0, atol=1e-12)
    summary = res.summary()
    assert summary.loc["national", "people"].sum() == p.sum()
    expected = weighting if not survey else f"{weighting} x sw"
    assert res.to_frame().attrs["weighting"] == expected


def test_household_weighting_differs_from_person_weighting(df, tiny_ws):
    """A guard that the option is not ignored: the fixture's sizes vary, so desil change."""
    a = pmt.rank(df, tiny_ws).desil_national
    b = pmt.rank(df, tiny_ws, weighting="household").desil_national
    assert (a != b).any()


@pytest.mark.parametrize("n", [2, 3, 5, 7, 20])
def test_other_numbers_of_classes(df, tiny_ws, n):
    res = pmt.rank(df, tiny_ws, n=n, max_desil=1)
    size = df["hh_size"].to_numpy()
    d, r, s = naive.desil(res.welfare, size, None, n=n)
    np.testing.assert_array_equal(res.desil_national, d)
    np.testing.assert_array_equal(res.rank_national, r)
    np.testing.assert_allclose(res.share_below_national, s, rtol=0, atol=1e-12)
    d, r, _ = naive.desil(res.welfare, size, df["district_code"] // 100, n=n)
    np.testing.assert_array_equal(res.desil_provincial, d)
    np.testing.assert_array_equal(res.rank_provincial, r)
    assert res.desil_national.max() == n
    assert list(res.summary().loc["national"].index) == list(range(1, n + 1))
    assert res.to_frame().attrs["n_classes"] == n


def test_registry_cutoffs_match_naive(res, df):
    np.testing.assert_array_equal(
        res.registry_cutoffs["national"], naive.cutoffs(res.welfare, df["hh_size"])
    )
    prov = (df["district_code"] // 100).to_numpy()
    for p in np.unique(prov):
        at = prov == p
        np.testing.assert_array_equal(
            res.registry_cutoffs[f"{p:02d}"], naive.cutoffs(res.welfare[at], df["hh_size"][at])
        )


# --------------------------------------------------------------------------- inputs and outputs


def test_arrow_input_gives_the_same_result(df, tiny_ws):
    table = pa.Table.from_pandas(df, preserve_index=False)
    a = pmt.rank(df, tiny_ws).to_frame()
    b = pmt.rank(table, tiny_ws).to_frame()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    np.testing.assert_array_equal(pmt.score(table, tiny_ws), pmt.score(df, tiny_ws))


def test_chunked_arrow_input_gives_the_same_result(df, tiny_ws):
    parts = [
        pa.Table.from_pandas(df.iloc[a:b], preserve_index=False)
        for a, b in ((0, 7), (7, 150), (150, len(df)))
    ]
    table = pa.concat_tables(parts)
    assert table.column("tenure").num_chunks == 3
    pd.testing.assert_frame_equal(
        pmt.rank(table, tiny_ws).to_frame(), pmt.rank(df, tiny_ws).to_frame(), check_exact=True
    )


def test_other_dtypes_give_the_same_result(df, tiny_ws):
    """Whole numbers as float64, nullable Int64, uint8, bool dummies and text: same welfare."""
    base = pmt.rank(df, tiny_ws).to_frame()
    variants = df.copy()
    lookup = [v.name for v in SPEC.variables if v.is_lookup]
    binary = [v.name for v in SPEC.variables if v.kind == "binary"]
    variants[lookup[:5]] = variants[lookup[:5]].astype("float64")
    variants[lookup[5:10]] = variants[lookup[5:10]].astype("Int64")
    variants[lookup[10:12]] = variants[lookup[10:12]].astype("uint8")
    variants[binary] = variants[binary].astype(bool)
    variants["hh_size"] = variants["hh_size"].astype("float32")
    variants["n_goat"] = variants["n_goat"].astype(str)
    variants["district_code"] = variants["district_code"].astype("category")
    f = pmt.rank(variants, tiny_ws).to_frame()
    pd.testing.assert_frame_equal(f, base, check_exact=True)


def test_weights_by_path(df, tiny_ws):
    a = pmt.rank(df, tiny_ws).to_frame()
    for ref in (str(tiny_ws.path), tiny_ws.path, tiny_ws.path / "manifest.json"):
        b = pmt.rank(df, ref).to_frame()
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_reference_without_cutoffs(df, tiny_ws):
    assert not tiny_ws.cutoffs
    with pytest.raises(pmt.WeightSetError, match="no reference cutoffs") as info:
        pmt.rank(df, tiny_ws, cutoffs="reference")
    assert isinstance(info.value, ValueError)


def test_reference_and_registry_differ_on_a_partial_registry(tiny_ws_ref, reference_sample):
    """A registry of only the poorest 40 %: reference and registry desil differ.

    Reference desil stay <= 4 (or near), registry desil spread over 1..10
    again -- the reason reference mode exists.
    """
    full = pmt.rank(reference_sample, tiny_ws_ref)
    poor = reference_sample[full.desil_national <= 4]
    reg = pmt.rank(poor, tiny_ws_ref, cutoffs="registry")
    ref = pmt.rank(poor, tiny_ws_ref, cutoffs="reference")
    np.testing.assert_array_equal(ref.desil_national, full.desil_national[full.desil_national <= 4])
    assert ref.desil_national.max() <= 4
    assert reg.desil_national.max() == 10


def test_to_parquet_carries_provenance(res, tmp_path):
    path = tmp_path / "result.parquet"
    res.to_parquet(path)
    meta = pq.read_schema(path).metadata
    prov = json.loads(meta[b"pmt"])
    assert prov == json.loads(json.dumps(res.provenance))
    assert prov["weights_hash"] == res.weights_hash and prov["cutoff_mode"] == "registry"
    back = pd.read_parquet(path)
    f = res.to_frame()
    assert list(back.columns) == list(f.columns)
    np.testing.assert_array_equal(back["welfare"], f["welfare"])
    np.testing.assert_array_equal(back["desil_provincial"], f["desil_provincial"])
    assert back["model_key"].astype(str).tolist() == f["model_key"].astype(str).tolist()


def test_result_arrays_are_per_ranked_household(res, df):
    assert res.n_households == len(df) and res.n_rejected == 0
    np.testing.assert_array_equal(res.rows, np.arange(len(df)))
    np.testing.assert_array_equal(res.person_weight, df["hh_size"].to_numpy(float))
    np.testing.assert_array_equal(res.province, (df["district_code"] // 100).to_numpy())


def test_rank_encoded_is_rank_after_encode(tiny_ws):
    from pmt.encode import encode
    from pmt.rank import RankOptions, rank_encoded

    df = make_households(300, seed=5)
    direct = pmt.rank(df, tiny_ws, n=5, max_desil=2).to_frame()
    via = rank_encoded(encode(df, tiny_ws), tiny_ws, RankOptions(n=5, max_desil=2)).to_frame()
    pd.testing.assert_frame_equal(direct, via)
    with pytest.raises(ValueError, match="n \\(number of classes\\)"):
        rank_encoded(encode(df, tiny_ws), tiny_ws, RankOptions(n=1))


def test_rank_result_n_is_deprecated_for_n_households(tiny_ws):
    res = pmt.rank(make_households(50, 3), tiny_ws)
    assert res.n_households == 50
    with pytest.warns(DeprecationWarning, match="n_households"):
        assert res.n == 50


def test_synth_registry_n_is_deprecated_for_n_households():
    a = pmt.synth.registry(n_households=20, seed=3)
    with pytest.warns(DeprecationWarning, match="n_households"):
        b = pmt.synth.registry(n=20, seed=3)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(TypeError, match="not both"), pytest.warns(DeprecationWarning):
        pmt.synth.registry(20, n=20)
