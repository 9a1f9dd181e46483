"""Property tests (Hypothesis) for the invariants of docs/desil.md and the weight-set format."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pydantic
import pytest
from conftest import SPEC, make_households, tiny_weight_set
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pmt
from pmt.regions import PROVINCES
from pmt.spec import CANONICAL_COLUMNS, Derived, Variable, VariableSpec
from pmt.weights import Manifest, WeightSet, save_weights

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RESULT_COLUMNS = (
    "welfare",
    "desil_national",
    "desil_provincial",
    "rank_national",
    "rank_provincial",
    "share_below_national",
    "share_below_provincial",
)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.int64)


def _assert_frames_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for col in ("welfare", "share_below_national", "share_below_provincial"):
        np.testing.assert_array_equal(_bits(a[col].to_numpy()), _bits(b[col].to_numpy()))
    assert a.attrs == b.attrs


# at least 12 households: registry mode refuses fewer households than classes (n <= 12
# here); the rule itself on 1..500 households is pinned through assign_desil below
households_args = st.fixed_dictionaries(
    {
        "n": st.integers(12, 250),
        "seed": st.integers(0, 2**32 - 1),
        "tie_frac": st.sampled_from([0.0, 0.1, 0.5, 0.9]),
    }
)


# --------------------------------------------------------------------------- row order


@FAST
@given(
    args=households_args,
    perm_seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["registry", "reference"]),
)
def test_row_permutation_invariance(tiny_ws_ref, args, perm_seed, mode):
    df = make_households(**args)
    perm = np.random.default_rng(perm_seed).permutation(len(df))
    shuffled = df.iloc[perm]
    a = pmt.rank(df, tiny_ws_ref, cutoffs=mode).to_frame()
    b = pmt.rank(shuffled, tiny_ws_ref, cutoffs=mode).to_frame()
    # b is in shuffled input order and keeps the shuffled index
    assert b.index.equals(shuffled.index)
    _assert_frames_identical(a, b.loc[a.index])


@FAST
@given(
    args=households_args,
    perm_seed=st.integers(0, 2**32 - 1),
    weighting=st.sampled_from(["person", "household"]),
)
def test_row_permutation_invariance_with_non_integer_weights(tiny_ws, args, perm_seed, weighting):
    """Sums of equal-welfare runs go in canonical order: bit-identical for any row order."""
    df = make_households(**args)
    rng = np.random.default_rng(perm_seed)
    df["sw"] = rng.uniform(0.01, 1000.0, len(df)) * rng.choice([1e-3, 1.0, 7.3], len(df))
    perm = rng.permutation(len(df))
    a = pmt.rank(df, tiny_ws, weight="sw", weighting=weighting).to_frame()
    b = pmt.rank(df.iloc[perm], tiny_ws, weight="sw", weighting=weighting).to_frame()
    _assert_frames_identical(a, b.loc[a.index])


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 300),
    n=st.integers(2, 12),
    n_values=st.integers(1, 6),
    grouped=st.booleans(),
)
def test_assign_desil_permutation_invariance_float_weights(seed, size, n, n_values, grouped):
    rng = np.random.default_rng(seed)
    welfare = rng.choice(rng.normal(0, 1, n_values), size)
    weight = rng.uniform(0.1, 10.0, size) * rng.choice([0.1, 1.0, 3.7], size)
    groups = rng.choice(np.array(["a", "b", "c"]), size) if grouped else None
    perm = rng.permutation(size)
    a = pmt.assign_desil(welfare, weight, groups=groups, n=n)
    b = pmt.assign_desil(
        welfare[perm], weight[perm], groups=None if groups is None else groups[perm], n=n
    )
    inv = np.argsort(perm)
    np.testing.assert_array_equal(b.desil[inv], a.desil)
    np.testing.assert_array_equal(b.rank[inv], a.rank)
    np.testing.assert_array_equal(_bits(b.share_below[inv]), _bits(a.share_below))


# --------------------------------------------------------------------------- ties


@FAST
@given(args=households_args, weighting=st.sampled_from(["person", "household"]))
def test_ties_are_never_split(tiny_ws, args, weighting):
    df = make_households(**{**args, "tie_frac": 0.6})
    f = pmt.rank(df, tiny_ws, weighting=weighting).to_frame()
    for scope, key in (("national", None), ("provincial", "province_code")):
        by = ["welfare"] if key is None else [key, "welfare"]
        cols = [f"desil_{scope}", f"rank_{scope}", f"share_below_{scope}"]
        assert (f.groupby(by)[cols].nunique() == 1).all().all()
    # identical rows (all but the id) under one model have identical welfare
    variables = [c for c in df.columns if c != "hh_id"]
    same = df.groupby(variables).ngroup().to_numpy()
    for g in np.unique(same):
        assert np.unique(_bits(f["welfare"].to_numpy()[same == g])).size == 1


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 400),
    n=st.integers(2, 12),
    n_values=st.integers(1, 5),
)
def test_ties_are_never_split_assign_desil(seed, size, n, n_values):
    rng = np.random.default_rng(seed)
    welfare = rng.choice(rng.normal(0, 1, n_values), size)
    weight = rng.integers(0, 5, size).astype(float)
    weight[0] += 1
    res = pmt.assign_desil(welfare, weight, n=n)
    for v in np.unique(welfare):
        at = welfare == v
        assert np.unique(res.desil[at]).size == 1
        assert np.unique(res.rank[at]).size == 1
        assert np.unique(res.share_below[at]).size == 1


# --------------------------------------------------------------------------- desil shares


def check_class_sizes(welfare: np.ndarray, weight: np.ndarray, desil: np.ndarray, n: int) -> None:
    """The exact bound on class sizes implied by the rule.

    Let A_k be the people in desil <= k and R_k the people in the *tie run*
    (households of equal welfare) at the top of desil <= k. The rule puts a
    household in desil <= k iff n*S < k*T, with S the people strictly poorer;
    the last run with n*S < k*T is the top run, and the next run has S = A_k.
    Hence, for k = 1..n-1,

        k*T <= n*A_k < k*T + n*R_k,

    and with people_k = A_k - A_{k-1} (A_0 = 0, A_n = T, R_0 = R_n = 0):

        -R_{k-1} < people_k - T/n < R_k.

    Without ties every run is one household, so each class holds T/n people
    to within (strictly less than) one household's weight.
    """
    total = weight.sum()
    r = np.zeros(n + 1)
    for k in range(1, n):
        inside = desil <= k
        a_k = weight[inside].sum()
        r[k] = weight[welfare == welfare[inside].max()].sum()
        assert k * total <= n * a_k < k * total + n * r[k], (k, a_k, r[k], total)
    # per class, in exact arithmetic (whole-number weights): n*people_k - T lies in
    # (-n*R_{k-1}, n*R_k), closed at the ends where R_0 = R_n = 0
    for k in range(1, n + 1):
        excess = n * weight[desil == k].sum() - total
        assert excess >= 0 if k == 1 else excess > -n * r[k - 1], (k, excess)
        assert excess <= 0 if k == n else excess < n * r[k], (k, excess)


@FAST
@given(args=households_args, n=st.integers(2, 12))
def test_each_desil_holds_one_nth_of_the_people(tiny_ws, args, n):
    df = make_households(**args)
    res = pmt.rank(df, tiny_ws, n=n, max_desil=1)
    size = df["hh_size"].to_numpy().astype(float)
    check_class_sizes(res.welfare, size, res.desil_national, n)
    prov = res.province
    for p in np.unique(prov):
        at = prov == p
        check_class_sizes(res.welfare[at], size[at], res.desil_provincial[at], n)
    if np.unique(res.welfare).size == len(df):  # no ties: within one household
        per_class = np.array([size[res.desil_national == k].sum() for k in range(1, n + 1)])
        assert (np.abs(per_class - size.sum() / n) < size.max()).all()


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 500),
    n=st.integers(2, 12),
    n_values=st.one_of(st.none(), st.integers(1, 20)),
)
def test_each_desil_holds_one_nth_assign_desil(seed, size, n, n_values):
    rng = np.random.default_rng(seed)
    welfare = (
        rng.normal(0, 1, size) if n_values is None else rng.choice(rng.normal(0, 1, n_values), size)
    )
    weight = rng.integers(0, 12, size).astype(float)
    weight[rng.integers(0, size)] += 1
    res = pmt.assign_desil(welfare, weight, n=n)
    check_class_sizes(welfare, weight, res.desil, n)


def test_class_size_bound_is_tight_by_hand():
    """Four households of 1 person, n = 3 (T/n = 4/3): classes of 2, 1, 1 people.

    S = 0, 1, 2, 3; 3*S >= 4k gives desil 1, 1, 2, 3. Desil 1 holds 2 people,
    2/3 above T/n but under one household (1 person) above: the bound is
    strict but reached up to a fraction of a household.
    """
    res = pmt.assign_desil([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], n=3)
    assert res.desil.tolist() == [1, 1, 2, 3]
    check_class_sizes(np.array([1.0, 2, 3, 4]), np.ones(4), res.desil, 3)


# --------------------------------------------------------------------------- reference mode


@FAST
@given(args=households_args)
def test_reference_mode_follows_the_stored_cutoffs(tiny_ws_ref, args):
    df = make_households(**args)
    res = pmt.rank(df, tiny_ws_ref, cutoffs="reference")
    w = res.welfare
    nat = tiny_ws_ref.cutoffs["national"]
    np.testing.assert_array_equal(res.desil_national, 1 + (w[:, None] > nat[None, :]).sum(1))
    prov_cut = np.array([tiny_ws_ref.cutoffs[f"{p:02d}"] for p in res.province])
    np.testing.assert_array_equal(res.desil_provincial, 1 + (w[:, None] > prov_cut).sum(1))
    assert res.to_frame().attrs["cutoff_mode"] == "reference"
    np.testing.assert_array_equal(res.eligible, res.desil_national <= 4)


# --------------------------------------------------------------------------- weight-set format

names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda s: s not in CANONICAL_COLUMNS and not s.startswith("zz")
)
labels = st.text(max_size=30)
bounds = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def variables(draw, name):
    kind = draw(st.sampled_from(["binary", "categorical", "count", "continuous"]))
    kw = {
        "name": name,
        "kind": kind,
        "label": draw(labels),
        "block": draw(names),
        "in_model": draw(st.booleans()),
    }
    if kind == "categorical":
        kw["codes"] = draw(st.dictionaries(st.integers(-5, 300), labels, min_size=2, max_size=6))
    if kind in ("count", "continuous"):
        lo, hi = sorted([draw(bounds), draw(bounds)])
        kw.update(min=lo, max=hi, max_hh_size=draw(st.booleans()))
    return Variable(**kw)


@st.composite
def specs(draw):
    var_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    vs = tuple(draw(variables(n)) for n in var_names)
    numeric = [v.name for v in vs if not v.is_lookup] + ["hh_size"]
    derived = []
    for i in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["log", "per_capita", "log_per_capita"]))
        if op == "per_capita":
            args = tuple(draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=3)))
        else:
            args = (draw(st.sampled_from(numeric)),)
        derived.append(Derived(name=f"zz{i}", op=op, args=args, label=draw(labels)))
    return VariableSpec(
        name=draw(labels),
        version=draw(st.text(min_size=1, max_size=8)),
        variables=vs,
        derived=tuple(derived),
        max_household_size=draw(st.integers(1, 200)),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | bounds | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def manifests(draw):
    return Manifest(
        name=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)),
        version=draw(st.text(min_size=1, max_size=10)),
        created=draw(st.dates()),
        description=draw(st.text(max_size=60)),
        synthetic=draw(st.booleans()),
        region_scheme=draw(st.sampled_from(["BPS", "Kemendagri"])),
        region_vintage=draw(st.text(max_size=10)),
        model_level=draw(
            st.sampled_from(
                ["district_urban", "district", "province_urban", "province", "national"]
            )
        ),
        spec=draw(st.one_of(st.just(SPEC), specs())),
        cutoff_classes=draw(st.one_of(st.none(), st.integers(2, 100))),
        provenance=draw(st.dictionaries(st.text(max_size=10), json_values, max_size=4)),
        content_hash=draw(
            st.one_of(st.none(), st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True))
        ),
    )


@settings(max_examples=60, deadline=None)
@given(m=manifests())
def test_manifest_json_round_trip(m):
    again = Manifest.model_validate_json(m.model_dump_json())
    assert again == m
    assert again.model_dump_json() == m.model_dump_json()


coefficients = st.floats(allow_nan=False, allow_infinity=False, width=64)
model_key_choices = (
    ["national"]
    + [f"{p:02d}" for p in PROVINCES]
    + [f"{p:02d}-urban" for p in PROVINCES]
    + ["3171", "3171-rural", "9401"]
)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_save_load_round_trip(data):
    keys = tuple(
        data.draw(
            st.lists(st.sampled_from(model_key_choices), min_size=1, max_size=5, unique=True)
            .map(lambda ks: ["national", *ks])
            .filter(lambda ks: len(set(ks)) == len(ks))
        )
    )
    n_terms = len(SPEC.terms)
    flat = data.draw(
        st.lists(coefficients, min_size=len(keys) * n_terms, max_size=len(keys) * n_terms)
    )
    coef = np.array(flat, dtype=np.float64).reshape(len(keys), n_terms)
    lines = data.draw(
        st.dictionaries(
            st.sampled_from(keys), st.floats(1e-300, 1e300, allow_nan=False), max_size=3
        )
    )
    if lines:
        lines["national"] = data.draw(st.floats(1.0, 1e7))
    n = data.draw(st.integers(2, 12))
    scopes = data.draw(
        st.lists(st.sampled_from([f"{p:02d}" for p in PROVINCES]), max_size=3, unique=True)
    )
    cut = {}
    if data.draw(st.booleans()):
        for scope in ["national", *scopes]:
            cut[scope] = np.sort(
                np.array(data.draw(st.lists(coefficients, min_size=n - 1, max_size=n - 1)))
            )
    m = tiny_weight_set().manifest.model_copy(update={"provenance": {"note": "round trip"}})
    ws = WeightSet(m, keys, coef, lines, cut)
    with tempfile.TemporaryDirectory() as tmp:
        saved = save_weights(ws, Path(tmp) / "a")
        loaded = pmt.load_weights(Path(tmp) / "a")
        assert loaded.model_keys == keys
        np.testing.assert_array_equal(_bits(loaded.coefficients), _bits(coef))
        assert dict(loaded.poverty_lines) == lines
        assert set(loaded.cutoffs) == set(cut)
        for scope, c in cut.items():
            np.testing.assert_array_equal(_bits(loaded.cutoffs[scope]), _bits(c))
        assert loaded.manifest.cutoff_classes == (n if cut else None)
        assert loaded.content_hash == saved.content_hash == loaded.manifest.content_hash
        assert (
            loaded.manifest.model_copy(
                update={
                    "content_hash": None,
                    "files": m.files,
                    "cutoff_classes": None,
                    "file_hashes": None,
                }
            )
            == m
        )
        # saving what was loaded writes the same bytes and the same hash
        again = save_weights(loaded, Path(tmp) / "b")
        assert again.content_hash == saved.content_hash
        for f in sorted(p.name for p in (Path(tmp) / "a").iterdir()):
            assert (Path(tmp) / "a" / f).read_bytes() == (Path(tmp) / "b" / f).read_bytes()


def test_save_keeps_cutoffs_the_manifest_had_no_file_for(tiny_ws, tmp_path):
    """Adding cutoffs to a loaded set that had none, then saving, must keep them.

    ``tiny_ws`` was saved without cutoffs, so its manifest's ``files.cutoffs``
    is None; a set built from that manifest with cutoffs must not lose them
    silently on save ("nothing is dropped silently").
    """
    assert tiny_ws.manifest.files.cutoffs is None
    cut = {"national": np.linspace(-1.0, 1.0, 9)}
    ws = WeightSet(
        tiny_ws.manifest,
        tiny_ws.model_keys,
        tiny_ws.coefficients.copy(),
        dict(tiny_ws.poverty_lines),
        cut,
    )
    saved = save_weights(ws, tmp_path / "with-cutoffs")
    assert set(saved.cutoffs) == {"national"}
    np.testing.assert_array_equal(saved.cutoffs["national"], cut["national"])


def test_save_keeps_poverty_lines_the_manifest_had_no_file_for(tiny_ws, tmp_path):
    """The same for poverty lines added to a set saved without them."""
    bare = save_weights(
        WeightSet(tiny_ws.manifest, tiny_ws.model_keys, tiny_ws.coefficients.copy()),
        tmp_path / "bare",
    )
    assert bare.manifest.files.poverty_lines is None and not bare.poverty_lines
    lines = {"national": 600_000.0}
    saved = save_weights(
        WeightSet(bare.manifest, bare.model_keys, bare.coefficients.copy(), lines),
        tmp_path / "with-lines",
    )
    assert dict(saved.poverty_lines) == lines


# --------------------------------------------------------------------------- threads


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_same_result_for_one_and_two_threads(tiny_ws_ref, seed):
    df = make_households(2000, seed, tie_frac=0.2)
    before = numba.get_num_threads()
    frames = {}
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            frames[threads, "registry"] = pmt.rank(df, tiny_ws_ref).to_frame()
            frames[threads, "reference"] = pmt.rank(df, tiny_ws_ref, cutoffs="reference").to_frame()
            frames[threads, "desil"] = pmt.assign_desil(
                frames[threads, "registry"]["welfare"],
                df["hh_size"] * 0.37,
                groups=df["district_code"] // 100,
            )
    finally:
        numba.set_num_threads(before)
    for mode in ("registry", "reference"):
        _assert_frames_identical(frames[1, mode], frames[max(k[0] for k in frames), mode])
    for a, b in zip(frames[1, "desil"], frames[max(k[0] for k in frames), "desil"], strict=True):
        np.testing.assert_array_equal(_bits(a.astype(float)), _bits(b.astype(float)))


def test_manifest_is_frozen_and_strict():
    m = tiny_weight_set().manifest
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        m.name = "other"  # type: ignore[misc]
    raw = m.model_dump(mode="json")
    raw["unexpected"] = 1
    with pytest.raises(pydantic.ValidationError, match="unexpected"):
        Manifest.model_validate(raw)
