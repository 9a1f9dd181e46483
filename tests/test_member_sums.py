"""The household rule "members of some kinds may not outnumber the household" is spec data."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
from conftest import SPEC, TINY_KEYS, TINY_LINES, make_households, tiny_weight_set

import pmt
from pmt.weights import WeightSet


def _set(spec: pmt.VariableSpec) -> WeightSet:
    ws = tiny_weight_set()
    manifest = ws.manifest.model_copy(update={"spec": spec})
    return WeightSet(manifest, tuple(TINY_KEYS), ws.coefficients, dict(TINY_LINES), {})


def _too_many_dependants(n: int = 60) -> tuple:
    df = make_households(n, 7)
    bad = np.flatnonzero(df["hh_size"].to_numpy() >= 2)[:3]
    size = df.loc[df.index[bad], "hh_size"]
    df.loc[df.index[bad], "n_children"] = size
    df.loc[df.index[bad], "n_elderly"] = 1
    return df, bad


def test_the_default_is_the_rule_of_pmt_0_1():
    assert SPEC.at_most_hh_size is None
    assert SPEC.member_sum_rules == (("n_children", "n_elderly"),)
    df, bad = _too_many_dependants()
    res = pmt.rank(df, _set(SPEC), on_invalid="reject")
    assert sorted(res.rejects["row"].tolist()) == sorted(bad.tolist())
    assert set(res.rejects["rule"]) == {"out_of_range"}
    assert set(res.rejects["column"]) == {"n_children"}


def test_an_empty_list_declares_no_rule_and_a_declared_group_is_checked():
    df, _ = _too_many_dependants()
    none = SPEC.model_copy(update={"at_most_hh_size": ()})
    assert pmt.rank(df, _set(none), on_invalid="reject").n_rejected == 0
    # the rule as declared: its first variable is the column named, its sum in the message
    mine = pmt.VariableSpec.model_validate(
        {**SPEC.model_dump(), "at_most_hh_size": [["n_elderly", "n_children"]]}
    )
    df2 = make_households(60, 7)
    i = int(np.flatnonzero(df2["hh_size"].to_numpy() == 1)[0])
    df2.loc[df2.index[i], ["n_elderly", "n_children"]] = [1, 1]  # each within hh_size
    with pytest.raises(pmt.errors.InputError, match=r"n_elderly \+ n_children must not exceed"):
        pmt.rank(df2, _set(mine))
    with pytest.raises(pmt.errors.InputError, match=r"n_children \+ n_elderly must not exceed"):
        pmt.rank(df2, _set(SPEC))


def test_groups_must_name_count_variables_of_the_spec():
    for group in (["n_children", "no_such"], ["floor_material"], ["n_children", "n_children"]):
        with pytest.raises(pydantic.ValidationError, match="at_most_hh_size"):
            pmt.VariableSpec.model_validate({**SPEC.model_dump(), "at_most_hh_size": [group]})


def test_an_unset_rule_is_absent_from_the_saved_spec():
    assert "at_most_hh_size" not in SPEC.model_dump(mode="json")
    explicit = SPEC.model_copy(update={"at_most_hh_size": (("n_children", "n_elderly"),)})
    assert explicit.model_dump(mode="json")["at_most_hh_size"] == [["n_children", "n_elderly"]]
