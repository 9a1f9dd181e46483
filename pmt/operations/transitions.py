"""Who moved between two rankings, and why: :func:`transitions`.

Households are matched by id (as text). A household *moved* if its national
desil, provincial desil or eligibility differs between ``before`` and
``after``, or it is in only one of them (``added`` / ``removed``). With the
household tables behind both rankings, each mover's welfare change is split
into the contributions of the scoring terms, from the one scorer
(:func:`pmt.rank.score_terms`): ``contribution = term_after - term_before``
for the intercept, each lookup variable, each numeric term and the log
poverty line. They sum to the welfare change up to floating-point rounding,
and only the terms of changed variables (or of a changed region: model and
poverty line) are non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..encode import encode
from ..errors import ArgumentError, DuplicateIdError, MissingColumnError, format_examples
from ..rank import _weights, score_terms
from ..results import RankResult, html_repr
from ..weights import WeightSet
from .errors import SnapshotMismatchError

__all__ = ["Transitions", "transitions"]


@dataclass(frozen=True, eq=False)
class Transitions:
    """The households that moved between two rankings.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per mover, indexed by id (text): ``status`` (``added``,
        ``removed``, ``moved``), ``desil_before``, ``desil_after`` (national; 0
        when absent), ``desil_provincial_before``, ``desil_provincial_after``,
        ``eligible_before``, ``eligible_after``, ``welfare_before``,
        ``welfare_after``, ``welfare_change``.
    contributions : pandas.DataFrame
        Long table ``id``, ``term``, ``contribution`` of the non-zero term
        changes of each mover in both rankings (empty without household tables).
    matrix : pandas.DataFrame
        Households by national desil before (rows; ``"new"`` for added) and
        after (columns; ``"removed"``), over every household of either ranking.
    """

    table: pd.DataFrame
    contributions: pd.DataFrame
    matrix: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Movers by status and direction (``up``: richer desil, ``down``, ``same``)."""
        t = self.table
        direction = np.where(
            t["desil_after"] > t["desil_before"],
            "up",
            np.where(t["desil_after"] < t["desil_before"], "down", "same"),
        )
        direction = np.where(t["status"] == "moved", direction, "-")
        return (
            t.assign(direction=direction)
            .groupby(["status", "direction"], observed=True)
            .size()
            .rename("households")
            .to_frame()
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per household that moved, was added or was removed (a copy of :attr:`table`)."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return html_repr(self)

    def __repr__(self) -> str:
        counts = self.table["status"].value_counts()
        parts = ", ".join(f"{counts.get(k, 0):,} {k}" for k in ("moved", "added", "removed"))
        elig = int((self.table["eligible_before"] != self.table["eligible_after"]).sum())
        return (
            f"<Transitions {len(self.table):,} households: {parts}; eligibility changed {elig:,}>"
        )


def _ids(res: RankResult, what: str) -> np.ndarray:
    """A ranking's ids as Python text (object array)."""
    if res.id_col is None or res.ids is None:
        raise ArgumentError(
            f"{what}: transitions match households by id; this ranking has none. Fix: rank "
            "with id_col='hh_id'.",
            argument=what,
        )
    text = pd.Series(res.ids).astype("string").str.strip()
    return text.to_numpy(dtype=object, na_value=None)


def transitions(
    before: RankResult,
    after: RankResult,
    *,
    weights: WeightSet | str | None = None,
    before_households: pd.DataFrame | None = None,
    after_households: pd.DataFrame | None = None,
    id_col: str = "hh_id",
) -> Transitions:
    """List the households whose desil or eligibility changed, with why.

    Parameters
    ----------
    before, after : RankResult
        Two rankings of (mostly) the same households, e.g. the adopted one and
        an update ranked against its snapshot.
    weights : WeightSet or str, optional
        The weight set both were scored with; with the two household tables,
        each mover's welfare change is split into term contributions.
    before_households, after_households : pandas.DataFrame, optional
        The household tables behind ``before`` and ``after``.
    id_col : str
        The id column of those tables.

    Raises
    ------
    pmt.operations.SnapshotMismatchError
        The two rankings (or ``weights``) are of different weight sets and
        contributions were asked for.
    """
    for res, what in ((before, "before"), (after, "after")):
        if not isinstance(res, RankResult):
            raise TypeError(f"{what} must be a pmt.RankResult; got {type(res).__name__}.")
    if before.n_classes != after.n_classes:
        raise ArgumentError(
            f"after: before has n={before.n_classes} classes and after n={after.n_classes} "
            "(rule: transitions compare the desil of two rankings with the same number of "
            "classes; desil 3 of 5 is not desil 3 of 10). Fix: rank both with the same n.",
            argument="after",
        )
    ib, ia = _ids(before, "before"), _ids(after, "after")
    # one hash pass over both id lists: each distinct id's row in before and in after (-1: absent)
    codes, uniques = pd.factorize(np.concatenate([ib, ia]))
    n_ids = len(uniques)
    pos_b = np.full(n_ids, -1, dtype=np.int64)
    pos_a = np.full(n_ids, -1, dtype=np.int64)
    pos_b[codes[: ib.size]] = np.arange(ib.size)
    pos_a[codes[ib.size :]] = np.arange(ia.size)
    in_b, in_a = pos_b >= 0, pos_a >= 0
    pb, pa = np.maximum(pos_b, 0), np.maximum(pos_a, 0)

    def pick(values: np.ndarray, pos: np.ndarray, present: np.ndarray, absent: Any) -> np.ndarray:
        out = np.asarray(values)[pos]
        return np.where(present, out, absent)

    d_b = pick(before.desil_national.astype(np.int64), pb, in_b, 0)
    d_a = pick(after.desil_national.astype(np.int64), pa, in_a, 0)
    p_b = pick(before.desil_provincial.astype(np.int64), pb, in_b, 0)
    p_a = pick(after.desil_provincial.astype(np.int64), pa, in_a, 0)
    e_b = pick(before.eligible, pb, in_b, False).astype(bool)
    e_a = pick(after.eligible, pa, in_a, False).astype(bool)
    w_b = pick(before.welfare, pb, in_b, np.nan).astype(np.float64)
    w_a = pick(after.welfare, pa, in_a, np.nan).astype(np.float64)
    both = in_b & in_a
    keep = ~both | (d_b != d_a) | (p_b != p_a) | (e_b != e_a)
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(np.asarray(uniques, dtype=object)[idx], kind="stable")]  # by id text
    status = np.where(in_b[idx], np.where(in_a[idx], "moved", "removed"), "added")
    table = pd.DataFrame(
        {
            "status": status,
            "desil_before": d_b[idx],
            "desil_after": d_a[idx],
            "desil_provincial_before": p_b[idx],
            "desil_provincial_after": p_a[idx],
            "eligible_before": e_b[idx],
            "eligible_after": e_a[idx],
            "welfare_before": w_b[idx],
            "welfare_after": w_a[idx],
        },
        index=pd.Index(np.asarray(uniques, dtype=object)[idx], name="id"),
    )
    table["welfare_change"] = table["welfare_after"] - table["welfare_before"]
    n = max(before.n_classes, after.n_classes)
    # the matrix: row 0 = new, column 0 = removed, then desil 1..n
    cells = np.bincount(d_b * (n + 1) + d_a, minlength=(n + 1) ** 2).reshape(n + 1, n + 1)
    labels = [str(k) for k in range(1, n + 1)]
    matrix = pd.DataFrame(
        np.vstack([cells[1:], cells[:1]])[:, [*range(1, n + 1), 0]].astype(np.int64),
        index=pd.Index([*labels, "new"], name="desil_before"),
        columns=pd.Index([*labels, "removed"], name="desil_after"),
    )
    if not (~in_b).any():
        matrix = matrix.drop(index="new")
    if not (~in_a).any():
        matrix = matrix.drop(columns="removed")
    contributions = _contributions(
        before, after, table, weights, before_households, after_households, id_col
    )
    return Transitions(table=table, contributions=contributions, matrix=matrix)


