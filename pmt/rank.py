"""Score, rank and assign desil: the public entry points and the result object.

See ``docs/desil.md`` for the exact rule. In short, within a scope (the
country, or one province), with person weights ``p``, total ``T`` and
``S_i`` the weight of households strictly poorer than ``i``::

    desil_i       = 1 + #{k in 1..n-1 : n*S_i >= k*T}     (registry cutoffs)
    desil_i       = 1 + #{k : welfare_i > c_k}            (reference cutoffs)
    rank_i        = 1 + #{j : welfare_j < welfare_i}      (1 = poorest)
    share_below_i = S_i / T
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from ._log import get_logger, log_rejects, timed
from ._progress import ProgressCallback, check_progress, report
from ._threads import kernels as K  # parallel kernels guarded for concurrent calls
from .encode import Encoded, encode
from .errors import (
    ArgumentError,
    NonFiniteWelfareError,
    PopulationTooSmallError,
    SmallPopulationWarning,
    WeightSetError,
)
from .results import DesilResult, RankResult
from .weights import WeightSet, load_weights

if TYPE_CHECKING:  # the operations package builds on this module
    from .operations.snapshot import Snapshot

__all__ = [
    "DesilResult",
    "RankOptions",
    "RankResult",
    "assign_desil",
    "rank",
    "rank_encoded",
    "rank_options",
    "rank_scored",
    "reference_cutoffs",
    "score",
    "score_encoded",
    "score_terms",
]

CutoffMode = Literal["registry", "reference"]
_log = get_logger(__name__)


def _weights(weights: WeightSet | str) -> WeightSet:
    if isinstance(weights, WeightSet):
        return weights
    if isinstance(weights, str) or hasattr(weights, "__fspath__"):
        return load_weights(weights)
    raise TypeError(
        f"weights must be a WeightSet, a shipped name or a folder; got "
        f"{type(weights).__name__}. Fix: pmt.load_weights('demo')."
    )


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


def score_encoded(enc: Encoded, ws: WeightSet) -> np.ndarray:
    """Welfare of encoded households: the one scoring implementation.

    Returns
    -------
    welfare : (n_households,) float64
    """
    return _score(enc, ws, np.zeros((0, 0)))


def score_terms(enc: Encoded, ws: WeightSet) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Welfare and each term's contribution, from the scoring kernel itself.

    Returns
    -------
    names : tuple of str
        ``"intercept"``, each lookup variable, each numeric term, then
        ``"minus_log_poverty_line"``, in the order the kernel adds them.
    terms : (n_households, len(names)) float64
        Each household's contributions, in that order.
    welfare : (n_households,) float64
        Bit for bit what :func:`score_encoded` returns.
    """
    spec = ws.spec
    names = (
        "intercept",
        *(v.name for v in spec.lookup_variables),
        *spec.numeric_terms,
        "minus_log_poverty_line",
    )
    terms = np.empty((enc.n, len(names)), dtype=np.float64)
    return names, terms, _score(enc, ws, terms)


def _score(enc: Encoded, ws: WeightSet, terms: np.ndarray) -> np.ndarray:
    spec = ws.spec
    n_lookup_cols = len(spec.lookup_terms)
    coef = ws.coefficients
    table = np.ascontiguousarray(coef[:, 1 : 1 + n_lookup_cols])
    beta = np.ascontiguousarray(coef[:, 1 + n_lookup_cols :])
    intercept = np.ascontiguousarray(coef[:, 0])
    sizes = np.array([len(v.code_values) for v in spec.lookup_variables], dtype=np.int64)
    offsets = (
        np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        if sizes.size
        else np.zeros(0, dtype=np.int64)
    )
    welfare = K.score(
        enc.codes,
        offsets,
        sizes,
        K.lookup_by_variable(table, offsets, sizes),
        enc.numeric,
        np.ascontiguousarray(beta.T),
        intercept,
        enc.cell,
        enc.cell_model,
        enc.cell_shift,
        terms,
    )
    bad = np.flatnonzero(~np.isfinite(welfare))
    if bad.size:
        raise NonFiniteWelfareError(
            f"welfare is not finite for {bad.size} households (rows "
            f"{enc.rows[bad[:5]].tolist()}): the weight set's coefficients overflow on these "
            "inputs. Fix: check the coefficients of the models that scored them."
        )
    return welfare


