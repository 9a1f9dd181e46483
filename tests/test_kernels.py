"""The numba kernels against the slow reference in ``tests/naive.py``.

Every comparison is exact (welfare, desil, rank, cutoffs) except share below,
which naive computes with ``math.fsum`` and checks to 1e-12. The same checks
run again with ``NUMBA_DISABLE_JIT=1`` in a subprocess, so that the kernel
lines execute as Python and must give bit-identical results.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import naive
import numpy as np
import pandas as pd
import pytest
from conftest import DISTRICTS, make_households

import pmt
from pmt import _kernels as K
from pmt._kernels.score import SCORE_BLOCK, SCORE_TASK
from pmt.rank import reference_cutoffs


def random_case(
    seed: int, *, zeros: bool = True, float_weights: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """welfare, person weights, groups (or None) and n for one random case.

    Welfare is drawn from a few values (heavy ties) in half of the cases;
    weights are whole numbers including zeros unless ``float_weights``.
    """
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 501))
    n = int(rng.integers(2, 13))
    if rng.random() < 0.5:
        values = rng.normal(0, 1, int(rng.integers(1, 8)))
        welfare = rng.choice(values, size)
    else:
        welfare = np.round(rng.normal(0, 1, size), int(rng.integers(1, 4)))
    if float_weights:
        weight = rng.uniform(0.0, 50.0, size) * (rng.random(size) > 0.1)
    else:
        weight = rng.integers(0 if zeros else 1, 9, size).astype(np.float64)
    groups = None
    if rng.random() < 0.5:
        groups = rng.choice(np.array([11, 31, 32, 94]), size)
        for g in np.unique(groups):  # every group needs people
            members = np.flatnonzero(groups == g)
            if weight[members].sum() == 0:
                weight[members[0]] = 1.0
    elif weight.sum() == 0:
        weight[0] = 1.0
    return welfare, weight, groups, n


# --------------------------------------------------------------------------- assign_desil


@pytest.mark.parametrize("seed", range(80))
def test_assign_desil_matches_naive(seed):
    welfare, weight, groups, n = random_case(seed)
    got = pmt.assign_desil(welfare, weight, groups=groups, n=n)
    d, r, s = naive.desil(welfare, weight, groups, n=n)
    np.testing.assert_array_equal(got.desil, d)
    np.testing.assert_array_equal(got.rank, r)
    np.testing.assert_allclose(got.share_below, s, rtol=0, atol=1e-12)
    assert got.desil.min() >= 1 and got.desil.max() <= n


@pytest.mark.parametrize("seed", range(30))
def test_assign_desil_pandas_input_same_as_numpy(seed):
    welfare, weight, groups, n = random_case(seed)
    index = pd.RangeIndex(len(welfare)) * 3
    got = pmt.assign_desil(
        pd.Series(welfare, index=index),
        pd.Series(weight, index=index),
        groups=None if groups is None else pd.Series(groups, index=index),
        n=n,
    )
    ref = pmt.assign_desil(welfare, weight, groups=groups, n=n)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(40))
def test_reference_cutoffs_match_naive_and_reproduce_registry_desil(seed):
    welfare, weight, groups, n = random_case(seed)
    registry = pmt.assign_desil(welfare, weight, groups=groups, n=n)
    cut = reference_cutoffs(welfare, weight, groups=groups, n=n)
    labels = [None] if groups is None else np.unique(groups)
    assert sorted(cut, key=str) == sorted(labels, key=str)
    for label in labels:
        members = slice(None) if label is None else groups == label
        expected = naive.cutoffs(welfare[members], weight[members], n=n)
        np.testing.assert_array_equal(cut[label], expected)
        # applied to the data it was computed on, reference mode == registry mode, exactly
        np.testing.assert_array_equal(
            naive.desil_reference(welfare[members], cut[label]), registry.desil[members]
        )
    mapping = cut[None] if groups is None else {int(k): v for k, v in cut.items()}
    via_cutoffs = pmt.assign_desil(welfare, weight, groups=groups, cutoffs=mapping, n=n)
    np.testing.assert_array_equal(via_cutoffs.desil, registry.desil)
    # rank and share below are always within the data
    np.testing.assert_array_equal(via_cutoffs.rank, registry.rank)
    np.testing.assert_array_equal(via_cutoffs.share_below, registry.share_below)


@pytest.mark.parametrize("seed", range(20))
def test_reference_equals_registry_with_non_integer_weights(seed):
    """The identity holds for any weights: both read the same cumulative sums."""
    welfare, weight, groups, n = random_case(seed, float_weights=True)
    registry = pmt.assign_desil(welfare, weight, groups=groups, n=n)
    cut = reference_cutoffs(welfare, weight, groups=groups, n=n)
    mapping = cut[None] if groups is None else {int(k): v for k, v in cut.items()}
    again = pmt.assign_desil(welfare, weight, groups=groups, cutoffs=mapping, n=n)
    np.testing.assert_array_equal(again.desil, registry.desil)


def test_assign_desil_worked_example_from_the_docs():
    """docs/desil.md's eight households (reasoning in that table)."""
    w = [-0.5, -0.3, -0.3, -0.1, 0.05, 0.2, 0.4, 0.9]
    size = [5, 3, 2, 4, 6, 3, 2, 5]
    res = pmt.assign_desil(w, size)
    assert res.desil.tolist() == [1, 2, 2, 4, 5, 7, 8, 9]
    assert res.rank.tolist() == [1, 2, 2, 4, 5, 6, 7, 8]
    assert res.share_below.tolist() == [
        0 / 30,
        5 / 30,
        5 / 30,
        10 / 30,
        14 / 30,
        20 / 30,
        23 / 30,
        25 / 30,
    ]
    assert reference_cutoffs(w, size)[None].tolist() == [
        -0.5,
        -0.3,
        -0.3,
        -0.1,
        0.05,
        0.05,
        0.2,
        0.4,
        0.9,
    ]


