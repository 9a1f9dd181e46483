"""Desil without ranks: registry cutoffs by weighted selection, then one comparison each.

:func:`desil_only` gives the same desil as :func:`pmt.assign_desil`, bit for
bit, without ranks and shares below. With whole-number person weights (household
size, or one per household) and a total below ``2**53``, the ``n - 1``
registry cutoffs of each scope are found by weighted selection in linear
expected time — no full sort, no permutation, no results carried back to input
order (:mod:`pmt._kernels.select`) — and each household's desil is
``1 + #{k : welfare > c_k}``, which is the registry rule exactly
(``docs/desil.md``). Other weights (survey weights with fractions) take the
full path, whose canonical summation order such sums need.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._kernels import select as KS
from .desil import (
    MAX_TOTAL_WEIGHT,
    _buffer,
    _check_n,
    _cutoff_rows,
    _desil_arrays,
    _rank_scopes,
)

__all__ = ["DesilOnly", "desil_only"]


class DesilOnly(NamedTuple):
    """Desil of :func:`desil_only` and the cutoffs they come from.

    ``desil`` (n_households,) int8; ``cutoffs`` maps each group label (``None``
    without groups) to its ``n - 1`` cutoffs (the registry cutoffs, or the
    cutoffs passed in); ``selected`` is True when the cutoffs were found by
    selection, False when the full path ranked the households (weights that
    are not whole numbers).
    """

    desil: np.ndarray
    cutoffs: dict[Any, np.ndarray]
    selected: bool


class _DesilScopes(NamedTuple):
    desil_national: np.ndarray
    cut_national: np.ndarray
    desil_group: np.ndarray
    cut_group: np.ndarray
    selected: bool


def _desil_scopes(
    welfare: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    n: int,
    ref_national: np.ndarray | None = None,
    ref_group: np.ndarray | None = None,
    workspace: Any = None,
    bounds: tuple[float, float] | None = None,
) -> _DesilScopes:
    """National and group desil and registry cutoffs, without ranks (see the module).

    Arguments as :func:`pmt.desil._rank_scopes`; reference cutoffs, if given,
    replace the registry cutoffs in the desil. Falls back to the full path
    when selection would not be exact.
    """
    size = welfare.shape[0]
    t = KS.tally(welfare, weight, group, n_groups, bounds) if size else None
    exact = t is not None and t.odd == 0
    if t is not None and exact:
        total, totals, counts = KS.scope_totals(t)
        # below 2**53 every partial sum of whole numbers is exact, in any order
        exact = total < MAX_TOTAL_WEIGHT and not bool(((counts > 0) & ~(totals > 0)).any())
    if t is None or not exact:
        r = _rank_scopes(
            welfare,
            *(weight, group, n_groups, n, ref_national, ref_group),
            workspace=workspace,
            bounds=bounds,
        )
        return _DesilScopes(r.desil_national, r.cut_national, r.desil_group, r.cut_group, False)
    d_nat = _buffer(workspace, "desil_national", size, np.int8)
    d_grp = _buffer(workspace, "desil_group", size, np.int8)
    if ref_national is None and ref_group is None:
        # registry desil, placed while the cutoffs are found (no pass of their own)
        cut_nat, cut_grp = KS.select_cutoffs(welfare, weight, group, t, n, (d_nat, d_grp))
        return _DesilScopes(d_nat, cut_nat, d_grp, cut_grp, True)
    cut_nat, cut_grp = KS.select_cutoffs(welfare, weight, group, t, n)
    KS.desil_from_cutoffs(
        welfare,
        group,
        cut_nat if ref_national is None else np.ascontiguousarray(ref_national, dtype=np.float64),
        cut_grp if ref_group is None else np.ascontiguousarray(ref_group, dtype=np.float64),
        d_nat,
        d_grp,
    )
    return _DesilScopes(d_nat, cut_nat, d_grp, cut_grp, True)


def desil_only(
    welfare: Any, person_weight: Any = None, *, groups: Any = None, cutoffs: Any = None, n: int = 10
) -> DesilOnly:
    """Desil of plain arrays by the exact rule, without ranks and shares below.

    The same desil as :func:`pmt.assign_desil` with the same arguments, bit for
    bit; faster, and with less memory, when the person weights are whole
    numbers (see the module).

    Parameters
    ----------
    welfare : array-like of float, shape (n_households,)
        Finite.
    person_weight : array-like of float, shape (n_households,), optional
        Finite, non-negative weights; default 1 per household. Each group's
        weights must sum to more than 0 and all of them to at most 2**53.
    groups : array-like, shape (n_households,), optional
        Scope labels (e.g. province codes); desil are computed within each.
    cutoffs : array-like of shape (n-1,), or mapping of group label -> (n-1,), optional
        Reference cutoffs, as for :func:`pmt.assign_desil`; default: the
        registry cutoffs of the data themselves.
    n : int, default 10
        Number of classes.

    Returns
    -------
    DesilOnly
        ``desil``, ``cutoffs`` per group label, and whether selection was used.

    Raises
    ------
    pmt.errors.ArgumentError
        Naming the argument that breaks its rule.
    """
    _check_n(n)
    w, p, group, labels = _desil_arrays(welfare, person_weight, groups)
    ref = None
    if cutoffs is not None:
        ref = _cutoff_rows(cutoffs, labels, n, grouped=groups is not None)
    r = _desil_scopes(w, p, group, len(labels), n, ref_group=ref)
    used = r.cut_group if ref is None else ref
    return DesilOnly(
        r.desil_group, {label: used[g].copy() for g, label in enumerate(labels)}, r.selected
    )
