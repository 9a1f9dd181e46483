"""Crossing two desil assignments: :func:`desil_confusion` and :func:`compare`.

:func:`desil_confusion` crosses true and predicted desil of the same
households; :func:`compare` matches two rankings (two weight sets, or two
snapshots of a registry) by household id and returns a :class:`Comparison`:
desil transition matrices, eligibility gained and lost, the households that
moved most, the ids that did not match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import EvaluationError
from ..rank import RankResult, assign_desil
from ..results import html_repr
from ._checks import Unit, as_array, as_weight

__all__ = ["Comparison", "compare", "desil_confusion"]


def desil_confusion(
    true_welfare: Any,
    predicted_welfare: Any,
    *,
    weight: Any = None,
    household_weight: Any = None,
    n: int = 10,
    unit: Unit = "people",
) -> pd.DataFrame:
    """How many people (or households) of each true desil land in each predicted desil.

    Both desil are assigned by pmt's rule (registry mode, person weights
    ``weight``) within the population given, from true and from predicted
    welfare.

    Parameters
    ----------
    true_welfare, predicted_welfare : array-like of float, shape (n_households,)
    weight : array-like, shape (n_households,), optional
        Person weights (default 1 per household).
    household_weight : array-like, optional
        Household weights for ``unit="households"`` (default 1).
    n : int, default 10
    unit : {"people", "households"}

    Returns
    -------
    pandas.DataFrame, shape (n, n): index ``true_desil``, columns
    ``predicted_desil``; sums of the unit's weights (ints for plain counts).
    """
    true = as_array(true_welfare, "true_welfare")
    pred = as_array(predicted_welfare, "predicted_welfare", true.shape[0])
    pw = as_weight(weight, "weight", true.shape[0])
    if unit not in ("people", "households"):
        raise EvaluationError(
            f"unit must be 'people' or 'households'; got {unit!r}.", argument="unit"
        )
    w = pw if unit == "people" else as_weight(household_weight, "household_weight", true.shape[0])
    dt = assign_desil(true, pw, n=n).desil.astype(np.int64) - 1
    dp = assign_desil(pred, pw, n=n).desil.astype(np.int64) - 1
    return _matrix(
        dt,
        dp,
        w,
        n,
        "true_desil",
        "predicted_desil",
        integer=unit == "households" and household_weight is None,
    )


def _matrix(
    a: np.ndarray,
    b: np.ndarray,
    w: np.ndarray | None,
    n: int,
    rows: str,
    cols: str,
    *,
    integer: bool,
) -> pd.DataFrame:
    counts = np.bincount(a * n + b, weights=w, minlength=n * n).reshape(n, n)
    if integer:
        counts = counts.round().astype(np.int64)
    return pd.DataFrame(
        counts, index=pd.RangeIndex(1, n + 1, name=rows), columns=pd.RangeIndex(1, n + 1, name=cols)
    )


# =========================================================================== compare

_COMPARED = (
    "desil_national",
    "desil_provincial",
    "eligible",
    "welfare",
    "share_below_national",
    "share_below_provincial",
    "province",
)


def _ranked_frame(x: Any, which: str, id_col: str | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A RankResult or a ``to_frame()``-like table as columns ``id`` + :data:`_COMPARED`."""
    if isinstance(x, RankResult):
        if x.ids is None:
            raise EvaluationError(
                f"{which}: the ranking has no household ids (rank was called "
                "with id_col=None), so it cannot be matched. Fix: rank with "
                "id_col='hh_id'.",
                argument=which,
            )
        frame = pd.DataFrame(
            {
                "id": x.ids,
                "desil_national": x.desil_national,
                "desil_provincial": x.desil_provincial,
                "eligible": x.eligible,
                "welfare": x.welfare,
                "share_below_national": x.share_below_national,
                "share_below_provincial": x.share_below_provincial,
                "province": x.province.astype(np.int16),
                "person_weight": x.person_weight,
            }
        )
        return frame, dict(x.provenance)
    if not isinstance(x, pd.DataFrame):
        raise TypeError(
            f"{which} must be a RankResult or a DataFrame of RankResult.to_frame() "
            f"columns; got {type(x).__name__}."
        )
    key = id_col or "hh_id"
    cols = {
        key: "id",
        "desil_national": "desil_national",
        "desil_provincial": "desil_provincial",
        "eligible": "eligible",
    }
    missing = [c for c in cols if c not in x.columns]
    if "province_code" not in x.columns and "district_code" not in x.columns:
        missing.append("province_code")
    if missing:
        raise EvaluationError(
            f"{which}: missing columns {missing} (rule: a ranking table "
            f"needs {key}, desil_national, desil_provincial, eligible and "
            "province_code, as written by `pmt rank`). Fix: pass the file "
            "pmt rank wrote, or set id_col.",
            argument=which,
        )
    frame = pd.DataFrame({v: x[k].to_numpy() for k, v in cols.items()})
    frame["province"] = (
        x["province_code"].to_numpy()
        if "province_code" in x.columns
        else x["district_code"].to_numpy() // 100
    ).astype(np.int16)
    for c in ("welfare", "share_below_national", "share_below_provincial"):
        frame[c] = x[c].to_numpy(dtype="float64") if c in x.columns else np.nan
    for c in ("person_weight", "hh_size"):
        if c in x.columns:
            frame["person_weight"] = x[c].to_numpy(dtype="float64")
            break
    meta = dict(x.attrs)
    return frame, meta


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two rankings of the same households, matched by household id.

    Attributes
    ----------
    matched : pandas.DataFrame
        One row per id in both: ``id``, ``province`` (B's), then
        ``desil_national_a``/``_b``, ``desil_provincial_a``/``_b``,
        ``eligible_a``/``_b``, ``welfare_a``/``_b``, ``share_below_national_a``/``_b``,
        ``share_below_provincial_a``/``_b``, ``province_a``/``_b`` and
        ``person_weight`` (B's if it has them, else A's; NaN if neither).
    only_a, only_b : pandas.DataFrame
        Ids (and their ranking columns) found in one ranking only.
    labels : (str, str)
        What A and B are (weight set ids, file names).
    n_classes : int
    """

    matched: pd.DataFrame
    only_a: pd.DataFrame
    only_b: pd.DataFrame
    labels: tuple[str, str]
    n_classes: int

    @property
    def has_people(self) -> bool:
        """Whether person weights are known (people-weighted tables possible)."""
        return bool(self.matched["person_weight"].notna().all()) and len(self.matched) > 0

    def _w(self, unit: str, frame: pd.DataFrame) -> np.ndarray | None:
        if unit == "households":
            return None
        if unit != "people":
            raise EvaluationError(
                f"unit must be 'households' or 'people'; got {unit!r}.", argument="unit"
            )
        if not self.has_people:
            raise EvaluationError(
                "unit='people' needs person weights, and these rankings "
                "carry none (a table without person_weight or hh_size). "
                "Fix: compare RankResult objects, or add an hh_size column "
                "(pmt compare --sizes FILE).",
                argument="unit",
            )
        return frame["person_weight"].to_numpy()

    def transitions(
        self,
        *,
        unit: Unit = "households",
        desil: Literal["national", "provincial"] = "national",
        by_province: bool = False,
    ) -> pd.DataFrame:
        """Desil transition matrix: rows desil in A, columns desil in B.

        Parameters
        ----------
        unit : {"households", "people"}
        desil : {"national", "provincial"}
            Which desil to cross.
        by_province : bool
            One matrix per province (B's province), stacked: index
            (``province``, ``desil_a``).

        Returns
        -------
        pandas.DataFrame of shape (n, n), or (n_provinces·n, n): households
        (int) or people (float). Totals equal the matched households (people).
        """
        if desil not in ("national", "provincial"):
            raise EvaluationError(
                f"desil must be 'national' or 'provincial'; got {desil!r}.", argument="desil"
            )
        n = self.n_classes
        m = self.matched
        w = self._w(unit, m)
        a = m[f"desil_{desil}_a"].to_numpy().astype(np.int64) - 1
        b = m[f"desil_{desil}_b"].to_numpy().astype(np.int64) - 1
        if not by_province:
            return _matrix(a, b, w, n, "desil_a", "desil_b", integer=w is None)
        prov = m["province"].to_numpy()
        parts = {}
        for p in np.unique(prov):
            sel = prov == p
            parts[f"{int(p):02d}"] = _matrix(
                a[sel],
                b[sel],
                None if w is None else w[sel],
                n,
                "desil_a",
                "desil_b",
                integer=w is None,
            )
        if not parts:
            return _matrix(a, b, w, n, "desil_a", "desil_b", integer=w is None).iloc[:0]
        return pd.concat(parts, names=["province"])

    def eligibility(self, *, by_province: bool = False) -> pd.DataFrame:
        """Eligibility kept, gained and lost among matched households (households and people).

        Returns
        -------
        pandas.DataFrame, one row (``national``) or one per province (B's):
        ``households``, ``eligible_both``, ``gained``, ``lost``, ``eligible_neither``,
        and, when person weights are known, ``people`` and ``people_*`` alike.
        """
        m = self.matched
        ea, eb = m["eligible_a"].to_numpy(bool), m["eligible_b"].to_numpy(bool)
        flags = {
            "eligible_both": ea & eb,
            "gained": ~ea & eb,
            "lost": ea & ~eb,
            "eligible_neither": ~ea & ~eb,
        }
        key = (
            np.array([f"{int(p):02d}" for p in m["province"].to_numpy()], dtype=object)
            if by_province
            else np.full(len(m), "national", dtype=object)
        )
        data: dict[str, Any] = {"scope": key, "households": np.ones(len(m), dtype=np.int64)}
        data.update({k: v.astype(np.int64) for k, v in flags.items()})
        if self.has_people:
            pw = m["person_weight"].to_numpy()
            data["people"] = pw
            data.update({f"people_{k}": pw * v for k, v in flags.items()})
        out = pd.DataFrame(data).groupby("scope", sort=True).sum()
        if not by_province and out.empty:
            out = pd.DataFrame(
                0,
                index=pd.Index(["national"], name="scope"),
                columns=[c for c in data if c != "scope"],
            )
        return out

    def movers(
        self, k: int = 20, *, desil: Literal["national", "provincial"] = "national"
    ) -> pd.DataFrame:
        """The ``k`` households whose desil changed most.

        Ordered by ``|desil change|``, then ``|share_below change|`` (both
        descending), then id, so the list is deterministic.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise EvaluationError(f"k must be a whole number >= 0; got {k!r}.", argument="k")
        if desil not in ("national", "provincial"):
            raise EvaluationError(
                f"desil must be 'national' or 'provincial'; got {desil!r}.", argument="desil"
            )
        m = self.matched
        change = m[f"desil_{desil}_b"].astype(np.int64) - m[f"desil_{desil}_a"].astype(np.int64)
        share = m[f"share_below_{desil}_b"] - m[f"share_below_{desil}_a"]
        frame = m.assign(
            desil_change=change,
            share_below_change=share,
            _d=-change.abs(),
            _s=-share.abs().fillna(0.0),
        )
        frame = frame.sort_values(["_d", "_s", "id"], kind="stable").head(k)
        cols = [
            "id",
            "province",
            f"desil_{desil}_a",
            f"desil_{desil}_b",
            "desil_change",
            f"share_below_{desil}_a",
            f"share_below_{desil}_b",
            "share_below_change",
            "welfare_a",
            "welfare_b",
            "eligible_a",
            "eligible_b",
            "person_weight",
        ]
        return frame[cols].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`matched`: one row per household in both rankings."""
        return self.matched.copy()

    def summary(self) -> pd.DataFrame:
        """Headline counts: matched, unmatched (and how many of those eligible), moves."""
        m = self.matched
        da = m["desil_national_a"].to_numpy().astype(np.int64)
        db = m["desil_national_b"].to_numpy().astype(np.int64)
        ea, eb = m["eligible_a"].to_numpy(bool), m["eligible_b"].to_numpy(bool)
        rows: dict[str, Any] = {
            "households_a": len(m) + len(self.only_a),
            "households_b": len(m) + len(self.only_b),
            "matched": len(m),
            "only_in_a": len(self.only_a),
            "only_in_a_eligible": int(self.only_a["eligible"].astype(bool).sum()),
            "only_in_b": len(self.only_b),
            "only_in_b_eligible": int(self.only_b["eligible"].astype(bool).sum()),
            "same_national_desil": int((da == db).sum()),
            "moved_poorer": int((db < da).sum()),
            "moved_richer": int((db > da).sum()),
            "moved_2_or_more": int((np.abs(db - da) >= 2).sum()),
            "eligible_a": int(ea.sum()),
            "eligible_b": int(eb.sum()),
            "gained_eligibility": int((~ea & eb).sum()),
            "lost_eligibility": int((ea & ~eb).sum()),
        }
        if self.has_people:
            pw = m["person_weight"].to_numpy()
            rows["people_matched"] = float(pw.sum())
            rows["people_gained_eligibility"] = float((pw * (~ea & eb)).sum())
            rows["people_lost_eligibility"] = float((pw * (ea & ~eb)).sum())
        return pd.DataFrame({"value": pd.Series(rows, dtype=object)}).rename_axis("item")

    def _repr_html_(self) -> str:
        return html_repr(self)

    def __repr__(self) -> str:
        s = self.summary()["value"]
        return (
            f"<Comparison {self.labels[0]} -> {self.labels[1]}: {s['matched']:,} matched, "
            f"{s['only_in_a']:,} only in A, {s['only_in_b']:,} only in B; eligibility "
            f"+{s['gained_eligibility']:,} / -{s['lost_eligibility']:,}>"
        )


def compare(
    a: Any,
    b: Any,
    *,
    id_col: str | None = None,
    labels: tuple[str, str] | None = None,
    n: int | None = None,
) -> Comparison:
    """Match two rankings by household id and compare their desil and eligibility.

    Use it for two weight sets on one registry (``pmt.rank(hh, ws1)`` against
    ``pmt.rank(hh, ws2)``) or two snapshots of a registry. Ids present in only
    one ranking are kept in :attr:`Comparison.only_a` / ``only_b`` and counted
    in the summary, never dropped silently.

    Parameters
    ----------
    a, b : RankResult or pandas.DataFrame
        Results, or tables with ``RankResult.to_frame()`` columns (as written by
        ``pmt rank``); a ``person_weight`` or ``hh_size`` column enables the
        people-weighted tables.
    id_col : str, optional
        The id column of DataFrame inputs (default ``"hh_id"``).
    labels : (str, str), optional
        Names of A and B (default: their weight set ids, or "A" and "B").
    n : int, optional
        Number of desil classes (default: from the results' provenance, else
        the largest desil seen, at least 10).

    Returns
    -------
    Comparison

    Raises
    ------
    EvaluationError
        Duplicate ids, missing columns, or rankings with different class counts.
    """
    fa, ma = _ranked_frame(a, "a", id_col)
    fb, mb = _ranked_frame(b, "b", id_col)
    for frame, which in ((fa, "a"), (fb, "b")):
        dup = frame["id"].duplicated(keep=False).to_numpy()
        if dup.any():
            raise EvaluationError(
                f"{which}: household ids must be unique to match; "
                f"{int(dup.sum()):,} rows share an id, e.g. at rows "
                f"{np.flatnonzero(dup)[:5].tolist()}. Fix: deduplicate "
                "first.",
                argument=which,
            )
        if frame["id"].isna().any():
            raise EvaluationError(f"{which}: household ids must not be missing.", argument=which)
    classes = {int(v) for m in (ma, mb) if (v := m.get("n_classes")) is not None}
    if len(classes) > 1:
        raise EvaluationError(
            f"the rankings use different numbers of classes {sorted(classes)}; "
            "their desil cannot be crossed. Fix: rank both with the same n.",
            argument="b",
        )
    if n is None:
        seen = max(
            int(fa["desil_national"].max() if len(fa) else 1),
            int(fb["desil_national"].max() if len(fb) else 1),
            int(fa["desil_provincial"].max() if len(fa) else 1),
            int(fb["desil_provincial"].max() if len(fb) else 1),
        )
        n = classes.pop() if classes else max(10, seen)
    if labels is None:
        la, lb = ma.get("weights_id", "A"), mb.get("weights_id", "B")
        labels = (str(la), str(lb)) if la != lb else (f"A ({la})", f"B ({lb})")
    merged = fa.merge(fb, on="id", how="outer", suffixes=("_a", "_b"), indicator=True)
    both = merged["_merge"] == "both"
    m = merged.loc[both].drop(columns="_merge").reset_index(drop=True)
    pw: np.ndarray = np.full(len(m), np.nan)
    for side in ("a", "b"):
        col = f"person_weight_{side}"
        if col in m.columns:
            vals = m[col].to_numpy(dtype="float64")
            pw = np.where(np.isnan(vals), pw, vals) if side == "b" else vals
    m = m.drop(columns=[c for c in ("person_weight_a", "person_weight_b") if c in m.columns])
    for side in ("a", "b"):
        m[f"province_{side}"] = m[f"province_{side}"].astype(np.int16)
    m.insert(1, "province", m["province_b"])
    m["person_weight"] = pw
    for c in ("desil_national", "desil_provincial"):
        for side in ("a", "b"):
            m[f"{c}_{side}"] = m[f"{c}_{side}"].astype(np.int16)
    for side in ("a", "b"):
        m[f"eligible_{side}"] = m[f"eligible_{side}"].astype(bool)
    only_a = fa[fa["id"].isin(merged.loc[merged["_merge"] == "left_only", "id"])]
    only_b = fb[fb["id"].isin(merged.loc[merged["_merge"] == "right_only", "id"])]
    return Comparison(
        matched=m,
        only_a=only_a.reset_index(drop=True),
        only_b=only_b.reset_index(drop=True),
        labels=labels,
        n_classes=int(n),
    )