def test_assign_desil_ten_households_by_hand():
    """Ten households, n = 10, person weight = size; worked out by hand.

    Sorted by welfare (the input below is shuffled):

    ====  =======  ====  ==========================  =====  ====  =====
    hh    welfare  size  S = people strictly poorer  desil  rank  share
    ====  =======  ====  ==========================  =====  ====  =====
    H1    -1.2     4      0                            1      1    0.000
    H2    -0.9     2      4  (10*4 = 40 >= 1*40)       2      2    0.100
    H3    -0.7     6      6                            2      3    0.150
    H4    -0.4     3     12  (120 >= 40k for k<=3)     4      4    0.300
    H5    -0.4     5     12  (tie with H4)             4      4    0.300
    H6     0.0     1     20  (200 >= 40k for k<=5)     6      6    0.500
    H7     0.3     7     21                            6      7    0.525
    H8     0.5     2     28  (280 >= 40k for k<=7)     8      8    0.700
    H9     0.8     6     30                            8      9    0.750
    H10    1.5     4     36  (360 >= 40k for k<=9)    10     10    0.900
    ====  =======  ====  ==========================  =====  ====  =====

    T = 40 people, so desil k starts where 10*S >= 40*k, i.e. S >= 4k. H2 sits
    exactly on the 10 % boundary (S = 4) and so is in desil 2, not 1. H4 and H5
    tie and share everything; H6's rank is 6 because five households are
    strictly poorer. Desil 3, 5, 7 and 9 are empty.

    Reference cutoffs: C(w) (people at or below w) = 4, 6, 12, 20, 21, 28, 30,
    36, 40 at the nine distinct welfare values; c_k is the first w with
    C(w) >= 4k: c = (-1.2, -0.7, -0.7, -0.4, -0.4, 0.3, 0.3, 0.8, 0.8).
    """
    table = {  # hh: (welfare, size, desil, rank, share below)
        "H1": (-1.2, 4, 1, 1, 0.0),
        "H2": (-0.9, 2, 2, 2, 0.1),
        "H3": (-0.7, 6, 2, 3, 0.15),
        "H4": (-0.4, 3, 4, 4, 0.3),
        "H5": (-0.4, 5, 4, 4, 0.3),
        "H6": (0.0, 1, 6, 6, 0.5),
        "H7": (0.3, 7, 6, 7, 0.525),
        "H8": (0.5, 2, 8, 8, 0.7),
        "H9": (0.8, 6, 8, 9, 0.75),
        "H10": (1.5, 4, 10, 10, 0.9),
    }
    order = ["H7", "H2", "H10", "H5", "H1", "H9", "H4", "H6", "H3", "H8"]
    w = [table[h][0] for h in order]
    size = [table[h][1] for h in order]
    res = pmt.assign_desil(w, size, n=10)
    assert res.desil.tolist() == [table[h][2] for h in order]
    assert res.rank.tolist() == [table[h][3] for h in order]
    np.testing.assert_allclose(res.share_below, [table[h][4] for h in order], rtol=0, atol=1e-15)
    cut = reference_cutoffs(w, size)[None]
    assert cut.tolist() == [-1.2, -0.7, -0.7, -0.4, -0.4, 0.3, 0.3, 0.8, 0.8]
    # the reference rule on the same data gives the same classes
    assert pmt.assign_desil(w, size, cutoffs=cut).desil.tolist() == res.desil.tolist()
    # eligible under the default quota rule (desil <= 4): H1..H5, 20 of 40 people
    eligible = sorted(h for h, d in zip(order, res.desil, strict=True) if d <= 4)
    assert eligible == ["H1", "H2", "H3", "H4", "H5"]


