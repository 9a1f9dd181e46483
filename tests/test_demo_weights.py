"""The shipped ``demo`` weight set and the synthetic registry, together.

The core tests use an in-memory weight set and their own households; this
module checks what a user gets out of the box.
"""

from __future__ import annotations

import numpy as np
import pytest

import pmt
from pmt.regions import LEVELS, PROVINCES


@pytest.fixture(scope="module")
def demo():
    return pmt.load_weights("demo")


@pytest.fixture(scope="module")
def registry():
    return pmt.synth.registry(20_000, seed=7)


def test_demo_loads_and_is_labelled_synthetic(demo):
    assert "demo" in pmt.available_weights()
    assert demo.name == "demo"
    assert demo.manifest.synthetic is True
    assert "synthetic" in repr(demo)
    assert demo.manifest.content_hash == demo.content_hash  # verified on load
    assert demo.manifest.spec == pmt.default_spec()


def test_demo_has_models_at_every_level(demo):
    levels = demo.levels()
    assert set(levels) == set(LEVELS)
    assert all(levels[level] > 0 for level in LEVELS), levels
    assert levels["national"] == 1


def test_demo_has_national_and_provincial_cutoffs(demo):
    assert set(demo.cutoffs) == {"national"} | {f"{p:02d}" for p in PROVINCES}
    assert len(demo.cutoffs) == 39
    assert demo.manifest.cutoff_classes == 10
    for scope, cut in demo.cutoffs.items():
        assert cut.shape == (9,) and np.isfinite(cut).all(), scope
        assert (np.diff(cut) >= 0).all(), scope


def test_demo_has_poverty_lines(demo):
    assert demo.has_poverty_lines
    assert all(v > 0 for v in demo.poverty_lines.values())
    lines = set(demo.poverty_lines)
    for p in PROVINCES:  # every district x urban cell finds a line down its fallback chain
        for key in (f"{p:02d}-urban", f"{p:02d}-rural"):
            assert key in lines or f"{p:02d}" in lines or "national" in lines, key


@pytest.mark.parametrize("mode", ["registry", "reference"])
def test_rank_a_synthetic_registry(demo, registry, mode):
    res = pmt.rank(registry, demo, cutoffs=mode)
    f = res.to_frame()
    assert len(f) == len(registry) and res.n_rejected == 0
    assert f["model_key"].notna().all()
    assert set(f["model_key"].astype(str)) <= set(demo.model_keys)
    assert np.isfinite(f["welfare"]).all()
    assert f["desil_national"].between(1, 10).all()
    assert f["desil_provincial"].between(1, 10).all()
    assert f.attrs["cutoff_mode"] == mode
    assert f.attrs["weights_synthetic"] is True
    assert f.attrs["weights_hash"] == demo.content_hash
    if mode == "reference":
        w = f["welfare"].to_numpy()
        nat = demo.cutoffs["national"]
        np.testing.assert_array_equal(f["desil_national"], 1 + (w[:, None] > nat).sum(1))
    else:
        # registry desil of a full registry: each class holds about a tenth of the people
        share = res.summary().loc["national", "share_people"]
        assert ((share - 0.1).abs() < 0.01).all()


def test_synthetic_registry_is_reproducible():
    a = pmt.synth.registry(500, seed=3)
    b = pmt.synth.registry(500, seed=3)
    assert a.equals(b)
    assert a["hh_id"].is_unique
