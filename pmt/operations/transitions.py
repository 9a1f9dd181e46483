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
from ..errors import ArgumentError
from ..rank import _weights, score_terms
from ..results import RankResult
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

    def __repr__(self) -> str:
        counts = self.table["status"].value_counts()
        parts = ", ".join(f"{counts.get(k, 0):,} {k}" for k in ("moved", "added", "removed"))
        elig = int((self.table["eligible_before"] != self.table["eligible_after"]).sum())
        return (
            f"<Transitions {len(self.table):,} households: {parts}; eligibility changed {elig:,}>"
        )


def _frame(res: RankResult, what: str) -> pd.DataFrame:
    if res.id_col is None or res.ids is None:
        raise ArgumentError(
            f"{what}: transitions match households by id; this ranking has none. Fix: rank "
            "with id_col='hh_id'.",
            argument=what,
        )
    ids = pd.Series(res.ids).astype("string").str.strip().to_numpy()
    return pd.DataFrame(
        {
            "desil": res.desil_national.astype(np.int64),
            "desil_provincial": res.desil_provincial.astype(np.int64),
            "eligible": res.eligible,
            "welfare": res.welfare,
        },
        index=pd.Index(ids, name="id"),
    )


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
    b, a = _frame(before, "before"), _frame(after, "after")
    ids = b.index.union(a.index)
    bb, aa = b.reindex(ids), a.reindex(ids)
    status = np.where(bb["desil"].isna(), "added", np.where(aa["desil"].isna(), "removed", "moved"))
    both = status == "moved"
    moved = both & (
        (bb["desil"] != aa["desil"]).to_numpy()
        | (bb["desil_provincial"] != aa["desil_provincial"]).to_numpy()
        | (bb["eligible"] != aa["eligible"]).to_numpy()
    )
    keep = moved | ~both
    table = pd.DataFrame(
        {
            "status": status,
            "desil_before": bb["desil"].fillna(0).astype(np.int64).to_numpy(),
            "desil_after": aa["desil"].fillna(0).astype(np.int64).to_numpy(),
            "desil_provincial_before": bb["desil_provincial"].fillna(0).astype(np.int64).to_numpy(),
            "desil_provincial_after": aa["desil_provincial"].fillna(0).astype(np.int64).to_numpy(),
            "eligible_before": bb["eligible"].fillna(False).astype(bool).to_numpy(),
            "eligible_after": aa["eligible"].fillna(False).astype(bool).to_numpy(),
            "welfare_before": bb["welfare"].to_numpy(dtype=np.float64),
            "welfare_after": aa["welfare"].to_numpy(dtype=np.float64),
        },
        index=ids,
    )
    table["welfare_change"] = table["welfare_after"] - table["welfare_before"]
    table = table.loc[keep]
    rows = np.where(bb["desil"].isna(), "new", bb["desil"].fillna(0).astype(int).astype(str))
    cols = np.where(aa["desil"].isna(), "removed", aa["desil"].fillna(0).astype(int).astype(str))
    matrix = pd.crosstab(
        pd.Series(rows, name="desil_before"),
        pd.Series(cols, name="desil_after"),
    )
    order = [str(k) for k in range(1, max(before.n_classes, after.n_classes) + 1)]
    matrix = matrix.reindex(
        index=[*order, "new"], columns=[*order, "removed"], fill_value=0
    ).astype(np.int64)
    if "new" not in set(rows.tolist()):
        matrix = matrix.drop(index="new")
    if "removed" not in set(cols.tolist()):
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
    movers = table.index[table["status"].to_numpy() == "moved"]
    if not len(movers):
        return empty
    names, tb = _terms(ws, before_households, movers, id_col)
    _, ta = _terms(ws, after_households, movers, id_col)
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
    ws: WeightSet, households: pd.DataFrame, ids: pd.Index, id_col: str
) -> tuple[tuple[str, ...], np.ndarray]:
    """Each term of the households ``ids`` (in that order), from the one scorer."""
    text = households[id_col].astype("string").str.strip()
    pos = pd.Index(text.to_numpy()).get_indexer(ids)
    if (pos < 0).any():
        raise ArgumentError(
            f"households: {int((pos < 0).sum())} households of the ranking are not in the "
            "household table given for it. Fix: pass the table that was ranked.",
            argument="households",
        )
    enc = encode(households.iloc[pos], ws, id_col=id_col)
    names, terms, _ = score_terms(enc, ws)
    return names, terms