# --------------------------------------------------------------------------- rank / score


def _random_rank_case(seed: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(seed)
    return int(rng.integers(1, 501)), seed, int(rng.integers(2, 13))


@pytest.mark.parametrize(
    ("n_households", "seed", "n_classes"),
    [(1, 0, 10), (2, 1, 10), (7, 2, 2), (60, 3, 5), (250, 4, 10), (400, 5, 12), (500, 6, 10)]
    + [_random_rank_case(s) for s in range(10, 16)],
)
def test_rank_matches_naive(tiny_ws, n_households, seed, n_classes):
    df = make_households(n_households, seed, tie_frac=[0.0, 0.2, 0.6][seed % 3])
    welfare = naive.welfare(df, tiny_ws)
    if n_households < n_classes:
        # registry mode refuses to cut fewer households than classes; the rule itself
        # (assign_desil on plain arrays) is still defined there and must match
        with pytest.raises(pmt.errors.PopulationTooSmallError, match="cutoffs='reference'"):
            pmt.rank(df, tiny_ws, n=n_classes, max_desil=min(4, n_classes))
        d, r, s = naive.desil(welfare, df["hh_size"].to_numpy(), None, n=n_classes)
        got = pmt.assign_desil(welfare, df["hh_size"].to_numpy(), n=n_classes)
        np.testing.assert_array_equal(got.desil, d)
        np.testing.assert_array_equal(got.rank, r)
        np.testing.assert_allclose(got.share_below, s, rtol=0, atol=1e-12)
        return
    res = pmt.rank(df, tiny_ws, n=n_classes, max_desil=min(4, n_classes))
    # same terms summed in the same order: bit for bit
    np.testing.assert_array_equal(res.welfare, welfare)
    keys = [naive.model_key(tiny_ws, d, u) for d, u in zip(df.district_code, df.urban, strict=True)]
    assert res.to_frame()["model_key"].astype(str).tolist() == keys
    size = df["hh_size"].to_numpy()
    for scope, groups in (("national", None), ("provincial", df["district_code"] // 100)):
        d, r, s = naive.desil(welfare, size, groups, n=n_classes)
        np.testing.assert_array_equal(getattr(res, f"desil_{scope}"), d)
        np.testing.assert_array_equal(getattr(res, f"rank_{scope}"), r)
        np.testing.assert_allclose(getattr(res, f"share_below_{scope}"), s, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pmt.score(df, tiny_ws).to_numpy(), welfare)


def test_score_matches_naive_without_poverty_lines(tiny_ws, weights_dir):
    """Without poverty lines welfare is the raw prediction."""
    bare = pmt.WeightSet(tiny_ws.manifest, tiny_ws.model_keys, tiny_ws.coefficients.copy())
    bare = pmt.save_weights(bare, weights_dir / "tiny-no-lines")
    df = make_households(120, 77)
    np.testing.assert_array_equal(pmt.score(df, bare).to_numpy(), naive.welfare(df, bare))
    assert "poverty line" not in pmt.rank(df, bare).provenance["welfare"]
    assert "poverty line" in pmt.rank(df, tiny_ws).provenance["welfare"]


def _sequential_welfare(codes, sizes, table, numeric, beta, intercept, model, shift):
    """The scoring rule term by term, every household at once.

    The intercept, then each lookup variable, then each numeric term, minus the
    shift: the kernel's order.
    """
    acc = intercept[model].copy()
    offset = 0
    for v, size in enumerate(sizes.tolist()):
        acc = acc + table[model, offset + codes[:, v].astype(np.int64)]
        offset += size
    for j in range(numeric.shape[1]):
        acc = acc + beta[model, j] * numeric[:, j]
    return acc - shift


@pytest.mark.parametrize(
    ("n_lookup", "n_numeric"), [(0, 0), (1, 1), (3, 4), (5, 6), (7, 9), (35, 16)]
)
def test_score_kernel_equals_the_sums_in_order_across_blocks_and_tasks(n_lookup, n_numeric):
    """Scoring equals the plain sums bit for bit, over blocks and tasks.

    The kernel groups terms (three variables, four numeric terms at a time) and
    cuts the households into blocks and tasks; the sums must still be the plain
    ones, and the bounds the smallest and largest welfare.
    """
    rng = np.random.default_rng(n_lookup * 100 + n_numeric)
    n = 2 * SCORE_TASK + SCORE_BLOCK // 3  # whole tasks, then a partial block
    n_models, n_cells = 7, 40
    sizes = rng.integers(2, 14, n_lookup).astype(np.int64)
    offsets = np.cumsum(sizes) - sizes
    table = rng.normal(0, 0.1, (n_models, int(sizes.sum())))
    beta = rng.normal(0, 0.05, (n_models, n_numeric))
    intercept = rng.normal(14, 0.5, n_models)
    cell_model = rng.integers(0, n_models, n_cells).astype(np.int32)
    cell_shift = rng.normal(13, 0.2, n_cells)
    cell = rng.integers(0, n_cells, n).astype(np.int32)
    codes = np.asfortranarray((rng.random((n, n_lookup)) * sizes).astype(np.uint8))
    numeric = np.asfortranarray(rng.normal(1, 2, (n, n_numeric)))
    bounds = np.empty(3)
    got = K.score(
        codes, offsets, sizes, K.lookup_by_variable(table, offsets, sizes), numeric,
        np.ascontiguousarray(beta.T), intercept, cell, cell_model, cell_shift,
        np.zeros((0, 0)), None, bounds,
    )  # fmt: skip
    want = _sequential_welfare(
        codes, sizes, table, numeric, beta, intercept, cell_model[cell], cell_shift[cell]
    )
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))
    assert bounds.tolist() == [want.min(), want.max(), 0.0]
    if n_numeric:  # terms that overflow: counted; the bounds skip NaN only
        numeric[[5, n - 1], 0] = [np.inf, np.nan]
        got = K.score(
            codes, offsets, sizes, K.lookup_by_variable(table, offsets, sizes), numeric,
            np.ascontiguousarray(beta.T), intercept, cell, cell_model, cell_shift,
            np.zeros((0, 0)), None, bounds,
        )  # fmt: skip
        finite = np.isfinite(got)
        assert np.flatnonzero(~finite).tolist() == [5, n - 1]
        assert bounds.tolist() == [np.nanmin(got), np.nanmax(got), 2.0]


def test_welfare_that_overflows_is_refused_naming_its_rows(tiny_ws, weights_dir):
    """Coefficients that overflow float64 on some households: a typed error with their rows."""
    coef = tiny_ws.coefficients.copy()
    one, two = tiny_ws.spec.lookup_variables[:2]
    # the first code of each of the first two variables, in every model: finite alone,
    # their sum is not
    coef[:, 1] = coef[:, 1 + len(one.code_values)] = 1e308
    huge = pmt.save_weights(
        pmt.WeightSet(tiny_ws.manifest, tiny_ws.model_keys, coef), weights_dir / "tiny-huge"
    )
    df = make_households(400, 5)
    hit = np.flatnonzero(
        (df[one.name].to_numpy() == one.code_values[0])
        & (df[two.name].to_numpy() == two.code_values[0])
    )
    assert 0 < hit.size < len(df)
    with pytest.raises(pmt.errors.NonFiniteWelfareError, match="not finite") as err:
        pmt.rank(df, huge)
    assert f"for {hit.size} households" in str(err.value)
    assert str(hit[:5].tolist()) in str(err.value)


def test_identical_households_tie_bit_for_bit(tiny_ws):
    one = make_households(1, 3)
    many = pd.concat([one] * 25, ignore_index=True)
    many["hh_id"] = np.arange(25)
    res = pmt.rank(many, tiny_ws)
    assert np.unique(res.welfare.view(np.int64)).size == 1
    assert set(res.desil_national) == {1} and set(res.rank_national) == {1}


def test_reference_mode_equals_registry_mode_on_its_own_survey(tiny_ws_ref, reference_sample):
    """The cutoffs of tiny_ws_ref were computed on reference_sample (see conftest)."""
    reg = pmt.rank(reference_sample, tiny_ws_ref, cutoffs="registry")
    ref = pmt.rank(reference_sample, tiny_ws_ref, cutoffs="reference")
    for col in (
        "desil_national",
        "desil_provincial",
        "rank_national",
        "rank_provincial",
        "share_below_national",
        "share_below_provincial",
        "welfare",
        "eligible",
    ):
        np.testing.assert_array_equal(getattr(ref, col), getattr(reg, col), err_msg=col)
    # and the registry cutoffs it implies are the stored ones
    for scope, cut in tiny_ws_ref.cutoffs.items():
        np.testing.assert_array_equal(reg.registry_cutoffs[scope], cut)
    # a sanity check that the comparison is not vacuous: all ten classes are used
    assert set(ref.desil_national) == set(range(1, 11))


def test_reference_mode_matches_naive_on_other_households(tiny_ws_ref):
    df = make_households(300, 99, tie_frac=0.1)
    res = pmt.rank(df, tiny_ws_ref, cutoffs="reference")
    welfare = naive.welfare(df, tiny_ws_ref)
    np.testing.assert_array_equal(res.welfare, welfare)
    np.testing.assert_array_equal(
        res.desil_national, naive.desil_reference(welfare, tiny_ws_ref.cutoffs["national"])
    )
    prov = (df["district_code"] // 100).to_numpy()
    for p in np.unique(prov):
        members = prov == p
        np.testing.assert_array_equal(
            res.desil_provincial[members],
            naive.desil_reference(welfare[members], tiny_ws_ref.cutoffs[f"{p:02d}"]),
        )
    # rank and share below stay within the input
    _, r, s = naive.desil(welfare, df["hh_size"], None)
    np.testing.assert_array_equal(res.rank_national, r)
    np.testing.assert_allclose(res.share_below_national, s, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- NUMBA_DISABLE_JIT

_NOJIT_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pandas as pd
    import numba
    import pmt
    from pmt import _kernels as K

    cfg = json.loads(sys.argv[1])
    # the kernels must really be plain Python here
    assert numba.config.DISABLE_JIT
    for k in K.KERNELS.values():
        assert not isinstance(k.dispatcher, numba.core.dispatcher.Dispatcher), k

    df = pd.read_parquet(cfg["households"])
    ws = pmt.load_weights(cfg["weights"])
    ws_ref = pmt.load_weights(cfg["weights_ref"])
    out = {}
    for mode, w in (("registry", ws), ("reference", ws_ref)):
        res = pmt.rank(df, w, cutoffs=mode, weight="sw")
        for col in ("welfare", "desil_national", "desil_provincial", "rank_national",
                    "rank_provincial", "share_below_national", "share_below_provincial"):
            out[f"{mode}_{col}"] = getattr(res, col)
    arrays = np.load(cfg["arrays"])
    for i in range(int(arrays["cases"])):
        w, p, g, n = (arrays[f"w{i}"], arrays[f"p{i}"], arrays[f"g{i}"], int(arrays[f"n{i}"]))
        groups = g if g.size else None
        d = pmt.assign_desil(w, p, groups=groups, n=n)
        out[f"desil{i}"], out[f"rank{i}"], out[f"share{i}"] = d
        cut = pmt.reference_cutoffs(w, p, groups=groups, n=n)
        out[f"cut{i}"] = np.array([cut[k] for k in sorted(cut, key=str)])
    np.savez(cfg["out"], **out)
""")


def test_kernels_give_identical_results_without_jit(tmp_path, tiny_ws, tiny_ws_ref):
    df = make_households(150, 31, tie_frac=0.2)
    df["sw"] = np.random.default_rng(31).uniform(0.5, 3.0, len(df))  # non-integer weights
    df.to_parquet(tmp_path / "hh.parquet")
    cases = {}
    for i in range(6):
        w, p, g, n = random_case(1000 + i, float_weights=i % 2 == 1)
        cases.update(
            {f"w{i}": w, f"p{i}": p, f"g{i}": np.array([]) if g is None else g, f"n{i}": n}
        )
    np.savez(tmp_path / "in.npz", cases=6, **cases)
    cfg = {
        "households": str(tmp_path / "hh.parquet"),
        "weights": str(tiny_ws.path),
        "weights_ref": str(tiny_ws_ref.path),
        "arrays": str(tmp_path / "in.npz"),
        "out": str(tmp_path / "out.npz"),
    }
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    root = Path(pmt.__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", _NOJIT_SCRIPT, json.dumps(cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "out.npz")

    # the jitted path in this process
    for k in K.KERNELS.values():
        assert isinstance(k.dispatcher, __import__("numba").core.dispatcher.Dispatcher), k
    for mode, w in (("registry", tiny_ws), ("reference", tiny_ws_ref)):
        res = pmt.rank(df, w, cutoffs=mode, weight="sw")
        for col in (
            "welfare",
            "desil_national",
            "desil_provincial",
            "rank_national",
            "rank_provincial",
            "share_below_national",
            "share_below_provincial",
        ):
            a, b = got[f"{mode}_{col}"], getattr(res, col)
            assert a.dtype == b.dtype, col
            np.testing.assert_array_equal(a, b, err_msg=f"{mode} {col}")
    for i in range(6):
        g = cases[f"g{i}"]
        groups = g if g.size else None
        d = pmt.assign_desil(cases[f"w{i}"], cases[f"p{i}"], groups=groups, n=cases[f"n{i}"])
        np.testing.assert_array_equal(got[f"desil{i}"], d.desil)
        np.testing.assert_array_equal(got[f"rank{i}"], d.rank)
        np.testing.assert_array_equal(got[f"share{i}"], d.share_below)
        cut = reference_cutoffs(cases[f"w{i}"], cases[f"p{i}"], groups=groups, n=cases[f"n{i}"])
        np.testing.assert_array_equal(
            got[f"cut{i}"], np.array([cut[k] for k in sorted(cut, key=str)])
        )


# --------------------------------------------------------------------------- the generator


@pytest.mark.parametrize("seed", range(5))
def test_make_households_obeys_the_encoder_rules(seed):
    from conftest import check_households

    df = make_households(400, seed, tie_frac=0.3, boundary_frac=0.2)
    check_households(df)
    assert set(df["district_code"]) <= set(DISTRICTS)


# --------------------------------------------------------------------------- the bucket sort


def _sort_cases():
    rng = np.random.default_rng(7)
    n = 60_000
    yield "normal", rng.normal(size=n)
    yield "few values", rng.choice(rng.normal(size=5), n)
    yield "all equal", np.full(n, 0.25)
    yield "signed zeros", rng.choice(np.array([-0.0, 0.0, 1.0, -1.0]), n)
    yield "one far outlier", np.concatenate([rng.normal(size=n - 1), [1e300]])
    yield "whole range", rng.choice(np.array([-1.7e308, -1.0, 0.0, 5e-324, 1.7e308]), n)
    yield "denormals", rng.integers(0, 50, n) * 5e-324
    yield "sorted", np.sort(rng.normal(size=n))
    yield "reversed", np.sort(rng.normal(size=n))[::-1].copy()
    yield "heavy tail", rng.standard_cauchy(n) ** 3
    yield "tiny", rng.normal(size=3)
    yield "empty", np.zeros(0)


@pytest.mark.parametrize("buckets", [1, 2, 7, 1000, 60_000])
@pytest.mark.parametrize("case", list(_sort_cases()), ids=lambda c: c[0])
def test_sort_welfare_sorts(case, buckets):
    _, welfare = case
    weight = np.arange(welfare.size, dtype=np.float64) * 0.5
    group = (np.arange(welfare.size) % 7).astype(np.uint8)
    rec = np.empty(welfare.size, dtype=K.sort_record(welfare.size))
    K.sort_welfare(welfare, weight, group, buckets, rec)
    key, sw, idx, sg = rec["key"], rec["sw"], rec["idx"], rec["g"]
    np.testing.assert_array_equal(key, np.sort(welfare))
    np.testing.assert_array_equal(np.sort(idx), np.arange(welfare.size))  # a permutation
    np.testing.assert_array_equal(welfare[idx], key)
    np.testing.assert_array_equal(weight[idx], sw)  # the payload moved along
    np.testing.assert_array_equal(group[idx], sg)
    ties = key[1:] == key[:-1]
    assert (sw[1:][ties] >= sw[:-1][ties]).all()  # a tie run is in ascending weight


@pytest.mark.parametrize("buckets", [1, 7, 1000])
def test_sort_welfare_orders_ties_by_weight(buckets):
    """One bucket takes numpy's sort, more take the kernel: both order ties by weight."""
    rng = np.random.default_rng(5)
    n = 5_000
    welfare = rng.choice(rng.normal(size=40), n)
    weight = rng.choice(np.array([0.5, 1.0, 2.25, 7.0, 0.1]), n)
    group = rng.integers(0, 9, n).astype(np.uint8)
    rec = np.empty(n, dtype=K.sort_record(n))
    K.sort_welfare(welfare, weight, group, buckets, rec)
    expected = np.lexsort((weight, welfare))
    np.testing.assert_array_equal(rec["key"], welfare[expected])
    np.testing.assert_array_equal(rec["sw"], weight[expected])
    np.testing.assert_array_equal(group[rec["idx"]], rec["g"])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ties", [False, True])
def test_assign_desil_matches_naive_through_many_buckets(seed, ties, monkeypatch):
    """The full path with welfare cut into many first-level buckets (about 16 each).

    The per-household passes run in tasks of 1,000 rows, each reading its slice.
    """
    monkeypatch.setattr(K, "n_buckets", lambda n: max(1, n // 16))
    monkeypatch.setattr(importlib.import_module("pmt._kernels.desil"), "TASK", 1000)
    rng = np.random.default_rng(seed)
    size = 10_000
    welfare = rng.choice(rng.normal(size=300), size) if ties else np.round(rng.normal(size=size), 2)
    weight = rng.integers(0, 9, size).astype(np.float64)
    groups = rng.choice(np.array([11, 31, 32, 94, 95]), size)
    for g in (None, groups):
        got = pmt.assign_desil(welfare, weight, groups=g, n=10)
        d, r, s = naive.desil_by_runs(welfare, weight, g)
        np.testing.assert_array_equal(got.desil, d)
        np.testing.assert_array_equal(got.rank, r)
        np.testing.assert_allclose(got.share_below, s, rtol=0, atol=1e-12)
        cut = reference_cutoffs(welfare, weight, groups=g)
        for label, c in cut.items():
            members = slice(None) if label is None else groups == label
            np.testing.assert_array_equal(c, naive.cutoffs(welfare[members], weight[members]))


def test_default_bucket_count_cuts_large_inputs():
    assert K.n_buckets(1_000) == 1
    assert K.n_buckets(30_000_000) > 1000


def test_naive_desil_by_runs_agrees_with_the_quadratic_reference():
    for seed in range(20):
        welfare, weight, groups, n = random_case(seed)
        for a, b in zip(
            naive.desil_by_runs(welfare, weight, groups, n),
            naive.desil(welfare, weight, groups, n),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("buckets", [lambda n: 1, lambda n: max(1, n // 16), K.n_buckets])
def test_bit_identical_under_row_permutation_through_the_buckets(buckets, monkeypatch):
    """Float weights and heavy ties: every output, shares included, bit for bit."""
    monkeypatch.setattr(K, "n_buckets", buckets)
    rng = np.random.default_rng(3)
    size = 20_000
    welfare = rng.choice(rng.normal(size=500), size)
    weight = rng.uniform(0.1, 30.0, size)
    groups = rng.choice(np.array([11, 31, 32]), size)
    a = pmt.assign_desil(welfare, weight, groups=groups)
    perm = rng.permutation(size)
    b = pmt.assign_desil(welfare[perm], weight[perm], groups=groups[perm])
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[perm], y)


@pytest.mark.parametrize("buckets", [lambda n: 1, lambda n: max(1, n // 16)])
def test_signed_zero_welfare_gives_the_same_cutoff_bits_in_any_row_order(buckets, monkeypatch):
    """-0.0 and 0.0 are one welfare value: the cutoff they set is +0.0 whatever the order."""
    monkeypatch.setattr(K, "n_buckets", buckets)
    rng = np.random.default_rng(11)
    welfare = np.concatenate([np.full(300, -0.0), np.full(300, 0.0), rng.normal(size=400)])
    weight = np.ones(welfare.size)  # equal weights: the sort cannot order the zeros
    groups = rng.choice(np.array([11, 31]), welfare.size)
    first = reference_cutoffs(welfare, weight, groups=groups)
    assert any((c == 0).any() for c in first.values())  # a cutoff falls on the zeros
    for seed in range(5):
        perm = np.random.default_rng(seed).permutation(welfare.size)
        again = reference_cutoffs(welfare[perm], weight[perm], groups=groups[perm])
        for label, c in first.items():
            np.testing.assert_array_equal(c.view(np.int64), again[label].view(np.int64))
            assert not np.signbit(c[c == 0]).any()
        only = pmt.desil_only(welfare[perm], weight[perm], groups=groups[perm])
        for label, c in only.cutoffs.items():
            np.testing.assert_array_equal(c.view(np.int64), first[label].view(np.int64))


def test_numpy_sort_and_bucket_kernel_give_the_same_bits(monkeypatch):
    """Small inputs are sorted by numpy, large ones by the kernel: every output agrees."""
    rng = np.random.default_rng(8)
    size = 20_000
    welfare = rng.choice(rng.normal(size=400), size)
    weight = rng.uniform(0.1, 30.0, size)
    groups = rng.choice(np.array([11, 31, 32, 94]), size)
    monkeypatch.setattr(K, "n_buckets", lambda n: 1)
    a = pmt.assign_desil(welfare, weight, groups=groups)
    monkeypatch.setattr(K, "n_buckets", lambda n: max(1, n // 16))
    b = pmt.assign_desil(welfare, weight, groups=groups)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------- explicit signatures


def test_kernels_compile_only_their_declared_signatures(tiny_ws):
    pmt.rank(make_households(300, 5, tie_frac=0.3), tiny_ws)
    pmt.assign_desil(np.arange(600.0) % 7, np.ones(600), groups=np.arange(600) % 300, n=4)
    used = 0
    for k in K.KERNELS.values():
        compiled = set(k.dispatcher.overloads)
        assert compiled <= set(k.signatures), k
        used += bool(compiled)
    assert used >= 10  # the ranking path ran through the kernels


def test_a_kernel_refuses_types_outside_its_signatures():
    welfare = np.zeros(3, dtype=np.float32)  # no float32 signature
    with pytest.raises(TypeError, match=r"pmt kernel _walk: no signature accepts"):
        K.walk(welfare, np.zeros(3), np.zeros(3, np.uint8), 1, np.zeros(3, np.int32), np.zeros(3))
    assert all(sig[0].dtype.name == "float64" for sig in K.KERNELS["_walk"].dispatcher.overloads)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.float32, np.float64]
)
@pytest.mark.parametrize("codes", ["gaps", "consecutive", "consecutive, out of order"])
@pytest.mark.parametrize("task", [None, 1 << 16])
def test_clean_codes_maps_every_dtype_like_a_plain_lookup(
    dtype: type, codes: str, task: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Integer columns take an integer path, others the float path: same codes.

    The integer paths: a table, or, for codes lo, lo + 1, ... in order, the value - lo.
    With ``task`` rows per task the column is cut into tasks (each kernel call
    reads its slice), as a column of more than 4 M rows is.
    """
    if task is not None:
        monkeypatch.setattr(importlib.import_module("pmt._kernels.clean"), "TASK", task)
    rng = np.random.default_rng(7)
    signed = np.issubdtype(dtype, np.signedinteger)
    allowed = {
        "gaps": [-1, 0, 2, 3, 7] if signed else [0, 2, 3, 7],
        "consecutive": [-1, 0, 1, 2, 3] if signed else [0, 1, 2, 3],
        "consecutive, out of order": [1, 0, 3, 2],
    }[codes]
    lo, hi = min(allowed), max(allowed)
    lut = np.full(hi - lo + 1, 255, dtype=np.uint8)
    lut[np.array(allowed) - lo] = np.arange(len(allowed), dtype=np.uint8)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    extremes = [info.min, info.max] if info is not None else [np.nan, np.inf, 2.5, -1e30]
    values = np.concatenate(
        [rng.integers(lo - 3, hi + 4, 700_000).astype(dtype), np.array(extremes, dtype=dtype)]
    )
    want = np.zeros(values.shape[0], dtype=np.uint8)
    bad = 0
    for i, x in enumerate(values.tolist()):  # the rule, read plainly
        ok = x == x and x in allowed  # NaN != NaN; 2.5 and inf are not allowed codes
        want[i] = lut[int(x) - lo] if ok else 0
        bad += not ok
    out = np.empty(values.shape[0], dtype=np.uint8)
    assert K.clean_codes(values, lut, lo, out) == bad
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.float32, np.float64]
)
@pytest.mark.parametrize("capped", [False, True])
@pytest.mark.parametrize("whole", [True, False])
@pytest.mark.parametrize("task", [None, 1 << 16])
def test_clean_numbers_checks_every_dtype_like_a_plain_reading(
    dtype: type, capped: bool, whole: bool, task: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Integer columns are converted and checked in one pass, others after a cast: same result.

    With ``task`` rows per task, each task checks its slice (and its slice of the cap).
    """
    if task is not None:
        monkeypatch.setattr(importlib.import_module("pmt._kernels.clean"), "TASK", task)
    rng = np.random.default_rng(8)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    extremes = [info.min, info.max] if info is not None else [np.nan, np.inf, -np.inf, 2.5, -1e30]
    values = np.concatenate(
        [rng.integers(0, 60, 300_000).astype(dtype), np.array(extremes, dtype=dtype)]
    )
    cap: np.ndarray = np.zeros(0, dtype=np.int64)
    if capped:
        cap = np.asarray(rng.integers(1, 50, values.shape[0]), dtype=np.int64)
    lo, hi = 1.0, 40.0
    want = np.zeros(values.shape[0])
    bad = 0
    for i, x in enumerate(values.tolist()):  # the rule, read plainly
        ok = x == x and lo <= x <= hi and (not whole or x == int(x)) and (not capped or x <= cap[i])
        want[i] = float(x) if ok else 0.0
        bad += not ok
    out = np.empty(values.shape[0])
    assert K.clean_numbers(values, lo, hi, whole, cap, out) == bad
    np.testing.assert_array_equal(out, want)
