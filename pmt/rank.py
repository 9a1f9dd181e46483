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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._log import get_logger, log_rejects, timed
from ._progress import ProgressCallback, check_progress, report
from ._threads import kernels as K  # parallel kernels guarded for concurrent calls
from .desil import _buffer, _check_registry_size, _rank_scopes, assign_desil, reference_cutoffs
from .encode import Encoded, encode
from .errors import (
    NonFiniteWelfareError,
)
from .options import CutoffMode, RankOptions, _check_options, mode_cutoffs, rank_options
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


def score_encoded(
    enc: Encoded, ws: WeightSet, *, out: np.ndarray | None = None, bounds: np.ndarray | None = None
) -> np.ndarray:
    """Welfare of encoded households: the one scoring implementation.

    ``out``, if given, is a (n_households,) float64 array to write welfare into;
    ``bounds``, a (3,) float64 array that gets the smallest and largest welfare
    (and 0, the number not finite: others raise).

    Returns
    -------
    welfare : (n_households,) float64
    """
    return _score(enc, ws, np.zeros((0, 0)), out, bounds)


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


def _score(
    enc: Encoded,
    ws: WeightSet,
    terms: np.ndarray,
    out: np.ndarray | None = None,
    bounds: np.ndarray | None = None,
) -> np.ndarray:
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
    bounds = np.empty(3) if bounds is None else bounds  # smallest, largest, not finite
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
        out,
        bounds,
    )
    if bounds[2]:
        bad = np.flatnonzero(~np.isfinite(welfare))
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
    report(progress, result.n_households, result.n_households, "ranking")
    log_rejects(_log, result.rejects, result.n_input)
    if adopted is not None:  # provenance: the adopted round the desil come from
        from dataclasses import replace

        result = replace(result, snapshot=getattr(cutoffs, "stamp", None))
    if uncertainty:
        from .operations.uncertainty import with_uncertainty

        result = with_uncertainty(result, ws, options)
    return result


def rank_encoded(
    enc: Encoded,
    weights: WeightSet | str,
    options: RankOptions | None = None,
    *,
    workspace: Any = None,
) -> RankResult:
    """Score and rank households that :func:`pmt.encode.encode` has validated and encoded.

    The compute part of :func:`rank` (what ``benchmarks/`` times as "compute
    only"): encoded arrays in, :class:`RankResult` out. ``workspace`` (a
    :class:`pmt.ranker.Workspace`) lends every work buffer and output
    (:class:`pmt.Ranker` passes its own).
    """
    options = _check_options(RankOptions() if options is None else options)
    ws = _weights(weights)
    return rank_scored(
        _scored(enc, ws, workspace),
        ws,
        options,
        workspace=workspace,
        ids=enc.ids,
        index=enc.index,
        rows=enc.rows,
        rejects=enc.rejects,
        n_input=enc.n_input,
    )


@dataclass(frozen=True, eq=False)
class Scored:
    """What ranking needs of each household: a few bytes each.

    welfare (n,) float64; model (n,) int32 row of the weight set's
    coefficients; province (n,) int8 2-digit code; person_weight (n,) float64;
    scopes, if already known, the province groups :func:`_province_groups`
    would find (households per code, the codes present, each household's group);
    bounds, if known, the smallest and largest welfare (the sort needs them).
    """

    welfare: np.ndarray
    model: np.ndarray
    province: np.ndarray
    person_weight: np.ndarray
    scopes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    bounds: tuple[float, float] | None = None


def _scored(enc: Encoded, ws: WeightSet, workspace: Any = None) -> Scored:
    """Welfare, model row, province, person weight and province groups of encoded households."""
    welfare, bounds = _welfare_and_bounds(enc, ws, workspace)
    model, province, scopes = _cell_scopes(enc, workspace)
    assert model is not None
    return Scored(welfare, model, province, enc.person_weight, scopes, bounds)


def _welfare_and_bounds(
    enc: Encoded, ws: WeightSet, workspace: Any = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Welfare (in the workspace's buffer, if given) and its smallest and largest value."""
    bounds = np.empty(3)
    out = _buffer(workspace, "welfare", enc.n, np.float64)
    welfare = score_encoded(enc, ws, out=out, bounds=bounds)
    return welfare, (float(bounds[0]), float(bounds[1]))


def _cell_scopes(
    enc: Encoded, workspace: Any = None, *, model: bool = True
) -> tuple[np.ndarray | None, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Model rows (or None without ``model``), province codes and province groups of households.

    One pass over the households' cells (:func:`pmt._kernels.gather_cells`)
    instead of a gather each and a count: the groups are numbered over the
    provinces of the encoder's cells, which are those of the households
    unless a cell has none left (then the groups come from the codes, as
    :func:`_province_groups` finds them).
    """
    n = enc.n
    cell_province = (np.asarray(enc.cell_district) // 100).astype(np.int8)
    present = np.unique(cell_province).astype(np.int64)
    lut = np.zeros(100, dtype=np.uint8)
    lut[present] = np.arange(present.size, dtype=np.uint8)
    model_rows = _buffer(workspace, "model", n, np.int32) if model else None
    province = _buffer(workspace, "province", n, np.int8)
    group = _buffer(workspace, "group", n, np.uint8)
    per_cell = K.gather_cells(
        np.ascontiguousarray(enc.cell, dtype=np.int32),
        np.ascontiguousarray(enc.cell_model, dtype=np.int32),
        cell_province,
        lut[cell_province],
        model_rows,
        province,
        group,
    )
    counts = np.zeros(100, dtype=np.int64)
    np.add.at(counts, cell_province.astype(np.intp), per_cell)
    if (counts[present] == 0).any():  # a province of the cell table has no household
        return model_rows, province, _province_groups(province, workspace)
    return model_rows, province, (counts, present, group)


def _province_groups(
    province: np.ndarray, workspace: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Households per province code (100), the codes present, and each household's group.

    The group is the province's index among the codes present (uint8), the
    scope the ranking and the selection kernels work in.
    """
    counts = np.bincount(province, minlength=100)
    provinces = np.flatnonzero(counts)
    lut = np.zeros(100, dtype=np.uint8)
    lut[provinces] = np.arange(provinces.size, dtype=np.uint8)
    group = np.take(lut, province, out=_buffer(workspace, "group", province.size, np.uint8))
    return counts, provinces, group


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
    workspace: Any = None,
) -> RankResult:
    """National and provincial desil, rank and share below of scored households.

    The one ranking path: :func:`rank` and the chunked file path both end here.
    ``workspace`` (a :class:`pmt.ranker.Workspace`) lends the buffers.
    """
    options = _check_options(options)
    n = options.n
    welfare = scored.welfare
    counts, provinces, group = (
        _province_groups(scored.province, workspace) if scored.scopes is None else scored.scopes
    )
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
        workspace=workspace,
        bounds=scored.bounds,
    )
    del group
    d_nat, r_nat, s_nat, c_nat = r.desil_national, r.rank_national, r.share_national, r.cut_national
    d_prv, r_prv, s_prv, c_prv = r.desil_group, r.rank_group, r.share_group, r.cut_group
    if options.line is None:
        limit: Any = options.max_desil  # set whenever line is None
        eligible = np.less_equal(
            d_nat,
            limit,
            out=None if workspace is None else workspace.take("eligible", welfare.size, np.bool_),
        )
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