def _contributions(
    before: RankResult,
    after: RankResult,
    table: pd.DataFrame,
    weights: Any,
    before_households: pd.DataFrame | None,
    after_households: pd.DataFrame | None,
    id_col: str,
) -> pd.DataFrame:
    empty = pd.DataFrame(
        {
            "id": pd.Series([], dtype="string"),
            "term": pd.Series([], dtype=object),
            "contribution": pd.Series([], dtype=np.float64),
        }
    )
    if weights is None or before_households is None or after_households is None:
        if any(x is not None for x in (weights, before_households, after_households)):
            raise ArgumentError(
                "transitions: contributions need weights, before_households and "
                "after_households together. Fix: pass all three, or none.",
                argument="weights",
            )
        return empty
    ws = _weights(weights)
    if not (ws.content_hash == before.weights_hash == after.weights_hash):
        raise SnapshotMismatchError(
            f"weights: contributions compare two scorings by one weight set; before is "
            f"{before.weights_id} {before.weights_hash[:19]}, after is {after.weights_id} "
            f"{after.weights_hash[:19]}, weights is {ws.id} {ws.content_hash[:19]}. Fix: pass "
            "the weight set both rankings were made with (welfare from different weight "
            "sets does not split into variable contributions).",
            argument="weights",
        )
    moved = table[table["status"].to_numpy() == "moved"]
    movers = moved.index
    if not len(movers):
        return empty
    names, tb = _terms(
        ws, before_households, movers, id_col, moved["welfare_before"], "before_households"
    )
    _, ta = _terms(ws, after_households, movers, id_col, moved["welfare_after"], "after_households")
    diff = ta - tb
    i, j = np.nonzero(diff)
    return pd.DataFrame(
        {
            "id": pd.array(np.asarray(movers)[i], dtype="string"),
            "term": np.asarray(names, dtype=object)[j],
            "contribution": diff[i, j],
        }
    )


