"""Shared fixtures: a tiny in-memory weight set (saved and loaded back) and random households.

Nothing here uses :mod:`pmt.synth` or the shipped ``demo`` set: the core tests
must stand on their own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pmt
from pmt.rank import reference_cutoffs
from pmt.spec import default_spec
from pmt.weights import Manifest, WeightSet, save_weights

SPEC = default_spec()

#: Model keys of the tiny set: every level of the fallback chain is present.
TINY_KEYS = ("national", "31", "31-urban", "3171-urban", "3201", "94", "3273-rural", "51-rural")
#: Poverty lines at several levels (Rp per person per month).
TINY_LINES = {
    "national": 600_000.0,
    "31-urban": 790_000.0,
    "3171-urban": 810_000.0,
    "3201": 520_000.0,
    "94": 700_000.0,
    "51": 560_000.0,
}
#: Districts the random households live in (every province exists in the BPS table).
DISTRICTS = (1101, 1171, 3171, 3172, 3173, 3201, 3204, 3273, 5103, 5171, 7371, 9201, 9401, 9471)


def tiny_weight_set(
    seed: int = 12345,
    *,
    keys: tuple[str, ...] = TINY_KEYS,
    lines: dict[str, float] | None = None,
    name: str = "tiny",
    cutoffs: dict[str, np.ndarray] | None = None,
) -> WeightSet:
    """An in-memory weight set over the default spec with random coefficients."""
    rng = np.random.default_rng(seed)
    coef = rng.normal(0.0, 0.1, (len(keys), len(SPEC.terms)))
    coef[:, 0] = rng.normal(13.0, 0.3, len(keys))  # intercept: log Rp of the right order
    manifest = Manifest(
        name=name,
        version="0.1",
        created=dt.date(2026, 1, 1),
        description="tiny test weight set (random coefficients)",
        synthetic=True,
        region_vintage="test",
        spec=SPEC,
    )
    return WeightSet(
        manifest, tuple(keys), coef, dict(TINY_LINES if lines is None else lines), cutoffs or {}
    )


def make_households(
    n: int,
    seed: int,
    *,
    districts: tuple[int, ...] = DISTRICTS,
    max_size: int = 12,
    tie_frac: float = 0.0,
    boundary_frac: float = 0.05,
    id_start: int = 0,
) -> pd.DataFrame:
    """``n`` valid random households for the default spec.

    Every rule of ``pmt/encode.py`` holds: codes come from each variable's
    allowed set, counts lie in their bounds and (where the spec says so) at
    most ``hh_size``, ``n_children + n_elderly <= hh_size``, districts are
    real provinces with a non-zero kabupaten/kota part.

    ``tie_frac`` of the rows are copies of other rows (all but ``hh_id``), so
    they tie exactly; ``boundary_frac`` of the rows take extreme but valid values.
    """
    rng = np.random.default_rng(seed)
    size = rng.integers(1, max_size + 1, n)
    cols: dict[str, np.ndarray] = {
        "hh_id": np.arange(id_start, id_start + n, dtype=np.int64),
        "district_code": rng.choice(np.array(districts, dtype=np.int64), n),
        "urban": rng.integers(0, 2, n),
        "hh_size": size,
    }
    for v in SPEC.variables:
        if v.is_lookup:
            cols[v.name] = rng.choice(np.array(v.code_values, dtype=np.int64), n)
        elif v.kind == "continuous":
            assert v.min is not None  # every numeric variable of the spec has bounds
            cols[v.name] = rng.uniform(v.min, 300.0, n)
        elif v.max_hh_size:
            cols[v.name] = rng.integers(0, size + 1)
        elif v.name == "head_age":
            cols[v.name] = rng.integers(15, 95, n)
        else:  # livestock: mostly none
            cols[v.name] = np.where(rng.random(n) < 0.7, 0, rng.integers(0, 12, n))
    cols["n_elderly"] = rng.integers(0, size - cols["n_children"] + 1)

    # extreme but valid rows: the bounds of every variable
    extreme = rng.random(n) < boundary_frac
    big = extreme & (rng.random(n) < 0.5)
    small = extreme & ~big
    size[big] = SPEC.max_household_size
    size[small] = 1
    for v in SPEC.variables:
        col = cols[v.name]
        if v.is_lookup:
            col[big], col[small] = v.code_values[-1], v.code_values[0]
        elif v.max_hh_size:
            assert v.max is not None
            col[big], col[small] = min(v.max, SPEC.max_household_size), 0
        else:
            col[big], col[small] = v.max, v.min
    cols["n_elderly"][big] = size[big] - cols["n_children"][big]
    df = pd.DataFrame(cols)

    # exact duplicates except the id: exact ties under one model
    if tie_frac > 0 and n > 1:
        source = np.arange(n)
        copies = np.flatnonzero(rng.random(n) < tie_frac)
        source[copies] = rng.integers(0, n, copies.size)
        for c in df.columns.drop("hh_id"):
            df[c] = df[c].to_numpy()[source]
    return df


def check_households(df: pd.DataFrame) -> None:
    """Assert that ``df`` obeys the rules the encoder checks (used to test the generator)."""
    size = df["hh_size"].to_numpy()
    assert ((size >= 1) & (size <= SPEC.max_household_size)).all()
    for v in SPEC.variables:
        x = df[v.name].to_numpy()
        if v.is_lookup:
            assert np.isin(x, v.code_values).all(), v.name
        else:
            assert (x >= v.min).all() and (x <= v.max).all(), v.name
            if v.kind == "count":
                assert (x == np.floor(x)).all(), v.name
            if v.max_hh_size:
                assert (x <= size).all(), v.name
    assert (df["n_children"] + df["n_elderly"] <= size).all()
    assert df["hh_id"].is_unique
    d = df["district_code"].to_numpy()
    assert ((d % 100) != 0).all()
    assert np.isin(d // 100, list(pmt.regions.PROVINCES)).all()


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="session")
def tiny_ws(weights_dir: Path) -> WeightSet:
    """The tiny set, saved with :func:`pmt.save_weights` and loaded back."""
    save_weights(tiny_weight_set(), weights_dir / "tiny")
    return pmt.load_weights(weights_dir / "tiny")


@pytest.fixture(scope="session")
def reference_sample() -> pd.DataFrame:
    """The 'survey' the reference cutoffs of :func:`tiny_ws_ref` are computed on."""
    return make_households(3000, seed=2024, tie_frac=0.05)


@pytest.fixture(scope="session")
def tiny_ws_ref(weights_dir: Path, tiny_ws: WeightSet, reference_sample: pd.DataFrame) -> WeightSet:
    """The tiny set plus reference cutoffs (n=10), national and per province, of the sample."""
    welfare = pmt.score(reference_sample, tiny_ws).to_numpy()
    size = reference_sample["hh_size"].to_numpy()
    prov = reference_sample["district_code"].to_numpy() // 100
    cut = {"national": reference_cutoffs(welfare, size)[None]}
    for p, c in reference_cutoffs(welfare, size, groups=prov).items():
        cut[f"{int(p):02d}"] = c
    # built afresh (same seed, same coefficients): the loaded tiny manifest names no cutoffs file
    save_weights(tiny_weight_set(name="tiny-ref", cutoffs=cut), weights_dir / "tiny-ref")
    return pmt.load_weights(weights_dir / "tiny-ref")
