"""The compute-only ranking job, written once per tool (see ``bench_compute.py``).

Every peer starts from the same *encoded* arrays in memory (what
``pmt.encode.encode`` produces: no validation, no parsing left to do) and the
weight set's coefficient tables, and computes

1. welfare, ``welfare_i = intercept[m] + sum_v table[m, offsets[v] + codes[i, v]]
   + sum_j beta[m, j] * numeric[i, j] - shift[c]`` with ``c = cell[i]``,
   ``m = cell_model[c]``, ``shift = cell_shift[c]``, summed in exactly that
   order (as ``pmt._kernels.score`` does), so that welfare is bit-identical to
   pmt's;
2. national and provincial (province = ``cell_district[c] // 100``)
   person-weighted rank, share below and desil by DESIGN.md's rule:
   ``rank = 1 + #strictly poorer``, ``S`` = weight of the strictly poorer
   households of the scope, ``T`` = the scope's total, ``share_below = S / T``,
   ``desil = 1 + #{k in 1..9 : 10*S >= k*T}``; ties share rank, S and desil.

A peer is a :class:`Peer`: ``load`` turns the :class:`Inputs` into the tool's
in-memory form without copying the big arrays where the tool allows it (not
timed), ``job`` is the timed work, ``arrays`` converts its result to numpy
arrays in input order for the agreement check (not timed). The ranking halves
(tie runs, desil expressions) are ``rank_peers.py``'s, reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numba import njit, prange
from rank_peers import N_CLASSES, OUTPUTS, _np_scopes, _pd_scope, _pl_scope

__all__ = ["OUTPUTS", "PEERS", "Coefs", "Inputs", "Peer", "coefficient_tables"]


# --------------------------------------------------------------------------- shared inputs

@dataclass(frozen=True, eq=False)
class Inputs:
    """The encoded registry: per-household arrays and the per-cell table.

    codes (n, V) uint8 Fortran order, numeric (n, C) float64 Fortran order,
    cell (n,) int32, person_weight (n,) float64; per cell (K,): district,
    urban, model row, shift (log poverty line), group (index into
    ``provinces``, the 2-digit province codes present, ascending).
    """

    codes: np.ndarray
    numeric: np.ndarray
    cell: np.ndarray
    person_weight: np.ndarray
    cell_district: np.ndarray
    cell_urban: np.ndarray
    cell_model: np.ndarray
    cell_shift: np.ndarray
    cell_group: np.ndarray
    provinces: np.ndarray
    lookup_names: tuple[str, ...]
    numeric_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.cell.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the per-household arrays (what a pass over the inputs reads)."""
        return sum(int(a.nbytes) for a in (self.codes, self.numeric, self.cell,
                                            self.person_weight))

    def head(self, n: int) -> Inputs:
        """The first ``n`` households, with the same memory layouts (for the warm-up)."""
        return replace(self, codes=np.asfortranarray(self.codes[:n]),
                       numeric=np.asfortranarray(self.numeric[:n]),
                       cell=self.cell[:n].copy(), person_weight=self.person_weight[:n].copy())

    def columns(self) -> dict[str, np.ndarray]:
        """One 1-D array per column, each a view (columns of Fortran arrays are contiguous)."""
        cols = {name: self.codes[:, v] for v, name in enumerate(self.lookup_names)}
        cols.update({name: self.numeric[:, j] for j, name in enumerate(self.numeric_names)})
        cols["cell"] = self.cell
        cols["p"] = self.person_weight
        return cols


@dataclass(frozen=True, eq=False)
class Coefs:
    """The weight set's coefficients as pmt's score kernel takes them.

    intercept (M,), table (M, L) lookup coefficients (variable ``v``'s code
    index ``k`` is column ``offsets[v] + k``), beta (M, C) numeric coefficients.
    """

    intercept: np.ndarray
    table: np.ndarray
    beta: np.ndarray
    offsets: np.ndarray


