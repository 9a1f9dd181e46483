"""The ranking job, written once per tool: pmt and the tools people would use instead.

Every peer does the same job on the same synthetic registry:

1. score every household: ``welfare = intercept + sum(lookup coefficients) +
   sum(beta * x) - log(poverty line)``, with the model and poverty line of the
   household's (district, urban) cell chosen by the fallback chain
   district x urban -> district -> province x urban -> province -> national,
   summed in pmt's order (intercept, lookup terms in spec order, numeric terms
   in spec order, minus the log line) so that welfare agrees bit for bit;
2. national and provincial person-weighted desil (person weight = hh_size) by
   DESIGN.md's rule ``desil = 1 + #{k in 1..9 : 10*S >= k*T}``, ``S`` the
   weight of households *strictly* poorer in the scope (ties never split),
   plus ``rank = 1 + #strictly poorer`` and ``share_below = S / T``.

A peer is a :class:`Peer`: ``load`` turns the cached Parquet file into the
tool's natural in-memory form (not timed), ``job`` is the timed work and
returns the tool's natural result (a table or arrays carrying ``hh_id``, in
any row order), and ``arrays`` converts that result to numpy arrays in input
order for the agreement check (not timed). Register a new peer in
:data:`PEERS`.

Peers do *no input validation*: they trust the synthetic data. pmt validates
every column (and builds its rejects machinery) inside the timed call; the
README says so, and ``bench_rank.py --profile`` shows what that costs.

All peers start from the same small tables, built inside the timed job from
the loaded :class:`pmt.WeightSet` (its public attributes only; nothing here
calls pmt's encoder or kernels): per lookup variable a dense
``(n_models, max_code - min_code + 1)`` coefficient table, per numeric term a
``(n_models,)`` beta vector, and per (district, urban) cell present in the
data its model row and log poverty line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

N_CLASSES = 10
OUTPUTS = ("welfare", "desil_national", "desil_provincial", "rank_national",
           "rank_provincial", "share_below_national", "share_below_provincial")


# --------------------------------------------------------------------------- small tables

@dataclass(frozen=True)
class Lookup:
    """Coefficients of one binary / categorical variable: ``coef[m * width + code - lo]``."""

    name: str
    lo: int
    width: int
    coef: np.ndarray  # (n_models * width,) float64; NaN where the code is not allowed


@dataclass(frozen=True)
class NumericTerm:
    """One numeric term: a column (``op="value"``) or a derived feature, and its betas."""

    name: str
    op: str  # "value", "log", "per_capita", "log_per_capita"
    args: tuple[str, ...]
    beta: np.ndarray  # (n_models,) float64


@dataclass(frozen=True)
class ModelTables:
    intercept: np.ndarray  # (n_models,)
    lookups: tuple[Lookup, ...]
    numeric: tuple[NumericTerm, ...]


def model_tables(ws: Any) -> ModelTables:
    """Dense per-model coefficient tables of weight set ``ws`` (a few hundred KB)."""
    spec = ws.spec
    coef = np.asarray(ws.coefficients, dtype=np.float64)
    col = {t: j for j, t in enumerate(spec.terms)}
    n_models = coef.shape[0]
    lookups = []
    for var in spec.lookup_variables:
        codes = var.code_values
        lo, hi = min(codes), max(codes)
        table = np.full((n_models, hi - lo + 1), np.nan)
        for c in codes:
            table[:, c - lo] = coef[:, col[f"{var.name}={c}"]]
        lookups.append(Lookup(var.name, lo, hi - lo + 1, table.ravel()))
    derived = {d.name: d for d in spec.derived}
    numeric = []
    for term in spec.numeric_terms:
        d = derived.get(term)
        op, args = ("value", (term,)) if d is None else (d.op, tuple(d.args))
        numeric.append(NumericTerm(term, op, args, np.ascontiguousarray(coef[:, col[term]])))
    return ModelTables(np.ascontiguousarray(coef[:, col["intercept"]]), tuple(lookups),
                       tuple(numeric))


def fallback_keys(district: int, urban: int) -> tuple[str, ...]:
    """Region keys to try for a (district, urban) cell, most specific first."""
    u = "urban" if urban else "rural"
    d = f"{district:04d}"
    return (f"{d}-{u}", d, f"{d[:2]}-{u}", d[:2], "national")


def resolve_cells(district: np.ndarray, urban: np.ndarray, ws: Any
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Model row (int32) and log poverty line (float64; 0 without lines) of each cell."""
    row_of = {k: i for i, k in enumerate(ws.model_keys)}
    lines = ws.poverty_lines
    model = np.empty(len(district), dtype=np.int32)
    shift = np.zeros(len(district), dtype=np.float64)
    pairs = zip(np.asarray(district).tolist(), np.asarray(urban).tolist(), strict=True)
    for c, (d, u) in enumerate(pairs):
        chain = fallback_keys(int(d), int(u))
        model[c] = next(row_of[k] for k in chain if k in row_of)
        if lines:
            shift[c] = math.log(next(lines[k] for k in chain if k in lines))
    return model, shift


