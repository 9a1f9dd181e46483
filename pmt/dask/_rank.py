"""Exact national and provincial desil, rank and share below of a Dask DataFrame.

The result equals :func:`pmt.rank` on the whole table, bit for bit, for any
partitioning. How (``docs/dask.md`` says it for users):

1. **Score** each partition once, with the in-memory encoder and scoring
   kernel (:func:`pmt.encode.encode`, :func:`pmt.rank.score_encoded`). What
   ranking needs — welfare, model row, province, person weight, input position,
   id and index, about 40 bytes a household plus the id — is persisted on the
   workers. Each partition reports a few numbers to the client: its row count,
   the households kept, households per province, and its first error if any.
2. **Duplicate ids**: the kept ids are shuffled by id (Dask's shuffle), so every
   copy of an id meets in one partition, where :func:`pmt.encode.duplicated_ids`
   (the one rule) marks them. They stay on the workers (and are shuffled back
   to their input partitions if there are any); the client gets their counts.
3. **Global order**: welfare, weight, province and position are sorted by
   welfare with Dask's ``sort_values``; equal welfare values always land in one
   partition (its partitioning is by welfare value), so no tie is split.
4. **Walk**: each sorted partition is walked by the in-memory kernels
   (``national_pass``, ``grouped_pass``). With whole-number person weights
   the partitions are walked in parallel from zero and then shifted by the
   running weight and counts before them (the *carry*: two numbers and two
   100-entry arrays; sums of whole numbers below 2**53 are exact in any
   order). Otherwise each walk starts from the exact carry of the partitions
   before it, which enters as a leading pseudo-household, so the float sums
   are formed in exactly the order of the one-machine walk, and hence bit for
   bit the same.
5. **Back**: the strictly-poorer weight and rank of each household go back to
   its input partition (Dask's shuffle, by input position), where
   ``finish_scopes`` — the in-memory kernel — applies the desil rule, and
   :meth:`pmt.RankResult.to_frame` labels the columns.

Nothing but per-partition summaries (counts, carries, errors)
reaches the client, and no task holds more than one partition.
"""

from __future__ import annotations

import json
import operator
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask import delayed

from .. import errors as E
from .._threads import kernels as K  # parallel kernels guarded for concurrent calls
from ..desil import _check_registry_size, _check_totals
from ..encode import check_columns, duplicated_ids, empty_rejects, encode, id_key
from ..options import CutoffMode, RankOptions, mode_cutoffs, rank_options
from ..rank import RankResult, _scored, _weights
from ..results import summary_table
from ..weights import WeightSet

__all__ = ["DaskRankResult", "rank"]

#: Province codes are 0..99: carried per-province arrays are indexed by code.
N_CODES = 100


# --------------------------------------------------------------------------- per partition


class _Part(NamedTuple):
    """One input partition, encoded and scored (persisted on a worker)."""

    scored: pd.DataFrame  # welfare, model, province, pw, row[, id]; the input index
    rejects: pd.DataFrame
    n_input: int
    error: Exception | None


@dataclass(frozen=True)
class _Job:
    """What every task needs to know (one object in the graph, shared by all tasks)."""

    ws: WeightSet
    options: RankOptions
    weight: str | None
    weighting: str
    on_invalid: str
    id_col: str | None
    region_scheme: str | None
    id_meta: Any = None  # an empty array of the id column's dtype
    ref_nat: np.ndarray | None = None
    ref_grp: np.ndarray | None = None  # (100, n-1), indexed by province code
    provenance: dict[str, Any] = field(default_factory=dict)


def _empty_scored(job: _Job) -> pd.DataFrame:
    cols: dict[str, Any] = {
        "welfare": np.zeros(0, np.float64),
        "model": np.zeros(0, np.int32),
        "province": np.zeros(0, np.int8),
        "pw": np.zeros(0, np.float64),
        "row": np.zeros(0, np.int64),
    }
    if job.id_col is not None:
        cols["id"] = job.id_meta
    return pd.DataFrame(cols)


