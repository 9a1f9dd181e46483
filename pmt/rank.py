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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from . import _kernels as K
from .encode import Encoded, encode
from .errors import NonFiniteWelfareError, WeightSetError
from .regions import LEVELS, key_level
from .weights import WeightSet, load_weights

__all__ = ["RankResult", "DesilResult", "score", "rank", "rank_encoded", "assign_desil"]

CutoffMode = Literal["registry", "reference"]


def _weights(weights: WeightSet | str) -> WeightSet:
    if isinstance(weights, WeightSet):
        return weights
    if isinstance(weights, str) or hasattr(weights, "__fspath__"):
        return load_weights(weights)
    raise TypeError(f"weights must be a WeightSet, a shipped name or a folder; got "
                    f"{type(weights).__name__}. Fix: pmt.load_weights('demo').")


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= 100:
        raise ValueError(f"n (number of classes) must be a whole number from 2 to 100; got {n!r}")


def _welfare(enc: Encoded, ws: WeightSet) -> np.ndarray:
    spec = ws.spec
    n_lookup_cols = len(spec.lookup_terms)
    coef = ws.coefficients
    table = np.ascontiguousarray(coef[:, 1:1 + n_lookup_cols])
    beta = np.ascontiguousarray(coef[:, 1 + n_lookup_cols:])
    intercept = np.ascontiguousarray(coef[:, 0])
    sizes = np.array([len(v.code_values) for v in spec.lookup_variables], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes.size \
        else np.zeros(0, dtype=np.int64)
    welfare = K.score(enc.codes, offsets, sizes, K.lookup_by_variable(table, offsets, sizes),
                      enc.numeric, np.ascontiguousarray(beta.T), intercept, enc.cell,
                      enc.cell_model, enc.cell_shift)
    bad = np.flatnonzero(~np.isfinite(welfare))
    if bad.size:
        raise NonFiniteWelfareError(
            f"welfare is not finite for {bad.size} households (rows "
            f"{enc.rows[bad[:5]].tolist()}): the weight set's coefficients overflow on these "
            "inputs. Fix: check the coefficients of the models that scored them.")
    return welfare


def score(households: Any, weights: WeightSet | str, *, id_col: str | None = "hh_id"
          ) -> pd.Series:
    """Welfare of each household (no ranking).

    Welfare is the predicted log per-capita consumption minus the log poverty
    line of the household's region; without poverty lines in the weight set,
    the raw prediction. Invalid input raises (use :func:`rank` with
    ``on_invalid="reject"`` to set bad rows aside).

    Returns
    -------
    pandas.Series of float64, named ``welfare``, with the input's index.
    """
    ws = _weights(weights)
    enc = encode(households, ws, id_col=id_col)
    return pd.Series(_welfare(enc, ws), index=enc.index, name="welfare")


class DesilResult(NamedTuple):
    """Desil, rank and share below of :func:`assign_desil`, each of shape (n,)."""

    desil: np.ndarray
    rank: np.ndarray
    share_below: np.ndarray


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


def _rank_scopes(welfare: np.ndarray, weight: np.ndarray, group: np.ndarray, n_groups: int,
                 n: int, ref_national: np.ndarray | None = None,
                 ref_group: np.ndarray | None = None,
                 clock: Callable[[str], None] | None = None) -> _Scopes:
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
    key = raw[:8 * size].view(np.float64)
    sw = raw[8 * size:16 * size].view(np.float64)
    sg = raw[16 * size:16 * size + size * group.itemsize].view(group.dtype)
    idx = np.empty(size, dtype=np.int32 if size < 2 ** 31 else np.int64)
    tick = clock if clock is not None else (lambda stage: None)
    K.sort_welfare(welfare, weight, group, K.n_buckets(size), key, idx, sw, sg)
    tick("sort welfare (bucket sort carrying weight and group)")
    # the rank and share outputs hold sorted-order values until finish_scopes
    rank_nat = np.empty(size, dtype=np.int32)
    share_nat = np.empty(size, dtype=np.float64)
    rank_grp = np.empty(size, dtype=np.int32)
    share_grp = np.empty(size, dtype=np.float64)
    tot_nat, tot_grp, cut_nat, cut_grp = K.scope_passes(key, sw, sg, n_groups, n, rank_nat,
                                                        share_nat, rank_grp, share_grp)
    tick("walk up the sorted households (national and provincial, a thread each)")
    del key, sw, sg, raw
    rec = work  # the walks are done with key, sw and sg
    K.scatter_records(idx, rank_nat, share_nat, rank_grp, share_grp, rec)
    del idx
    tick("results back to input order (24-byte records)")
    desil_nat = np.empty(size, dtype=np.int8)
    desil_grp = np.empty(size, dtype=np.int8)
    ref_nat = np.zeros((1, n - 1)) if ref_national is None else \
        np.ascontiguousarray(ref_national, dtype=np.float64)
    ref_grp = np.zeros((n_groups, n - 1)) if ref_group is None else \
        np.ascontiguousarray(ref_group, dtype=np.float64)
    K.finish_scopes(
        welfare, group, rec, tot_nat, tot_grp, n, ref_nat, ref_grp, ref_national is not None,
        ref_group is not None, desil_nat, desil_grp, rank_nat, rank_grp, share_nat, share_grp)
    tick("desil, rank and share below in input order")
    return _Scopes(desil_nat, rank_nat, share_nat, cut_nat, desil_grp, rank_grp, share_grp,
                   cut_grp)


def assign_desil(welfare: Any, person_weight: Any = None, *, groups: Any = None,
                 cutoffs: Any = None, n: int = 10) -> DesilResult:
    """Desil, rank and share below of plain arrays, by the exact rule.

    Parameters
    ----------
    welfare : array-like of float, shape (n_households,)
    person_weight : array-like of float, shape (n_households,), optional
        Non-negative weights (household size, …); default 1 per household.
    groups : array-like, shape (n_households,), optional
        Scope labels (e.g. province codes); ranks are computed within each.
    cutoffs : array-like of shape (n-1,), or mapping of group label -> (n-1,), optional
        Reference cutoffs; default: computed from the data themselves (registry mode).
    n : int, default 10
        Number of classes.
    """
    _check_n(n)
    w = np.ascontiguousarray(welfare, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"welfare must be one-dimensional; got shape {w.shape}")
    if not np.isfinite(w).all():
        bad = np.flatnonzero(~np.isfinite(w))[:5]
        raise ValueError(f"welfare must be finite; NaN/inf at positions {bad.tolist()}. "
                         "Fix: drop or fix those households first.")
    p = np.ones_like(w) if person_weight is None else np.ascontiguousarray(person_weight,
                                                                           dtype=np.float64)
    if p.shape != w.shape:
        raise ValueError(f"person_weight has shape {p.shape}, welfare {w.shape}; they must match")
    bad = np.flatnonzero(~np.isfinite(p) | (p < 0))
    if bad.size:
        raise ValueError(f"person_weight must be finite and >= 0; not so at positions "
                         f"{bad[:5].tolist()}. Fix: correct those weights.")
    if groups is None:
        labels: Sequence[Any] = [None]
        group = np.zeros(w.shape[0], dtype=np.uint8)
    else:
        codes, uniques = pd.factorize(np.asarray(groups), sort=True)
        if codes.shape != w.shape:
            raise ValueError(f"groups has shape {codes.shape}, welfare {w.shape}; they must match")
        if (codes < 0).any():
            raise ValueError("groups must not contain missing labels")
        labels, group = list(uniques), codes.astype(_group_dtype(len(uniques)))
    totals = np.bincount(group, weights=p, minlength=len(labels))
    for g, label in enumerate(labels):
        if totals[g] <= 0:
            raise ValueError(f"the person weights of group {label!r} sum to 0; desil shares "
                             "are undefined. Fix: give its households positive weights.")
    cut = None
    if cutoffs is not None:
        cut = np.empty((len(labels), n - 1))
        for g, label in enumerate(labels):
            if groups is not None and label not in cutoffs:
                raise ValueError(f"cutoffs has no entry for group {label!r}; it must map every "
                                 "group label to its (n-1,) cutoffs")
            c = cutoffs if groups is None else cutoffs[label]
            c = np.asarray(c, dtype=np.float64)
            if c.shape != (n - 1,) or not np.isfinite(c).all() or (np.diff(c) < 0).any():
                raise ValueError(f"cutoffs{'' if groups is None else f'[{label!r}]'} must be "
                                 f"{n - 1} finite, non-decreasing numbers for n={n}")
            cut[g] = c
    r = _rank_scopes(w, p, group, len(labels), n, ref_group=cut)
    return DesilResult(r.desil_group, r.rank_group, r.share_group)


def reference_cutoffs(welfare: Any, person_weight: Any = None, *, groups: Any = None,
                      n: int = 10) -> dict[Any, np.ndarray]:
    """Cutoffs ``c_1..c_{n-1}`` of a reference population (e.g. a survey), per group.

    ``c_k`` is the smallest welfare whose weighted CDF (household counted in)
    reaches ``k/n``. Returns ``{None: cutoffs}`` without groups, else one entry
    per group label.
    """
    _check_n(n)
    w = np.ascontiguousarray(welfare, dtype=np.float64)
    p = np.ones_like(w) if person_weight is None else np.ascontiguousarray(person_weight,
                                                                           dtype=np.float64)
    if groups is None:
        labels: list[Any] = [None]
        group = np.zeros(w.shape[0], dtype=np.uint8)
    else:
        codes, uniques = pd.factorize(np.asarray(groups), sort=True)
        labels, group = list(uniques), codes.astype(_group_dtype(len(uniques)))
    cut = _rank_scopes(w, p, group, len(labels), n).cut_group
    return {label: cut[g].copy() for g, label in enumerate(labels)}


@dataclass(frozen=True, eq=False)
class RankResult:
    """Welfare, desil, rank and share below of a ranked registry.

    Arrays have one entry per ranked household, in input order; rejected
    rows are in :attr:`rejects`. Use :meth:`to_frame` for a labelled table.
    """

    welfare: np.ndarray
    model: np.ndarray
    model_keys: tuple[str, ...]
    province: np.ndarray
    desil_national: np.ndarray
    desil_provincial: np.ndarray
    rank_national: np.ndarray
    rank_provincial: np.ndarray
    share_below_national: np.ndarray
    share_below_provincial: np.ndarray
    eligible: np.ndarray
    person_weight: np.ndarray
    ids: np.ndarray | None
    index: pd.Index
    rows: np.ndarray
    rejects: pd.DataFrame
    n_input: int
    id_col: str | None
    weights_id: str
    weights_hash: str
    weights_synthetic: bool
    cutoff_mode: CutoffMode
    n_classes: int
    eligibility: str
    welfare_kind: str
    weighting: str
    registry_cutoffs: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        """Households ranked."""
        return int(self.welfare.shape[0])

    @property
    def n_rejected(self) -> int:
        """Input rows set aside (``on_invalid="reject"``)."""
        return len(self.rejects)

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """What produced this result: weight set id and hash, cutoff mode, rules."""
        return {"weights_id": self.weights_id, "weights_hash": self.weights_hash,
                "weights_synthetic": self.weights_synthetic, "cutoff_mode": self.cutoff_mode,
                "n_classes": self.n_classes, "eligibility": self.eligibility,
                "welfare": self.welfare_kind, "weighting": self.weighting,
                "households_input": self.n_input, "households_ranked": self.n,
                "households_rejected": self.n_rejected}

    def to_frame(self) -> pd.DataFrame:
        """One row per ranked household, in input order, indexed like the input.

        Columns: the id column, ``welfare``, ``model_key``, ``model_level``,
        ``province_code``, ``desil_national``, ``desil_provincial``,
        ``rank_national``, ``rank_provincial``, ``share_below_national``,
        ``share_below_provincial``, ``eligible``, ``person_weight`` (the weight
        each household carries in the desil shares). ``attrs`` holds :attr:`provenance`.
        """
        frame = self.slice_frame(slice(None))
        if self.id_col is not None:
            frame.insert(0, self.id_col, self.ids)
        frame.index = self.index
        frame.attrs.update(self.provenance)
        return frame

    def slice_frame(self, part: slice) -> pd.DataFrame:
        """The :meth:`to_frame` columns after the id, for households ``part`` (a slice)."""
        model = self.model[part]
        keys = pd.Categorical.from_codes(model, categories=list(self.model_keys))
        level_of = np.array([LEVELS.index(key_level(k)) for k in self.model_keys], dtype=np.int8)
        levels = pd.Categorical.from_codes(level_of[model], categories=list(LEVELS))
        cols: dict[str, Any] = {
            "welfare": self.welfare[part], "model_key": keys, "model_level": levels,
            "province_code": self.province[part],
            "desil_national": self.desil_national[part],
            "desil_provincial": self.desil_provincial[part],
            "rank_national": self.rank_national[part],
            "rank_provincial": self.rank_provincial[part],
            "share_below_national": self.share_below_national[part],
            "share_below_provincial": self.share_below_provincial[part],
            "eligible": self.eligible[part],
            "person_weight": self.person_weight[part],
        }
        return pd.DataFrame(cols)

    @cached_property
    def _tally(self) -> tuple[np.ndarray, ...]:
        """:func:`pmt._kernels.desil_tally` of this result (one parallel pass)."""
        return tuple(K.desil_tally(self.desil_national, self.desil_provincial, self.province,
                                   self.person_weight, self.n_classes))

    def summary(self) -> pd.DataFrame:
        """Households and people per desil, nationally and per province.

        Returns a DataFrame indexed by (``scope``, ``desil``) — scope
        ``"national"`` or a 2-digit province code — with ``households``,
        ``people`` (sum of person weights) and ``share_people`` within the scope.
        """
        n = self.n_classes
        nat_hh, nat_people, prv_hh, prv_people, _ = self._tally
        labels: list[str] = ["national"] if self.n else []
        hh, people = ([nat_hh], [nat_people]) if self.n else ([], [])
        for p in np.flatnonzero(prv_hh.sum(axis=1)).tolist():
            labels.append(f"{p:02d}")
            hh.append(prv_hh[p])
            people.append(prv_people[p])
        index = pd.MultiIndex.from_product([labels, range(1, n + 1)], names=["scope", "desil"])
        out = pd.DataFrame({
            "households": np.concatenate(hh).astype(np.int64) if hh else np.zeros(0, np.int64),
            "people": np.concatenate(people) if people else np.zeros(0)}, index=index)
        out["share_people"] = out["people"] / out.groupby(level="scope")["people"].transform("sum")
        return out

    def __repr__(self) -> str:
        return (f"<RankResult {self.n:,} ranked, {self.n_rejected:,} rejected; "
                f"weights {self.weights_id} {self.weights_hash[:19]}; cutoffs={self.cutoff_mode}"
                f", n={self.n_classes}, eligible: {self.eligibility} "
                f"({int(self.eligible.sum()):,} households)>")

    def to_parquet(self, path: Any) -> None:
        """Write :meth:`to_frame` to Parquet, with :attr:`provenance` in the file metadata."""
        from .io import write_result

        write_result(self, path)


def rank(households: Any, weights: WeightSet | str, *,
         cutoffs: CutoffMode = "registry", n: int = 10, max_desil: int = 4,
         line: float | None = None, weight: str | None = None,
         weighting: Literal["person", "household"] = "person",
         on_invalid: Literal["raise", "reject"] = "raise",
         id_col: str | None = "hh_id") -> RankResult:
    """Score households and assign national and provincial desil.

    Parameters
    ----------
    households : pandas.DataFrame or pyarrow.Table
        ``hh_id``, ``district_code``, ``urban``, ``hh_size`` and the weight
        set's variables, matched by name.
    weights : WeightSet or str
        A loaded weight set, a shipped name (``"demo"``) or a folder.
    cutoffs : {"registry", "reference"}
        ``registry``: desil are population deciles of the input itself (a
        full-population registry). ``reference``: desil come from the weight
        set's cutoffs (a registry holding only part of the population). Rank
        and share below are always within the input.
    n : int, default 10
        Number of classes.
    max_desil : int, default 4
        ``eligible = desil_national <= max_desil`` (quota rule).
    line : float, optional
        Line rule instead: ``eligible = welfare <= line`` (0 = at the poverty line).
    weight : str, optional
        Column of survey weights multiplied into the person weight.
    weighting : {"person", "household"}
        Desil as shares of people (default) or of households.
    on_invalid : {"raise", "reject"}
        Raise on the first broken rule, or set bad rows aside in ``.rejects``.
    id_col : str or None, default "hh_id"

    Returns
    -------
    RankResult
    """
    options = RankOptions(cutoffs=cutoffs, n=n, max_desil=max_desil, line=line,
                          weighting=weighting if weight is None else f"{weighting} x {weight}",
                          id_col=id_col)
    _check_options(options)  # before the (long) encoding
    ws = _weights(weights)
    enc = encode(households, ws, weight=weight, weighting=weighting, on_invalid=on_invalid,
                 id_col=id_col)
    return rank_encoded(enc, ws, options)


def _check_options(options: RankOptions) -> None:
    _check_n(options.n)
    if options.cutoffs not in ("registry", "reference"):
        raise ValueError(f"cutoffs must be 'registry' or 'reference'; got {options.cutoffs!r}")
    if options.line is None and (isinstance(options.max_desil, bool)
                                 or not 1 <= int(options.max_desil) <= options.n):
        raise ValueError(f"max_desil must be a whole number from 1 to n={options.n}; got "
                         f"{options.max_desil!r}")


def rank_encoded(enc: Encoded, weights: WeightSet | str, options: RankOptions | None = None
                 ) -> RankResult:
    """Score and rank households that :func:`pmt.encode.encode` has validated and encoded.

    The compute part of :func:`rank` (what ``benchmarks/`` times as "compute
    only"): encoded arrays in, :class:`RankResult` out.
    """
    options = RankOptions() if options is None else options
    _check_options(options)
    ws = _weights(weights)
    return rank_scored(_scored(enc, ws), ws, options, ids=enc.ids, index=enc.index,
                       rows=enc.rows, rejects=enc.rejects, n_input=enc.n_input)


@dataclass(frozen=True)
class RankOptions:
    """The ranking options of :func:`rank`, validated there."""

    cutoffs: CutoffMode = "registry"
    n: int = 10
    max_desil: int = 4
    line: float | None = None
    weighting: str = "person"
    id_col: str | None = "hh_id"


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
    return Scored(welfare=_welfare(enc, ws), model=enc.cell_model[enc.cell],
                  province=cell_province[enc.cell], person_weight=enc.person_weight)


def rank_scored(scored: Scored, ws: WeightSet, options: RankOptions, *, ids: Any,
                index: pd.Index, rows: np.ndarray, rejects: pd.DataFrame,
                n_input: int) -> RankResult:
    """National and provincial desil, rank and share below of scored households.

    The one ranking path: :func:`rank` and the chunked file path both end here.
    """
    n = options.n
    welfare = scored.welfare
    provinces = np.flatnonzero(np.bincount(scored.province, minlength=100))
    lut = np.zeros(100, dtype=np.uint8)
    lut[provinces] = np.arange(provinces.size, dtype=np.uint8)
    group = lut[scored.province]
    prov_cut = nat_cut = None
    if options.cutoffs == "reference":
        prov_cut, nat_cut = _reference_table(ws, provinces, n)
    r = _rank_scopes(welfare, scored.person_weight, group, int(provinces.shape[0]), n,
                     ref_national=nat_cut, ref_group=prov_cut)
    del group
    d_nat, r_nat, s_nat, c_nat = r.desil_national, r.rank_national, r.share_national, \
        r.cut_national
    d_prv, r_prv, s_prv, c_prv = r.desil_group, r.rank_group, r.share_group, r.cut_group
    if options.line is None:
        eligible = d_nat <= options.max_desil
        rule = f"desil_national <= {options.max_desil}"
    else:
        eligible = welfare <= float(options.line)
        rule = f"welfare <= {float(options.line)!r}"
    registry_cut = {"national": c_nat[0]} if welfare.size else {}
    registry_cut.update({f"{p:02d}": c_prv[g] for g, p in enumerate(provinces.tolist())})
    return RankResult(
        welfare=welfare, model=scored.model, model_keys=ws.model_keys,
        province=scored.province,
        desil_national=d_nat, desil_provincial=d_prv, rank_national=r_nat,
        rank_provincial=r_prv, share_below_national=s_nat, share_below_provincial=s_prv,
        eligible=eligible, person_weight=scored.person_weight, ids=ids, index=index,
        rows=rows, rejects=rejects, n_input=n_input, id_col=options.id_col,
        weights_id=ws.id, weights_hash=ws.content_hash,
        weights_synthetic=ws.manifest.synthetic, cutoff_mode=options.cutoffs, n_classes=n,
        eligibility=rule,
        welfare_kind=("log(predicted per-capita consumption / poverty line)"
                      if ws.has_poverty_lines else "predicted log per-capita consumption"),
        weighting=options.weighting, registry_cutoffs=registry_cut)


def _reference_table(ws: WeightSet, provinces: np.ndarray, n: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    if not ws.cutoffs:
        raise WeightSetError(
            f"cutoffs='reference' but weight set {ws.id} has no reference cutoffs. Fix: use "
            "cutoffs='registry', or a weight set with a cutoffs.csv.")
    if ws.cutoff_classes != n:
        raise ValueError(f"n={n} but the reference cutoffs of {ws.id} are for "
                         f"n={ws.cutoff_classes} classes. Fix: pass "
                         f"n={ws.cutoff_classes} or use cutoffs='registry'.")
    missing = [f"{p:02d}" for p in provinces.tolist() if f"{p:02d}" not in ws.cutoffs]
    if missing:
        raise WeightSetError(
            f"weight set {ws.id} has no reference cutoffs for provinces {missing}. Fix: add "
            "them to its cutoffs.csv, or use cutoffs='registry'.")
    prov = np.array([ws.cutoffs[f"{p:02d}"] for p in provinces.tolist()]).reshape(-1, n - 1)
    return np.ascontiguousarray(prov), ws.cutoffs["national"].reshape(1, -1).copy()