def desil_count(below: Any, total: Any, n: int = N_CLASSES) -> Any:
    """``1 + #{k in 1..n-1 : n*below >= k*total}`` as an expression (polars)."""
    nb = n * below
    out = 1
    for k in range(1, n):
        out = out + (nb >= k * total)
    return out


def desil_array(below: np.ndarray, total: float | np.ndarray, n: int = N_CLASSES
                ) -> np.ndarray:
    """The same count for numpy arrays, in place: int8, no (n_households,) float scratch
    beyond one threshold buffer when ``total`` varies by row."""
    nb = n * np.asarray(below, dtype=np.float64)
    out = np.ones(nb.shape[0], dtype=np.int8)
    scalar = np.ndim(total) == 0
    thr = None if scalar else np.empty_like(nb)
    for k in range(1, n):
        if scalar:
            out += nb >= k * total
        else:
            np.multiply(total, k, out=thr)
            out += nb >= thr
    return out


# --------------------------------------------------------------------------- the peer record

@dataclass(frozen=True)
class Peer:
    """One tool's implementation of the job."""

    name: str
    what: str  # one line for the README and the results file
    load: Callable[[Path], Any]
    job: Callable[[Any, Any], Any]
    arrays: Callable[[Any, Any], dict[str, np.ndarray]]  # (result, loaded data) -> input order
    versions: Callable[[], dict[str, str]]
    threads: Callable[[], str]
    small: Callable[[Any, int], Any]  # first rows of the loaded data, for the warm-up
    release: Callable[[Any, Any], None] = lambda result, data: None  # free a result


def _align(ids_out: np.ndarray, ids_in: np.ndarray, cols: dict[str, np.ndarray]
           ) -> dict[str, np.ndarray]:
    """Reorder ``cols`` (rows labelled ``ids_out``) to the input order ``ids_in``."""
    import pandas as pd

    pos = pd.Index(ids_out).get_indexer(ids_in)
    if (pos < 0).any():
        raise ValueError(f"{int((pos < 0).sum())} input households are missing from the output")
    return {k: np.asarray(v)[pos] for k, v in cols.items()}


def _pandas_load(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path)


def _pandas_small(df: Any, n: int) -> Any:
    return df.iloc[:n].copy()


# --------------------------------------------------------------------------- pmt

def _pmt_job(df: Any, ws: Any) -> Any:
    import pmt

    return pmt.rank(df, ws)


def _pmt_arrays(res: Any, df: Any) -> dict[str, np.ndarray]:
    cols = {k: getattr(res, k) for k in OUTPUTS}
    if res.n != len(df) or not np.array_equal(res.ids, df["hh_id"].to_numpy()):
        return _align(res.ids, df["hh_id"].to_numpy(), cols)
    return cols


def _pmt_versions() -> dict[str, str]:
    import numba

    import pmt

    return {"pmt": pmt.__version__, "numba": numba.__version__}


def _numba_threads() -> str:
    import numba

    return f"numba {numba.get_num_threads()}"


# --------------------------------------------------------------------------- numpy