def score(
    households: Any,
    weights: WeightSet | str,
    *,
    id_col: str | None = "hh_id",
    region_scheme: str | None = None,
    progress: ProgressCallback | None = None,
) -> pd.Series:
    """Welfare of each household (no ranking).

    Welfare is the predicted log per-capita consumption minus the log poverty
    line of the household's region; without poverty lines in the weight set,
    the raw prediction. Invalid input raises (use :func:`rank` with
    ``on_invalid="reject"`` to set bad rows aside).

    ``progress``, if given, is called as ``progress(done, total, stage)`` when
    each stage ends (``"validating"``, then ``"scoring"``; :mod:`pmt._progress`).

    Returns
    -------
    pandas.Series of float64, named ``welfare``, with the input's index.
    """
    progress = check_progress(progress)
    ws = _weights(weights)
    enc = encode(households, ws, id_col=id_col, region_scheme=region_scheme)
    report(progress, enc.n_input, enc.n_input, "validating")
    welfare = pd.Series(score_encoded(enc, ws), index=enc.index, name="welfare")
    report(progress, enc.n, enc.n, "scoring")
    return welfare


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
) -> _Scopes:
    """Both scopes of the exact rule from one sort (see ``docs/desil.md``).

    ``group`` (n,) holds each household's group index (< ``n_groups``). Welfare
    is sorted once; one walk per scope (on two threads) gives each household
    its rank and the weight strictly poorer ``S``; then, in input order and in
    parallel, desil and ``S / T``. Reference cutoffs, if given, replace the
    registry desil. ``clock(stage)``, if given, is called as each stage ends
    (``benchmarks/`` times them). Working memory besides the outputs: 28 bytes per household
    (the order, and a workspace that holds sorted welfare, weights and groups, then
    24-byte result records).
    """
    size = welfare.shape[0]
    # One 24-byte-per-household workspace: sorted welfare, weights and groups for
    # the walks, then the records that carry their results back to input order.
    # Reusing it touches less fresh memory, which costs more than the arithmetic.
    work = np.empty(size, dtype=K.RECORD)
    raw = work.view(np.uint8)
    key = raw[: 8 * size].view(np.float64)
    sw = raw[8 * size : 16 * size].view(np.float64)
    sg = raw[16 * size : 16 * size + size * group.itemsize].view(group.dtype)
    idx = np.empty(size, dtype=np.int32 if size < 2**31 else np.int64)
    tick = clock if clock is not None else (lambda stage: None)
    K.sort_welfare(welfare, weight, group, K.n_buckets(size), key, idx, sw, sg)
    tick("sort welfare (bucket sort carrying weight and group)")
    # the rank and share outputs hold sorted-order values until finish_scopes
    rank_nat = np.empty(size, dtype=np.int32)
    share_nat = np.empty(size, dtype=np.float64)
    rank_grp = np.empty(size, dtype=np.int32)
    share_grp = np.empty(size, dtype=np.float64)
    tot_nat, tot_grp, cut_nat, cut_grp = K.scope_passes(
        key, sw, sg, n_groups, n, rank_nat, share_nat, rank_grp, share_grp
    )
    _check_totals(tot_nat)
    tick("walk up the sorted households (national and provincial, a thread each)")
    del key, sw, sg, raw
    rec = work  # the walks are done with key, sw and sg
    K.scatter_records(idx, rank_nat, share_nat, rank_grp, share_grp, rec)
    del idx
    tick("results back to input order (24-byte records)")
    desil_nat = np.empty(size, dtype=np.int8)
    desil_grp = np.empty(size, dtype=np.int8)
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
    K.finish_scopes(
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


def _desil_arrays(
    welfare: Any, person_weight: Any, groups: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """Checked (welfare, person weight, group index, group labels) for plain-array calls."""
    try:
        w = np.ascontiguousarray(welfare, dtype=np.float64)
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
            p = np.ascontiguousarray(person_weight, dtype=np.float64)
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
        arr = np.asarray(c, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.shape != (n - 1,) or not np.isfinite(arr).all() or (np.diff(arr) < 0).any():
        raise ArgumentError(
            f"{where} must be {n - 1} finite, non-decreasing numbers for n={n}; "
            f"got {c!r:.80}. Fix: pass the cutoffs c_1..c_{n - 1}.",
            argument="cutoffs",
        )
    return arr


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


def rank(
    households: Any,
    weights: WeightSet | str,
    *,
    cutoffs: CutoffMode | Mapping[str, Any] | Snapshot = "registry",
    n: int = 10,
    max_desil: int | None = None,
    line: float | None = None,
    weight: str | None = None,
    weighting: Literal["person", "household"] = "person",
    on_invalid: Literal["raise", "reject"] = "raise",
    id_col: str | None = "hh_id",
    region_scheme: str | None = None,
    allow_other_weights: bool = False,
    uncertainty: bool = False,
    progress: ProgressCallback | None = None,
) -> RankResult:
    """Score households and assign national and provincial desil.

    Parameters
    ----------
    households : DataFrame or Table
        A pandas DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader, a
        polars DataFrame or LazyFrame (``docs/api.md``). ``hh_id``,
        ``district_code``, ``urban``, ``hh_size`` and the weight
        set's variables, matched by name.
    weights : WeightSet or str
        A loaded weight set, a shipped name (``"demo"``) or a folder.
    cutoffs : {"registry", "reference"}, mapping or Snapshot
        ``registry``: desil are population deciles of the input itself (a
        full-population registry; refused for fewer households than classes,
        and a :class:`~pmt.errors.SmallPopulationWarning` below 100 households
        per class). ``reference``: desil come from the weight set's cutoffs (a
        registry holding only part of the population, or one household at a
        time). A mapping ``{"national": c, "PP": c, ...}`` of ``n - 1`` cutoffs
        per scope (such as ``RankResult.registry_cutoffs`` of an earlier
        ranking) gives the cutoffs explicitly; the result records
        ``cutoff_mode="given"``. A :class:`pmt.operations.Snapshot` (an
        adopted ranking) gives its cutoffs and, unless ``max_desil`` or
        ``line`` is given, its eligibility rule; it is refused for another
        weight set or ``n``. Rank and share below are always within the input.
    n : int, default 10
        Number of classes.
    max_desil : int, optional
        ``eligible = desil_national <= max_desil`` (quota rule; default 4).
    line : float, optional
        Line rule instead: ``eligible = welfare <= line`` (0 = at the poverty
        line). Give ``max_desil`` or ``line``, not both.
    weight : str, optional
        Column of survey weights multiplied into the person weight.
    weighting : {"person", "household"}
        Desil as shares of people (default) or of households.
    on_invalid : {"raise", "reject"}
        Raise on the first broken rule, or set bad rows aside in ``.rejects``.
    id_col : str or None, default "hh_id"
        Whole numbers or text, passed through exactly (see :func:`pmt.encode.encode`).
    region_scheme : {"BPS", "Kemendagri"}, optional
        The scheme of the input's district codes; refused unless it is the weight
        set's (default: assume the weight set's).
    allow_other_weights : bool, default False
        With ``cutoffs=`` a :class:`pmt.operations.Snapshot`: place households
        even though ``weights`` is not the weight set the snapshot was adopted
        with (refused otherwise).
    uncertainty : bool, default False
        Add each household's probability of being eligible and of each desil
        under its model's residual variance (``p_eligible``, ``p_desil``; see
        :func:`pmt.operations.uncertainty.desil_probabilities`). Needs a weight
        set that records residual variances.
    progress : callable, optional
        Called as ``progress(done, total, stage)`` when each stage ends
        (``"validating"``, then ``"ranking"``); see :mod:`pmt._progress`.

    Returns
    -------
    RankResult
    """
    progress = check_progress(progress)
    given: Any = cutoffs
    adopted = getattr(cutoffs, "rank_arguments", None)  # a pmt.operations.Snapshot
    if adopted is not None:
        ws = _weights(weights)
        given, max_desil, line = adopted(
            ws, n=n, max_desil=max_desil, line=line, allow_other_weights=allow_other_weights
        )
        weights = ws
    options = rank_options(
        cutoffs=given,
        n=n,
        max_desil=max_desil,
        line=line,
        weight=weight,
        weighting=weighting,
        id_col=id_col,
    )
    ws = _weights(weights)
    with timed(_log, "validating and encoding"):
        enc = encode(
            households,
            ws,
            weight=weight,
            weighting=weighting,
            on_invalid=on_invalid,
            id_col=id_col,
            region_scheme=region_scheme,
        )
    report(progress, enc.n_input, enc.n_input, "validating")
    with timed(_log, f"scoring and ranking {enc.n} households"):
        result = rank_encoded(enc, ws, options)
    report(progress, result.n, result.n, "ranking")
    log_rejects(_log, result.rejects, result.n_input)
    if uncertainty:
        from .operations.uncertainty import with_uncertainty

        result = with_uncertainty(result, ws, options)
    return result


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
    if weighting not in ("person", "household"):
        raise ArgumentError(
            f"weighting must be 'person' or 'household'; got {weighting!r}.", argument="weighting"
        )
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


def rank_encoded(
    enc: Encoded, weights: WeightSet | str, options: RankOptions | None = None
) -> RankResult:
    """Score and rank households that :func:`pmt.encode.encode` has validated and encoded.

    The compute part of :func:`rank` (what ``benchmarks/`` times as "compute
    only"): encoded arrays in, :class:`RankResult` out.
    """
    options = _check_options(RankOptions() if options is None else options)
    ws = _weights(weights)
    return rank_scored(
        _scored(enc, ws),
        ws,
        options,
        ids=enc.ids,
        index=enc.index,
        rows=enc.rows,
        rejects=enc.rejects,
        n_input=enc.n_input,
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


@dataclass(frozen=True, eq=False)
class Scored:
    """What ranking needs of each household: a few bytes each.

    welfare (n,) float64; model (n,) int32 row of the weight set's
    coefficients; province (n,) int8 2-digit code; person_weight (n,) float64.
    """

    welfare: np.ndarray
    model: np.ndarray
    province: np.ndarray
    person_weight: np.ndarray


def _scored(enc: Encoded, ws: WeightSet) -> Scored:
    """Welfare, model row, province and person weight of encoded households."""
    cell_province = (np.asarray(enc.cell_district) // 100).astype(np.int8)
    return Scored(
        welfare=score_encoded(enc, ws),
        model=enc.cell_model[enc.cell],
        province=cell_province[enc.cell],
        person_weight=enc.person_weight,
    )


def rank_scored(
    scored: Scored,
    ws: WeightSet,
    options: RankOptions,
    *,
    ids: Any,
    index: pd.Index,
    rows: np.ndarray,
    rejects: pd.DataFrame,
    n_input: int,
) -> RankResult:
    """National and provincial desil, rank and share below of scored households.

    The one ranking path: :func:`rank` and the chunked file path both end here.
    """
    options = _check_options(options)
    n = options.n
    welfare = scored.welfare
    counts = np.bincount(scored.province, minlength=100)
    provinces = np.flatnonzero(counts)
    lut = np.zeros(100, dtype=np.uint8)
    lut[provinces] = np.arange(provinces.size, dtype=np.uint8)
    group = lut[scored.province]
    prov_cut, nat_cut = mode_cutoffs(options, ws, provinces)
    if options.cutoffs == "registry" and welfare.size:
        _check_registry_size(welfare.size, counts, n)
    r = _rank_scopes(
        welfare,
        scored.person_weight,
        group,
        int(provinces.shape[0]),
        n,
        ref_national=nat_cut,
        ref_group=prov_cut,
    )
    del group
    d_nat, r_nat, s_nat, c_nat = r.desil_national, r.rank_national, r.share_national, r.cut_national
    d_prv, r_prv, s_prv, c_prv = r.desil_group, r.rank_group, r.share_group, r.cut_group
    if options.line is None:
        eligible = d_nat <= options.max_desil
        rule = f"desil_national <= {options.max_desil}"
    else:
        eligible = welfare <= options.line
        rule = f"welfare <= {options.line!r}"
    registry_cut = {"national": c_nat[0]} if welfare.size else {}
    registry_cut.update({f"{p:02d}": c_prv[g] for g, p in enumerate(provinces.tolist())})
    return RankResult(
        welfare=welfare,
        model=scored.model,
        model_keys=ws.model_keys,
        province=scored.province,
        desil_national=d_nat,
        desil_provincial=d_prv,
        rank_national=r_nat,
        rank_provincial=r_prv,
        share_below_national=s_nat,
        share_below_provincial=s_prv,
        eligible=eligible,
        person_weight=scored.person_weight,
        ids=ids,
        index=index,
        rows=rows,
        rejects=rejects,
        n_input=n_input,
        id_col=options.id_col,
        weights_id=ws.id,
        weights_hash=ws.content_hash,
        weights_synthetic=ws.manifest.synthetic,
        cutoff_mode=options.cutoffs,
        n_classes=n,
        eligibility=rule,
        welfare_kind=(
            "log(predicted per-capita consumption / poverty line)"
            if ws.has_poverty_lines
            else "predicted log per-capita consumption"
        ),
        weighting=options.weighting,
        registry_cutoffs=registry_cut,
        max_desil=options.max_desil,
        line=options.line,
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
