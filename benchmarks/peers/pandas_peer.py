"""pandas: a DataFrame, coefficients gathered with numpy ``take``, group-by for provinces.

Welfare a Series summed term by term in pmt's order; ranking by
``sort_values("welfare")``, ``cumsum``, tie runs found with ``ne(shift())``
and given the run's first strictly-poorer weight with ``where(...).ffill()``;
then a stable ``sort_values("province")`` and ``groupby("province").cumsum()``
the same way. Result: a DataFrame in (province, welfare) order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from peers.common import (
    OUTPUTS,
    Coefs,
    by_position,
    desil_array,
    head_frame,
    model_tables,
    numeric_term,
    read_frame,
    resolve_cells,
    table_by_ids,
)

WHAT = {
    "frame": "cell -> model row and log line via `Index.get_indexer`; coefficients "
             "gathered with numpy `take` into a Series and summed in pmt's order; "
             "`sort_values('welfare')`, `cumsum`, tie runs via `ne(shift())` + "
             "`where().ffill()`; then a stable `sort_values('province')` and "
             "`groupby('province').cumsum()` the same way; result: a DataFrame in "
             "(province, welfare) order.",
    "compute": "a DataFrame whose columns are views of the arrays; coefficients gathered "
               "with `take` into a Series and summed in pmt's order; `sort_values('welfare')`, "
               "`cumsum`, tie runs via `ne(shift())` + `where().ffill()`; stable "
               "`sort_values('province')` and `groupby('province').cumsum()`; result: a "
               "DataFrame in (province, welfare) order, index = input position.",
}


def threads() -> str:
    return "1 (numpy)"


# --------------------------------------------------------------------------- ranking

def _scope(df: pd.DataFrame, by: str | None, scope: str) -> None:
    """Desil, rank and share below of a frame sorted by (``by``,) welfare, in place."""
    w, p = df["welfare"], df["p"]
    start = w.ne(w.shift())
    if by is None:
        cs = p.cumsum()
        total = p.sum()
        pos = np.arange(1, len(df) + 1)
    else:
        g = p.groupby(df[by], sort=False)
        cs = g.cumsum()
        total = g.transform("sum")
        pos = df.groupby(by, sort=False).cumcount() + 1
        start |= df[by].ne(df[by].shift())
    below = (cs - p).where(start).ffill()  # strictly-poorer weight, equal within a tie run
    df[f"rank_{scope}"] = pd.Series(pos, index=df.index).where(start).ffill().astype("int64")
    df[f"share_below_{scope}"] = below / total
    df[f"desil_{scope}"] = desil_array(below.to_numpy(),
                                       total if by is None else total.to_numpy())


def rank(out: pd.DataFrame) -> pd.DataFrame:
    """Rank a frame with ``province``, ``p`` and ``welfare`` columns nationally and by province."""
    out = out.sort_values("welfare")
    _scope(out, None, "national")
    out = out.sort_values("province", kind="stable")  # welfare order kept within province
    _scope(out, "province", "provincial")
    return out


# --------------------------------------------------------------------------- from a table

frame_form = read_frame
frame_head = head_frame


def frame(df: pd.DataFrame, ws: Any) -> pd.DataFrame:
    t = model_tables(ws)
    key = df["district_code"].astype("int32") * 2 + df["urban"]
    cells = pd.Index(key.unique())
    model, shift = resolve_cells(cells // 2, cells % 2, ws)
    cell = cells.get_indexer(key)
    m = model[cell].astype(np.intp)
    welfare = pd.Series(t.intercept.take(m), index=df.index)
    for lk in t.lookups:
        welfare += lk.coef.take(m * lk.width + (df[lk.name].to_numpy() - lk.lo))
    hsz = df["hh_size"].astype("float64")

    def col(a: str) -> Any:
        return hsz if a == "hh_size" else df[a].astype("float64")

    for term in t.numeric:
        welfare += term.beta.take(m) * numeric_term(term, col, hsz, log=np.log)
    welfare -= shift.take(cell)
    return rank(pd.DataFrame({"hh_id": df["hh_id"], "province": df["district_code"] // 100,
                              "p": hsz, "welfare": welfare}))


frame_arrays = table_by_ids


# --------------------------------------------------------------------------- from encoded arrays

def compute_form(inp: Any, ws: Any) -> tuple[pd.DataFrame, Any]:
    """A DataFrame whose columns are views of the input arrays (index = input position)."""
    return pd.DataFrame(inp.columns(), copy=False), inp


def compute(data: tuple[pd.DataFrame, Any], c: Coefs, ws: Any) -> pd.DataFrame:
    df, inp = data
    width = c.table.shape[1]
    flat = c.table.ravel()
    cell = df["cell"].to_numpy()
    m = inp.cells["cell_model"].take(cell).astype(np.intp)
    base = m * width
    welfare = pd.Series(c.intercept.take(m), index=df.index)
    for name, off in zip(inp.lookup_names, c.offsets.tolist(), strict=True):
        welfare += flat.take(base + off + df[name].to_numpy())
    for j, name in enumerate(inp.numeric_names):
        welfare += c.beta[:, j].take(m) * df[name]
    welfare -= inp.cells["cell_shift"].take(cell)
    return rank(pd.DataFrame({"province": inp.cell_province().take(cell), "p": df["p"],
                              "welfare": welfare}))


def compute_arrays(res: pd.DataFrame, data: tuple[pd.DataFrame, Any]) -> dict[str, np.ndarray]:
    return by_position(res.index.to_numpy(), {k: res[k].to_numpy() for k in OUTPUTS},
                       data[1].n)
