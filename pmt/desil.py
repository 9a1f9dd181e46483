"""The desil rule over arrays: rank, share below and desil in both scopes, and cutoffs.

One sort of welfare and one walk per scope (:mod:`pmt._kernels`) give every
household its rank and the person weight strictly poorer; a pass in input
order gives the desil, the shares below and the scope's registry cutoffs;
reference or given cutoffs replace the registry desil.
:func:`assign_desil` and :func:`reference_cutoffs` are the rule on plain
arrays; :func:`pmt.rank` and every other path reach it through
:func:`_rank_scopes` (see ``docs/desil.md``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import _kernels as K
from . import _memory
from .errors import (
    ArgumentError,
    PopulationTooSmallError,
    SmallPopulationWarning,
    WeightSetError,
)
from .results import DesilResult
from .weights import WeightSet

__all__ = ["MAX_TOTAL_WEIGHT", "MIN_REGISTRY_PER_CLASS", "assign_desil", "reference_cutoffs"]


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= 100:
        raise ArgumentError(
            f"n (number of classes) must be a whole number from 2 to 100; got "
            f"{n!r}. Fix: n=10 for desil.",
            argument="n",
        )


#: Person weights of one scope may sum to at most this (2**53): beyond it, sums of
#: whole-number weights are no longer exact in float64 and a household could move
#: across a cutoff.
MAX_TOTAL_WEIGHT = float(2**53)


#: Registry cutoffs from fewer households than this per class draw a
#: :class:`~pmt.errors.SmallPopulationWarning` (``docs/desil.md``, "Small populations").
MIN_REGISTRY_PER_CLASS = 100


class _Scopes(NamedTuple):
    """Desil, rank, share below and registry cutoffs, nationally and within groups."""

    desil_national: np.ndarray
    rank_national: np.ndarray
    share_national: np.ndarray
    cut_national: np.ndarray
    desil_group: np.ndarray
    rank_group: np.ndarray
    share_group: np.ndarray
    cut_group: np.ndarray


def _group_dtype(n_groups: int) -> type:
    return np.uint8 if n_groups <= 255 else np.int32


def _rank_scopes(
    welfare: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    n: int,
    ref_national: np.ndarray | None = None,
    ref_group: np.ndarray | None = None,
    clock: Callable[[str], None] | None = None,
    workspace: Any = None,
    bounds: tuple[float, float] | None = None,
) -> _Scopes:
    """Both scopes of the exact rule from one sort (see ``docs/desil.md``).

    ``group`` (n,) holds each household's group index (< ``n_groups``). Welfare
    is sorted once; one walk per scope (on two threads) gives each household
    its rank and the weight strictly poorer ``S``; then, in input order and in
    parallel, desil, ``S / T`` and the registry cutoffs. Reference cutoffs, if given, replace the
    registry desil. ``clock(stage)``, if given, is called as each stage ends
    (``benchmarks/`` times them). Working memory besides the outputs: 28 bytes per household
    (the order, and a workspace that holds the sort's 24-byte records, then the
    24-byte result records). ``workspace`` (a :class:`pmt.ranker.Workspace`), if
    given, lends every buffer and output, so that repeated calls reuse memory.
    ``bounds``, if known, are welfare's smallest and largest values (scoring
    finds them), which the sort would otherwise look for.
    """
    size = welfare.shape[0]
    # One 24-byte-per-household workspace: the sort's records (welfare, weight, input
    # position, group) for the walks, then the records that carry their results back to
    # input order. Reusing it touches less fresh memory, which costs more than the arithmetic.
    work = _buffer(workspace, "work", size, K.sort_record(size))
    idx = _buffer(workspace, "order", size, np.int32 if size < 2**31 else np.int64)
    tick = clock if clock is not None else (lambda stage: None)
    K.sort_welfare(welfare, weight, group, K.n_buckets(size), work, bounds)
    tick("sort welfare (bucket sort of 24-byte records)")
    # the rank and share outputs hold sorted-order values until finish_scopes
    rank_nat = _buffer(workspace, "rank_national", size, np.int32)
    share_nat = _buffer(workspace, "share_national", size, np.float64)
    rank_grp = _buffer(workspace, "rank_group", size, np.int32)
    share_grp = _buffer(workspace, "share_group", size, np.float64)
    tot_nat, tot_grp = K.scope_passes(work, n_groups, rank_nat, share_nat, rank_grp, share_grp, idx)
    _check_totals(float(tot_nat[0]))
    tick("walk up the sorted households (national and provincial, a thread each)")
    # the walks are done with the sort's records (their positions are in idx)
    rec = work.view(np.uint8)[: size * K.RECORD.itemsize].view(K.RECORD)
    del work
    K.scatter_records(idx, rank_nat, share_nat, rank_grp, share_grp, rec)
    del idx
    tick("results back to input order (24-byte records)")
    desil_nat = _buffer(workspace, "desil_national", size, np.int8)
    desil_grp = _buffer(workspace, "desil_group", size, np.int8)
    ref_nat = (
        np.zeros((1, n - 1))
        if ref_national is None
        else np.ascontiguousarray(ref_national, dtype=np.float64)
    )
    ref_grp = (
        np.zeros((n_groups, n - 1))
        if ref_group is None
        else np.ascontiguousarray(ref_group, dtype=np.float64)
    )
    cut_nat, cut_grp = K.finish_scopes(
        welfare,
        group,
        rec,
        tot_nat,
        tot_grp,
        n,
        ref_nat,
        ref_grp,
        ref_national is not None,
        ref_group is not None,
        desil_nat,
        desil_grp,
        rank_nat,
        rank_grp,
        share_nat,
        share_grp,
    )
    tick("desil, rank and share below in input order")
    return _Scopes(desil_nat, rank_nat, share_nat, cut_nat, desil_grp, rank_grp, share_grp, cut_grp)


def _buffer(workspace: Any, name: str, size: int, dtype: Any) -> np.ndarray:
    """A new array (:func:`pmt._memory.buffer`), or the workspace's.

    The workspace's buffer ``name`` is grown if too small. Only the sort's
    records, scattered to and read back at random positions, keep huge pages.
    """
    if workspace is not None:
        return workspace.take(name, size, dtype)
    return _memory.buffer(name, size, dtype)


def _check_totals(total: float) -> None:
    """Every scope's weight sums to something exact and finite.

    The national total bounds every province's, so it alone is checked.
    """
    if not total <= MAX_TOTAL_WEIGHT:  # also NaN / inf from an overflowing sum
        raise ArgumentError(
            f"person weights sum to {total!r}, above the bound 2**53 = {MAX_TOTAL_WEIGHT:.4g}"
            " (rule: beyond it float64 sums of whole-number weights are no longer exact, and "
            "a household could cross a cutoff). Fix: check the survey weights (people, not "
            "rupiah), or rescale them.",
            argument="person_weight",
        )


def _real(values: Any) -> Any:
    """``values`` (an array, or a sequence made one), refused if complex.

    numpy would cast complex numbers to float64 by dropping their imaginary parts.
    """
    if not hasattr(values, "dtype"):
        values = np.asarray(values)
    if getattr(values.dtype, "kind", "") == "c":
        raise TypeError(f"dtype {values.dtype}: complex numbers would lose their imaginary parts")
    return values


def _desil_arrays(
    welfare: Any, person_weight: Any, groups: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """Checked (welfare, person weight, group index, group labels) for plain-array calls."""
    try:
        w = np.ascontiguousarray(_real(welfare), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"welfare must be an array of numbers; got {type(welfare).__name__} "
            f"({exc}). Fix: pass a float array of shape (n_households,)."
        ) from None
    if w.ndim != 1:
        raise ArgumentError(
            f"welfare must be one-dimensional; got shape {w.shape}. Fix: pass "
            "shape (n_households,).",
            argument="welfare",
        )
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        raise ArgumentError(
            f"welfare must be finite; {bad.size:,} NaN/inf values, e.g. at "
            f"positions {bad[:5].tolist()}. Fix: drop or fix those households "
            "first.",
            argument="welfare",
        )
    if person_weight is None:
        p = np.ones_like(w)
    else:
        try:
            p = np.ascontiguousarray(_real(person_weight), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"person_weight must be an array of numbers ({exc}). Fix: pass a "
                "float array of shape (n_households,)."
            ) from None
    if p.shape != w.shape:
        raise ArgumentError(
            f"person_weight has shape {p.shape} but welfare {w.shape}; they must "
            "match (one weight per household).",
            argument="person_weight",
        )
    bad = np.flatnonzero(~np.isfinite(p) | (p < 0))
    if bad.size:
        raise ArgumentError(
            f"person_weight must be finite and >= 0; not so at positions "
            f"{bad[:5].tolist()} ({p[bad[:5]].tolist()}). Fix: correct those "
            "weights.",
            argument="person_weight",
        )
    if groups is None:
        labels: list[Any] = [None]
        group = np.zeros(w.shape[0], dtype=np.uint8)
    else:
        g = np.asarray(groups)
        if g.shape != w.shape:
            raise ArgumentError(
                f"groups has shape {g.shape} but welfare {w.shape}; they must "
                "match (one label per household).",
                argument="groups",
            )
        codes, uniques = pd.factorize(g, sort=True)
        if (codes < 0).any():
            bad = np.flatnonzero(codes < 0)
            raise ArgumentError(
                f"groups must not contain missing labels; missing at positions {bad[:5].tolist()}.",
                argument="groups",
            )
        labels, group = list(uniques), codes.astype(_group_dtype(len(uniques)))
    totals = np.bincount(group, weights=p, minlength=len(labels))
    for g_i, label in enumerate(labels):
        if not totals[g_i] > 0:
            scope = "" if groups is None else f" of group {label!r}"
            raise ArgumentError(
                f"the person weights{scope} sum to 0; desil shares are "
                "undefined. Fix: give its households positive weights.",
                argument="person_weight",
            )
    _check_totals(float(totals.sum()))
    return w, p, group, labels


def _cutoff_rows(cutoffs: Any, labels: Sequence[Any], n: int, *, grouped: bool) -> np.ndarray:
    """(len(labels), n-1) reference cutoffs from an array or a mapping label -> array."""
    out = np.empty((len(labels), n - 1))
    for g, label in enumerate(labels):
        if isinstance(cutoffs, Mapping):
            if label not in cutoffs:
                raise ArgumentError(
                    f"cutoffs has no entry for group {label!r}; it must map every group label "
                    f"to its (n-1,) cutoffs (reference_cutoffs() returns such a mapping).",
                    argument="cutoffs",
                )
            c = cutoffs[label]
        elif grouped:
            raise ArgumentError(
                "with groups, cutoffs must be a mapping of group label -> (n-1,) cutoffs.",
                argument="cutoffs",
            )
        else:
            c = cutoffs
        out[g] = _one_cutoff_row(c, n, "cutoffs" if not grouped else f"cutoffs[{label!r}]")
    return out


def _one_cutoff_row(c: Any, n: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(_real(c), dtype=np.float64)
    except (TypeError, ValueError):  # complex cutoffs too
        arr = np.zeros(0)
    if arr.shape != (n - 1,) or not np.isfinite(arr).all() or (np.diff(arr) < 0).any():
        raise ArgumentError(
            f"{where} must be {n - 1} finite, non-decreasing numbers for n={n}; "
            f"got {_brief(c)}. Fix: pass the cutoffs c_1..c_{n - 1}.",
            argument="cutoffs",
        )
    return arr


def _brief(value: Any) -> str:
    """``value`` on one line, at most 80 characters (an array's repr spans lines)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def assign_desil(
    welfare: Any, person_weight: Any = None, *, groups: Any = None, cutoffs: Any = None, n: int = 10
) -> DesilResult:
    """Desil, rank and share below of plain arrays, by the exact rule.

    Parameters
    ----------
    welfare : array-like of float, shape (n_households,)
        Finite.
    person_weight : array-like of float, shape (n_households,), optional
        Finite, non-negative weights (household size, …); default 1 per
        household. Each group's weights must sum to more than 0 and all of them
        to at most 2**53.
    groups : array-like, shape (n_households,), optional
        Scope labels (e.g. province codes); ranks are computed within each.
    cutoffs : array-like of shape (n-1,), or mapping of group label -> (n-1,), optional
        Reference cutoffs; default: computed from the data themselves (registry
        mode). The mapping :func:`reference_cutoffs` returns is accepted as is.
    n : int, default 10
        Number of classes.

    Raises
    ------
    pmt.errors.ArgumentError
        Naming the argument that breaks its rule.
    """
    _check_n(n)
    w, p, group, labels = _desil_arrays(welfare, person_weight, groups)
    cut = None
    if cutoffs is not None:
        cut = _cutoff_rows(cutoffs, labels, n, grouped=groups is not None)
    r = _rank_scopes(w, p, group, len(labels), n, ref_group=cut)
    return DesilResult(r.desil_group, r.rank_group, r.share_group)


