"""Why a household has its welfare, and what would change it: :func:`explain`, :func:`what_if`.

Both go through the one scoring and ranking path: :func:`explain` reads each
term's contribution as the scoring kernel adds it (:func:`pmt.rank.score_terms`),
:func:`what_if` ranks the changed households with :func:`pmt.rank` against the
original ranking's cutoffs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..encode import encode
from ..errors import EvaluationError, InputError
from ..rank import RankResult, _weights, score_terms
from ..rank import rank as _rank
from ..weights import WeightSet

__all__ = ["explain", "what_if"]


def _positions(rows: Any, n: int) -> np.ndarray:
    """The 0-based row positions ``rows`` selects (positions or a boolean mask), checked."""
    r = np.asarray(rows)
    if r.dtype == bool:
        if r.shape != (n,):
            raise EvaluationError(
                f"rows as a mask must have shape ({n},), one value per row; got {r.shape}. "
                "Fix: pass a mask of the table's length, or row positions.",
                argument="rows",
            )
        r = np.flatnonzero(r)
    r = r.reshape(-1) if r.ndim == 0 else r
    if r.ndim != 1 or r.size == 0:
        raise EvaluationError(
            f"rows must select at least one row, as 0-based positions of shape (k,); got "
            f"{r.size} position(s) of shape {r.shape}. Fix: e.g. rows=[17], or rows=None "
            "for every row.",
            argument="rows",
        )
    if r.dtype.kind == "f":
        frac = np.flatnonzero(~np.isfinite(r) | (r != np.floor(r)))
        if frac.size:
            raise EvaluationError(
                f"rows must be whole row positions; got {r[frac[:5]].tolist()} at "
                f"{frac[:5].tolist()} of rows. Fix: pass 0-based integer positions.",
                argument="rows",
            )
        r = r.astype(np.int64)
    if r.dtype.kind not in "iu":
        raise TypeError(
            f"rows must be integer positions or a boolean mask; got dtype {r.dtype}. "
            "Fix: pass 0-based integer positions, e.g. rows=[17]."
        )
    bad = r[(r < 0) | (r >= n)]
    if bad.size:
        raise EvaluationError(
            f"rows holds positions outside 0..{n - 1}: {bad[:5].tolist()}. "
            "Fix: pass 0-based row positions (not ids or index labels).",
            argument="rows",
        )
    uniq, counts = np.unique(r, return_counts=True)
    if (counts > 1).any():
        raise EvaluationError(
            f"rows holds positions more than once: {uniq[counts > 1][:5].tolist()} (rule: "
            "each household once). Fix: pass each row position once.",
            argument="rows",
        )
    return r.astype(np.int64)


def _subset(households: Any, rows: Any) -> tuple[Any, np.ndarray | None]:
    """The rows of ``households`` to explain, in that order, and their positions (None: all)."""
    if rows is None:
        return households, None
    n = households.num_rows if hasattr(households, "num_rows") else len(households)
    r = _positions(rows, n)
    if isinstance(households, pd.DataFrame):
        return households.iloc[r], r
    if hasattr(households, "take"):
        return households.take(r), r
    raise TypeError(
        f"households must be a pandas DataFrame or a pyarrow Table; got "
        f"{type(households).__name__}."
    )


@contextmanager
def _caller_rows(positions: np.ndarray | None) -> Iterator[None]:
    """Report the caller's row positions in an input error raised on the selected rows.

    The selected rows are validated as a table of their own, so its errors name
    positions within the selection; ``positions`` maps them back to the table's.
    """
    try:
        yield
    except InputError as exc:
        if positions is None or not exc.rows:
            raise
        local = [int(r) for r in exc.rows]
        mapped = [int(positions[r]) for r in local]
        text = str(exc)
        head = re.search(rf"\brows? {local[0]}\b", text)
        if head is not None:
            at = head.start()
            for i, (old, new) in enumerate(zip(local, mapped, strict=True)):
                hit = re.compile(rf"(rows? |, ){old}\b").search(text, at)
                if hit is None or (i == 0 and hit.start() != at):
                    break
                text = f"{text[: hit.end(1)]}{new}{text[hit.end() :]}"
                at = hit.end(1) + len(str(new))
        exc.args = (text + " (row positions in the whole table; rows= selected them)",)
        exc.rows = tuple(mapped)
        raise


def explain(
    households: Any,
    weights: WeightSet | str,
    *,
    rows: Any = None,
    id_col: str | None = "hh_id",
    format: Literal["wide", "long"] = "wide",
) -> pd.DataFrame:
    """The contribution of each variable to each household's welfare.

    For the model that scored the household: the intercept; for a binary or
    categorical variable, the coefficient of the household's code; for a
    numeric term (count, continuous or derived feature such as
    ``log_floor_area_pc``), coefficient × value; and minus the log poverty line
    of its region. The scoring kernel itself writes each contribution as it
    adds it (:func:`pmt.rank.score_terms`), so the ``welfare`` column is
    :func:`pmt.score`'s bit for bit, and adding the term columns from left to
    right reproduces it exactly.

    Parameters
    ----------
    households : pandas.DataFrame or pyarrow.Table
        As for :func:`pmt.rank`; invalid rows raise.
    weights : WeightSet or str
    rows : array-like of int, or bool mask, optional
        Which input rows to explain (0-based positions); default all.
    id_col : str or None, default "hh_id"
    format : {"wide", "long"}
        ``wide``: one row per household — id, ``model_key``, one column per
        term, ``welfare``. ``long``: one row per household × term — id,
        ``model_key``, ``term``, ``value`` (the code, or the numeric value of
        the term), ``meaning`` (the code's label), ``contribution``.

    Returns
    -------
    pandas.DataFrame indexed like the explained input rows.
    """
    if format not in ("wide", "long"):
        raise EvaluationError(
            f"format must be 'wide' or 'long'; got {format!r}.", argument="format"
        )
    ws = _weights(weights)
    subset, positions = _subset(households, rows)
    with _caller_rows(positions):
        enc = encode(subset, ws, id_col=id_col)
    names, contributions, total = score_terms(enc, ws)
    cols = {name: contributions[:, j] for j, name in enumerate(names)}
    keys = pd.Categorical.from_codes(enc.cell_model[enc.cell], categories=list(ws.model_keys))
    head: dict[str, Any] = {}
    if id_col is not None:
        head[id_col] = enc.ids
    head["model_key"] = keys
    if format == "wide":
        frame = pd.DataFrame({**head, **cols, "welfare": total}, index=enc.index)
        frame.attrs["weights"] = f"{ws.id} {ws.content_hash}"
        return frame
    spec = ws.spec
    n = enc.n
    terms = list(cols)
    values: list[np.ndarray] = [np.ones(n)]
    meanings: list[np.ndarray] = [np.full(n, "", dtype=object)]
    for j, var in enumerate(spec.lookup_variables):
        code_vals = np.array(var.code_values)
        labels = np.array(
            [
                ("yes" if c else "no") if var.kind == "binary" else (var.codes or {}).get(c, "")
                for c in var.code_values
            ],
            dtype=object,
        )
        values.append(code_vals[enc.codes[:, j]].astype(np.float64))
        meanings.append(labels[enc.codes[:, j]])
    for j in range(len(spec.numeric_terms)):
        values.append(enc.numeric[:, j])
        meanings.append(np.full(n, "", dtype=object))
    values.append(np.exp(enc.cell_shift[enc.cell]))
    meanings.append(np.full(n, "poverty line (Rp per person per month)", dtype=object))
    k = len(terms)
    data: dict[str, Any] = {}
    if id_col is not None:
        data[id_col] = np.repeat(np.asarray(enc.ids), k)
    data["model_key"] = np.repeat(np.asarray(keys), k)
    data["term"] = pd.Categorical(np.tile(np.array(terms, dtype=object), n), categories=terms)
    data["value"] = np.column_stack(values).reshape(-1)
    data["meaning"] = np.column_stack(meanings).reshape(-1)
    data["contribution"] = contributions.reshape(-1)  # (n, k), one household after another
    frame = pd.DataFrame(data, index=enc.index.repeat(k))
    frame.attrs["weights"] = f"{ws.id} {ws.content_hash}"
    return frame


def _what_if_cutoffs(
    ws: WeightSet, result: RankResult | None, cutoffs: Any
) -> tuple[dict[str, Any], int, str]:
    """(cutoffs per scope, number of classes, where they come from) for :func:`what_if`.

    The cutoffs are checked by :func:`pmt.rank` itself (one check of a cutoff
    mapping), not here.
    """
    if cutoffs is not None:
        if not isinstance(cutoffs, Mapping):
            raise EvaluationError(
                f"cutoffs must map 'national' (and 2-digit province codes) "
                f"to arrays c_1..c_{{n-1}}, like RankResult.registry_cutoffs; "
                f"got {type(cutoffs).__name__}.",
                argument="cutoffs",
            )
        table = {str(k): v for k, v in cutoffs.items()}
        try:
            n = int(np.asarray(table["national"], dtype=np.float64).size) + 1
        except (KeyError, TypeError, ValueError):
            n = 10  # pmt.rank names what is wrong with the mapping
        return table, (n if 2 <= n <= 100 else 10), "given cutoffs"
    if result is not None:
        if result.weights_hash != ws.content_hash:
            raise EvaluationError(
                f"result was ranked with weights {result.weights_id} ({result.weights_hash[:19]}"
                f"…) but weights is {ws.id} ({ws.content_hash[:19]}…); its cutoffs belong to "
                "the other weight set. Fix: pass the weight set the result was ranked with.",
                argument="result",
            )
        if result.cutoff_mode == "reference":
            return dict(ws.cutoffs), result.n_classes, f"reference cutoffs of {ws.id}"
        if result.cutoff_mode == "registry":
            return dict(result.registry_cutoffs), result.n_classes, "the result's registry cutoffs"
        raise EvaluationError(
            f"result was ranked with cutoffs={result.cutoff_mode!r} (cutoffs given by the "
            "caller), which a RankResult does not keep. Fix: pass the same mapping as "
            "cutoffs=.",
            argument="result",
        )
    if ws.cutoffs:
        return dict(ws.cutoffs), int(ws.cutoff_classes or 10), f"reference cutoffs of {ws.id}"
    raise EvaluationError(
        "what_if needs cutoffs to place the new welfare: pass result= "
        "(the RankResult of the original ranking) or cutoffs=, or use a "
        "weight set with reference cutoffs.",
        argument="result",
    )


def what_if(
    households: Any,
    weights: WeightSet | str,
    changes: Mapping[str, Any],
    *,
    result: RankResult | None = None,
    cutoffs: Mapping[str, Any] | None = None,
    rows: Any = None,
    max_desil: int | None = None,
    line: float | None = None,
    id_col: str | None = "hh_id",
) -> pd.DataFrame:
    """Welfare and desil the households would have with changed characteristics.

    The households, before and after the change, are ranked by :func:`pmt.rank`
    against the *original* ranking's cutoffs (``cutoffs=`` a mapping: ``desil =
    1 + #{k : welfare > c_k}``, national and provincial) instead of re-ranking
    everyone: an appeal about one household must not move the others. The
    "after" columns are exactly ``pmt.rank(changed, weights, cutoffs=<those
    cutoffs>)``; with no change the original desil are reproduced exactly
    (``docs/desil.md``: registry cutoffs applied to the data they came from
    give the registry desil).

    Parameters
    ----------
    households : pandas.DataFrame or pyarrow.Table
    weights : WeightSet or str
    changes : mapping of column -> scalar or array of shape (n_rows,)
        New values, e.g. ``{"floor_material": 9, "has_motorcycle": 0}``.
        Columns must exist in ``households``; values are validated like any
        input (an invalid code raises the usual typed error).
    result : RankResult, optional
        The original ranking: its registry cutoffs (or, in reference mode,
        the weight set's), its number of classes and its eligibility rule
        (``result.max_desil`` / ``result.line``) are used. A result ranked with
        cutoffs given as a mapping does not keep them: pass them as ``cutoffs``.
    cutoffs : mapping, optional
        ``{"national": c, "PP": c, ...}`` instead of ``result``, as
        :func:`pmt.rank` takes them (``n - 1`` cutoffs each).
    rows : array-like of int or bool mask, optional
        Which input rows (0-based positions); default all.
    max_desil, line : optional
        Eligibility rule (``desil_national <= max_desil`` or ``welfare <=
        line``; not both); default the result's rule, else ``max_desil=4``.
    id_col : str or None, default "hh_id"

    Returns
    -------
    pandas.DataFrame indexed like the rows: id, ``model_key_before`` /
    ``_after``, ``welfare_before`` / ``_after``, ``welfare_change``,
    ``desil_national_before`` / ``_after``, ``desil_provincial_before`` /
    ``_after`` (nullable: NA for a province the cutoffs do not cover),
    ``eligible_before`` / ``_after``. ``attrs`` says which cutoffs were used.

    Raises
    ------
    pmt.errors.ArgumentError
        Malformed cutoffs, or both ``max_desil`` and ``line`` (the checks of :func:`pmt.rank`).
    """
    ws = _weights(weights)
    if not isinstance(changes, Mapping):
        raise TypeError(
            f"changes must be a mapping of column -> value; got "
            f"{type(changes).__name__}. Fix: e.g. {{'floor_material': 9}}."
        )
    base, positions = _subset(households, rows)
    if not isinstance(base, pd.DataFrame):
        base = base.to_pandas()
    n = len(base)
    changed = base.copy()
    for col, value in changes.items():
        if col not in base.columns:
            raise EvaluationError(
                f"changes: column {col!r} is not in households (rule: a "
                "change replaces an existing column). Fix: use the spec's "
                f"names, e.g. {list(base.columns[:6])}.",
                argument="changes",
            )
        if id_col is not None and col == id_col:
            raise EvaluationError(
                f"changes: the id column {col!r} cannot be changed.", argument="changes"
            )
        if np.ndim(value) == 0:
            changed[col] = value
        else:
            arr = np.asarray(value)
            if arr.shape != (n,):
                raise EvaluationError(
                    f"changes[{col!r}] has shape {arr.shape}; it must be a "
                    f"scalar or ({n},), one value per household.",
                    argument="changes",
                )
            changed[col] = arr
    table, n_classes, source = _what_if_cutoffs(ws, result, cutoffs)
    if line is None and max_desil is None and result is not None:
        max_desil, line = result.max_desil, result.line
    # pmt.rank needs cutoffs for every province it ranks. A province the table does not
    # cover is ranked against the national row (any valid row would do: provincial desil
    # never affect national desil or eligibility) and its provincial desil reported as NA.
    covered = {k for k in table if k != "national"}
    full = (
        {**table, **{f"{p:02d}": table["national"] for p in range(100) if f"{p:02d}" not in table}}
        if "national" in table
        else table
    )
    with _caller_rows(positions):
        ranked = {
            tag: _rank(
                frame, ws, cutoffs=full, n=n_classes, max_desil=max_desil, line=line, id_col=id_col
            )
            for tag, frame in (("before", base), ("after", changed))
        }
    out: dict[str, Any] = {}
    if id_col is not None:
        out[id_col] = ranked["before"].ids
    for tag, res in ranked.items():
        out[f"model_key_{tag}"] = pd.Categorical.from_codes(
            res.model, categories=list(res.model_keys)
        )
    wa, wb = ranked["before"].welfare, ranked["after"].welfare
    out.update(welfare_before=wa, welfare_after=wb, welfare_change=wb - wa)
    for tag, res in ranked.items():
        out[f"desil_national_{tag}"] = res.desil_national.astype(np.int16)
    for tag, res in ranked.items():
        d = pd.array(res.desil_provincial.astype(np.int16), dtype="Int16")
        d[~np.isin(res.province, [int(k) for k in covered])] = pd.NA
        out[f"desil_provincial_{tag}"] = d
    for tag, res in ranked.items():
        out[f"eligible_{tag}"] = res.eligible
    frame = pd.DataFrame(out, index=ranked["before"].index)
    frame.attrs.update(
        cutoffs=source,
        eligibility=ranked["after"].eligibility,
        changes=", ".join(sorted(map(str, changes))) or "none",
        weights=f"{ws.id} {ws.content_hash}",
    )
    return frame