def _encode_part(frame: pd.DataFrame, job: _Job, offset: int) -> _Part:
    """Encode and score one partition; its first error is returned, not raised."""
    if len(frame) == 0:
        return _Part(_empty_scored(job), empty_rejects(job.id_col), 0, None)
    try:
        enc = encode(
            frame,
            job.ws,
            weight=job.weight,
            weighting=job.weighting,  # type: ignore[arg-type]
            on_invalid=job.on_invalid,  # type: ignore[arg-type]
            id_col=job.id_col,
            region_scheme=job.region_scheme,
            row_offset=offset,
            check_ids=False,
        )
        scored = _scored(enc, job.ws)
    except (E.InputError, E.NonFiniteWelfareError, TypeError, ValueError) as exc:
        return _Part(_empty_scored(job), empty_rejects(job.id_col), len(frame), exc)
    cols: dict[str, Any] = {
        "welfare": scored.welfare,
        "model": scored.model.astype(np.int32, copy=False),
        "province": scored.province,
        "pw": scored.person_weight,
        "row": enc.rows.astype(np.int64, copy=False),
    }
    if job.id_col is not None:
        cols["id"] = enc.ids
    return _Part(pd.DataFrame(cols, index=enc.index), enc.rejects, len(frame), None)


def _info(part: _Part) -> tuple[int, int, Exception | None, np.ndarray, bool, bool]:
    """A partition's summary: rows, kept, first error, households per province, whole weights.

    Then whether every person weight is a whole number, and whether a reject
    shows a value.
    """
    prov = part.scored["province"].to_numpy()
    pw = part.scored["pw"].to_numpy()
    whole = bool(np.all(pw == np.floor(pw)))
    valued = bool(part.rejects["value"].notna().any())  # a reject shows the value it broke on
    counted = np.bincount(prov, minlength=N_CODES)
    return part.n_input, len(part.scored), part.error, counted, whole, valued


def _key_frame(part: _Part, integer: bool, index: int) -> pd.DataFrame:
    """Duplicate-check key (:func:`pmt.encode.id_key`), position, province, partition of each id."""
    s = part.scored
    key = id_key(_given(s["id"])) if len(s) else np.zeros(0, np.int64)
    if integer:
        col: Any = np.asarray(key, dtype=np.int64) if len(s) else np.zeros(0, np.int64)
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = key if isinstance(key, pa.Array | pa.ChunkedArray) else pa.array(key, pa.string())
        col = pd.arrays.ArrowExtensionArray(pc.cast(arr, pa.large_string()))
    return pd.DataFrame(
        {
            "key": col,
            "row": s["row"].to_numpy(),
            "province": s["province"].to_numpy(),
            "part": np.full(len(s), index, np.int64),
        }
    )


