"""Quotas and budgets: :func:`allocate` draws beneficiaries from a ranking.

The rule, in full (``docs/operations.md`` has it with examples):

1. **What is counted.** Each household has a *size* in the quota's unit:
   1 (``unit="households"``), its people (``"people"``: the person weight of
   the ranking, ``hh_size`` by default), or its cost (``"budget"``: ``benefit``
   per household, or ``benefit`` times its people with ``per="person"``).
2. **Who may be drawn.** Every ranked household, or only those with
   ``desil_national <= within_desil``.
3. **In what order.** Poorest first: by ``rank_national`` (``by="national"``),
   or by ``rank_provincial`` within each province against that province's
   quota (``by="provincial"``). Households of equal welfare in a scope share
   a rank and form one *tie group*.
4. **The boundary.** Tie groups are taken whole, poorest first, while the
   running total stays within the quota. The first group that would pass it is
   the *boundary group*: with ``ties="exclude"`` (default) it is left out (a
   shortfall), with ``"include"`` it is taken (an overshoot), with
   ``"nearest"`` it is taken if the overshoot would not exceed the shortfall.
   Nothing after it is taken, so the selection is always "everyone poorer
   than the boundary": a richer household is never drawn before a poorer one.
5. **Provincial quotas** are given (``provincial_quotas={"31": q, ...}``) or
   split from the national quota in proportion to each province's people in
   ``desil_national <= share_desil``, rounded by the largest-remainder method so
   that they sum exactly to the quota (equal remainders: lower province code
   first). Exact rational arithmetic is used for the split.

Sums within a tie group are taken in a canonical order (by size), so the
selection and every reported total are the same bit for bit whatever the row
order of the ranking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..results import RankResult, html_repr

__all__ = ["Allocation", "allocate", "largest_remainder"]

Unit = Literal["households", "people", "budget"]
Ties = Literal["exclude", "include", "nearest"]


@dataclass(frozen=True, eq=False)
class Allocation:
    """The beneficiaries :func:`allocate` drew, and how each quota was met.

    Attributes
    ----------
    selected : (n,) bool
        One entry per ranked household of the result, in its order.
    size : (n,) float64
        Each household's size in the quota's unit.
    scopes : pandas.DataFrame
        One row per scope (``"national"``, or each province code): ``quota``,
        ``selected_households``, ``selected_people``, ``total`` (in the unit),
        ``overshoot``, ``shortfall``, ``boundary_households`` (the tie group at
        the boundary), ``boundary_total``, ``boundary`` (``"in"``, ``"out"`` or
        ``"none"`` when every candidate fit).
    rule : str
        The rule applied, as text.
    """

    result: RankResult
    selected: np.ndarray
    size: np.ndarray
    scopes: pd.DataFrame
    rule: str
    unit: str

    @property
    def n_selected(self) -> int:
        """Households selected."""
        return int(self.selected.sum())

    def summary(self) -> pd.DataFrame:
        """The per-scope table (:attr:`scopes`)."""
        return self.scopes.copy()

    def to_frame(self) -> pd.DataFrame:
        """One row per ranked household (the result's order and index): id, rank, ``selected``."""
        r = self.result
        cols: dict[str, Any] = {}
        if r.id_col is not None:
            cols[r.id_col] = r.ids
        cols.update(
            {
                "province_code": r.province,
                "welfare": r.welfare,
                "desil_national": r.desil_national,
                "rank_national": r.rank_national,
                "rank_provincial": r.rank_provincial,
                "size": self.size,
                "selected": self.selected,
            }
        )
        frame = pd.DataFrame(cols, index=r.index)
        frame.attrs.update({**r.provenance, "allocation": self.rule})
        return frame

    def _repr_html_(self) -> str:
        return html_repr(self)

    def __repr__(self) -> str:
        t = self.scopes
        return (
            f"<Allocation {self.n_selected:,} of {self.result.n_households:,} households selected; "
            f"{self.rule}; total {t['total'].sum():,.6g} of quota {t['quota'].sum():,.6g} "
            f"{self.unit} (overshoot {t['overshoot'].sum():,.6g}, "
            f"shortfall {t['shortfall'].sum():,.6g})>"
        )


def largest_remainder(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split whole number ``total`` in proportion to ``weights``; the parts sum to ``total``.

    Each key gets ``floor(total * w / W)``; the units left over go one each to
    the largest remainders, equal remainders in ascending key order. Exact
    (rational) arithmetic.

    Raises
    ------
    pmt.errors.ArgumentError
        ``total`` not a whole number >= 0, or weights negative or summing to 0.
    """
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 0:
        raise ArgumentError(
            f"quota: a split into provincial quotas needs a whole number >= 0; got {total!r}. "
            "Fix: round the quota, or give provincial_quotas explicitly.",
            argument="quota",
        )
    w = {k: Fraction(float(v)) for k, v in weights.items()}
    if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise ArgumentError(
            "quota: the provinces' shares must be >= 0 and not all 0 (no province has people "
            "in the desil the quota is shared by). Fix: give provincial_quotas explicitly.",
            argument="provincial_quotas",
        )
    whole = sum(w.values())
    raw = {k: int(total) * v / whole for k, v in w.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    left = int(total) - sum(out.values())
    order = sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))
    for k in order[:left]:
        out[k] += 1
    return out


def allocate(
    result: RankResult,
    *,
    quota: float | None = None,
    unit: Unit = "households",
    benefit: float | None = None,
    per: Literal["household", "person"] = "household",
    by: Literal["national", "provincial"] = "national",
    provincial_quotas: Mapping[str, float] | None = None,
    share_desil: int | None = None,
    within_desil: int | None = None,
    ties: Ties = "exclude",
) -> Allocation:
    """Select beneficiaries from a ranking under a quota or a budget.

    Parameters
    ----------
    result : RankResult
        The adopted ranking (or any ranking).
    quota : float, optional
        How much may be given out, in ``unit``: a number of households (a
        whole number, as are provincial quotas of households), of people, or a
        budget. Needed unless ``provincial_quotas`` is given.
    unit : {"households", "people", "budget"}
        What the quota counts.
    benefit : float, optional
        With ``unit="budget"``: the benefit per household (``per="household"``)
        or per person (``per="person"``); > 0.
    per : {"household", "person"}
        What ``benefit`` is paid per.
    by : {"national", "provincial"}
        One national quota filled by national rank, or one quota per province
        filled by provincial rank.
    provincial_quotas : mapping, optional
        ``{"31": quota, ...}`` for ``by="provincial"``: every province of the
        result, each in ``unit``. Default: ``quota`` split in proportion to each
        province's people in ``desil_national <= share_desil``, by largest
        remainder (``quota`` must then be a whole number).
    share_desil : int, optional
        The desil of that split; default the result's ``max_desil`` (4 if the
        result has a line rule).
    within_desil : int, optional
        Draw only households with ``desil_national <= within_desil``.
    ties : {"exclude", "include", "nearest"}
        What happens to the tie group at a quota's boundary (see the module).

    Returns
    -------
    Allocation

    Raises
    ------
    pmt.errors.ArgumentError
        An option that breaks its rule, named.
    """
    if not isinstance(result, RankResult):
        raise TypeError(f"allocate: result must be a pmt.RankResult; got {type(result).__name__}.")
    _choice("unit", unit, ("households", "people", "budget"))
    _choice("per", per, ("household", "person"))
    _choice("by", by, ("national", "provincial"))
    _choice("ties", ties, ("exclude", "include", "nearest"))
    size = _sizes(result, unit, benefit, per)
    n_classes = result.n_classes
    candidate: np.ndarray = np.ones(result.n_households, dtype=bool)
    if within_desil is not None:
        _whole_in("within_desil", within_desil, 1, n_classes)
        candidate = result.desil_national <= within_desil
    provinces = [f"{int(p):02d}" for p in np.unique(result.province).tolist()]
    if by == "national":
        if provincial_quotas is not None:
            raise ArgumentError(
                "provincial_quotas is for by='provincial'. Fix: pass by='provincial', or "
                "drop provincial_quotas.",
                argument="provincial_quotas",
            )
        q = _quota("quota", quota, unit)
        quotas = {"national": q}
        scope_of: dict[str, np.ndarray] = {"national": np.arange(result.n_households)}
        rank = result.rank_national
    else:
        if provincial_quotas is not None:
            if quota is not None:
                raise ArgumentError(
                    "give quota or provincial_quotas, not both. Fix: drop quota (the "
                    "provincial quotas are the whole allocation).",
                    argument="quota",
                )
            quotas = _given_quotas(provincial_quotas, provinces, unit)
        else:
            q = _quota("quota", quota, unit)
            k = share_desil if share_desil is not None else (result.max_desil or 4)
            _whole_in("share_desil", k, 1, n_classes)
            people = {
                p: float(
                    np.sort(
                        result.person_weight[_in(result, p) & (result.desil_national <= k)]
                    ).sum()
                )
                for p in provinces
            }
            if float(q) != math.floor(q):
                raise ArgumentError(
                    f"quota: split into provincial quotas by largest remainder it must be a whole "
                    f"number (households, people or currency units); got {q!r}. Fix: round "
                    "the quota, or give provincial_quotas explicitly.",
                    argument="quota",
                )
            quotas = {p: float(v) for p, v in largest_remainder(int(q), people).items()}
        scope_of = {p: np.flatnonzero(_in(result, p)) for p in provinces}
        rank = result.rank_provincial
    selected = np.zeros(result.n_households, dtype=bool)
    rows = []
    for scope, members in scope_of.items():
        members = members[candidate[members]]
        row = _fill(members, rank, size, result.person_weight, quotas[scope], ties, selected)
        rows.append({"scope": scope, **row})
    table = pd.DataFrame.from_records(rows).set_index("scope")
    rule = _describe(
        unit, benefit, per, by, provincial_quotas, share_desil, within_desil, ties, result
    )
    return Allocation(result, selected, size, table, rule, unit)


def _in(result: RankResult, province: str) -> np.ndarray:
    return np.asarray(result.province) == int(province)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ArgumentError(
            f"{name} must be one of {list(allowed)}; got {value!r}. Fix: {name}={allowed[0]!r}.",
            argument=name,
        )


def _whole_in(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ArgumentError(
            f"{name} must be a whole number from {lo} to {hi}; got {value!r}. Fix: pass an int "
            f"in that range, e.g. {name}={min(max(lo, 4), hi)}.",
            argument=name,
        )


def _quota(name: str, value: Any, unit: str) -> float:
    if value is None:
        raise ArgumentError(
            f"{name} is required: how many households, people or how much budget to give out. "
            "Fix: pass quota=..., or provincial_quotas={...} with by='provincial'.",
            argument=name,
        )
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ArgumentError(
            f"{name} must be a finite number >= 0; got {value!r}. Fix: pass a number of "
            "households, of people or a budget, e.g. 3000.",
            argument=name,
        )
    if unit == "households" and float(value) != math.floor(value):
        raise ArgumentError(
            f"{name}: a quota of households must be a whole number (a household is drawn whole "
            f"or not at all); got {value!r}. Fix: round it, e.g. {math.floor(value)}.",
            argument=name,
        )
    return float(value)


def _given_quotas(given: Mapping[str, float], provinces: list[str], unit: str) -> dict[str, float]:
    keys = {str(k) for k in given}
    missing = sorted(set(provinces) - keys)
    extra = sorted(keys - set(provinces))
    if missing or extra:
        raise ArgumentError(
            f"provincial_quotas must name every province of the ranking and no other "
            f"(2-digit codes); missing {missing[:10]}, unknown {extra[:10]}. Fix: give one "
            "quota per province ranked (0 for none).",
            argument="provincial_quotas",
        )
    return {str(k): _quota(f"provincial_quotas[{str(k)!r}]", v, unit) for k, v in given.items()}


def _sizes(result: RankResult, unit: str, benefit: Any, per: str) -> np.ndarray:
    people = np.asarray(result.person_weight, dtype=np.float64)
    if unit != "budget":
        if benefit is not None:
            raise ArgumentError(
                "benefit is for unit='budget'. Fix: pass unit='budget', or drop benefit.",
                argument="benefit",
            )
        return np.ones(result.n_households) if unit == "households" else people.copy()
    if (
        benefit is None
        or isinstance(benefit, bool)
        or not isinstance(benefit, (int, float, np.integer, np.floating))
        or not math.isfinite(benefit)
        or benefit <= 0
    ):
        raise ArgumentError(
            f"benefit must be a finite number > 0 with unit='budget' (per {per}); got "
            f"{benefit!r}. Fix: benefit=300_000.",
            argument="benefit",
        )
    b = float(benefit)
    return np.full(result.n_households, b) if per == "household" else b * people


def _fill(
    members: np.ndarray,
    rank: np.ndarray,
    size: np.ndarray,
    people: np.ndarray,
    quota: float,
    ties: str,
    selected: np.ndarray,
) -> dict[str, Any]:
    """Fill one scope's quota by tie groups, poorest first; mark ``selected``; the tally."""
    empty = {
        "quota": quota,
        "selected_households": 0,
        "selected_people": 0.0,
        "total": 0.0,
        "overshoot": 0.0,
        "shortfall": quota,
        "boundary_households": 0,
        "boundary_total": 0.0,
        "boundary": "none",
    }
    if members.size == 0:
        return empty
    # canonical order: rank, then size (then people, for the people total), so group sums
    # do not depend on the row order
    order = members[np.lexsort((people[members], size[members], rank[members]))]
    r = rank[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    group_total = np.add.reduceat(size[order], starts)
    cum = np.cumsum(group_total)
    fits = cum <= quota
    n_fit = int(np.argmin(fits)) if not fits.all() else len(starts)
    boundary = "none"
    take = n_fit
    b_hh, b_total = 0, 0.0
    if n_fit < len(starts):
        before = float(cum[n_fit - 1]) if n_fit else 0.0
        after = float(cum[n_fit])
        include = ties == "include" or (ties == "nearest" and after - quota <= quota - before)
        boundary = "in" if include else "out"
        take = n_fit + 1 if include else n_fit
        end = starts[n_fit + 1] if n_fit + 1 < len(starts) else len(order)
        b_hh, b_total = int(end - starts[n_fit]), float(group_total[n_fit])
    stop = (starts[take] if take < len(starts) else len(order)) if take else 0
    chosen = order[:stop]
    selected[chosen] = True
    total = float(cum[take - 1]) if take else 0.0
    return {
        "quota": quota,
        "selected_households": int(chosen.size),
        "selected_people": float(people[chosen].sum()) if chosen.size else 0.0,
        "total": total,
        "overshoot": max(total - quota, 0.0),
        "shortfall": max(quota - total, 0.0),
        "boundary_households": b_hh,
        "boundary_total": b_total,
        "boundary": boundary,
    }


def _describe(
    unit: str,
    benefit: Any,
    per: str,
    by: str,
    given: Any,
    share_desil: Any,
    within_desil: Any,
    ties: str,
    result: RankResult,
) -> str:
    what = unit if unit != "budget" else f"budget at {benefit!r} per {per}"
    where = (
        "one national quota by rank_national"
        if by == "national"
        else "provincial quotas "
        + (
            "as given"
            if given is not None
            else "by largest remainder of people in desil_national <= "
            f"{share_desil if share_desil is not None else (result.max_desil or 4)}"
        )
        + " by rank_provincial"
    )
    limit = f", only desil_national <= {within_desil}" if within_desil is not None else ""
    return f"quota in {what}, {where}{limit}, boundary tie group: {ties}"