def _np_welfare(cols: Callable[[str], np.ndarray], ws: Any) -> tuple[np.ndarray, np.ndarray]:
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
    for term in t.numeric:
        np.take(term.beta, m, out=tmp, mode="clip")
        tmp *= _np_term(term, cols, hsz)
        w += tmp
    w -= shift[cell]
    return w, (cols("district_code") // 100).astype(np.int16)


def _np_term(term: NumericTerm, cols: Callable[[str], np.ndarray], hsz: np.ndarray
             ) -> np.ndarray:
    def f(a: str) -> np.ndarray:
        return hsz if a == "hh_size" else cols(a).astype(np.float64)

    if term.op == "value":
        return f(term.args[0])
    if term.op == "log":
        return np.log(f(term.args[0]))
    if term.op == "per_capita":
        acc = f(term.args[0]).copy()
        for a in term.args[1:]:
            acc += f(a)
        return acc / hsz
    return np.log(f(term.args[0]) / hsz)


def _np_segment(w: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
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


def _np_scopes(w: np.ndarray, p: np.ndarray, order: np.ndarray, bounds: np.ndarray,
               out: dict[str, np.ndarray], scope: str) -> None:
    """Rank each segment ``order[bounds[g]:bounds[g+1]]`` (welfare ascending) into ``out``."""
    desil = np.empty(w.shape[0], dtype=np.int8)
    rank = np.empty(w.shape[0], dtype=np.int64)
    share = np.empty(w.shape[0], dtype=np.float64)
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        idx = order[a:b]
        desil[idx], rank[idx], share[idx] = _np_segment(w[idx], p[idx])
    out[f"desil_{scope}"], out[f"rank_{scope}"] = desil, rank
    out[f"share_below_{scope}"] = share


def _numpy_job(df: Any, ws: Any) -> dict[str, np.ndarray]:
    cols = {c: df[c].to_numpy() for c in df.columns}
    w, prov = _np_welfare(cols.__getitem__, ws)
    p = cols["hh_size"].astype(np.float64)
    out: dict[str, np.ndarray] = {"hh_id": cols["hh_id"], "welfare": w}
    order = np.argsort(w)
    _np_scopes(w, p, order, np.array([0, w.shape[0]]), out, "national")
    order = order[np.argsort(prov[order], kind="stable")]  # by province, welfare within
    counts = np.bincount(prov)
    bounds = np.concatenate([[0], np.cumsum(counts[counts > 0])])
    _np_scopes(w, p, order, bounds, out, "provincial")
    return out


def _numpy_arrays(res: dict[str, np.ndarray], df: Any) -> dict[str, np.ndarray]:
    return {k: res[k] for k in OUTPUTS}


# --------------------------------------------------------------------------- pandas

def _pandas_job(df: Any, ws: Any) -> Any:
    import pandas as pd

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
    for term in t.numeric:
        welfare += term.beta.take(m) * _pd_term(term, df, hsz)
    welfare -= shift.take(cell)

    out = pd.DataFrame({"hh_id": df["hh_id"], "province": df["district_code"] // 100,
                        "p": hsz, "welfare": welfare})
    out = out.sort_values("welfare")
    _pd_scope(out, None, "national")
    out = out.sort_values("province", kind="stable")  # welfare order kept within province
    _pd_scope(out, "province", "provincial")
    return out


def _pd_term(term: NumericTerm, df: Any, hsz: Any) -> Any:
    def f(a: str) -> Any:
        return hsz if a == "hh_size" else df[a].astype("float64")

    if term.op == "value":
        return f(term.args[0])
    if term.op == "log":
        return np.log(f(term.args[0]))
    if term.op == "per_capita":
        acc = f(term.args[0])
        for a in term.args[1:]:
            acc = acc + f(a)
        return acc / hsz
    return np.log(f(term.args[0]) / hsz)


def _pd_scope(df: Any, by: str | None, scope: str) -> None:
    """Desil, rank and share below of a frame sorted by (``by``,) welfare, in place."""
    import pandas as pd

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


def _pandas_arrays(res: Any, df: Any) -> dict[str, np.ndarray]:
    return _align(res["hh_id"].to_numpy(), df["hh_id"].to_numpy(),
                  {k: res[k].to_numpy() for k in OUTPUTS})


def _pandas_versions() -> dict[str, str]:
    import pandas as pd

    return {"pandas": pd.__version__, "numpy": np.__version__}


# --------------------------------------------------------------------------- polars

def _polars_load(path: Path) -> Any:
    import polars as pl

    return pl.read_parquet(path)


def _polars_small(df: Any, n: int) -> Any:
    return df.head(n)


def _polars_cells(frame: Any) -> np.ndarray:
    """The (district, urban) cells present, as ``district * 2 + urban`` (a DataFrame or a
    LazyFrame, e.g. ``pl.scan_parquet``)."""
    import polars as pl

    key = pl.col("district_code").cast(pl.Int32) * 2 + pl.col("urban").cast(pl.Int32)
    out = frame.select(key.unique().alias("cell"))
    return (out.collect() if isinstance(out, pl.LazyFrame) else out)["cell"].to_numpy()


def _polars_plan(lf: Any, cells: np.ndarray, ws: Any, carry_model: bool = False) -> Any:
    """The job as a LazyFrame over ``lf``; ``cells`` from :func:`_polars_cells`.

    Columns: ``hh_id``, ``province``, ``p``, ``welfare``, (``_m``, the model row, if
    ``carry_model``), then desil, rank and share below per scope.
    """
    import polars as pl

    t = model_tables(ws)
    key = pl.col("district_code").cast(pl.Int32) * 2 + pl.col("urban").cast(pl.Int32)
    model, shift = resolve_cells(cells // 2, cells % 2, ws)
    cell_tab = pl.DataFrame({"cell": cells.astype(np.int32), "_m": model.astype(np.int64),
                             "_shift": shift})

    m = pl.col("_m")
    hsz = pl.col("hh_size").cast(pl.Float64)
    welfare = pl.lit(pl.Series(t.intercept)).gather(m)
    for lk in t.lookups:
        idx = m * lk.width + pl.col(lk.name).cast(pl.Int64) - lk.lo
        welfare = welfare + pl.lit(pl.Series(lk.coef)).gather(idx)
    for term in t.numeric:
        welfare = welfare + pl.lit(pl.Series(term.beta)).gather(m) * _pl_term(term, hsz)
    welfare = welfare - pl.col("_shift")

    return (
        lf
        .with_columns(key.alias("cell"))
        .join(cell_tab.lazy(), on="cell", how="left")
        .select("hh_id", (pl.col("district_code") // 100).cast(pl.Int16).alias("province"),
                hsz.alias("p"), welfare.alias("welfare"),
                *([m.cast(pl.Int32)] if carry_model else []))
        .sort("welfare")
        .with_columns(**_pl_scope(None, "national"))
        .sort("province", maintain_order=True)  # stable: welfare order kept within province
        .with_columns(**_pl_scope("province", "provincial"))
    )


def _polars_job(df: Any, ws: Any) -> Any:
    return _polars_plan(df.lazy(), _polars_cells(df), ws).collect()


def _pl_term(term: NumericTerm, hsz: Any) -> Any:
    import polars as pl

    def f(a: str) -> Any:
        return hsz if a == "hh_size" else pl.col(a).cast(pl.Float64)

    if term.op == "value":
        return f(term.args[0])
    if term.op == "log":
        return f(term.args[0]).log()
    if term.op == "per_capita":
        acc = f(term.args[0])
        for a in term.args[1:]:
            acc = acc + f(a)
        return acc / hsz
    return (f(term.args[0]) / hsz).log()


def _pl_scope(by: str | None, scope: str) -> dict[str, Any]:
    """Expressions for a frame sorted by (``by``,) welfare."""
    import polars as pl

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


def _polars_arrays(res: Any, df: Any) -> dict[str, np.ndarray]:
    return _align(res["hh_id"].to_numpy(), df["hh_id"].to_numpy(),
                  {k: res[k].to_numpy() for k in OUTPUTS})


def _polars_versions() -> dict[str, str]:
    import polars as pl

    return {"polars": pl.__version__}


def _polars_threads() -> str:
    import polars as pl

    return f"polars {pl.thread_pool_size()}"


# --------------------------------------------------------------------------- duckdb

@dataclass
class _Duck:
    con: Any
    table: str
    ids: np.ndarray  # input order, for the agreement check only


def _duckdb_load(path: Path) -> _Duck:
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE hh AS SELECT * FROM read_parquet('{path}')")
    ids = con.sql("SELECT hh_id FROM hh ORDER BY rowid").fetchnumpy()["hh_id"]
    return _Duck(con, "hh", ids)


def _duckdb_small(d: _Duck, n: int) -> _Duck:
    d.con.execute(f"CREATE OR REPLACE TABLE hh_small AS SELECT * FROM hh ORDER BY rowid LIMIT {n}")
    return _Duck(d.con, "hh_small", d.ids[:n])


def _duckdb_job(d: _Duck, ws: Any) -> str:
    """Materialises the ranked table ``ranked`` inside DuckDB; returns its name."""
    d.con.execute("CREATE OR REPLACE TEMP TABLE ranked AS " + _duckdb_sql(d.con, d.table, ws))
    _duckdb_unregister(d.con)
    return "ranked"


def _duckdb_sql(con: Any, source: str, ws: Any, carry_model: bool = False) -> str:
    """The job as one SELECT over ``source`` (a table name, or ``read_parquet('...')``).

    Registers the small tables ``cell_tab`` and ``coef_tab`` on ``con``; run the query,
    then :func:`_duckdb_unregister`. Columns: ``hh_id``, ``welfare``, (``m``, the model
    row, and ``province`` if ``carry_model``), then desil, rank and share below per scope.
    """
    import pyarrow as pa

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

    welfare = " + ".join(terms) + " - k.shift"
    n = N_CLASSES
    extra = "m, province, p, " if carry_model else ""

    def desil(scope: str) -> str:
        return "(1 + " + " + ".join(f"(({n} * s_{scope}) >= ({k} * t_{scope}))::TINYINT"
                                    for k in range(1, n)) + ")::TINYINT"

    return f"""
        WITH scored AS (
            SELECT h.hh_id, h.district_code // 100 AS province, h.hh_size::DOUBLE AS p,
                   {welfare} AS welfare{", k.m" if carry_model else ""}
            FROM {source} h
            JOIN cell_tab k ON h.district_code = k.district_code AND h.urban = k.urban
            JOIN coef_tab c ON c.m = k.m
        ), windowed AS (
            SELECT hh_id, welfare, {extra}
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
        SELECT hh_id, welfare, {extra}
               {desil("national")} AS desil_national, rank_national,
               s_national / t_national AS share_below_national,
               {desil("provincial")} AS desil_provincial, rank_provincial,
               s_provincial / t_provincial AS share_below_provincial
        FROM windowed
    """


def _duckdb_unregister(con: Any) -> None:
    con.unregister("cell_tab")
    con.unregister("coef_tab")


def _sql_term(term: NumericTerm) -> str:
    def f(a: str) -> str:
        return f"h.{a}::DOUBLE"

    if term.op == "value":
        return f(term.args[0])
    if term.op == "log":
        return f"ln({f(term.args[0])})"
    if term.op == "per_capita":
        return "((" + " + ".join(f(a) for a in term.args) + ") / h.hh_size::DOUBLE)"
    return f"ln({f(term.args[0])} / h.hh_size::DOUBLE)"


def _duckdb_release(table: str, d: _Duck) -> None:
    d.con.execute(f"DROP TABLE IF EXISTS {table}")


def _duckdb_arrays(table: str, d: _Duck) -> dict[str, np.ndarray]:
    res = d.con.sql(f"SELECT hh_id, {', '.join(OUTPUTS)} FROM {table}").fetchnumpy()
    return _align(res["hh_id"], d.ids, {k: res[k] for k in OUTPUTS})


def _duckdb_versions() -> dict[str, str]:
    import duckdb

    return {"duckdb": duckdb.__version__}


def _duckdb_threads() -> str:
    import duckdb

    threads = duckdb.sql("SELECT current_setting('threads')").fetchall()[0][0]
    return f"duckdb {threads}"


def _single() -> str:
    return "1 (numpy)"


PEERS: dict[str, Peer] = {
    "pmt": Peer(
        "pmt", "`pmt.rank(households, ws)` on the pandas DataFrame: validates and encodes "
        "every column, numba kernels score, one argsort, counting sort by province, one "
        "pass per scope; arrays in input order.",
        _pandas_load, _pmt_job, _pmt_arrays, _pmt_versions, _numba_threads, _pandas_small),
    "pandas": Peer(
        "pandas", "cell -> model row and log line via `Index.get_indexer`; coefficients "
        "gathered with numpy `take` into a Series and summed in pmt's order; "
        "`sort_values('welfare')`, `cumsum`, tie runs via `ne(shift())` + `where().ffill()`; "
        "then a stable `sort_values('province')` and `groupby('province').cumsum()` the same "
        "way; result: a DataFrame in (province, welfare) order.",
        _pandas_load, _pandas_job, _pandas_arrays, _pandas_versions, _single, _pandas_small),
    "polars": Peer(
        "polars", "lazy query on `pl.read_parquet`: join on a cell table, coefficients via "
        "`pl.lit(Series).gather(index)`, summed in pmt's order; `sort('welfare')`, "
        "`cum_sum()`, tie runs via `when(start).then(..).forward_fill()`; then a stable "
        "`sort('province')` and `cum_sum().over('province')`; result: a DataFrame.",
        _polars_load, _polars_job, _polars_arrays, _polars_versions, _polars_threads,
        _polars_small),
    "duckdb": Peer(
        "duckdb", "`CREATE TEMP TABLE ranked AS ...` over an in-memory DuckDB table: joins "
        "to a cell table and a wide per-model coefficient table, each lookup term a "
        "`CASE code WHEN .. THEN column`, welfare one SQL sum in pmt's order; `rank()` and "
        "`sum(p) OVER (... RANGE ... EXCLUDE GROUP)` windows per scope; result: a DuckDB "
        "table (fetched only for the check, untimed).",
        _duckdb_load, _duckdb_job, _duckdb_arrays, _duckdb_versions, _duckdb_threads,
        _duckdb_small, _duckdb_release),
    "numpy": Peer(
        "numpy", "plain numpy on the DataFrame's column arrays: `bincount` cell table, "
        "fancy-index gathers summed in pmt's order, `argsort`, `cumsum`, tie runs by "
        "`flatnonzero` of changes, stable `argsort` by province; arrays scattered back to "
        "input order.",
        _pandas_load, _numpy_job, _numpy_arrays, _pandas_versions, _single, _pandas_small),
}