def _dup_info(frame: pd.DataFrame, n_parts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Duplicates found in one shuffled partition: per input partition, per province, first rows."""
    return (
        np.bincount(frame["part"].to_numpy(), minlength=n_parts),
        np.bincount(frame["province"].to_numpy(), minlength=N_CODES),
        np.sort(frame["row"].to_numpy())[:5],
    )


def _rows_of(frame: pd.DataFrame | None) -> np.ndarray:
    """The input positions of a partition's duplicates (sorted), or none."""
    if frame is None:
        return np.zeros(0, np.int64)
    return np.sort(frame.index.to_numpy()).astype(np.int64)


def _duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` whose key occurs more than once in it (every copy)."""
    if not len(frame):
        return frame
    col = frame["key"]
    if isinstance(col.dtype, np.dtype):
        key: Any = col.to_numpy()
    else:
        import pyarrow as pa

        key = pa.array(col.array)
    return frame[duplicated_ids(key)]


def _given(s: pd.Series) -> Any:
    """A column as :attr:`pmt.encode.Encoded.ids` holds ids: numpy, or the extension array."""
    return s.to_numpy() if isinstance(s.dtype, np.dtype) else s.array


def _kept(part: _Part, drop: np.ndarray) -> pd.DataFrame:
    """The scored households of a partition without the rows ``drop`` (duplicate ids)."""
    s = part.scored
    if not drop.size:
        return s
    return s[~np.isin(s["row"].to_numpy(), drop)]


def _keys(part: _Part, drop: np.ndarray) -> pd.DataFrame:
    """What the global sort moves: welfare, person weight, province and input position."""
    s = _kept(part, drop)
    return pd.DataFrame(
        {
            "welfare": s["welfare"].to_numpy(),
            "pw": s["pw"].to_numpy(),
            "province": s["province"].to_numpy().astype(np.uint8),
            "row": s["row"].to_numpy(),
        }
    )


# --------------------------------------------------------------------------- the walk


class _Carry(NamedTuple):
    """The running totals of the walk up to the end of a sorted partition."""

    count_nat: int
    weight_nat: float
    count_grp: np.ndarray  # (100,) int64
    weight_grp: np.ndarray  # (100,) float64
    last: float  # welfare of the richest household so far (-inf before the first)
    first: float = np.inf  # welfare of the poorest household walked (inf before the first)


_START = _Carry(0, 0.0, np.zeros(N_CODES, np.int64), np.zeros(N_CODES), -np.inf)


def _add(before: _Carry, local: _Carry) -> _Carry:
    """The carry after a sorted partition walked from zero (``local``), given the one before.

    For whole-number weights only: then every partial sum is a whole number below
    2**53, exact in float64, so adding is the same as walking on.
    """
    if local.count_nat == 0:
        return before
    if not local.first > before.last:
        raise RuntimeError(_SPLIT)
    return _Carry(
        before.count_nat + local.count_nat,
        before.weight_nat + local.weight_nat,
        before.count_grp + local.count_grp,
        before.weight_grp + local.weight_grp,
        local.last,
        min(before.first, local.first),
    )


def _shift(walked: pd.DataFrame, frame: pd.DataFrame, before: _Carry) -> pd.DataFrame:
    """A partition walked from zero, moved on by the carry before it (whole-number weights)."""
    if not len(walked):
        return walked
    sg = frame["province"].to_numpy()
    out = walked.copy()
    out["below_nat"] = walked["below_nat"].to_numpy() + before.weight_nat
    out["below_grp"] = walked["below_grp"].to_numpy() + before.weight_grp[sg]
    rank_nat = walked["rank_nat"].to_numpy().astype(np.int64) + before.count_nat
    out["rank_nat"] = rank_nat.astype(np.int32)
    out["rank_grp"] = (
        walked["rank_grp"].to_numpy().astype(np.int64) + before.count_grp[sg]
    ).astype(np.int32)
    return out


_SPLIT = (
    "pmt.dask: a run of equal welfare spans two sorted partitions, or the partitions are out "
    "of order; the ranking would not be exact. Please report this."
)


def _walk(frame: pd.DataFrame, carry: _Carry) -> tuple[pd.DataFrame, _Carry]:
    """Rank and strictly-poorer weight of a welfare-sorted partition, continuing ``carry``.

    The in-memory walks (``_national_pass``, ``_grouped_pass``) run over the
    partition with the carry in front as pseudo-households poorer than anyone
    (welfare ``-inf``; one for the nation, one per province, each weighing the
    weight before). The walks then add the same numbers in the same order as
    the walk over the whole population, so the sums are bit for bit its sums.
    """
    m = len(frame)
    out = pd.DataFrame(
        {
            "row": frame["row"].to_numpy(),
            "below_nat": np.zeros(m),
            "below_grp": np.zeros(m),
            "rank_nat": np.zeros(m, np.int32),
            "rank_grp": np.zeros(m, np.int32),
        }
    )
    if m == 0:
        return out, carry
    key = np.ascontiguousarray(frame["welfare"].to_numpy(), dtype=np.float64)
    if not key[0] > carry.last:
        raise RuntimeError(_SPLIT)  # the sort's contract: equal welfare in one partition, in order
    sw = np.ascontiguousarray(frame["pw"].to_numpy(), dtype=np.float64)
    sg = np.ascontiguousarray(frame["province"].to_numpy(), dtype=np.uint8)
    lead = np.full(1, -np.inf)
    rank = np.empty(m + 1, np.int32)
    below = np.empty(m + 1)
    total_nat = K._national_pass(
        np.concatenate([lead, key]), np.concatenate([[carry.weight_nat], sw]), rank, below
    )
    out["below_nat"] = below[1:]
    out["rank_nat"] = (rank[1:].astype(np.int64) - 1 + carry.count_nat).astype(np.int32)
    codes = np.arange(N_CODES, dtype=np.uint8)
    rank = np.empty(m + N_CODES, np.int32)
    below = np.empty(m + N_CODES)
    total_grp = K._grouped_pass(
        np.concatenate([np.full(N_CODES, -np.inf), key]),
        np.concatenate([carry.weight_grp, sw]),
        np.concatenate([codes, sg]),
        N_CODES,
        rank,
        below,
    )
    out["below_grp"] = below[N_CODES:]
    out["rank_grp"] = (rank[N_CODES:].astype(np.int64) - 1 + carry.count_grp[sg]).astype(np.int32)
    count_grp = carry.count_grp + np.bincount(sg, minlength=N_CODES)
    first = min(carry.first, float(key[0]))
    return out, _Carry(
        carry.count_nat + m, float(total_nat), count_grp, total_grp, float(key[-1]), first
    )


def _walked(pair: tuple[pd.DataFrame, _Carry]) -> pd.DataFrame:
    return pair[0]


def _carried(pair: tuple[pd.DataFrame, _Carry]) -> _Carry:
    return pair[1]


# --------------------------------------------------------------------------- finish


def _finish(part: _Part, drop: np.ndarray, walked: pd.DataFrame | None, total: _Carry, job: _Job):  # type: ignore[no-untyped-def]
    """The result rows of one input partition: the desil rule applied to its walked households."""
    s = _kept(part, drop)
    m = len(s)
    n = job.options.n
    rec = np.zeros(m, dtype=K.RECORD)
    if m:
        assert walked is not None
        walked = walked.sort_index()
        if not np.array_equal(walked.index.to_numpy(), s["row"].to_numpy()):
            raise RuntimeError(
                "pmt.dask: the ranked households did not come back to their partition whole. "
                "Please report this."
            )
        rec["below_nat"] = walked["below_nat"].to_numpy()
        rec["below_grp"] = walked["below_grp"].to_numpy()
        rec["rank_nat"] = walked["rank_nat"].to_numpy()
        rec["rank_grp"] = walked["rank_grp"].to_numpy()
        _check_totals(total.weight_nat)
    welfare = np.ascontiguousarray(s["welfare"].to_numpy(), dtype=np.float64)
    province = s["province"].to_numpy()
    group = province.astype(np.uint8)
    desil_nat = np.empty(m, np.int8)
    desil_grp = np.empty(m, np.int8)
    rank_nat = np.empty(m, np.int32)
    rank_grp = np.empty(m, np.int32)
    share_nat = np.empty(m)
    share_grp = np.empty(m)
    use_nat, use_grp = job.ref_nat is not None, job.ref_grp is not None
    K.finish_scopes(
        welfare,
        group,
        rec,
        np.array([total.weight_nat]),
        np.ascontiguousarray(total.weight_grp),
        n,
        job.ref_nat if use_nat else np.zeros((1, n - 1)),
        job.ref_grp if use_grp else np.zeros((N_CODES, n - 1)),
        use_nat,
        use_grp,
        desil_nat,
        desil_grp,
        rank_nat,
        rank_grp,
        share_nat,
        share_grp,
    )
    options, ws = job.options, job.ws
    if options.line is None:
        assert options.max_desil is not None  # rank_options sets one rule or the other
        eligible = desil_nat <= options.max_desil
    else:
        eligible = welfare <= options.line
    result = RankResult(  # labels the columns exactly as in memory
        welfare=welfare,
        model=s["model"].to_numpy(),
        model_keys=ws.model_keys,
        province=province,
        desil_national=desil_nat,
        desil_provincial=desil_grp,
        rank_national=rank_nat,
        rank_provincial=rank_grp,
        share_below_national=share_nat,
        share_below_provincial=share_grp,
        eligible=eligible,
        person_weight=s["pw"].to_numpy(),
        ids=_given(s["id"]) if job.id_col is not None else None,
        index=s.index,
        rows=s["row"].to_numpy(),
        rejects=empty_rejects(job.id_col),
        n_input=m,
        id_col=job.id_col,
        weights_id=ws.id,
        weights_hash=ws.content_hash,
        weights_synthetic=ws.manifest.synthetic,
        cutoff_mode=options.cutoffs,
        n_classes=n,
        eligibility=job.provenance.get("eligibility", ""),
        welfare_kind=job.provenance.get("welfare", ""),
        weighting=options.weighting,
        registry_cutoffs={},
        max_desil=options.max_desil,
        line=options.line,
    )
    frame = result.to_frame()
    frame.attrs.clear()
    return frame


def _reject_dtypes(id_col: str | None, integer: bool, valued: bool) -> dict[str, Any]:
    """The dtypes of the in-memory rejects table when it has rows.

    pandas infers them from the values of the whole table (text, or all missing),
    so each partition's table is cast to them.
    """
    text = pd.Series(np.array(["x"], dtype=object)).dtype
    out: dict[str, Any] = {"column": text, "rule": text, "value": text if valued else object}
    if id_col is not None:
        out[id_col] = object if integer else text
    return out


def _rejects(
    part: _Part, dups: pd.DataFrame | None, id_col: str | None, dtypes: dict[str, Any] | None
) -> pd.DataFrame:
    """A partition's rejects, cast to the whole table's dtypes (``dtypes``, None if none)."""
    frame = _partition_rejects(part, dups, id_col)
    return frame if dtypes is None else frame.astype(dtypes)


def _partition_rejects(part: _Part, dups: pd.DataFrame | None, id_col: str | None) -> pd.DataFrame:
    """A partition's rejects: the encoder's, and its rows whose id is repeated anywhere.

    Built as the encoder builds its table (object columns, dtypes inferred), so
    the dtypes are those of the in-memory rejects.
    """
    if dups is None or not len(dups):
        return part.rejects
    dups = dups.sort_index()
    old = part.rejects
    m = len(dups)

    def column(name: str, extra: np.ndarray) -> np.ndarray:
        values = np.asarray(old[name], dtype=object) if len(old) else np.zeros(0, object)
        values = np.array([None if v is None or v != v else v for v in values], dtype=object)
        return np.concatenate([values, extra])

    rows = np.concatenate([old["row"].to_numpy(np.int64), dups.index.to_numpy(np.int64)])
    order = np.argsort(rows, kind="stable")
    frame = pd.DataFrame({"row": rows[order]})
    if id_col is not None:
        ids = np.asarray(dups["key"].tolist(), dtype=object)  # as the encoder's table holds them
        frame[id_col] = column(id_col, ids)[order]
    frame["column"] = column("column", np.full(m, id_col, dtype=object))[order]
    frame["rule"] = column("rule", np.full(m, "duplicate_id", dtype=object))[order]
    frame["value"] = column("value", np.full(m, None, dtype=object))[order]
    return frame


def _tally(frame: pd.DataFrame, n: int) -> tuple[np.ndarray, ...]:
    return tuple(
        K.desil_tally(  # copies: the kernel writes nothing, but takes writable arrays
            np.array(frame["desil_national"], dtype=np.int8),
            np.array(frame["desil_provincial"], dtype=np.int8),
            np.array(frame["province_code"], dtype=np.uint8),
            np.array(frame["person_weight"], dtype=np.float64),
            n,
        )
    )


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True, eq=False)
class DaskRankResult:
    """The ranking of a Dask DataFrame: lazy frames, a summary and an atomic Parquet write.

    Attributes
    ----------
    frame : dask.dataframe.DataFrame
        The columns and dtypes of :meth:`pmt.RankResult.to_frame`, one row per
        ranked household, in the input's partitions, order and index.
    rejects : dask.dataframe.DataFrame
        The rejects table (``row`` is the position in the whole input), one
        partition per input partition.
    n_households, n_input, n_rejected : int
        Households ranked, input rows, rows rejected.
    provenance : dict
        As :attr:`pmt.RankResult.provenance`; written into the Parquet metadata.
    """

    frame: Any
    rejects: Any
    n_households: int
    n_input: int
    n_rejected: int
    n_classes: int
    provenance: dict[str, Any]
    #: Arrow types of the object columns in the output (their values alone cannot say).
    arrow_types: dict[str, Any] = field(default_factory=dict)

    @property
    def cutoff_mode(self) -> str:
        """``"registry"``, ``"reference"`` or ``"given"``, as :attr:`pmt.RankResult.cutoff_mode`."""
        return str(self.provenance["cutoff_mode"])

    @property
    def weighting(self) -> str:
        """The person weight, as :attr:`pmt.RankResult.weighting`."""
        return str(self.provenance["weighting"])

    @cached_property
    def _tally(self) -> tuple[np.ndarray, ...]:
        """:func:`pmt._kernels.desil_tally` of each partition, added up (one pass)."""
        n = self.n_classes
        parts = dask.compute(*[delayed(_tally)(d, n) for d in self.frame.to_delayed()])
        if not parts:
            return (
                np.zeros(n, np.int64),
                np.zeros(n),
                np.zeros((N_CODES, n), np.int64),
                np.zeros((N_CODES, n)),
                np.zeros((N_CODES, n)),
            )
        return tuple(np.sum([p[k] for p in parts], axis=0) for k in range(5))

    def summary(self) -> pd.DataFrame:
        """Households and people per desil, as :meth:`pmt.RankResult.summary`.

        Tallied per partition and added up (only the tallies reach the client).
        """
        return summary_table(self._tally, self.n_classes)

    def to_parquet(self, path: str | os.PathLike[str], *, rejects: Any = None) -> None:
        """Write :attr:`frame` (and :attr:`rejects`) as Parquet datasets, atomically.

        Each dataset is written to a hidden temporary folder beside its final
        name (``.NAME.pmt-tmp-XXXXXXXX``) and renamed onto it only when every
        partition is written: a failed or cancelled job leaves no folder under
        the final name (and removes its temporary folder when it can). An
        existing dataset at the final name is replaced only at that rename.
        The provenance is in each file's metadata, key ``pmt``.
        """
        import pyarrow as pa

        text = {c: pa.string() for c in ("column", "rule", "value")}
        targets = [(self.frame, Path(path), self._schema(self.frame, {}))]
        if rejects is not None:
            targets.append((self.rejects, Path(rejects), self._schema(self.rejects, text)))
        temps: list[Path] = []
        meta = {"pmt": json.dumps(self.provenance, sort_keys=True)}
        try:
            for frame, final, schema in targets:
                tmp = final.parent / f".{final.name[:200]}.pmt-tmp-{secrets.token_hex(4)}"
                temps.append(tmp)
                frame.to_parquet(tmp, write_index=False, custom_metadata=meta, schema=schema)
            for tmp, (_, final, _) in zip(temps, targets, strict=True):
                if final.is_dir():
                    old = final.parent / f".{final.name[:200]}.pmt-old-{secrets.token_hex(4)}"
                    os.replace(final, old)
                    os.replace(tmp, final)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.replace(tmp, final)
        finally:
            for tmp in temps:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)

    def _schema(self, frame: Any, types: dict[str, Any]) -> Any:
        """The Arrow schema of ``frame``, object columns typed by ``types`` and ``arrow_types``."""
        import pyarrow as pa

        meta = frame._meta.copy()
        for c, t in {**types, **self.arrow_types}.items():
            if c in meta.columns:
                meta[c] = pd.Series([], dtype=pd.ArrowDtype(t), index=meta.index)
        return pa.Schema.from_pandas(meta, preserve_index=False)

    def __repr__(self) -> str:
        return (
            f"<DaskRankResult {self.n_households:,} ranked, {self.n_rejected:,} rejected; "
            f"{self.frame.npartitions} partitions; cutoffs={self.provenance['cutoff_mode']}, "
            f"n={self.n_classes}, eligible: {self.provenance['eligibility']}>"
        )


# --------------------------------------------------------------------------- rank


def rank(
    households: Any,
    weights: WeightSet | str,
    *,
    cutoffs: CutoffMode | Mapping[str, Any] = "registry",
    n: int = 10,
    max_desil: int | None = None,
    line: float | None = None,
    weight: str | None = None,
    weighting: Literal["person", "household"] = "person",
    on_invalid: Literal["raise", "reject"] = "raise",
    id_col: str | None = "hh_id",
    region_scheme: str | None = None,
) -> DaskRankResult:
    """Score and rank a Dask DataFrame exactly as :func:`pmt.rank` ranks the whole table.

    Parameters
    ----------
    households : dask.dataframe.DataFrame
        The columns :func:`pmt.rank` takes, in any number of partitions (empty
        ones too).
    weights : WeightSet or str
    cutoffs, n, max_desil, line, weight, weighting, on_invalid, id_col, region_scheme
        As for :func:`pmt.rank`.

    Returns
    -------
    DaskRankResult
        ``.frame`` computes to ``pmt.rank(households.compute(), ...).to_frame()``
        bit for bit (``docs/dask.md``).

    Raises
    ------
    The errors of :func:`pmt.rank`. Scoring runs when this is called (its
    summaries decide the rest); with several broken rows in different
    partitions, the error of the first such partition is raised.
    """
    if not isinstance(households, dd.DataFrame):
        raise TypeError(
            f"households must be a dask.dataframe.DataFrame; got {type(households).__name__}. "
            "Fix: dask.dataframe.read_parquet(...) or dask.dataframe.from_pandas(...), or "
            "use pmt.rank for a table in memory."
        )
    options = rank_options(
        cutoffs=cutoffs,
        n=n,
        max_desil=max_desil,
        line=line,
        weight=weight,
        weighting=weighting,
        id_col=id_col,
    )
    if on_invalid not in ("raise", "reject"):
        raise ValueError(f"on_invalid must be 'raise' or 'reject'; got {on_invalid!r}")
    ws = _weights(weights)
    names = [str(c) for c in households.columns]
    check_columns(names, 1, ws.spec.variables, weight, id_col, urban=ws.spec.urban)  # rows later
    id_meta = _given(households._meta[id_col]) if id_col is not None else None
    job = _Job(ws, options, weight, weighting, on_invalid, id_col, region_scheme, id_meta)

    # 1. score each partition once, as it is read; keep the scored partitions on the workers.
    # A partition's first row is its position in the whole input (for rejects and errors):
    # a chain of tiny additions of the partitions' lengths, in the same graph, so that the
    # data are read once.
    job_d = delayed(job, name=f"pmt-job-{secrets.token_hex(8)}")
    inputs = households.to_delayed()
    starts: list[Any] = []
    start: Any = 0
    for d in inputs:
        starts.append(start)
        start = delayed(operator.add)(start, delayed(len)(d))
    parts = dask.persist(
        *[delayed(_encode_part)(d, job_d, s) for d, s in zip(inputs, starts, strict=True)]
    )
    # 2. ids repeated anywhere (Dask's shuffle brings every copy of an id together), found
    # in the same pass as the partitions' summaries
    integer = id_col is not None and pd.api.types.is_integer_dtype(households._meta[id_col].dtype)
    found = _duplicates_of(parts, job)
    dup_infos = (
        [] if found is None else [delayed(_dup_info)(d, len(parts)) for d in found.to_delayed()]
    )
    infos, dup_infos = dask.compute([delayed(_info)(p) for p in parts], dup_infos)
    offsets = np.concatenate([[0], np.cumsum([i[0] for i in infos], dtype=np.int64)])
    n_input = int(offsets[-1])
    # no rows: EmptyInputError
    check_columns(names, n_input, ws.spec.variables, weight, id_col, urban=ws.spec.urban)
    for error in (i[2] for i in infos):
        if error is not None:
            raise error
    counts = np.sum([i[3] for i in infos], axis=0)
    whole = all(i[4] for i in infos)  # whole-number weights: the walks may run in parallel
    dup_per_part = np.sum([d[0] for d in dup_infos], axis=0) if dup_infos else np.zeros(len(parts))
    n_dup = int(np.sum(dup_per_part))
    if n_dup and on_invalid == "raise":
        rows_dup = np.sort(np.concatenate([d[2] for d in dup_infos]))[:5]
        raise E.DuplicateIdError(
            f"column {id_col!r}: household ids must be unique (duplicate_id); "
            f"{n_dup:,} rows share an id, e.g. {E.format_examples(rows_dup)}. Fix: "
            "make the household ids unique, or pass on_invalid='reject'.",
            column=id_col,
            rows=rows_dup,
        )
    dup_frames: list[Any] = [None] * len(parts)
    if n_dup:  # each partition's duplicates back to it (Dask's shuffle, by position)
        counts = counts - np.sum([d[1] for d in dup_infos], axis=0)
        holding = [i for i in range(len(parts)) if dup_per_part[i] > 0]
        ends = [int(offsets[i]) for i in holding] + [n_input - 1]
        back_dups = found.set_index("row", divisions=ends).to_delayed()
        for i, d in zip(holding, back_dups, strict=True):
            dup_frames[i] = d
    drops = [delayed(_rows_of)(f) if f is not None else np.zeros(0, np.int64) for f in dup_frames]
    n_ranked = int(counts.sum())

    # 3. the mode's cutoffs (checked as in memory), for the provinces present
    provinces = np.flatnonzero(counts)
    prov_cut, nat_cut = mode_cutoffs(options, ws, provinces)
    if options.cutoffs == "registry" and n_ranked:
        _check_registry_size(n_ranked, counts, options.n)
    ref_grp = None
    if prov_cut is not None:
        ref_grp = np.zeros((N_CODES, options.n - 1))
        ref_grp[provinces] = prov_cut
    rule = (
        f"desil_national <= {options.max_desil}"
        if options.line is None
        else f"welfare <= {options.line!r}"
    )
    n_rejected = n_input - n_ranked
    provenance = {
        "weights_id": ws.id,
        "weights_hash": ws.content_hash,
        "weights_synthetic": ws.manifest.synthetic,
        "cutoff_mode": options.cutoffs,
        "n_classes": options.n,
        "eligibility": rule,
        "welfare": (
            "log(predicted per-capita consumption / poverty line)"
            if ws.has_poverty_lines
            else "predicted log per-capita consumption"
        ),
        "weighting": options.weighting,
        "households_input": n_input,
        "households_ranked": n_ranked,
        "households_rejected": n_rejected,
    }
    job = _Job(
        ws,
        options,
        weight,
        weighting,
        on_invalid,
        id_col,
        region_scheme,
        id_meta,
        nat_cut,
        ref_grp,
        provenance,
    )
    job_d = delayed(job, name=f"pmt-job-{secrets.token_hex(8)}")

    # 4. the global order, the walk, and the way back
    kept_parts = [i for i, info in enumerate(infos) if info[1] - dup_per_part[i] > 0]
    walked_back: dict[int, Any] = {}
    total: Any = _START
    if kept_parts:
        keys = _from_delayed(
            [delayed(_keys)(p, d) for p, d in zip(parts, drops, strict=True)],
            meta=_keys(_Part(_empty_scored(job), empty_rejects(id_col), 0, None), np.zeros(0)),
        )
        ordered = keys.sort_values("welfare")
        carry: Any = _START
        walked = []
        for d in ordered.to_delayed():
            if whole:  # walked in parallel from zero, then moved on by the carry before
                local = delayed(_walk, nout=2)(d, _START)
                walked.append(delayed(_shift)(local[0], d, carry))
                carry = delayed(_add)(carry, local[1])
            else:  # walked one after another, each from the exact running sums before it
                pair = delayed(_walk, nout=2)(d, carry)
                walked.append(pair[0])
                carry = pair[1]
        total = carry
        meta_walk = _walk(pd.DataFrame({c: keys._meta[c] for c in keys.columns}), _START)[0]
        back = _from_delayed(walked, meta=meta_walk)
        divisions = [int(offsets[i]) for i in kept_parts] + [n_input - 1]
        back = back.set_index("row", divisions=divisions)
        walked_back = dict(zip(kept_parts, back.to_delayed(), strict=True))

    meta = _finish(
        _Part(_empty_scored(job), empty_rejects(id_col), 0, None),
        np.zeros(0, np.int64),
        None,
        _START,
        job,
    )
    frame = _from_delayed(
        [
            delayed(_finish)(p, d, walked_back.get(i), total, job_d)
            for i, (p, d) in enumerate(zip(parts, drops, strict=True))
        ],
        meta=meta,
    )
    valued = any(i[5] for i in infos)
    dtypes = _reject_dtypes(id_col, integer, valued) if n_rejected else None
    rejects = _from_delayed(
        [delayed(_rejects)(p, d, id_col, dtypes) for p, d in zip(parts, dup_frames, strict=True)],
        meta=empty_rejects(id_col) if dtypes is None else empty_rejects(id_col).astype(dtypes),
    )
    arrow_types: dict[str, Any] = {}
    if id_col is not None:
        import pyarrow as pa

        arrow_types[id_col] = pa.int64() if integer else pa.string()
    return DaskRankResult(
        frame, rejects, n_ranked, n_input, n_rejected, options.n, provenance, arrow_types
    )


def _from_delayed(parts: list[Any], meta: pd.DataFrame) -> Any:
    """A Dask DataFrame of pandas partitions, their dtypes as they are.

    (Dask's string conversion is off: the columns keep the dtypes
    :meth:`pmt.RankResult.to_frame` gives them.)
    """
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_delayed(parts, meta=meta, verify_meta=False)


def _key_meta(integer: bool) -> pd.DataFrame:
    import pyarrow as pa

    key: Any = (
        np.zeros(0, np.int64) if integer else pd.Series([], dtype=pd.ArrowDtype(pa.large_string()))
    )
    return pd.DataFrame(
        {
            "key": key,
            "row": np.zeros(0, np.int64),
            "province": np.zeros(0, np.int8),
            "part": np.zeros(0, np.int64),
        }
    )


def _duplicates_of(parts: tuple[Any, ...], job: _Job) -> Any:
    """The rows whose id occurs more than once (key, row, province, partition), persisted.

    Dask's shuffle by id brings every copy of an id into one partition; the
    duplicates stay on the workers.
    """
    if job.id_col is None or not parts:
        return None
    integer = pd.api.types.is_integer_dtype(pd.Series(job.id_meta).dtype)
    meta = _key_meta(integer)
    keys = _from_delayed(
        [delayed(_key_frame)(p, integer, i) for i, p in enumerate(parts)], meta=meta
    )
    shuffled = keys.shuffle(on="key", npartitions=max(1, len(parts)))
    return shuffled.map_partitions(_duplicates, meta=meta).persist()
