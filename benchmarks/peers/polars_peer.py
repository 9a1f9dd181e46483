"""polars: one lazy query, coefficients by ``gather``, windows for provinces.

Model row by a join to a cell table (or a gather by cell), coefficients by
``pl.lit(Series).gather(index)`` summed in pmt's order; ``sort("welfare")``,
``cum_sum``, tie runs by ``when(start).then(...).forward_fill()``; a stable
``sort("province")`` and ``cum_sum().over("province")``. From a file, the
same plan over ``scan_parquet`` into ``sink_parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from peers.common import (
    MAX_DESIL,
    OUTPUTS,
    Coefs,
    by_position,
    desil_count,
    model_levels,
    model_tables,
    numeric_term,
    resolve_cells,
    table_by_ids,
)

WHAT = {
    "frame": "lazy query on `pl.read_parquet`: join on a cell table, coefficients via "
             "`pl.lit(Series).gather(index)`, summed in pmt's order; `sort('welfare')`, "
             "`cum_sum()`, tie runs via `when(start).then(..).forward_fill()`; then a stable "
             "`sort('province')` and `cum_sum().over('province')`; result: a DataFrame.",
    "compute": "a DataFrame over the arrays (zero-copy); one lazy query: model row and "
               "coefficients by `pl.lit(Series).gather(index)`, summed in pmt's order; "
               "`sort('welfare')`, `cum_sum()`, tie runs via "
               "`when(start).then(..).forward_fill()`; stable `sort('province')` and "
               "`cum_sum().over('province')`; result: a DataFrame.",
    "files": "`pl.scan_parquet(IN)`, the lazy plan of the table job, a final `select` to "
             "pmt's columns and types, `sink_parquet(OUT, compression='snappy', "
             "engine='streaming')`.",
}
#: The environment variable that sets polars' thread count (read when polars is imported).
THREADS_ENV = "POLARS_MAX_THREADS"


def threads() -> str:
    return f"polars {pl.thread_pool_size()}"


# --------------------------------------------------------------------------- ranking

def _scope(by: str | None, scope: str) -> dict[str, pl.Expr]:
    """Expressions for a frame sorted by (``by``,) welfare."""
    w, p = pl.col("welfare"), pl.col("p")
    start = w.ne_missing(w.shift())
    if by is None:
        cs, total, pos = p.cum_sum(), p.sum(), pl.int_range(1, pl.len() + 1)
    else:
        cs, total = p.cum_sum().over(by), p.sum().over(by)
        pos = pl.int_range(1, pl.len() + 1).over(by)
        start = start | pl.col(by).ne_missing(pl.col(by).shift())
    below = pl.when(start).then(cs - p).forward_fill()
    return {
        f"rank_{scope}": pl.when(start).then(pos).forward_fill(),
        f"share_below_{scope}": below / total,
        f"desil_{scope}": desil_count(below, total).cast(pl.Int8),
    }


def rank(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Rank a plan with ``province``, ``p`` and ``welfare`` nationally and by province."""
    return (
        lf
        .sort("welfare")
        .with_columns(**_scope(None, "national"))
        .sort("province", maintain_order=True)  # stable: welfare order kept within province
        .with_columns(**_scope("province", "provincial"))
    )


# --------------------------------------------------------------------------- from a table

