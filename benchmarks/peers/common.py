"""What every peer starts from: the job's definition, shared so that no peer copies another.

The job, on one registry: score every household (``welfare = intercept +
sum of lookup coefficients + sum of beta * x - log(poverty line)``, summed in
pmt's order so that welfare agrees bit for bit), then rank it nationally and
within its province, person-weighted: ``rank = 1 + #strictly poorer``, ``S``
the weight of the strictly poorer households of the scope, ``T`` the scope's
total, ``share_below = S / T`` and ``desil = 1 + #{k in 1..9 : 10*S >= k*T}``
(ties share rank, ``S`` and desil).

The tables here are built from a loaded :class:`pmt.WeightSet`'s public
attributes only (its spec, coefficients, model keys and poverty lines);
nothing calls pmt's encoder or kernels.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

N_CLASSES = 10
MAX_DESIL = 4  # eligibility in the files job: desil_national <= 4, as pmt rank's default
#: The outputs every peer returns and the agreement check compares, in input order.
OUTPUTS = ("welfare", "desil_national", "desil_provincial", "rank_national",
           "rank_provincial", "share_below_national", "share_below_provincial")


# --------------------------------------------------------------------------- from a table

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
    """Per-model coefficients by variable, for peers that score raw columns."""

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


def numeric_term(term: NumericTerm, col: Callable[[str], Any], hh_size: Any, *,
                 log: Callable[[Any], Any], add: Callable[[Any, Any], Any] = operator.add,
                 div: Callable[[Any, Any], Any] = operator.truediv) -> Any:
    """The value of a numeric term in a tool's own operations.

    ``col(name)`` is a column as float64, ``hh_size`` the household size as
    float64, ``log``, ``add`` and ``div`` the tool's operations (arrays,
    expressions or SQL text). Sums are taken left to right, as pmt's encoder does.
    """
    first = col(term.args[0])
    if term.op == "value":
        return first
    if term.op == "log":
        return log(first)
    if term.op == "per_capita":
        acc = first
        for a in term.args[1:]:
            acc = add(acc, col(a))
        return div(acc, hh_size)
    return log(div(first, hh_size))  # log_per_capita


def fallback_keys(district: int, urban: int) -> tuple[str, ...]:
    """Region keys to try for a (district, urban) cell, most specific first."""
    u = "urban" if urban else "rural"
    d = f"{district:04d}"
    return (f"{d}-{u}", d, f"{d[:2]}-{u}", d[:2], "national")


def resolve_cells(district: Any, urban: Any, ws: Any) -> tuple[np.ndarray, np.ndarray]:
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


def model_levels(keys: list[str]) -> list[str]:
    """The level of each model key, from its form (PPDD / PP, optional -urban / -rural)."""
    out = []
    for k in keys:
        code, _, urb = k.partition("-")
        level = "national" if k == "national" else "district" if len(code) == 4 else "province"
        out.append(level + ("_urban" if urb else ""))  # a (district or province) x urban cell
    return out


def read_frame(path: Path) -> Any:
    """The registry as a pandas DataFrame (the form pmt.rank, pandas and numpy start from)."""
    import pandas as pd

    return pd.read_parquet(path)


def head_frame(df: Any, n: int) -> Any:
    """The first ``n`` rows of a DataFrame, as a copy (for the warm-up)."""
    return df.iloc[:n].copy()


def outputs(res: dict[str, np.ndarray], form: Any) -> dict[str, np.ndarray]:
    """The outputs of a result that is already a dict of arrays in input order."""
    return {k: res[k] for k in OUTPUTS}


def by_ids(ids_out: np.ndarray, ids_in: np.ndarray, cols: dict[str, np.ndarray]
           ) -> dict[str, np.ndarray]:
    """Reorder ``cols`` (rows labelled ``ids_out``) to the input order ``ids_in``."""
    import pandas as pd

    pos = pd.Index(ids_out).get_indexer(ids_in)
    if (pos < 0).any():
        raise ValueError(f"{int((pos < 0).sum())} input households are missing from the output")
    return {k: np.asarray(v)[pos] for k, v in cols.items()}


def table_by_ids(res: Any, df: Any) -> dict[str, np.ndarray]:
    """The outputs of a result table carrying ``hh_id`` (pandas or polars) in the input
    order of the table ``df``."""
    return by_ids(res["hh_id"].to_numpy(), df["hh_id"].to_numpy(),
                  {k: res[k].to_numpy() for k in OUTPUTS})


# --------------------------------------------------------------------------- from encoded arrays

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
    """``ws.coefficients`` cut into intercept, lookup table and numeric betas (spec order)."""
    spec = ws.spec
    coef = np.asarray(ws.coefficients, dtype=np.float64)
    n_lookup = len(spec.lookup_terms)
    sizes = [len(v.code_values) for v in spec.lookup_variables]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else \
        np.zeros(0, dtype=np.int64)
    return Coefs(np.ascontiguousarray(coef[:, 0]),
                 np.ascontiguousarray(coef[:, 1:1 + n_lookup]),
                 np.ascontiguousarray(coef[:, 1 + n_lookup:]), offsets)


def by_position(pos: np.ndarray, cols: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
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


# --------------------------------------------------------------------------- desil

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
    if np.ndim(total) == 0:
        for k in range(1, n):
            out += nb >= k * total
        return out
    thr = np.empty_like(nb)
    for k in range(1, n):
        np.multiply(total, k, out=thr)
        out += nb >= thr
    return out


def desil_sql(below: str, total: str, n: int = N_CLASSES) -> str:
    """The same count as SQL (DuckDB), TINYINT."""
    return "(1 + " + " + ".join(f"(({n} * {below}) >= ({k} * {total}))::TINYINT"
                                for k in range(1, n)) + ")::TINYINT"
