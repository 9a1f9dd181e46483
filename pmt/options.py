"""The options of a ranking, checked once: :func:`rank_options` and :class:`RankOptions`.

:func:`pmt.rank`, :func:`pmt.io.rank_file`, :mod:`pmt.dask` and the command
line all build their options here, so that each option has one rule and one
error message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .desil import _check_n, _cutoff_table, _one_cutoff_row
from .errors import ArgumentError, WeightSetError
from .weights import WeightSet

__all__ = [
    "OUTPUT_COLUMNS",
    "CutoffMode",
    "RankOptions",
    "check_id_col",
    "check_on_invalid",
    "check_weighting",
    "mode_cutoffs",
    "rank_options",
]


CutoffMode = Literal["registry", "reference"]


def rank_options(
    *,
    cutoffs: CutoffMode | Mapping[str, Any] = "registry",
    n: int = 10,
    max_desil: int | None = None,
    line: float | None = None,
    weight: str | None = None,
    weighting: str = "person",
    id_col: str | None = "hh_id",
) -> RankOptions:
    """The one check of :func:`rank`'s options, before any (long) work: a :class:`RankOptions`.

    Raises
    ------
    pmt.errors.ArgumentError
        Naming the option that breaks its rule.
    """
    _check_n(n)
    check_id_col(id_col)
    if isinstance(cutoffs, str):
        if cutoffs not in ("registry", "reference"):
            raise ArgumentError(
                f"cutoffs must be 'registry', 'reference' or a mapping of scope "
                f"-> cutoffs; got {cutoffs!r}.",
                argument="cutoffs",
            )
        table: Mapping[str, np.ndarray] | None = None
    elif isinstance(cutoffs, Mapping):
        table = _given_cutoffs(cutoffs, n)
    else:
        raise ArgumentError(
            f"cutoffs must be 'registry', 'reference' or a mapping of scope -> "
            f"cutoffs; got {type(cutoffs).__name__}.",
            argument="cutoffs",
        )
    if line is not None:
        if max_desil is not None:
            raise ArgumentError(
                f"give max_desil or line, not both (got max_desil={max_desil!r}"
                f", line={line!r}): they are two eligibility rules.",
                argument="max_desil",
            )
        if (
            isinstance(line, bool)
            or not isinstance(line, (int, float, np.integer, np.floating))
            or not np.isfinite(line)
        ):
            raise ArgumentError(
                f"line must be a finite number (welfare units; 0 = at the "
                f"poverty line); got {line!r}.",
                argument="line",
            )
        line = float(line)
    else:
        max_desil = 4 if max_desil is None else max_desil
        if (
            isinstance(max_desil, bool)
            or not isinstance(max_desil, (int, np.integer))
            or not 1 <= max_desil <= n
        ):
            raise ArgumentError(
                f"max_desil must be a whole number from 1 to n={n}; got {max_desil!r}.",
                argument="max_desil",
            )
        max_desil = int(max_desil)
    check_weighting(weighting)
    mode = str(cutoffs) if table is None else "given"
    return RankOptions(
        cutoffs=mode,
        n=int(n),
        max_desil=max_desil,
        line=line,
        weighting=weighting if weight is None else f"{weighting} x {weight}",
        id_col=id_col,
        table=table,
    )


#: the columns pmt writes beside the id column: a result's (:meth:`pmt.RankResult.to_frame`,
#: with ``p_desil_1`` … for every class), the rejects table's, an allocation's and the
#: uncertainty list's. An id column of one of these names would be written twice.
OUTPUT_COLUMNS = frozenset(
    {
        "welfare",
        "model_key",
        "model_level",
        "province_code",
        "desil_national",
        "desil_provincial",
        "rank_national",
        "rank_provincial",
        "share_below_national",
        "share_below_provincial",
        "eligible",
        "person_weight",
        "p_eligible",
        "row",
        "column",
        "rule",
        "value",
        "size",
        "selected",
        "uncertainty",
    }
)
_P_DESIL = re.compile(r"p_desil_[0-9]+\Z")


def check_id_col(id_col: Any) -> None:
    """The id column's name is not one that pmt writes beside it (:data:`OUTPUT_COLUMNS`).

    Raises
    ------
    pmt.errors.ArgumentError
        Naming ``id_col``, before any data is read.
    """
    if isinstance(id_col, str) and (id_col in OUTPUT_COLUMNS or _P_DESIL.match(id_col)):
        raise ArgumentError(
            f"id_col: the id column may not be called {id_col!r} (rule: pmt writes a column of "
            "that name next to the ids, in the results or the rejects table, and two columns "
            "of one name make an ambiguous table). Fix: rename the id column in the input "
            "(e.g. to 'hh_id') and pass that name.",
            argument="id_col",
        )


def check_weighting(weighting: Any) -> None:
    """``weighting`` is ``"person"`` or ``"household"`` (else an ArgumentError naming it)."""
    if weighting not in ("person", "household"):
        raise ArgumentError(
            f"weighting must be 'person' or 'household'; got {weighting!r}.", argument="weighting"
        )


def check_on_invalid(on_invalid: Any) -> None:
    """``on_invalid`` is ``"raise"`` or ``"reject"`` (else an ArgumentError naming it)."""
    if on_invalid not in ("raise", "reject"):
        raise ArgumentError(
            f"on_invalid must be 'raise' or 'reject'; got {on_invalid!r}. Fix: 'raise' stops at "
            "the first broken rule, 'reject' sets the rows that break one aside with a reason.",
            argument="on_invalid",
        )


def _given_cutoffs(cutoffs: Mapping[Any, Any], n: int) -> dict[str, np.ndarray]:
    if "national" not in cutoffs:
        raise ArgumentError(
            "cutoffs as a mapping needs a 'national' entry (and one per 2-digit "
            "province code for provincial desil), like "
            "RankResult.registry_cutoffs.",
            argument="cutoffs",
        )
    out: dict[str, np.ndarray] = {}
    for scope, c in cutoffs.items():
        key = str(scope)
        if key != "national" and not (len(key) == 2 and key.isdigit()):
            raise ArgumentError(
                f"cutoffs: scope {scope!r} must be 'national' or a 2-digit "
                "province code such as '31'.",
                argument="cutoffs",
            )
        arr = _one_cutoff_row(c, n, f"cutoffs[{key!r}]")
        arr.setflags(write=False)
        out[key] = arr
    return out


def _check_options(options: RankOptions) -> RankOptions:
    """:func:`rank_options` applied to an options record (cheap; every path calls it)."""
    weighting, _, weight = options.weighting.partition(" x ")
    cutoffs: Any = options.cutoffs if options.table is None else options.table
    return rank_options(
        cutoffs=cutoffs,
        n=options.n,
        max_desil=options.max_desil,
        line=options.line,
        weight=weight or None,
        weighting=weighting,
        id_col=options.id_col,
    )


@dataclass(frozen=True)
class RankOptions:
    """The ranking options of :func:`rank`; build it with :func:`rank_options`, which checks them.

    ``cutoffs`` is ``"registry"``, ``"reference"`` or ``"given"`` (then
    ``table`` holds the cutoffs per scope).
    """

    cutoffs: str = "registry"
    n: int = 10
    max_desil: int | None = 4
    line: float | None = None
    weighting: str = "person"
    id_col: str | None = "hh_id"
    table: Mapping[str, np.ndarray] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.cutoffs == "given" and self.table is None:
            raise ArgumentError(
                "RankOptions(cutoffs='given') needs table=; build options with "
                "pmt.rank.rank_options(cutoffs={...}).",
                argument="cutoffs",
            )


def mode_cutoffs(
    options: RankOptions, ws: WeightSet, provinces: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(provincial (G, n-1), national (1, n-1)) cutoffs of the reference or given mode.

    For the provinces ``provinces`` (2-digit codes, ascending); ``(None, None)``
    in registry mode. The one check of a mode's cutoff table: the in-memory path
    and the Dask path (:mod:`pmt.dask`) both call it.
    """
    n = options.n
    if options.cutoffs == "reference":
        if not ws.cutoffs:
            raise WeightSetError(
                f"cutoffs='reference' but weight set {ws.id} has no reference cutoffs. Fix: use "
                "cutoffs='registry', or a weight set with a cutoffs.csv."
            )
        if ws.cutoff_classes != n:
            raise ArgumentError(
                f"n={n} but the reference cutoffs of {ws.id} are for "
                f"n={ws.cutoff_classes} classes. Fix: pass "
                f"n={ws.cutoff_classes} or use cutoffs='registry'.",
                argument="n",
            )
        return _cutoff_table(ws.cutoffs, provinces, n, ws)
    if options.cutoffs == "given":
        assert options.table is not None  # rank_options guarantees it
        return _cutoff_table(options.table, provinces, n, None)
    return None, None
