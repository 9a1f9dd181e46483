"""The per-partition steps of :func:`pmt.dask.rank`.

Encode and score, find duplicate ids, walk the sorted households, and apply
the desil rule back in each input partition.

Each function runs on a worker on one partition (or one sorted partition)
with the one-machine functions and kernels; only the small summaries they
return reach the client (see :mod:`pmt.dask`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .. import errors as E
from .._threads import kernels as K  # parallel kernels guarded for concurrent calls
from ..desil import _check_totals
from ..encode import duplicated_ids, empty_rejects, encode, id_key
from ..options import RankOptions
from ..rank import RankResult, _scored
from ..weights import WeightSet

#: Province codes are 0..99: carried per-province arrays are indexed by code.
N_CODES = 100
#: The columns of :meth:`pmt.RankResult.to_frame` that ``ranks=False`` leaves out.
RANK_COLUMNS = (
    "rank_national",
    "rank_provincial",
    "share_below_national",
    "share_below_provincial",
)


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
    ranks: bool = True  # False: no rank and share-below columns (see pmt.dask.rank)
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

    The in-memory walk (:func:`pmt._kernels.walk`, once per scope) runs over the
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
    # the walks want each run of equal welfare in ascending weight (Dask sorted by welfare);
    # the results go back to the partition's order through ``order``
    welfare = frame["welfare"].to_numpy(dtype=np.float64)
    weight = frame["pw"].to_numpy(dtype=np.float64)
    order = np.lexsort((weight, welfare))
    key = np.ascontiguousarray(welfare[order])
    if not key[0] > carry.last:
        raise RuntimeError(_SPLIT)  # the sort's contract: equal welfare in one partition, in order
    sw = np.ascontiguousarray(weight[order])
    sg = np.ascontiguousarray(frame["province"].to_numpy()[order], dtype=np.uint8)

    def back(sorted_values: np.ndarray) -> np.ndarray:
        values = np.empty_like(sorted_values)
        values[order] = sorted_values
        return values

    lead = np.full(1, -np.inf)
    rank = np.empty(m + 1, np.int32)
    below = np.empty(m + 1)
    one = np.zeros(m + 1, np.uint8)  # the nation: one group
    total_nat = K.walk(
        np.concatenate([lead, key]), np.concatenate([[carry.weight_nat], sw]), one, 1, rank, below
    )[0]
    out["below_nat"] = back(below[1:])
    out["rank_nat"] = back((rank[1:].astype(np.int64) - 1 + carry.count_nat).astype(np.int32))
    codes = np.arange(N_CODES, dtype=np.uint8)
    rank = np.empty(m + N_CODES, np.int32)
    below = np.empty(m + N_CODES)
    total_grp = K.walk(
        np.concatenate([np.full(N_CODES, -np.inf), key]),
        np.concatenate([carry.weight_grp, sw]),
        np.concatenate([codes, sg]),
        N_CODES,
        rank,
        below,
    )
    out["below_grp"] = back(below[N_CODES:])
    out["rank_grp"] = back(
        (rank[N_CODES:].astype(np.int64) - 1 + carry.count_grp[sg]).astype(np.int32)
    )
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
    global_ = job.ranks or job.ref_nat is None  # registry desil need the walk's sums
    if m and global_:
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
    K.finish_scopes(  # without the walk: desil from the cutoffs; ranks and shares unused
        welfare,
        group,
        rec,
        np.array([total.weight_nat if global_ else 1.0]),
        np.ascontiguousarray(total.weight_grp if global_ else np.ones(N_CODES)),
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
    return frame if job.ranks else frame.drop(columns=list(RANK_COLUMNS))


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