def reference_cutoffs(
    welfare: Any, person_weight: Any = None, *, groups: Any = None, n: int = 10
) -> dict[Any, np.ndarray]:
    """Cutoffs ``c_1..c_{n-1}`` of a reference population (e.g. a survey), per group.

    ``c_k`` is the smallest welfare whose weighted CDF (household counted in)
    reaches ``k/n``. Returns ``{None: cutoffs}`` without groups, else one entry
    per group label; either can be passed back to :func:`assign_desil` as
    ``cutoffs``. Arguments are checked as for :func:`assign_desil`.
    """
    _check_n(n)
    w, p, group, labels = _desil_arrays(welfare, person_weight, groups)
    cut = _rank_scopes(w, p, group, len(labels), n).cut_group
    return {label: cut[g].copy() for g, label in enumerate(labels)}


def _check_registry_size(size: int, counts: np.ndarray, n: int) -> None:
    """Registry cutoffs need a population: refuse fewer households than classes.

    Warn when a scope has fewer than :data:`MIN_REGISTRY_PER_CLASS` households
    per class.
    """
    if size < n:
        raise PopulationTooSmallError(
            f"cutoffs='registry' needs at least n={n} households to cut into {n} classes; got "
            f"{size:,} (rule: registry desil are deciles of the input itself, so a handful of "
            "households — one application at a time — would be ranked against each other). "
            "Fix: pass cutoffs='reference' (the weight set's survey cutoffs) or the cutoffs of "
            "an adopted ranking.",
            argument="cutoffs",
        )
    small = [f"{p:02d}" for p in np.flatnonzero((counts > 0) & (counts < n)).tolist()]
    if size < MIN_REGISTRY_PER_CLASS * n or small:
        where = (
            f"{size:,} households nationally"
            if size < MIN_REGISTRY_PER_CLASS * n
            else f"provinces {small[:10]} with fewer than {n} households each"
        )
        warnings.warn(
            f"cutoffs='registry' on {where}: registry cutoffs from fewer than "
            f"{MIN_REGISTRY_PER_CLASS} households per class are coarse. For a partial registry "
            "or a few households, pass cutoffs='reference'.",
            SmallPopulationWarning,
            stacklevel=3,
        )


def _cutoff_table(
    table: Mapping[str, np.ndarray], provinces: np.ndarray, n: int, ws: WeightSet | None
) -> tuple[np.ndarray, np.ndarray]:
    """(provincial (G, n-1), national (1, n-1)) cutoffs for the provinces present.

    From the weight set's reference cutoffs (``ws``) or the caller's (``ws``
    None).
    """
    missing = [f"{p:02d}" for p in provinces.tolist() if f"{p:02d}" not in table]
    if missing:
        text = (
            f"has no cutoffs for provinces {missing[:10]} (rule: reference cutoffs are "
            "needed for every province ranked). Fix: add them, or use cutoffs='registry'."
        )
        if ws is not None:
            raise WeightSetError(f"weight set {ws.id} {text} Its cutoffs.csv needs the rows.")
        raise ArgumentError(f"cutoffs {text}", argument="cutoffs")
    prov = np.array([table[f"{p:02d}"] for p in provinces.tolist()]).reshape(-1, n - 1)
    return np.ascontiguousarray(prov), np.asarray(table["national"]).reshape(1, -1).copy()