def coefficient_tables(ws: Any) -> Coefs:
    """As ``pmt.rank._welfare`` slices ``ws.coefficients`` (public attributes only)."""
    spec = ws.spec
    coef = np.asarray(ws.coefficients, dtype=np.float64)
    n_lookup = len(spec.lookup_terms)
    sizes = [len(v.code_values) for v in spec.lookup_variables]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else \
        np.zeros(0, dtype=np.int64)
    return Coefs(np.ascontiguousarray(coef[:, 0]),
                 np.ascontiguousarray(coef[:, 1:1 + n_lookup]),
                 np.ascontiguousarray(coef[:, 1 + n_lookup:]), offsets)


def cell_province(inp: Inputs) -> np.ndarray:
    """2-digit province code of each cell (K,)."""
    return (inp.cell_district // 100).astype(np.int16)


def _scatter_back(pos: np.ndarray, cols: dict[str, np.ndarray], n: int
                  ) -> dict[str, np.ndarray]:
    """``out[pos[t]] = col[t]``: rows labelled with their input position back to input order."""
    pos = np.asarray(pos)
    if pos.shape[0] != n or np.bincount(pos, minlength=n).max(initial=0) > 1:
        raise ValueError("the result does not hold every input row exactly once")
    out = {}
    for k, v in cols.items():
        v = np.asarray(v)
        o = np.empty(n, dtype=v.dtype)
        o[pos] = v
        out[k] = o
    return out


# --------------------------------------------------------------------------- the peer record

@dataclass(frozen=True)
class Peer:
    """One tool's implementation of the compute-only job."""

    name: str
    what: str  # one line for the README and the results file
    load: Callable[[Inputs], Any]
    job: Callable[[Any, Coefs, Any], Any]  # (loaded data, coefficient tables, WeightSet)
    arrays: Callable[[Any, Any], dict[str, np.ndarray]]  # (result, loaded data) -> input order
    versions: Callable[[], dict[str, str]]  # also imports the tool (before RSS is sampled)
    threads: Callable[[], str]
    release: Callable[[Any, Any], None] = lambda result, data: None  # free a result
    output_bytes: Callable[[Any, Any], int] | None = None  # new memory held by a result


# --------------------------------------------------------------------------- pmt

@dataclass(frozen=True, eq=False)
class _PmtData:
    enc: Any
    inp: Inputs


def empty_rejects() -> Any:
    """The rejects table of an encoding without rejects and without an id column (as
    ``pmt.encode._Problems.frame(None, None)`` builds it)."""
    import pandas as pd

    return pd.DataFrame({"row": pd.Series([], dtype="int64"),
                         "column": pd.Series([], dtype=object),
                         "rule": pd.Series([], dtype=object),
                         "value": pd.Series([], dtype=object)})


def _pmt_load(inp: Inputs) -> _PmtData:
    import pandas as pd

    from pmt.encode import Encoded

    n = inp.n
    enc = Encoded(n_input=n, rows=np.arange(n, dtype=np.int64), codes=inp.codes,
                  numeric=inp.numeric, cell=inp.cell, cell_district=inp.cell_district,
                  cell_urban=inp.cell_urban, cell_model=inp.cell_model,
                  cell_shift=inp.cell_shift, cell_group=inp.cell_group,
                  provinces=inp.provinces, person_weight=inp.person_weight, ids=None,
                  index=pd.RangeIndex(n), rejects=empty_rejects())
    return _PmtData(enc, inp)


def _pmt_job(d: _PmtData, coefs: Coefs, ws: Any) -> Any:
    from pmt.rank import rank_encoded

    return rank_encoded(d.enc, ws)


def _pmt_arrays(res: Any, d: _PmtData) -> dict[str, np.ndarray]:
    return {k: getattr(res, k) for k in OUTPUTS}


def _pmt_output_bytes(res: Any, d: _PmtData) -> int:
    """Bytes of the result's arrays that are not the inputs' (person_weight, rows are)."""
    inputs = [getattr(d.enc, f) for f in ("rows", "codes", "numeric", "cell", "person_weight")]
    total = 0
    for name in res.__dataclass_fields__:
        a = getattr(res, name)
        if isinstance(a, np.ndarray) and a.ndim == 1 and a.shape[0] == res.n and \
                not any(np.shares_memory(a, b) for b in inputs):
            total += int(a.nbytes)
    return total


def _pmt_versions() -> dict[str, str]:
    import numba

    import pmt

    return {"pmt": pmt.__version__, "numba": numba.__version__, "numpy": np.__version__}


def _numba_threads() -> str:
    import numba

    return f"numba {numba.get_num_threads()}"


# --------------------------------------------------------------------------- numba, straightforward

@njit(parallel=True, cache=True)
def _nb_welfare(codes, offsets, table, numeric, beta, intercept, cell, cell_model,
                cell_shift):  # type: ignore[no-untyped-def]
    n = cell.shape[0]
    out = np.empty(n)
    for i in prange(n):
        c = cell[i]
        m = cell_model[c]
        acc = intercept[m]
        for v in range(offsets.shape[0]):
            acc += table[m, offsets[v] + codes[i, v]]
        for j in range(beta.shape[1]):
            acc += beta[m, j] * numeric[i, j]
        out[i] = acc - cell_shift[c]
    return out


@njit(cache=True)
def _nb_pass(order, welfare, weight, cell, cell_gidx, n_groups, rank_n, below_n, rank_p,
             below_p):  # type: ignore[no-untyped-def]
    """One walk over the households in welfare order: national and per-province running
    count and weight; a household equal to the previous one of its scope gets that one's
    rank and strictly-poorer weight. Returns the totals (national, per province)."""
    n_seen = np.zeros(n_groups, dtype=np.int64)
    cum = np.zeros(n_groups)
    last_w = np.zeros(n_groups)
    last_r = np.zeros(n_groups, dtype=np.int32)
    last_s = np.zeros(n_groups)
    cum_n = 0.0
    run_r = np.int32(0)
    run_s = 0.0
    prev = 0.0
    for t in range(order.shape[0]):
        i = order[t]
        w = welfare[i]
        p = weight[i]
        if t == 0 or w != prev:
            run_r = np.int32(t + 1)
            run_s = cum_n
            prev = w
        rank_n[i] = run_r
        below_n[i] = run_s
        cum_n += p
        g = cell_gidx[cell[i]]
        if n_seen[g] == 0 or w != last_w[g]:
            last_r[g] = n_seen[g] + 1
            last_s[g] = cum[g]
            last_w[g] = w
        rank_p[i] = last_r[g]
        below_p[i] = last_s[g]
        n_seen[g] += 1
        cum[g] += p
    return cum_n, cum


@njit(parallel=True, cache=True)
def _nb_finish(below, total, cell, cell_gidx, n_classes, desil):  # type: ignore[no-untyped-def]
    """desil from S and T; S replaced by S / T in place. ``total`` is per group
    (one entry and an all-zero ``cell_gidx`` for the national scope)."""
    for i in prange(below.shape[0]):
        t = total[cell_gidx[cell[i]]]
        s = below[i]
        d = 1
        for k in range(1, n_classes):
            if n_classes * s >= k * t:
                d += 1
        desil[i] = d
        below[i] = s / t


def _numba_job(inp: Inputs, c: Coefs, ws: Any) -> dict[str, np.ndarray]:
    welfare = _nb_welfare(inp.codes, c.offsets, c.table, inp.numeric, c.beta, c.intercept,
                          inp.cell, inp.cell_model, inp.cell_shift)
    order = np.argsort(welfare)
    _, cell_gidx = np.unique(cell_province(inp), return_inverse=True)
    cell_gidx = cell_gidx.astype(np.int32)
    n_groups = int(cell_gidx.max()) + 1
    n = inp.n
    rank_n = np.empty(n, dtype=np.int32)
    rank_p = np.empty(n, dtype=np.int32)
    share_n = np.empty(n)
    share_p = np.empty(n)
    tot_n, tot_p = _nb_pass(order, welfare, inp.person_weight, inp.cell, cell_gidx, n_groups,
                            rank_n, share_n, rank_p, share_p)
    del order
    desil_n = np.empty(n, dtype=np.int8)
    desil_p = np.empty(n, dtype=np.int8)
    _nb_finish(share_n, np.array([tot_n]), inp.cell, np.zeros_like(cell_gidx), N_CLASSES,
               desil_n)
    _nb_finish(share_p, tot_p, inp.cell, cell_gidx, N_CLASSES, desil_p)
    return {"welfare": welfare, "desil_national": desil_n, "desil_provincial": desil_p,
            "rank_national": rank_n, "rank_provincial": rank_p,
            "share_below_national": share_n, "share_below_provincial": share_p}


def _dict_arrays(res: dict[str, np.ndarray], data: Any) -> dict[str, np.ndarray]:
    return {k: res[k] for k in OUTPUTS}


def _numba_versions() -> dict[str, str]:
    import numba

    return {"numba": numba.__version__, "numpy": np.__version__}


# --------------------------------------------------------------------------- numpy

NP_CHUNK = 1 << 16  # rows per scoring chunk: the chunk's temporaries stay in cache


def _np_welfare(inp: Inputs, c: Coefs) -> np.ndarray:
    """Welfare by chunks of rows: fancy-index gathers from the flat coefficient table."""
    n = inp.n
    width = c.table.shape[1]
    flat = c.table.ravel()
    beta_t = np.ascontiguousarray(c.beta.T)  # (C, M): one contiguous beta vector per term
    offsets = c.offsets.tolist()
    out = np.empty(n)
    for a in range(0, n, NP_CHUNK):
        b = min(a + NP_CHUNK, n)
        cell = inp.cell[a:b]
        m = inp.cell_model[cell].astype(np.intp)
        base = m * width
        w = c.intercept[m]
        for v, off in enumerate(offsets):
            w += flat[base + off + inp.codes[a:b, v]]  # intp + uint8: no overflow
        for j in range(beta_t.shape[0]):
            w += beta_t[j][m] * inp.numeric[a:b, j]
        w -= inp.cell_shift[cell]
        out[a:b] = w
    return out


def _numpy_job(inp: Inputs, c: Coefs, ws: Any) -> dict[str, np.ndarray]:
    w = _np_welfare(inp, c)
    p = inp.person_weight
    prov = cell_province(inp)[inp.cell]
    out: dict[str, np.ndarray] = {"welfare": w}
    order = np.argsort(w)
    _np_scopes(w, p, order, np.array([0, w.shape[0]]), out, "national")
    order = order[np.argsort(prov[order], kind="stable")]  # by province, welfare within
    counts = np.bincount(prov)
    bounds = np.concatenate([[0], np.cumsum(counts[counts > 0])])
    _np_scopes(w, p, order, bounds, out, "provincial")
    return out


def _single() -> str:
    return "1 (numpy)"


# --------------------------------------------------------------------------- pandas

def _pandas_load(inp: Inputs) -> tuple[Any, Inputs]:
    """A DataFrame whose columns are views of the input arrays (index = input position)."""
    import pandas as pd

    return pd.DataFrame(inp.columns(), copy=False), inp


def _pandas_job(data: tuple[Any, Inputs], c: Coefs, ws: Any) -> Any:
    import pandas as pd

    df, inp = data
    width = c.table.shape[1]
    flat = c.table.ravel()
    cell = df["cell"].to_numpy()
    m = inp.cell_model.take(cell).astype(np.intp)
    base = m * width
    welfare = pd.Series(c.intercept.take(m), index=df.index)
    for name, off in zip(inp.lookup_names, c.offsets.tolist(), strict=True):
        welfare += flat.take(base + off + df[name].to_numpy())
    for j, name in enumerate(inp.numeric_names):
        welfare += c.beta[:, j].take(m) * df[name]
    welfare -= inp.cell_shift.take(cell)

    out = pd.DataFrame({"province": cell_province(inp).take(cell), "p": df["p"],
                        "welfare": welfare})
    out = out.sort_values("welfare")
    _pd_scope(out, None, "national")
    out = out.sort_values("province", kind="stable")  # welfare order kept within province
    _pd_scope(out, "province", "provincial")
    return out


def _pandas_arrays(res: Any, data: tuple[Any, Inputs]) -> dict[str, np.ndarray]:
    return _scatter_back(res.index.to_numpy(), {k: res[k].to_numpy() for k in OUTPUTS},
                         data[1].n)


def _pandas_versions() -> dict[str, str]:
    import pandas as pd

    return {"pandas": pd.__version__, "numpy": np.__version__}


# --------------------------------------------------------------------------- polars

def _polars_load(inp: Inputs) -> tuple[Any, Inputs]:
    """A DataFrame over the input arrays (polars takes contiguous numpy columns without
    copying) plus a row-position column."""
    import polars as pl

    return pl.DataFrame(inp.columns()).with_row_index("row"), inp


def _polars_job(data: tuple[Any, Inputs], c: Coefs, ws: Any) -> Any:
    import polars as pl

    df, inp = data
    width = c.table.shape[1]
    flat = pl.lit(pl.Series(c.table.ravel()))
    m, cell = pl.col("_m"), pl.col("cell")
    welfare = pl.lit(pl.Series(c.intercept)).gather(m)
    for name, off in zip(inp.lookup_names, c.offsets.tolist(), strict=True):
        welfare = welfare + flat.gather(m * width + (pl.col(name).cast(pl.Int64) + off))
    for j, name in enumerate(inp.numeric_names):
        welfare = welfare + pl.lit(pl.Series(c.beta[:, j])).gather(m) * pl.col(name)
    welfare = welfare - pl.lit(pl.Series(inp.cell_shift)).gather(cell)

    return (
        df.lazy()
        .with_columns(pl.lit(pl.Series(inp.cell_model.astype(np.int64))).gather(cell)
                      .alias("_m"))
        .select("row", pl.lit(pl.Series(cell_province(inp))).gather(cell).alias("province"),
                "p", welfare.alias("welfare"))
        .sort("welfare")
        .with_columns(**_pl_scope(None, "national"))
        .sort("province", maintain_order=True)  # stable: welfare order kept within province
        .with_columns(**_pl_scope("province", "provincial"))
        .collect()
    )


def _polars_arrays(res: Any, data: tuple[Any, Inputs]) -> dict[str, np.ndarray]:
    return _scatter_back(res["row"].to_numpy(), {k: res[k].to_numpy() for k in OUTPUTS},
                         data[1].n)


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
    inp: Inputs


def _duckdb_load(inp: Inputs) -> _Duck:
    """The arrays as an Arrow table (zero-copy) registered as view ``hh``, plus a
    row-position column. DuckDB scans it in place, in parallel; copying it into a DuckDB
    table first took as long to rank at 1 M households and doubles the data in memory."""
    import duckdb
    import pyarrow as pa

    cols = inp.columns()
    cols["row"] = np.arange(inp.n, dtype=np.int64)
    con = duckdb.connect()
    con.register("hh", pa.table(cols))
    return _Duck(con, inp)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duckdb_job(d: _Duck, c: Coefs, ws: Any) -> str:
    """Materialises the ranked table ``ranked`` inside DuckDB; returns its name."""
    import pyarrow as pa

    con, inp = d.con, d.inp
    # one row per cell: its shift, province and its model's coefficients, one column each
    model = inp.cell_model
    cols: dict[str, Any] = {"cell": np.arange(model.shape[0], dtype=np.int32),
                            "shift": inp.cell_shift, "province": cell_province(inp),
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
    welfare = " + ".join(terms) + " - k.shift"
    n = N_CLASSES

    def desil(scope: str) -> str:
        return "(1 + " + " + ".join(f"(({n} * s_{scope}) >= ({k} * t_{scope}))::TINYINT"
                                    for k in range(1, n)) + ")::TINYINT"

    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ranked AS
        WITH scored AS (
            SELECT h.row, k.province, h.p, {welfare} AS welfare
            FROM hh h JOIN cell_tab k ON h.cell = k.cell
        ), windowed AS (
            SELECT row, welfare,
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
        SELECT row, welfare,
               {desil("national")} AS desil_national, rank_national,
               s_national / t_national AS share_below_national,
               {desil("provincial")} AS desil_provincial, rank_provincial,
               s_provincial / t_provincial AS share_below_provincial
        FROM windowed
    """)
    con.unregister("cell_tab")
    return "ranked"


def _duckdb_release(table: str, d: _Duck) -> None:
    d.con.execute(f"DROP TABLE IF EXISTS {table}")


def _duckdb_arrays(table: str, d: _Duck) -> dict[str, np.ndarray]:
    res = d.con.sql(f"SELECT row, {', '.join(OUTPUTS)} FROM {table}").fetchnumpy()
    return _scatter_back(res["row"], {k: res[k] for k in OUTPUTS}, d.inp.n)


def _duckdb_versions() -> dict[str, str]:
    import duckdb

    return {"duckdb": duckdb.__version__}


def _duckdb_threads() -> str:
    import duckdb

    threads = duckdb.sql("SELECT current_setting('threads')").fetchall()[0][0]
    return f"duckdb {threads}"


def _identity(inp: Inputs) -> Inputs:
    return inp


PEERS: dict[str, Peer] = {
    "pmt": Peer(
        "pmt", "`pmt.rank.rank_encoded(enc, ws)` on a `pmt.encode.Encoded` built from the "
        "arrays: numba score kernel, one argsort, counting sort by province, one pass per "
        "scope, outputs scattered back to input order; a `RankResult` (also model row, "
        "province and eligibility).",
        _pmt_load, _pmt_job, _pmt_arrays, _pmt_versions, _numba_threads,
        output_bytes=_pmt_output_bytes),
    "numba": Peer(
        "numba", "straightforward numba: an `@njit(parallel=True)` prange gather-dot for "
        "welfare, `np.argsort(welfare)`, one sequential `@njit` pass over the sorted order "
        "(national and per-province running count and weight, tie runs share rank and S), "
        "then a prange pass for desil and share; arrays in input order.",
        _identity, _numba_job, _dict_arrays, _numba_versions, _numba_threads),
    "numpy": Peer(
        "numpy", "welfare by chunks of 65,536 rows with fancy-index gathers from the flat "
        "coefficient table, summed in pmt's order; `argsort`, `cumsum`, tie runs by "
        "`flatnonzero` of changes, stable `argsort` by province; arrays in input order.",
        _identity, _numpy_job, _dict_arrays, _pandas_versions, _single),
    "pandas": Peer(
        "pandas", "a DataFrame whose columns are views of the arrays; coefficients gathered "
        "with `take` into a Series and summed in pmt's order; `sort_values('welfare')`, "
        "`cumsum`, tie runs via `ne(shift())` + `where().ffill()`; stable "
        "`sort_values('province')` and `groupby('province').cumsum()`; result: a DataFrame "
        "in (province, welfare) order, index = input position.",
        _pandas_load, _pandas_job, _pandas_arrays, _pandas_versions, _single),
    "polars": Peer(
        "polars", "a DataFrame over the arrays (zero-copy); one lazy query: model row and "
        "coefficients by `pl.lit(Series).gather(index)`, summed in pmt's order; "
        "`sort('welfare')`, `cum_sum()`, tie runs via `when(start).then(..).forward_fill()`; "
        "stable `sort('province')` and `cum_sum().over('province')`; result: a DataFrame.",
        _polars_load, _polars_job, _polars_arrays, _polars_versions, _polars_threads),
    "duckdb": Peer(
        "duckdb", "the arrays registered as an Arrow table (zero-copy); `CREATE TEMP "
        "TABLE ranked AS ...`: one join to a per-cell table of shift, province and the "
        "cell's model coefficients, each lookup term a `CASE code WHEN .. THEN column`, "
        "welfare one SQL sum in pmt's order; `rank()` and `sum(p) OVER (... RANGE ... "
        "EXCLUDE GROUP)` windows per scope; result: a DuckDB table.",
        _duckdb_load, _duckdb_job, _duckdb_arrays, _duckdb_versions, _duckdb_threads,
        _duckdb_release),
}

