"""A small HTTP service that places households against a weight set's reference cutoffs.

Run it (from this folder) with ``uvicorn app:app``; see README.md here and
docs/service.md. ``POST /rank`` takes ``{"households": [{...}, ...]}`` — one
object per household with ``hh_id``, ``district_code``, ``urban``,
``hh_size`` and the weight set's variables — and returns, for each
household in the order posted, its welfare, national and provincial desil,
eligibility and the model that scored it, with the provenance of the
placement. Invalid households give a 422 response naming the field and the
households (positions in the posted list) that break its rule.

What makes it a service rather than a script:

- the weight set is loaded **once**, at start-up (loading one by name costs
  about half a second: it is read and every file's hash checked), and reused
  by every request;
- the kernels are **warmed up** at start-up (``pmt.warmup()``), in each
  worker process, so the first request does not pay for loading compiled code;
- households are placed with ``cutoffs="reference"`` (the weight set's survey
  cutoffs): the right mode for a few households at a time, which registry
  cutoffs would rank against each other;
- ``rank`` is a plain ``def``: FastAPI runs it on its thread pool, and pmt is
  safe to call from many threads at once.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import pmt
from pmt import errors

#: The weight set to serve: a shipped name or a folder (environment ``PMT_WEIGHTS``).
DEFAULT_WEIGHTS = os.environ.get("PMT_WEIGHTS", "demo")

#: Households per request at most: bounds the memory and time of one request.
MAX_HOUSEHOLDS = 10_000

#: Columns of each placed household in the response.
FIELDS = (
    "welfare",
    "desil_national",
    "desil_provincial",
    "eligible",
    "model_key",
    "model_level",
    "province_code",
)


class Households(BaseModel):
    """The request body: the households to place, one JSON object each."""

    households: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_HOUSEHOLDS)


def warm_up(weights: pmt.WeightSet) -> None:
    """Run every kernel a request runs once, so the first request is as fast as the rest.

    ``pmt.warmup()`` loads every kernel from numba's cache (compiling it once
    per environment if nothing has); a ranking of a few synthetic households
    (``pmt.synth``) then runs the request path. Rows the weight set cannot
    score are set aside, so this never fails on a set with other regions.
    """
    pmt.warmup()
    sample = pmt.synth.registry(20, seed=0)
    pmt.rank(sample, weights, cutoffs="reference", on_invalid="reject")


def create_app(weights: str | Path | pmt.WeightSet = DEFAULT_WEIGHTS) -> FastAPI:
    """The service for one weight set (a name, a folder, or a loaded ``WeightSet``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # start-up, in each worker process: after any fork, so pmt's threads
        # start in the process that uses them
        loaded = weights if isinstance(weights, pmt.WeightSet) else pmt.load_weights(weights)
        warm_up(loaded)
        app.state.weights = loaded
        yield

    app = FastAPI(title="pmt placement service", lifespan=lifespan)
    app.add_exception_handler(errors.InputError, _input_error)
    app.add_exception_handler(errors.ArgumentError, _argument_error)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Ready once the weight set is loaded and the kernels warmed up."""
        ws: pmt.WeightSet = app.state.weights
        return {
            "status": "ok",
            "pmt_version": pmt.__version__,
            "weights_id": ws.id,
            "weights_hash": ws.content_hash,
        }

    @app.post("/rank")
    def rank(
        body: Households,
        max_desil: int | None = Query(None, description="eligible = desil_national <= max_desil"),
        on_invalid: Literal["raise", "reject"] = Query("raise"),
    ) -> dict[str, Any]:
        """Place the posted households against the weight set's reference cutoffs."""
        ws: pmt.WeightSet = app.state.weights
        table = pd.DataFrame.from_records(body.households)
        res = pmt.rank(table, ws, cutoffs="reference", max_desil=max_desil, on_invalid=on_invalid)
        placed = res.to_frame()
        id_col = res.id_col
        out = placed[[id_col, *FIELDS] if id_col is not None else list(FIELDS)]
        return {
            "households": out.to_dict(orient="records"),
            "rejects": res.rejects[["row", "column", "rule"]].to_dict(orient="records"),
            "provenance": res.provenance,
        }

    return app


def _input_error(request: Request, exc: Exception) -> JSONResponse:
    """A household breaks a rule: 422, naming the field and the households (as FastAPI does)."""
    assert isinstance(exc, errors.InputError)
    field = exc.column if exc.column is not None else "households"
    rows: list[int | None] = [*exc.rows] or [None]
    detail = [
        {
            "loc": ["body", "households", *([] if row is None else [row]), field],
            "msg": str(exc),
            "type": f"pmt.{type(exc).__name__}",
        }
        for row in rows
    ]
    return JSONResponse(status_code=422, content={"detail": detail})


def _argument_error(request: Request, exc: Exception) -> JSONResponse:
    """An option breaks its rule: 422, naming the query parameter."""
    assert isinstance(exc, errors.ArgumentError)
    detail = [{"loc": ["query", exc.argument], "msg": str(exc), "type": "pmt.ArgumentError"}]
    return JSONResponse(status_code=422, content={"detail": detail})


app = create_app()
