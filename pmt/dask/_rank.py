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
4. **Walk**: each sorted partition is walked by the in-memory kernel
   (``pmt._kernels.walk``, once per scope). With whole-number person weights
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
from typing import Any, Literal

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask import delayed

from .. import errors as E
from .._folders import swap_into_place
from ..desil import _check_registry_size
from ..encode import check_columns, empty_rejects
from ..options import CutoffMode, check_on_invalid, mode_cutoffs, rank_options
from ..rank import _weights
from ..results import summary_table
from ..weights import WeightSet
from ._partitions import (
    _START,
    _add,
    _dup_info,
    _duplicates,
    _empty_scored,
    _encode_part,
    _finish,
    _given,
    _info,
    _Job,
    _key_frame,
    _keys,
    _Part,
    _reject_dtypes,
    _rejects,
    _rows_of,
    _shift,
    _tally,
    _walk,
)

__all__ = ["DaskRankResult", "rank"]

#: Province codes are 0..99: carried per-province arrays are indexed by code.
N_CODES = 100


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
        name (``.NAME.pmt-tmp-XXXXXXXX``) and put in place only when every
        partition is written: a failed or cancelled job leaves no folder under
        the final name (and removes its temporary folder when it can). An
        existing dataset at the final name (or, if the name is a symbolic
        link, at the folder it points to) is replaced only then, in one
        atomic exchange on Linux (elsewhere two renames; if the second fails
        or is interrupted, the old dataset is put back). A folder at the final
        name that holds more than a Parquet dataset is refused before any
        work (:func:`check_dataset_target`). The provenance is in each file's
        metadata, key ``pmt``.

        Raises
        ------
        pmt.errors.OutputPathError
            ``path`` or ``rejects`` is a folder that holds more than a Parquet
            dataset.
        """
        import pyarrow as pa

        from ..io.files import parquet_options, result_schema

        text = {c: pa.string() for c in ("column", "rule", "value")}
        # a symbolic link at a final name is followed: the folder it points to is replaced
        targets = [(self.frame, _real(path), result_schema(self._schema(self.frame, {})))]
        if rejects is not None:
            targets.append((self.rejects, _real(rejects), self._schema(self.rejects, text)))
        for label, (_, final, _) in zip(("path", "rejects"), targets, strict=False):
            check_dataset_target(final, label)
        temps: list[Path] = []
        meta = {"pmt": json.dumps(self.provenance, sort_keys=True)}
        try:
            for frame, final, schema in targets:
                temps.append(_hidden(final, "tmp"))
                frame.to_parquet(
                    temps[-1],
                    write_index=False,
                    custom_metadata=meta,
                    schema=schema,
                    **parquet_options(schema),
                )
            for tmp, (_, final, _) in zip(temps, targets, strict=True):
                # one atomic exchange on Linux; elsewhere two renames, the old dataset put back
                # if the second fails or is interrupted. Afterwards tmp holds the old one.
                swap_into_place(tmp, final, exists=final.is_dir())
        finally:
            for tmp in temps:
                if tmp.exists():
                    _remove_folder(tmp)

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


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(path))


def _hidden(final: Path, kind: str) -> Path:
    """A new hidden name beside ``final``: ``.NAME.pmt-KIND-XXXXXXXX``."""
    return final.parent / f".{final.name[:200]}.pmt-{kind}-{secrets.token_hex(4)}"


def check_dataset_target(path: str | os.PathLike[str], label: str = "path") -> None:
    """Refuse to replace a folder that is not a Parquet dataset.

    :meth:`DaskRankResult.to_parquet` replaces the whole folder at its path.
    A folder there may hold only ``*.parquet`` (or ``*.pq``) files, files
    that Parquet readers skip (names starting with ``_`` or ``.``, such as
    ``_metadata``) and hive partition folders (``key=value``) of the same;
    anything else (a home folder, notes, a CSV, a ``.git`` folder) means the
    path is wrong, and nothing is written.

    Raises
    ------
    pmt.errors.OutputPathError
        Naming the path, the rule and a few of the entries that are not part
        of a dataset.
    """
    final = Path(path)
    if not final.is_dir():
        return
    strays: list[str] = []
    for entry in sorted(final.rglob("*")):
        name = entry.relative_to(final)
        if entry.is_dir() and not entry.is_symlink():
            if "=" not in entry.name:
                strays.append(f"{name}/")
        elif entry.suffix.lower() not in (".parquet", ".pq") and entry.name[:1] not in "_.":
            strays.append(str(name))
        if len(strays) == 3:
            break
    if strays:
        raise E.OutputPathError(
            f"{label} {final}: is a folder that holds more than a Parquet dataset, e.g. "
            f"{', '.join(strays)} (rule: writing a dataset replaces the whole folder, and "
            "pmt replaces only a dataset). Fix: give a new folder, or the folder of a "
            "dataset to replace.",
            argument=label,
            path=str(path),
        )


def _remove_folder(folder: Path) -> None:
    """Remove a dataset folder that a cancelled job's tasks may still be writing to.

    After an interrupt, Dask's schedulers do not wait for the tasks already
    running. The folder is renamed first, so that no task can create a new
    file in it (a file already open goes with it), then removed.
    """
    doomed = _hidden(folder, "del")
    try:
        os.replace(folder, doomed)
    except OSError:
        doomed = folder
    if doomed.is_symlink():
        doomed.unlink(missing_ok=True)
    else:
        shutil.rmtree(doomed, ignore_errors=True)


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
    ranks: bool = True,
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
    ranks : bool, default True
        False: leave out the rank and share-below columns. With reference or
        given cutoffs every household's desil then depends on its own welfare
        only, and the result is one map over the scored partitions: no global
        sort, no walk, no shuffle of households (only the rows of repeated
        ids, if any, go back to their partitions by a shuffle). Registry
        cutoffs are deciles of the whole input and still need the global order.

    Returns
    -------
    DaskRankResult
        ``.frame`` computes to ``pmt.rank(households.compute(), ...).to_frame()``
        bit for bit (``docs/dask.md``); with ``ranks=False``, to that frame
        without its ``rank_*`` and ``share_below_*`` columns.

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
    check_on_invalid(on_invalid)
    ws = _weights(weights)
    names = [str(c) for c in households.columns]
    check_columns(names, 1, ws.spec.variables, weight, id_col, urban=ws.spec.urban)  # rows later
    id_meta = _given(households._meta[id_col]) if id_col is not None else None
    job = _Job(ws, options, weight, weighting, on_invalid, id_col, region_scheme, id_meta, ranks)

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
        ranks,
        nat_cut,
        ref_grp,
        provenance,
    )
    job_d = delayed(job, name=f"pmt-job-{secrets.token_hex(8)}")

    # 4. the global order, the walk, and the way back (unless nothing global is asked for)
    kept_parts = [i for i, info in enumerate(infos) if info[1] - dup_per_part[i] > 0]
    walked_back: dict[int, Any] = {}
    total: Any = _START
    if kept_parts and (ranks or options.cutoffs == "registry"):
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
