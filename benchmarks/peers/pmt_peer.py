"""pmt itself, through its public entry points: the reference every peer is checked against.

- from a table: ``pmt.rank(households, ws)`` on the pandas DataFrame
  (validation and encoding included);
- from encoded arrays: ``pmt.rank.rank_encoded(enc, ws)`` on a
  ``pmt.encode.Encoded`` holding the cached arrays;
- file to file: the command line, ``pmt rank IN --weights W --out OUT``
  (streamed in chunks, ``pmt.io.rank_file``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

import pmt
from peers.common import OUTPUTS, by_ids, head_frame, read_frame
from pmt.encode import encode
from pmt.rank import rank_encoded

WHAT = {
    "frame": "`pmt.rank(households, ws)` on the pandas DataFrame: validates and encodes every "
             "column, numba kernels score, a parallel bucket sort of welfare, one walk per "
             "scope; arrays in input order plus model keys, eligibility and provenance.",
    "compute": "`pmt.rank.rank_encoded(enc, ws)` on a `pmt.encode.Encoded` built from the "
               "arrays: numba score kernel, a parallel bucket sort of welfare, one walk per "
               "scope, outputs back to input order; a `RankResult` (also model row, province "
               "and eligibility).",
    "files": "the command line, `pmt rank IN --weights W --out OUT`: validates, encodes and "
             "scores the file in chunks, ranks, and writes the result in input order.",
}


def threads() -> str:
    return f"numba {numba.get_num_threads()}"


# --------------------------------------------------------------------------- from a table

frame_form = read_frame
frame_head = head_frame


def frame(df: Any, ws: Any) -> Any:
    return pmt.rank(df, ws)


def frame_arrays(res: Any, df: Any) -> dict[str, np.ndarray]:
    cols = {k: getattr(res, k) for k in OUTPUTS}
    if res.n_households != len(df) or not np.array_equal(res.ids, df["hh_id"].to_numpy()):
        return by_ids(res.ids, df["hh_id"].to_numpy(), cols)
    return cols


# --------------------------------------------------------------------------- from encoded arrays

@dataclasses.dataclass(frozen=True, eq=False)
class _Encoded:
    enc: Any
    inp: Any


@functools.lru_cache(maxsize=1)
def _template(ws: Any) -> Any:
    """The encoding of a small synthetic registry without an id column: an ``Encoded``
    whose empty rejects table, ids and index are pmt's own."""
    return encode(pmt.synth.registry(100, seed=0), ws, id_col=None)


def prepare(ws: Any) -> None:
    """Make :func:`_template` before the memory baseline (its memory does not grow with n)."""
    _template(ws)


def compute_form(inp: Any, ws: Any) -> _Encoded:
    """A ``pmt.encode.Encoded`` around the arrays (:func:`_template` with the arrays, input
    positions and index replaced by the cached ones)."""
    enc = dataclasses.replace(_template(ws), n_input=inp.n,
                              rows=np.arange(inp.n, dtype=np.int64), codes=inp.codes,
                              numeric=inp.numeric, cell=inp.cell,
                              person_weight=inp.person_weight, index=pd.RangeIndex(inp.n),
                              **inp.cells)
    return _Encoded(enc, inp)


def compute(d: _Encoded, coefs: Any, ws: Any) -> Any:
    return rank_encoded(d.enc, ws)


def compute_arrays(res: Any, d: _Encoded) -> dict[str, np.ndarray]:
    return {k: getattr(res, k) for k in OUTPUTS}


def output_bytes(res: Any, d: _Encoded) -> int:
    """Bytes of the result's per-household arrays that are not the inputs' (person_weight,
    rows are)."""
    inputs = [getattr(d.enc, f) for f in ("rows", "codes", "numeric", "cell", "person_weight")]
    total = 0
    for f in dataclasses.fields(res):
        a = getattr(res, f.name)
        if isinstance(a, np.ndarray) and a.ndim == 1 and a.shape[0] == res.n_households and \
                not any(np.shares_memory(a, b) for b in inputs):
            total += int(a.nbytes)
    return total


# --------------------------------------------------------------------------- file to file

def files_command(src: Path, out: Path, weights: str, *, chunk: int | None,
                  threads: int | None) -> list[str]:
    """The ``pmt rank`` command line: the console script if installed next to this Python."""
    script = Path(sys.executable).with_name("pmt")
    head = [str(script)] if script.exists() else \
        [sys.executable, "-c", "import sys; from pmt.cli import main; sys.exit(main())"]
    opts = ["--threads", str(threads)] if threads else []
    tail = ["--chunk-size", str(chunk)] if chunk else []
    return [*head, *opts, "rank", str(src), "--weights", weights, "--out", str(out), *tail]


_STEP = re.compile(r"^ranking .* in chunks of [\d,]+ rows \.\.\.")
# the live count of pmt's progress display: "... scoring: 1,000 of 3,000 households (33 %)"
_PHASE = re.compile(r"\.\.\. (\w+): +[\d,]+ of [\d,]+ \w+ \(([\d.]+) %\)")


def files_phases(events: list[tuple[float, str]], wall: float) -> dict[str, float] | None:
    """Seconds of each part of a ``pmt rank`` run, from its progress on stderr (timestamped
    pieces); None if the progress does not have the expected form."""
    start = next((t for t, p in events if _STEP.match(p)), None)
    last: dict[str, float] = {}
    for t, p in events:
        m = _PHASE.search(p)
        if m:
            last[m.group(1)] = t
    if start is None or not {"scoring", "ranking", "writing"} <= last.keys():
        return None
    return {"start-up (imports, weight set)": start,
            "pass 1: read, validate, encode, score": last["scoring"] - start,
            "id check + ranking": last["ranking"] - last["scoring"],
            "pass 2: read ids, write Parquet": last["writing"] - last["ranking"],
            "summary on stdout, exit": wall - last["writing"]}