def _terms(
    ws: WeightSet,
    households: pd.DataFrame,
    ids: pd.Index,
    id_col: str,
    welfare: pd.Series,
    what: str,
) -> tuple[tuple[str, ...], np.ndarray]:
    """Each term of the households ``ids`` (in that order), from the one scorer.

    The table must be the one behind the ranking: every mover is in it once, and
    its welfare scored again from it is the ranking's, bit for bit (scoring is
    deterministic), so the terms sum to the ranking's welfare change.
    """
    if not isinstance(households, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame; got {type(households).__name__}.")
    if id_col not in households.columns:
        raise MissingColumnError(
            f"{what}: no column {id_col!r} (rule: households are matched to the ranking by "
            "id). Fix: pass the table that was ranked, or id_col=.",
            column=id_col,
        )
    text = households[id_col].astype("string").str.strip()
    twice = np.flatnonzero((text.duplicated(keep=False) & text.notna()).to_numpy())
    if twice.size:
        raise DuplicateIdError(
            f"{what}, column {id_col!r}: an id may appear once in a household table "
            f"(duplicate_id); {twice.size} rows share an id ({format_examples(twice)}; ids are "
            "not shown). Fix: pass the table that was ranked (its ids are unique).",
            column=id_col,
            rows=twice[:5],
        )
    pos = pd.Index(text.to_numpy()).get_indexer(ids)
    if (pos < 0).any():
        raise ArgumentError(
            f"{what}: {int((pos < 0).sum()):,} of {len(ids):,} households that moved are not "
            "in this table (rule: it is the household table behind the ranking). Fix: pass "
            "the table that was ranked.",
            argument=what,
        )
    enc = encode(households.iloc[pos], ws, id_col=id_col)
    names, terms, scored = score_terms(enc, ws)
    off = int(np.count_nonzero(scored != welfare.to_numpy(dtype=np.float64)))
    if off:
        raise ArgumentError(
            f"{what}: {off:,} of {len(ids):,} households that moved score to another welfare "
            "from this table than in the ranking (rule: contributions split the ranking's "
            "welfare change, so each table must be the one behind its ranking). Fix: pass "
            "the table that was ranked (before_households for before, after_households for "
            "after, not swapped).",
            argument=what,
        )
    return names, terms
