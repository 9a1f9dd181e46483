"""numpy: plain array code, the way a numpy user writes the job.

Welfare by fancy-index gathers; ranking by ``argsort``, ``cumsum`` and tie
runs found from ``flatnonzero`` of changes, then a stable ``argsort`` by
province for the provincial scope. Arrays in input order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from peers.common import (
    Coefs,
    desil_array,
    head_frame,
    model_tables,
    numeric_term,
    outputs,
    read_frame,
    resolve_cells,
)

WHAT = {
    "frame": "plain numpy on the DataFrame's column arrays: `bincount` cell table, "
             "fancy-index gathers summed in pmt's order, `argsort`, `cumsum`, tie runs by "
             "`flatnonzero` of changes, stable `argsort` by province; arrays scattered back "
             "to input order.",
    "compute": "welfare by chunks of 65,536 rows with fancy-index gathers from the flat "
               "coefficient table, summed in pmt's order; `argsort`, `cumsum`, tie runs by "
               "`flatnonzero` of changes, stable `argsort` by province; arrays in input order.",
}
CHUNK = 1 << 16  # rows per scoring chunk (compute): the chunk's temporaries stay in cache


def threads() -> str:
    return "1 (numpy)"


# --------------------------------------------------------------------------- ranking

def _segment(w: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    """(desil, rank, share) of one scope whose welfare ``w`` is sorted ascending."""
    n = w.shape[0]
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(w[1:], w[:-1], out=start[1:])
    run_start = np.flatnonzero(start)  # first row of each run of equal welfare
    run = np.cumsum(start) - 1  # run of each row
    cs = np.cumsum(p)
    total = cs[-1]
    below = (cs[run_start] - p[run_start])[run]  # weight strictly poorer, equal within a run
    rank = (run_start + 1)[run]
    return desil_array(below, total), rank, below / total


def _scopes(w: np.ndarray, p: np.ndarray, order: np.ndarray, bounds: np.ndarray,
            out: dict[str, np.ndarray], scope: str) -> None:
    """Rank each segment ``order[bounds[g]:bounds[g+1]]`` (welfare ascending) into ``out``."""
    desil = np.empty(w.shape[0], dtype=np.int8)
    rank = np.empty(w.shape[0], dtype=np.int64)
    share = np.empty(w.shape[0], dtype=np.float64)
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        idx = order[a:b]
        desil[idx], rank[idx], share[idx] = _segment(w[idx], p[idx])
    out[f"desil_{scope}"], out[f"rank_{scope}"] = desil, rank
    out[f"share_below_{scope}"] = share


def rank(w: np.ndarray, p: np.ndarray, province: np.ndarray, out: dict[str, np.ndarray]
         ) -> dict[str, np.ndarray]:
    """National and provincial desil, rank and share below of welfare ``w``, into ``out``."""
    out["welfare"] = w
    order = np.argsort(w)
    _scopes(w, p, order, np.array([0, w.shape[0]]), out, "national")
    order = order[np.argsort(province[order], kind="stable")]  # by province, welfare within
    counts = np.bincount(province)
    bounds = np.concatenate([[0], np.cumsum(counts[counts > 0])])
    _scopes(w, p, order, bounds, out, "provincial")
    return out


# --------------------------------------------------------------------------- from a table

frame_form = read_frame
frame_head = head_frame
frame_arrays = outputs


def _welfare(cols: Callable[[str], np.ndarray], ws: Any) -> tuple[np.ndarray, np.ndarray]:
    """Welfare and province of every household from plain column arrays."""
    t = model_tables(ws)
    key = cols("district_code").astype(np.int32) * 2 + cols("urban")
    present = np.flatnonzero(np.bincount(key, minlength=20000))
    model, shift = resolve_cells(present // 2, present % 2, ws)
    lut = np.zeros(present[-1] + 1, dtype=np.int32)
    lut[present] = np.arange(present.size, dtype=np.int32)
    cell = lut[key]
    m = model[cell].astype(np.intp)
    w = t.intercept[m]
    idx = np.empty_like(m)  # scratch buffers, reused for every term
    tmp = np.empty_like(w)
    for lk in t.lookups:
        np.multiply(m, lk.width, out=idx)
        idx += cols(lk.name)
        if lk.lo:
            idx -= lk.lo
        w += np.take(lk.coef, idx, out=tmp, mode="clip")  # "raise" would buffer
    hsz = cols("hh_size").astype(np.float64)

    def col(a: str) -> np.ndarray:
        return hsz if a == "hh_size" else cols(a).astype(np.float64)

    for term in t.numeric:
        np.take(term.beta, m, out=tmp, mode="clip")
        tmp *= numeric_term(term, col, hsz, log=np.log)
        w += tmp
    w -= shift[cell]
    return w, (cols("district_code") // 100).astype(np.int16)


def frame(df: Any, ws: Any) -> dict[str, np.ndarray]:
    cols = {c: df[c].to_numpy() for c in df.columns}
    w, province = _welfare(cols.__getitem__, ws)
    return rank(w, cols["hh_size"].astype(np.float64), province, {"hh_id": cols["hh_id"]})


# --------------------------------------------------------------------------- from encoded arrays

compute_arrays = outputs


def _compute_welfare(inp: Any, c: Coefs) -> np.ndarray:
    """Welfare by chunks of rows: fancy-index gathers from the flat coefficient table."""
    n = inp.n
    width = c.table.shape[1]
    flat = c.table.ravel()
    beta_t = np.ascontiguousarray(c.beta.T)  # (C, M): one contiguous beta vector per term
    offsets = c.offsets.tolist()
    cell_model, cell_shift = inp.cells["cell_model"], inp.cells["cell_shift"]
    out = np.empty(n)
    for a in range(0, n, CHUNK):
        b = min(a + CHUNK, n)
        cell = inp.cell[a:b]
        m = cell_model[cell].astype(np.intp)
        base = m * width
        w = c.intercept[m]
        for v, off in enumerate(offsets):
            w += flat[base + off + inp.codes[a:b, v]]  # intp + uint8: no overflow
        for j in range(beta_t.shape[0]):
            w += beta_t[j][m] * inp.numeric[a:b, j]
        w -= cell_shift[cell]
        out[a:b] = w
    return out


def compute(inp: Any, c: Coefs, ws: Any) -> dict[str, np.ndarray]:
    return rank(_compute_welfare(inp, c), inp.person_weight, inp.cell_province()[inp.cell], {})