def frame_form(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def frame_head(df: pl.DataFrame, n: int) -> pl.DataFrame:
    return df.head(n)


def _cells(frame: pl.DataFrame | pl.LazyFrame) -> np.ndarray:
    """The (district, urban) cells present, as ``district * 2 + urban``."""
    key = pl.col("district_code").cast(pl.Int32) * 2 + pl.col("urban").cast(pl.Int32)
    out = frame.select(key.unique().alias("cell"))
    return (out.collect() if isinstance(out, pl.LazyFrame) else out)["cell"].to_numpy()


def plan(lf: pl.LazyFrame, cells: np.ndarray, ws: Any, carry_model: bool = False
         ) -> pl.LazyFrame:
    """The table job as a LazyFrame over ``lf``; ``cells`` from :func:`_cells`.

    Columns: ``hh_id``, ``province``, ``p``, ``welfare``, (``_m``, the model row, if
    ``carry_model``), then desil, rank and share below per scope.
    """
    t = model_tables(ws)
    key = pl.col("district_code").cast(pl.Int32) * 2 + pl.col("urban").cast(pl.Int32)
    model, shift = resolve_cells(cells // 2, cells % 2, ws)
    cell_tab = pl.DataFrame({"cell": cells.astype(np.int32), "_m": model.astype(np.int64),
                             "_shift": shift})

    m = pl.col("_m")
    hsz = pl.col("hh_size").cast(pl.Float64)

    def col(a: str) -> pl.Expr:
        return hsz if a == "hh_size" else pl.col(a).cast(pl.Float64)

    welfare = pl.lit(pl.Series(t.intercept)).gather(m)
    for lk in t.lookups:
        idx = m * lk.width + pl.col(lk.name).cast(pl.Int64) - lk.lo
        welfare = welfare + pl.lit(pl.Series(lk.coef)).gather(idx)
    for term in t.numeric:
        welfare = welfare + pl.lit(pl.Series(term.beta)).gather(m) * numeric_term(
            term, col, hsz, log=pl.Expr.log)
    welfare = welfare - pl.col("_shift")

    return rank(
        lf
        .with_columns(key.alias("cell"))
        .join(cell_tab.lazy(), on="cell", how="left")
        .select("hh_id", (pl.col("district_code") // 100).cast(pl.Int16).alias("province"),
                hsz.alias("p"), welfare.alias("welfare"),
                *([m.cast(pl.Int32)] if carry_model else []))
    )


def frame(df: pl.DataFrame, ws: Any) -> pl.DataFrame:
    return plan(df.lazy(), _cells(df), ws).collect()


frame_arrays = table_by_ids


# --------------------------------------------------------------------------- from encoded arrays

def compute_form(inp: Any, ws: Any) -> tuple[pl.DataFrame, Any]:
    """A DataFrame over the input arrays (polars takes contiguous numpy columns without
    copying) plus a row-position column."""
    return pl.DataFrame(inp.columns()).with_row_index("row"), inp


def compute(data: tuple[pl.DataFrame, Any], c: Coefs, ws: Any) -> pl.DataFrame:
    df, inp = data
    width = c.table.shape[1]
    flat = pl.lit(pl.Series(c.table.ravel()))
    m, cell = pl.col("_m"), pl.col("cell")
    welfare = pl.lit(pl.Series(c.intercept)).gather(m)
    for name, off in zip(inp.lookup_names, c.offsets.tolist(), strict=True):
        welfare = welfare + flat.gather(m * width + (pl.col(name).cast(pl.Int64) + off))
    for j, name in enumerate(inp.numeric_names):
        welfare = welfare + pl.lit(pl.Series(c.beta[:, j])).gather(m) * pl.col(name)
    welfare = welfare - pl.lit(pl.Series(inp.cells["cell_shift"])).gather(cell)
    return rank(
        df.lazy()
        .with_columns(pl.lit(pl.Series(inp.cells["cell_model"].astype(np.int64))).gather(cell)
                      .alias("_m"))
        .select("row", pl.lit(pl.Series(inp.cell_province())).gather(cell).alias("province"),
                "p", welfare.alias("welfare"))
    ).collect()


def compute_arrays(res: pl.DataFrame, data: tuple[pl.DataFrame, Any]) -> dict[str, np.ndarray]:
    return by_position(res["row"].to_numpy(), {k: res[k].to_numpy() for k in OUTPUTS},
                       data[1].n)


# --------------------------------------------------------------------------- file to file

def files(src: str, out: str, ws: Any, *, threads: int | None) -> str:
    """scan_parquet -> the job -> sink_parquet, with pmt's output columns; returns the mode.

    ``threads`` is set through :data:`THREADS_ENV` before polars is imported.
    """
    lf = pl.scan_parquet(src)
    keys = list(ws.model_keys)
    m = pl.col("_m")
    job = plan(lf, _cells(lf), ws, carry_model=True).select(
        "hh_id", "welfare",
        pl.lit(pl.Series(keys, dtype=pl.Categorical)).gather(m).alias("model_key"),
        pl.lit(pl.Series(model_levels(keys), dtype=pl.Categorical)).gather(m)
        .alias("model_level"),
        pl.col("province").cast(pl.Int8).alias("province_code"),
        "desil_national", "desil_provincial",
        pl.col("rank_national").cast(pl.Int32), pl.col("rank_provincial").cast(pl.Int32),
        "share_below_national", "share_below_provincial",
        (pl.col("desil_national") <= MAX_DESIL).alias("eligible"),
        pl.col("p").alias("person_weight"))
    try:
        job.sink_parquet(out, compression="snappy", engine="streaming")
        return "scan_parquet -> sink_parquet (streaming engine)"
    except Exception as exc:  # an engine that cannot stream this plan
        job.collect().write_parquet(out, compression="snappy")
        return f"scan_parquet -> collect -> write_parquet (sink failed: {type(exc).__name__})"
