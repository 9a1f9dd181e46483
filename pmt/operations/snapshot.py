"""Adopted rankings: :class:`Snapshot`, :func:`adopt` and :func:`load_snapshot`.

A snapshot is what a ministry adopts: the cutoffs per scope (national and each
province) that gave the adopted desil, the weight set (id and content hash)
that scored the households, the eligibility rule, the counts per desil, a date
and a label. It is a small folder of plain files, hashed like a weight set
(the hash rule and the atomic save are those of :mod:`pmt.weights`)::

    <folder>/
        snapshot.json   what the snapshot is (validated; content_hash and file_hashes)
        cutoffs.csv     scope,c1,...,c{n-1}            (national, then each province)
        counts.csv      scope,desil,households,people  (every class of every scope)

Households ranked later against the snapshot (``pmt.rank(..., cutoffs=snapshot)``)
get the desil the adopted cutoffs give them: ``desil = 1 + #{k : welfare > c_k}``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._folders import new_sibling, swap_into_place, sync_folder, write_durably
from ..results import html_repr
from ..weights import WeightSet, compute_hash, file_hash
from ..weights.parse import _float, _read_text, _rows
from .errors import SnapshotError, SnapshotMismatchError

__all__ = ["SNAPSHOT_FORMAT", "Snapshot", "SnapshotManifest", "load_snapshot"]

SNAPSHOT_FORMAT: Literal["pmt-snapshot/1"] = "pmt-snapshot/1"
_MANIFEST = "snapshot.json"
_CUTOFFS = "cutoffs.csv"
_COUNTS = "counts.csv"
_HASH = r"^sha256:[0-9a-f]{64}$"
_LABEL = r"^[A-Za-z0-9][A-Za-z0-9 _.:/()-]{0,99}$"
_RESAVE = (
    "restore the folder from where it was published, or adopt the ranking again; an "
    "intended edit is accepted only by re-saving: "
    "pmt.load_snapshot(path, verify_hash=False).save(path)"
)


class SnapshotManifest(BaseModel):
    """The validated ``snapshot.json`` of an adopted ranking (immutable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["pmt-snapshot/1"] = SNAPSHOT_FORMAT
    #: A short name of the round, e.g. ``"2026-S1"``.
    label: str = Field(pattern=_LABEL)
    #: The adoption date.
    date: _dt.date
    description: str = ""
    #: The weight set that scored the adopted ranking: ``name@version`` and content hash.
    weights_id: str
    weights_hash: str = Field(pattern=_HASH)
    weights_synthetic: bool
    #: Number of classes (10 for desil).
    n_classes: int = Field(ge=2, le=100)
    #: How the adopted ranking was cut: ``registry``, ``reference`` or ``given``.
    cutoff_mode: Literal["registry", "reference", "given"]
    weighting: str
    #: The eligibility rule: ``desil_national <= max_desil``, or ``welfare <= line``.
    max_desil: int | None = Field(default=None, ge=1, le=100)
    line: float | None = None
    welfare_kind: str
    id_col: str | None
    households: int = Field(ge=0)
    rejected: int = Field(ge=0)
    people: float = Field(ge=0)
    pmt_version: str
    file_hashes: dict[str, str] | None = None
    content_hash: str | None = Field(default=None, pattern=_HASH)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An adopted ranking: cutoffs per scope, the weight set it was made with, counts.

    Build one with :func:`adopt`, save it with :meth:`save`, read it back with
    :func:`load_snapshot`; rank new or changed households against it with
    ``pmt.rank(households, weights, cutoffs=snapshot)``.

    Attributes
    ----------
    manifest : SnapshotManifest
    cutoffs : dict of str to ndarray
        ``c_1 .. c_{n-1}`` per scope: ``"national"`` and each 2-digit province code.
    counts : pandas.DataFrame
        Indexed by (``scope``, ``desil``): ``households`` and ``people`` of the
        adopted ranking.
    path : Path or None
        Where it was loaded from.
    """

    manifest: SnapshotManifest
    cutoffs: Mapping[str, np.ndarray]
    counts: pd.DataFrame
    path: Path | None = None
    loaded_hash: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems = _check(self.manifest, self.cutoffs, self.counts)
        if problems:
            where = str(self.path) if self.path is not None else "(in memory)"
            raise _collected(where, problems)
        for c in self.cutoffs.values():
            c.setflags(write=False)

    # ------------------------------------------------------------------ identity

    @property
    def label(self) -> str:
        """The round's label."""
        return self.manifest.label

    @property
    def date(self) -> _dt.date:
        """The adoption date."""
        return self.manifest.date

    @property
    def weights_id(self) -> str:
        """``name@version`` of the weight set that scored the adopted ranking."""
        return self.manifest.weights_id

    @property
    def weights_hash(self) -> str:
        """Content hash of that weight set."""
        return self.manifest.weights_hash

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return self.manifest.n_classes

    @property
    def eligibility(self) -> str:
        """The eligibility rule as text."""
        m = self.manifest
        return (
            f"welfare <= {m.line!r}" if m.line is not None else f"desil_national <= {m.max_desil}"
        )

    @property
    def content_hash(self) -> str:
        """``sha256:…`` over ``snapshot.json`` (without its hashes) and the two tables."""
        if self.loaded_hash is not None:
            return self.loaded_hash
        return compute_hash(cast(Any, _bare(self.manifest)), _render(self))

    @property
    def stamp(self) -> dict[str, str]:
        """``label``, ``date`` and ``content_hash``: what a ranking against it records."""
        return {
            "label": self.label,
            "date": self.date.isoformat(),
            "content_hash": self.content_hash,
        }

    def summary(self) -> pd.DataFrame:
        """Households, people and share of people per desil, per scope (as adopted)."""
        out = self.counts.copy()
        out["share_people"] = out["people"] / out.groupby(level="scope")["people"].transform("sum")
        return out

    def to_frame(self) -> pd.DataFrame:
        """The adopted cutoffs: one row per scope (national, then provinces), ``c1..c{n-1}``."""
        scopes = list(self.cutoffs)
        cols = [f"c{k}" for k in range(1, self.manifest.n_classes)]
        rows = np.array([np.asarray(self.cutoffs[sc], dtype=np.float64) for sc in scopes])
        return pd.DataFrame(
            rows.reshape(len(scopes), len(cols)), index=pd.Index(scopes, name="scope"), columns=cols
        )

    def _repr_html_(self) -> str:
        return html_repr(self)

    def __repr__(self) -> str:
        return (
            f"<Snapshot {self.label!r} of {self.date.isoformat()}: {self.manifest.households:,} "
            f"households, weights {self.weights_id} {self.weights_hash[:19]}, "
            f"n={self.n_classes}, {len(self.cutoffs) - 1} provinces, eligible: {self.eligibility}>"
        )

    # ------------------------------------------------------------------ use

    def check_weights(self, weights: WeightSet, *, allow_other_weights: bool = False) -> None:
        """Refuse a weight set other than the one the adopted ranking was scored with.

        Raises
        ------
        SnapshotMismatchError
            If ``weights`` differs in content hash (or id), unless
            ``allow_other_weights=True``.
        """
        if not isinstance(allow_other_weights, bool):
            raise TypeError(
                "allow_other_weights must be True or False; got "
                f"{type(allow_other_weights).__name__}."
            )
        if allow_other_weights:
            return
        if weights.content_hash != self.weights_hash or weights.id != self.weights_id:
            raise SnapshotMismatchError(
                f"cutoffs: snapshot {self.label!r} was adopted with weight set "
                f"{self.weights_id} {self.weights_hash[:19]}, but the households are scored "
                f"with {weights.id} {weights.content_hash[:19]} (rule: a household's desil "
                "comes from the adopted cutoffs only if it is scored by the adopted weights; "
                "welfare from other weights is on another scale). Fix: load the weight set "
                "the snapshot names, re-adopt with the new weights, or pass "
                "allow_other_weights=True to place households anyway.",
                argument="cutoffs",
            )

    def rank_arguments(
        self,
        weights: WeightSet,
        *,
        n: int,
        max_desil: int | None,
        line: float | None,
        allow_other_weights: bool = False,
    ) -> tuple[dict[str, np.ndarray], int | None, float | None]:
        """What :func:`pmt.rank` needs to rank against this snapshot.

        Returns the cutoffs mapping and the eligibility rule (the snapshot's,
        unless ``max_desil`` or ``line`` is given).

        Raises
        ------
        SnapshotMismatchError
            A different weight set (see :meth:`check_weights`), or ``n`` other
            than the snapshot's number of classes.
        """
        self.check_weights(weights, allow_other_weights=allow_other_weights)
        if n != self.n_classes:
            raise SnapshotMismatchError(
                f"n: snapshot {self.label!r} has {self.n_classes} classes, got n={n!r}. "
                f"Fix: pass n={self.n_classes} (or leave n out when it is 10).",
                argument="n",
            )
        if max_desil is None and line is None:
            max_desil, line = self.manifest.max_desil, self.manifest.line
        return {k: np.array(v) for k, v in self.cutoffs.items()}, max_desil, line

    # ------------------------------------------------------------------ files

    def save(self, path: str | Path) -> Snapshot:
        """Write the snapshot to folder ``path`` with fresh hashes, atomically.

        The three files are written to a new hidden folder next to ``path``,
        flushed, and only then put in its place (swapped with an older
        snapshot folder there in one step where the system allows). A folder
        that is not empty and holds no ``snapshot.json`` is refused.

        Returns
        -------
        Snapshot
            The snapshot as loaded back from disk (hashes verified).

        Raises
        ------
        FileExistsError, NotADirectoryError
            ``path`` is a folder that is not a snapshot, or a file.
        """
        files = _render(self)
        bare = _bare(self.manifest)
        m = bare.model_copy(
            update={
                "file_hashes": {n: file_hash(t) for n, t in sorted(files.items())},
                "content_hash": compute_hash(cast(Any, bare), files),
            }
        )
        text = m.model_dump_json(indent=2) + "\n"
        target = Path(path).resolve()
        exists = _existing(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = new_sibling(target, "new")
        try:
            for name, body in sorted(files.items()):
                write_durably(tmp / name, body)
            write_durably(tmp / _MANIFEST, text)
            sync_folder(tmp)
            swap_into_place(tmp, target, exists=exists)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return load_snapshot(path)


def _bare(m: SnapshotManifest) -> SnapshotManifest:
    return m.model_copy(update={"file_hashes": None, "content_hash": None})


def _existing(target: Path) -> bool:
    if not target.exists():
        return False
    if not target.is_dir():
        raise NotADirectoryError(
            f"Snapshot.save: {str(target)!r} is a file. Fix: pass a folder path."
        )
    if (target / _MANIFEST).is_file():
        return True
    if any(target.iterdir()):
        raise FileExistsError(
            f"Snapshot.save: folder {str(target)!r} is not empty and holds no {_MANIFEST}, "
            "so it is not a snapshot; saving replaces the whole folder. Fix: pass a new or "
            "empty folder, or the folder of a snapshot to replace."
        )
    target.rmdir()
    return False


def _fmt(x: float) -> str:
    return repr(float(x))


def _render(s: Snapshot) -> dict[str, str]:
    """The text of ``cutoffs.csv`` and ``counts.csv``."""
    n = s.n_classes
    lines = ["scope," + ",".join(f"c{k}" for k in range(1, n))]
    for scope in _scope_order(s.cutoffs):
        lines.append(scope + "," + ",".join(_fmt(x) for x in s.cutoffs[scope]))
    counts = ["scope,desil,households,people"]
    for (scope, desil), row in s.counts.iterrows():
        counts.append(f"{scope},{int(desil)},{int(row['households'])},{_fmt(row['people'])}")
    return {_CUTOFFS: "\n".join(lines) + "\n", _COUNTS: "\n".join(counts) + "\n"}


def _scope_order(scopes: Any) -> list[str]:
    return ["national", *sorted(s for s in scopes if s != "national")]


def _check(
    m: SnapshotManifest, cutoffs: Mapping[str, np.ndarray], counts: pd.DataFrame
) -> list[str]:
    """Consistency of a snapshot's tables with its manifest."""
    problems: list[str] = []
    n = m.n_classes
    if (m.max_desil is None) == (m.line is None):
        problems.append(f"{_MANIFEST}: exactly one of max_desil and line must be set")
    if m.max_desil is not None and m.max_desil > n:
        problems.append(f"{_MANIFEST}: max_desil {m.max_desil} is above n_classes {n}")
    if m.line is not None and not math.isfinite(m.line):
        problems.append(f"{_MANIFEST}: line must be a finite number")
    if "national" not in cutoffs and m.households:
        problems.append(f"{_CUTOFFS}: no 'national' row")
    for scope, c in cutoffs.items():
        if scope != "national" and not (len(scope) == 2 and scope.isdigit()):
            problems.append(f"{_CUTOFFS}: scope {scope!r} is not 'national' or a 2-digit province")
        if c.shape != (n - 1,):
            problems.append(f"{_CUTOFFS}: scope {scope!r} has {c.size} cutoffs; n-1 = {n - 1}")
        elif not np.isfinite(c).all() or (np.diff(c) < 0).any():
            problems.append(f"{_CUTOFFS}: scope {scope!r}: cutoffs must be finite, non-decreasing")
    want = pd.MultiIndex.from_product(
        [_scope_order(cutoffs), range(1, n + 1)], names=["scope", "desil"]
    )
    if not counts.index.equals(want) or list(counts.columns) != ["households", "people"]:
        problems.append(
            f"{_COUNTS}: must hold households and people for desil 1..{n} of every scope of "
            f"{_CUTOFFS} (national first, then provinces in code order)"
        )
    elif len(counts):
        nat = counts.loc["national"]
        if int(nat["households"].sum()) != m.households:
            problems.append(
                f"{_COUNTS}: national households sum to {int(nat['households'].sum())}, "
                f"{_MANIFEST} says {m.households}"
            )
        if (counts["households"] < 0).any() or (counts["people"] < 0).any():
            problems.append(f"{_COUNTS}: counts must not be negative")
    return problems


def _collected(where: str, problems: list[str], *, fix: str | None = None) -> SnapshotError:
    shown = "\n  ".join(problems[:20])
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    return SnapshotError(
        f"snapshot {where!r} is invalid ({len(problems)} problem"
        f"{'s' if len(problems) != 1 else ''}):\n  {shown}{more}\n"
        f"Fix: {fix or 'restore the files from where the snapshot was published'}.",
        problems,
    )


# ---------------------------------------------------------------------- adopt


# ---------------------------------------------------------------------- load


def load_snapshot(path: str | Path, *, verify_hash: bool = True) -> Snapshot:
    """Load and validate a snapshot folder written by :meth:`Snapshot.save`.

    Parameters
    ----------
    path : str or Path
        The folder (or its ``snapshot.json``).
    verify_hash : bool, default True
        Refuse a snapshot whose files do not match ``content_hash`` or
        ``file_hashes`` (the error names the changed file). ``False`` is the
        explicit opt-out, to inspect or re-save an edited snapshot; it is then
        stamped with the hash of the files as read.

    Raises
    ------
    SnapshotError
        Every problem found, as ``file:line: message``.
    """
    if not isinstance(verify_hash, bool):
        raise TypeError("load_snapshot: verify_hash must be True or False.")
    folder = Path(path)
    if folder.name == _MANIFEST and folder.is_file():
        folder = folder.parent
    if not (folder / _MANIFEST).is_file():
        raise SnapshotError(
            f"snapshot: {str(path)!r} is not a snapshot folder (no {_MANIFEST}). Fix: pass the "
            "folder Snapshot.save or `pmt adopt` wrote."
        )
    problems: list[str] = []
    texts = {f: _read_text(folder, f, problems) for f in (_MANIFEST, _CUTOFFS, _COUNTS)}
    if problems:
        raise _collected(str(folder), problems)
    manifest = _parse_manifest(cast(str, texts[_MANIFEST]), problems)
    if manifest is None:
        raise _collected(str(folder), problems)
    cutoffs = _parse_cutoffs(cast(str, texts[_CUTOFFS]), manifest.n_classes, problems)
    counts = _parse_counts(cast(str, texts[_COUNTS]), problems)
    if problems:
        raise _collected(str(folder), problems)
    data = {_CUTOFFS: cast(str, texts[_CUTOFFS]), _COUNTS: cast(str, texts[_COUNTS])}
    actual = compute_hash(cast(Any, _bare(manifest)), data)
    if verify_hash:
        problems = _hash_problems(manifest, data, actual)
        if problems:
            raise _collected(str(folder), problems, fix=_RESAVE)
    return Snapshot(manifest, cutoffs, counts, folder, actual)


def _parse_manifest(text: str, problems: list[str]) -> SnapshotManifest | None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"key {dup[0]!r} appears twice in one object")
        return dict(items)

    def constant(token: str) -> Any:
        raise ValueError(f"{token} is not a number JSON allows")

    try:
        raw = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except ValueError as exc:
        line = getattr(exc, "lineno", 1)
        problems.append(f"{_MANIFEST}:{line}: not valid JSON ({exc})")
        return None
    try:
        return SnapshotManifest.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            problems.append(f"{_MANIFEST}: {loc or '(top)'}: {err['msg']}")
        return None


def _parse_cutoffs(text: str, n: int, problems: list[str]) -> dict[str, np.ndarray]:
    records = _rows(_CUTOFFS, text, problems)
    if records is None:
        return {}
    header = ["scope", *(f"c{k}" for k in range(1, n))]
    if not records or records[0][1] != header:
        problems.append(f"{_CUTOFFS}:1: the header must be {','.join(header)} (n_classes = {n})")
        return {}
    out: dict[str, np.ndarray] = {}
    for line, row in records[1:]:
        where = f"{_CUTOFFS}:{line}"
        if len(row) != n:
            problems.append(f"{where}: {len(row)} cells, the header has {n}")
            continue
        vals = [_float(c) for c in row[1:]]
        if any(v is None for v in vals):
            problems.append(f"{where}: every cutoff must be a finite decimal number")
            continue
        if row[0] in out:
            problems.append(f"{where}: scope {row[0]!r} appears twice")
        out[row[0]] = np.array(vals, dtype=np.float64)
    return out


def _parse_counts(text: str, problems: list[str]) -> pd.DataFrame:
    records = _rows(_COUNTS, text, problems)
    empty = pd.DataFrame(
        {"households": np.zeros(0, np.int64), "people": np.zeros(0)},
        index=pd.MultiIndex.from_arrays([[], []], names=["scope", "desil"]),
    )
    if records is None:
        return empty
    if not records or records[0][1] != ["scope", "desil", "households", "people"]:
        problems.append(f"{_COUNTS}:1: the header must be scope,desil,households,people")
        return empty
    scopes, desil, hh, people = [], [], [], []
    for line, row in records[1:]:
        where = f"{_COUNTS}:{line}"
        if len(row) != 4 or not row[1].isdigit() or not row[2].isdigit() or _float(row[3]) is None:
            problems.append(f"{where}: expected scope, desil, households (whole numbers), people")
            continue
        scopes.append(row[0])
        desil.append(int(row[1]))
        hh.append(int(row[2]))
        people.append(cast(float, _float(row[3])))
    index = pd.MultiIndex.from_arrays([scopes, desil], names=["scope", "desil"])
    return pd.DataFrame(
        {"households": np.array(hh, dtype=np.int64), "people": np.array(people, dtype=np.float64)},
        index=index,
    )


def _hash_problems(m: SnapshotManifest, files: Mapping[str, str], actual: str) -> list[str]:
    if m.content_hash is None:
        return [f"{_MANIFEST}: no content_hash (the files hash to {actual})"]
    recorded = m.file_hashes or {}
    changed = [
        name for name, text in sorted(files.items()) if recorded.get(name) != file_hash(text)
    ]
    problems = [
        f"{name}: changed since the snapshot was saved: {_MANIFEST} records "
        f"{recorded.get(name)} for it, the file hashes to {file_hash(files[name])}"
        for name in changed
    ]
    if m.content_hash != actual:
        if not changed:
            problems.append(
                f"{_MANIFEST}: changed since the snapshot was saved: content_hash is "
                f"{m.content_hash} but the snapshot hashes to {actual}, and both tables "
                "match their file_hashes, so a field of the manifest was edited"
            )
        else:
            problems.append(
                f"{_MANIFEST}: content_hash is {m.content_hash} but the snapshot hashes to {actual}"
            )
    return problems
