"""DuckDB: one SQL statement, each lookup term a ``CASE``, window sums per scope.

Welfare is one SQL sum in pmt's order over a join to a per-cell (or
per-model) table of coefficients, one column each; ranking is ``rank()`` and
``sum(p) OVER (... RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE
GROUP)`` per scope. (A LIST column per variable indexed by code was 2-3x
slower; 36 joins to long coefficient tables were far slower.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from peers.common import (
    MAX_DESIL,
    OUTPUTS,
    Coefs,
    by_ids,
    by_position,
    desil_sql,
    model_levels,
    model_tables,
    numeric_term,
    resolve_cells,
)

WHAT = {
    "frame": "`CREATE TEMP TABLE ranked AS ...` over an in-memory DuckDB table: joins to a "
             "cell table and a wide per-model coefficient table, each lookup term a "
             "`CASE code WHEN .. THEN column`, welfare one SQL sum in pmt's order; `rank()` "
             "and `sum(p) OVER (... RANGE ... EXCLUDE GROUP)` windows per scope; result: a "
             "DuckDB table (fetched only for the check, untimed).",
    "compute": "the arrays registered as an Arrow table (zero-copy); `CREATE TEMP TABLE "
               "ranked AS ...`: one join to a per-cell table of shift, province and the "
               "cell's model coefficients, each lookup term a `CASE code WHEN .. THEN column`, "
               "welfare one SQL sum in pmt's order; `rank()` and `sum(p) OVER (... RANGE ... "
               "EXCLUDE GROUP)` windows per scope; result: a DuckDB table.",
    "files": "`COPY (SELECT ... FROM (<the table job over read_parquet(IN)>) JOIN key_tab "
             "...) TO OUT (FORMAT parquet, COMPRESSION snappy)`; `key_tab` maps the model "
             "row to `model_key` and `model_level`.",
}


def threads() -> str:
    n = duckdb.execute("SELECT current_setting('threads')").fetchall()[0][0]
    return f"duckdb {n}"


def release(table: str, d: Any) -> None:
    """Drop a result table (its memory is DuckDB's, not Python's)."""
    d.con.execute(f"DROP TABLE IF EXISTS {table}")


# --------------------------------------------------------------------------- ranking

def rank_sql(scored: str, key: str, carry: str = "") -> str:
    """Rank the households of the ``scored`` query (columns ``key``, ``province``, ``p``,
    ``welfare`` and the ``carry`` ones): ``key``, welfare, ``carry``, then desil, rank
    and share below per scope."""
    extra = f"{carry}, " if carry else ""
    return f"""
        WITH scored AS ({scored}), windowed AS (
            SELECT {key}, welfare, {extra}
                   rank() OVER nat AS rank_national,
                   coalesce(sum(p) OVER (nat RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                                         EXCLUDE GROUP), 0) AS s_national,
                   sum(p) OVER () AS t_national,
                   rank() OVER prv AS rank_provincial,
                   coalesce(sum(p) OVER (prv RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                                         EXCLUDE GROUP), 0) AS s_provincial,
                   sum(p) OVER (PARTITION BY province) AS t_provincial
            FROM scored
            WINDOW nat AS (ORDER BY welfare), prv AS (PARTITION BY province ORDER BY welfare)
        )
        SELECT {key}, welfare, {extra}
               {desil_sql("s_national", "t_national")} AS desil_national, rank_national,
               s_national / t_national AS share_below_national,
               {desil_sql("s_provincial", "t_provincial")} AS desil_provincial,
               rank_provincial, s_provincial / t_provincial AS share_below_provincial
        FROM windowed
    """


def _sql_term(term: Any) -> str:
    def col(a: str) -> str:
        return f"h.{a}::DOUBLE"

    return numeric_term(term, col, "h.hh_size::DOUBLE", log=lambda x: f"ln({x})",
                        add=lambda x, y: f"{x} + {y}", div=lambda x, y: f"(({x}) / {y})")


# --------------------------------------------------------------------------- from a table

@dataclass
class _Table:
    con: Any
    table: str
    ids: np.ndarray  # input order, for the agreement check only


def frame_form(path: Path) -> _Table:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE hh AS SELECT * FROM read_parquet('{path}')")
    ids = con.sql("SELECT hh_id FROM hh ORDER BY rowid").fetchnumpy()["hh_id"]
    return _Table(con, "hh", ids)


def frame_head(d: _Table, n: int) -> _Table:
    d.con.execute(f"CREATE OR REPLACE TABLE hh_small AS SELECT * FROM hh ORDER BY rowid LIMIT {n}")
    return _Table(d.con, "hh_small", d.ids[:n])


def table_sql(con: Any, source: str, ws: Any, carry_model: bool = False) -> str:
    """The table job as one SELECT over ``source`` (a table name, or ``read_parquet('...')``).

    Registers the small tables ``cell_tab`` and ``coef_tab`` on ``con``; run the query,
    then :func:`unregister`. Columns: ``hh_id``, ``welfare``, (``m``, ``province`` and
    ``p`` if ``carry_model``), then desil, rank and share below per scope.
    """
    t = model_tables(ws)
    cells = con.sql(f"SELECT DISTINCT district_code, urban FROM {source}").fetchnumpy()
    model, shift = resolve_cells(cells["district_code"], cells["urban"], ws)
    cell_tab = pa.table({"district_code": cells["district_code"], "urban": cells["urban"],
                         "m": model, "shift": shift})
    # one row per model, one column per coefficient; a lookup term is a CASE on the code
    n_models = t.intercept.shape[0]
    coef_cols: dict[str, Any] = {"m": np.arange(n_models, dtype=np.int32),
                                 "intercept": t.intercept}
    terms = ["c.intercept"]
    for lk in t.lookups:
        table = lk.coef.reshape(n_models, lk.width)
        whens = []
        for j in range(lk.width):
            if not np.isnan(table[:, j]).all():
                code = lk.lo + j
                coef_cols[f"{lk.name}_{code}"] = table[:, j]
                whens.append(f"WHEN {code} THEN c.{lk.name}_{code}")
        terms.append(f"CASE h.{lk.name} {' '.join(whens)} END")
    for term in t.numeric:
        coef_cols[f"b_{term.name}"] = term.beta
        terms.append(f"c.b_{term.name} * {_sql_term(term)}")
    con.register("cell_tab", cell_tab)
    con.register("coef_tab", pa.table(coef_cols))
    return rank_sql(f"""
            SELECT h.hh_id, h.district_code // 100 AS province, h.hh_size::DOUBLE AS p,
                   {" + ".join(terms)} - k.shift AS welfare{", k.m" if carry_model else ""}
            FROM {source} h
            JOIN cell_tab k ON h.district_code = k.district_code AND h.urban = k.urban
            JOIN coef_tab c ON c.m = k.m""", "hh_id", carry="m, province, p" if carry_model else "")


def unregister(con: Any) -> None:
    """Drop the small tables :func:`table_sql` registered."""
    con.unregister("cell_tab")
    con.unregister("coef_tab")


def frame(d: _Table, ws: Any) -> str:
    """Materialises the ranked table ``ranked`` inside DuckDB; returns its name."""
    d.con.execute("CREATE OR REPLACE TEMP TABLE ranked AS " + table_sql(d.con, d.table, ws))
    unregister(d.con)
    return "ranked"


def frame_arrays(table: str, d: _Table) -> dict[str, np.ndarray]:
    res = d.con.sql(f"SELECT hh_id, {', '.join(OUTPUTS)} FROM {table}").fetchnumpy()
    return by_ids(res["hh_id"], d.ids, {k: res[k] for k in OUTPUTS})


# --------------------------------------------------------------------------- from encoded arrays

@dataclass
class _Arrays:
    con: Any
    inp: Any


def compute_form(inp: Any, ws: Any) -> _Arrays:
    """The arrays as an Arrow table (zero-copy) registered as view ``hh``, plus a
    row-position column. DuckDB scans it in place, in parallel; copying it into a DuckDB
    table first took as long to rank at 1 M households and doubles the data in memory."""
    cols = inp.columns()
    cols["row"] = np.arange(inp.n, dtype=np.int64)
    con = duckdb.connect()
    con.register("hh", pa.table(cols))
    return _Arrays(con, inp)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compute(d: _Arrays, c: Coefs, ws: Any) -> str:
    """Materialises the ranked table ``ranked`` inside DuckDB; returns its name."""
    con, inp = d.con, d.inp
    # one row per cell: its shift, province and its model's coefficients, one column each
    model = inp.cells["cell_model"]
    cols: dict[str, Any] = {"cell": np.arange(model.shape[0], dtype=np.int32),
                            "shift": inp.cells["cell_shift"], "province": inp.cell_province(),
                            "intercept": c.intercept[model]}
    terms = ["k.intercept"]
    sizes = np.diff(np.append(c.offsets, c.table.shape[1])).tolist()
    for v, (name, off) in enumerate(zip(inp.lookup_names, c.offsets.tolist(), strict=True)):
        whens = []
        for code in range(sizes[v]):
            cols[f"t{v}_{code}"] = c.table[model, off + code]
            whens.append(f"WHEN {code} THEN k.t{v}_{code}")
        terms.append(f"CASE h.{_q(name)} {' '.join(whens)} END")
    for j, name in enumerate(inp.numeric_names):
        cols[f"b{j}"] = c.beta[model, j]
        terms.append(f"k.b{j} * h.{_q(name)}")
    con.register("cell_tab", pa.table(cols))
    con.execute("CREATE OR REPLACE TEMP TABLE ranked AS " + rank_sql(f"""
            SELECT h.row, k.province, h.p, {" + ".join(terms)} - k.shift AS welfare
            FROM hh h JOIN cell_tab k ON h.cell = k.cell""", "row"))
    con.unregister("cell_tab")
    return "ranked"


def compute_arrays(table: str, d: _Arrays) -> dict[str, np.ndarray]:
    res = d.con.sql(f"SELECT row, {', '.join(OUTPUTS)} FROM {table}").fetchnumpy()
    return by_position(res["row"], {k: res[k] for k in OUTPUTS}, d.inp.n)


# --------------------------------------------------------------------------- file to file

def files(src: str, out: str, ws: Any, *, threads: int | None) -> str:
    """COPY (the job over read_parquet) TO out, with pmt's output columns; returns the mode."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    source = "read_parquet('" + src.replace("'", "''") + "')"
    sql = table_sql(con, source, ws, carry_model=True)
    keys = list(ws.model_keys)
    con.register("key_tab", pa.table({"m": pa.array(range(len(keys)), pa.int32()),
                                      "model_key": keys, "model_level": model_levels(keys)}))
    target = out.replace("'", "''")
    con.execute(f"""
        COPY (
            SELECT r.hh_id, r.welfare, k.model_key, k.model_level,
                   r.province::TINYINT AS province_code, r.desil_national, r.desil_provincial,
                   r.rank_national::INTEGER AS rank_national,
                   r.rank_provincial::INTEGER AS rank_provincial,
                   r.share_below_national, r.share_below_provincial,
                   r.desil_national <= {MAX_DESIL} AS eligible, r.p AS person_weight
            FROM ({sql}) r JOIN key_tab k ON k.m = r.m
        ) TO '{target}' (FORMAT parquet, COMPRESSION snappy)
    """)
    unregister(con)
    return "COPY (SELECT ... FROM read_parquet) TO (FORMAT parquet)"
