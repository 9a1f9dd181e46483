"""The service recipe (examples/service/app.py) answers as pmt.rank does, and says what is wrong.

Run with FastAPI's TestClient (the ``service`` extra: fastapi and httpx).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pmt

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient

APP = Path(__file__).resolve().parents[1] / "examples" / "service" / "app.py"


def _load_app_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pmt_service_example", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: FastAPI resolves its annotations there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ws() -> pmt.WeightSet:
    return pmt.load_weights("demo")


@pytest.fixture(scope="module")
def client(ws: pmt.WeightSet) -> Iterator[TestClient]:
    service = _load_app_module()
    with TestClient(service.create_app(ws)) as c:  # runs the start-up: weights, warm-up
        yield c


@pytest.fixture(scope="module")
def households() -> pd.DataFrame:
    hh = pmt.synth.registry(30, seed=8)
    hh["hh_id"] = [f"A{i:05d}" for i in range(len(hh))]  # text ids, as an application system has
    return hh


def _body(frame: pd.DataFrame) -> dict[str, Any]:
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return {"households": records}


def test_health_after_start_up(client: TestClient, ws: pmt.WeightSet) -> None:
    got = client.get("/health").json()
    assert got == {
        "status": "ok",
        "pmt_version": pmt.__version__,
        "weights_id": ws.id,
        "weights_hash": ws.content_hash,
    }


def test_places_households_as_pmt_rank_with_reference_cutoffs(
    client: TestClient, households: pd.DataFrame, ws: pmt.WeightSet
) -> None:
    response = client.post("/rank", json=_body(households))
    assert response.status_code == 200, response.text
    got = response.json()
    want = pmt.rank(households, ws, cutoffs="reference")
    placed = pd.DataFrame(got["households"])
    assert placed["hh_id"].tolist() == households["hh_id"].tolist()  # input order, ids as sent
    np.testing.assert_array_equal(placed["desil_national"], want.desil_national)
    np.testing.assert_array_equal(placed["desil_provincial"], want.desil_provincial)
    np.testing.assert_array_equal(placed["welfare"], want.welfare)  # JSON floats round-trip
    np.testing.assert_array_equal(placed["eligible"], want.desil_national <= 4)
    assert placed["model_key"].tolist() == [want.model_keys[m] for m in want.model]
    assert got["rejects"] == []
    prov = got["provenance"]
    assert prov["cutoff_mode"] == "reference"
    assert prov["weights_hash"] == ws.content_hash
    assert prov["households_ranked"] == len(households)


def test_one_household_at_a_time(
    client: TestClient, households: pd.DataFrame, ws: pmt.WeightSet
) -> None:
    """Reference cutoffs place one household exactly as it is placed among others."""
    whole = pmt.rank(households, ws, cutoffs="reference")
    for i in (0, 17):
        got = client.post("/rank", json=_body(households.iloc[[i]])).json()
        assert got["households"][0]["desil_national"] == whole.desil_national[i]


def test_max_desil_option(client: TestClient, households: pd.DataFrame) -> None:
    got = client.post("/rank", params={"max_desil": 10}, json=_body(households)).json()
    assert all(h["eligible"] for h in got["households"])
    assert got["provenance"]["eligibility"] == "desil_national <= 10"


def _detail(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail


def test_bad_value_is_422_naming_field_and_households(
    client: TestClient, households: pd.DataFrame
) -> None:
    bad = households.copy()
    bad.loc[[2, 5], "urban"] = 7
    detail = _detail(client.post("/rank", json=_body(bad)))
    assert [d["loc"] for d in detail] == [
        ["body", "households", 2, "urban"],
        ["body", "households", 5, "urban"],
    ]
    assert detail[0]["type"] == "pmt.InvalidValueError"
    assert "urban" in detail[0]["msg"] and "Fix:" in detail[0]["msg"]
    assert "A00002" not in detail[0]["msg"]  # ids are never echoed


def test_missing_field_is_422_naming_it(client: TestClient, households: pd.DataFrame) -> None:
    detail = _detail(client.post("/rank", json=_body(households.drop(columns=["hh_size"]))))
    assert detail[0]["loc"] == ["body", "households", "hh_size"]
    assert detail[0]["type"] == "pmt.MissingColumnError"


def test_text_in_a_number_field_is_422(client: TestClient, households: pd.DataFrame) -> None:
    body = _body(households)
    body["households"][3]["tenure"] = "owned"
    detail = _detail(client.post("/rank", json=body))
    assert detail[0]["loc"] == ["body", "households", 3, "tenure"]
    assert detail[0]["type"] == "pmt.ColumnTypeError"


def test_null_is_422_naming_the_household(client: TestClient, households: pd.DataFrame) -> None:
    body = _body(households)
    body["households"][4]["hh_size"] = None
    detail = _detail(client.post("/rank", json=body))
    assert detail[0]["loc"] == ["body", "households", 4, "hh_size"]
    assert detail[0]["type"] == "pmt.MissingValueError"


def test_bad_option_is_422_naming_it(client: TestClient, households: pd.DataFrame) -> None:
    detail = _detail(client.post("/rank", params={"max_desil": 0}, json=_body(households)))
    assert detail[0]["loc"] == ["query", "max_desil"]


def test_empty_request_is_422(client: TestClient) -> None:
    detail = _detail(client.post("/rank", json={"households": []}))
    assert detail[0]["loc"][:2] == ["body", "households"]


def test_reject_mode_places_the_rest(client: TestClient, households: pd.DataFrame) -> None:
    bad = households.copy()
    bad.loc[[2], "urban"] = 7
    got = client.post("/rank", params={"on_invalid": "reject"}, json=_body(bad)).json()
    assert got["rejects"] == [{"row": 2, "column": "urban", "rule": "out_of_range"}]
    assert [h["hh_id"] for h in got["households"]] == [
        i for k, i in enumerate(households["hh_id"]) if k != 2
    ]


def test_concurrent_requests_give_identical_answers(
    client: TestClient, households: pd.DataFrame
) -> None:
    body = _body(households)
    single = client.post("/rank", json=body).json()

    def post(_: int) -> Any:
        return client.post("/rank", json=body).json()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(post, range(12)))
    assert all(a == single for a in answers)


def test_memory_per_household_as_documented(ws: pmt.WeightSet) -> None:
    """docs/service.md: about 250 bytes per household at the peak, 64 kept by the result."""
    import gc
    import tracemalloc

    hh = pmt.synth.registry(50_000, seed=3)
    pmt.rank(hh.iloc[:100], ws, cutoffs="reference")  # anything loaded once is not per call
    gc.collect()
    tracemalloc.start()
    try:
        res = pmt.rank(hh, ws, cutoffs="reference")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    kept = sum(v.nbytes for v in vars(res).values() if isinstance(v, np.ndarray))
    assert 150 <= peak / len(hh) <= 350
    assert kept / len(hh) == 64
