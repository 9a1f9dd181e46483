"""The weight-set model: the manifest, the loaded set and the consistency rules.

The manifest is :class:`Manifest` and :class:`WeightFiles`, the loaded set
:class:`WeightSet`; every set obeys the consistency rules, loaded or built in
memory.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from ..errors import WeightSetError
from ..regions import LEVELS, fallback_chain, key_level, province_table, scheme
from ..spec import VariableSpec

__all__ = [
    "FORMAT",
    "Manifest",
    "WeightFiles",
    "WeightSet",
    "file_name_problem",
    "manifest_json_schema",
]

FORMAT: Literal["pmt-weights/1"] = "pmt-weights/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HASH = r"^sha256:[0-9a-f]{64}$"
_MANIFEST = "manifest.json"
_DATA_FILES = ("coefficients", "poverty_lines", "cutoffs")
_RESAVE = (
    "if the change is intended, re-save the set: "
    "pmt.save_weights(pmt.load_weights(path, verify_hash=False), path); "
    "otherwise restore the files from version control"
)


def file_name_problem(name: str) -> str | None:
    """Why ``name`` is not a plain file name inside a weight set folder (None if it is).

    A weight set names its data files by plain name: no folder part, so no
    ``..``, no absolute path, no drive letter, no backslash, no control
    character, and not ``manifest.json`` itself.
    """
    if not name:
        return "is empty"
    if name in {".", ".."}:
        return "is not a file name"
    if "/" in name or "\\" in name:
        return "has a folder part ('/' or '\\'), which could point outside the set's folder"
    if ":" in name:
        return "contains ':' (a drive letter or a Windows stream name)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character"
    if name.casefold() == _MANIFEST:
        return f"is the name of the manifest itself ({_MANIFEST})"
    return None


class WeightFiles(BaseModel):
    """File names inside the weight set folder.

    Each is a plain file name in the set's own folder (see
    :func:`file_name_problem`); two tables may not share a file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    coefficients: str = "coefficients.csv"
    poverty_lines: str | None = "poverty_lines.csv"
    cutoffs: str | None = "cutoffs.csv"

    @field_validator("coefficients", "poverty_lines", "cutoffs")
    @classmethod
    def _plain_name(cls, name: str | None) -> str | None:
        if name is not None:
            why = file_name_problem(name)
            if why is not None:
                raise ValueError(
                    f"file name {name!r} {why}; a weight set reads files in its "
                    "own folder only: use a plain name such as 'coefficients.csv'"
                )
        return name

    @model_validator(mode="after")
    def _distinct(self) -> WeightFiles:
        names = [n.casefold() for n in self.names().values()]
        if len(set(names)) != len(names):
            raise ValueError(
                f"two tables name the same file: {self.names()}; each table needs its own file"
            )
        return self

    def names(self) -> dict[str, str]:
        """Table (``"coefficients"``, ...) -> file name, for the tables that have a file."""
        return {a: n for a in _DATA_FILES if (n := getattr(self, a)) is not None}


class Manifest(BaseModel):
    """The validated ``manifest.json`` of a weight set (immutable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["pmt-weights/1"] = FORMAT
    name: str = Field(pattern=_NAME.pattern)
    version: str = Field(min_length=1)
    created: _dt.date
    description: str
    #: True for synthetic or example weights (every set shipped with pmt).
    synthetic: bool
    #: "BPS", "Kemendagri" or a scheme added with pmt.regions.register_scheme.
    region_scheme: str = "BPS"
    region_vintage: str
    target: str = "log per-capita household consumption (Rp per person per month)"
    #: "national": every province of the scheme must have a model (else the set is
    #: corrupt); "partial": a set for some regions only — households elsewhere are an
    #: UnknownRegionError (or rejects).
    coverage: Literal["national", "partial"] = "national"
    #: With ``coverage: "partial"``: the regions the models were estimated for,
    #: province ("31") or district ("3171") codes. A household elsewhere is an
    #: UnknownRegionError (or a reject) unless ``coverage_fallback`` names the model
    #: that scores it. Absent from manifests without it (their hash is unchanged).
    covers: tuple[str, ...] | None = None
    #: The model key (e.g. "national") scoring households outside ``covers``.
    coverage_fallback: str | None = None
    #: Residual variance of each model on the survey it was calibrated on (log
    #: consumption; a thin model's is the pooled one), keyed by model key: what
    #: ``rank(..., uncertainty=True)`` uses. Absent from manifests without it.
    residual_variance: dict[str, float] | None = None
    #: The most specific model level; the fallback chain goes down from it.
    model_level: Literal["district_urban", "district", "province_urban", "province", "national"] = (
        "district_urban"
    )
    spec: VariableSpec
    files: WeightFiles = WeightFiles()
    #: Number of classes the reference cutoffs were computed for.
    cutoff_classes: int | None = Field(default=None, ge=2)
    provenance: dict[str, JsonValue] = {}
    #: ``sha256:…`` of each data file's text (``\n`` line endings), keyed by file name;
    #: written by :func:`save_weights` so that a changed file can be named. Not part of
    #: ``content_hash`` (manifests saved before it existed keep their hash).
    file_hashes: dict[str, str] | None = None
    #: ``sha256:…`` over the manifest (without ``content_hash`` and ``file_hashes``)
    #: and every data file (see :func:`compute_hash`).
    content_hash: str | None = Field(default=None, pattern=_HASH)

    @field_validator("covers")
    @classmethod
    def _region_codes(cls, covers: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if covers is None:
            return None
        bad = [c for c in covers if not re.fullmatch(r"\d{2}|\d{4}", c)]
        if bad or not covers or len(set(covers)) != len(covers):
            raise ValueError(
                f"covers must list distinct province ('31') or district ('3171') codes; "
                f"got {list(covers)[:10]}"
            )
        return covers

    @model_validator(mode="after")
    def _partial_needs_covers(self) -> Manifest:
        if self.covers is not None and self.coverage != "partial":
            raise ValueError("covers is for coverage 'partial' sets only")
        if self.coverage_fallback is not None and self.covers is None:
            raise ValueError("coverage_fallback needs covers (the regions it falls back from)")
        return self

    @model_serializer(mode="wrap")
    def _omit_absent_coverage(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for name in ("covers", "coverage_fallback", "residual_variance"):
            if out.get(name) is None:
                out.pop(name, None)
        return out

    @field_validator("region_scheme")
    @classmethod
    def _known_scheme(cls, name: str) -> str:
        scheme(name)  # raises ValueError naming the registered schemes
        return name

    @field_validator("file_hashes")
    @classmethod
    def _one_hash_per_file(
        cls, hashes: dict[str, str] | None, info: ValidationInfo
    ) -> dict[str, str] | None:
        if hashes is None:
            return None
        bad = sorted(k for k, v in hashes.items() if not re.fullmatch(_HASH, v))
        if bad:
            raise ValueError(f"the hashes of {bad} are not 'sha256:' and 64 hex digits")
        files = info.data.get("files")
        if isinstance(files, WeightFiles):
            named = set(files.names().values())
            if set(hashes) != named:
                raise ValueError(
                    f"must have one entry per data file {sorted(named)}; it has {sorted(hashes)}"
                )
        return hashes


@dataclass(frozen=True, eq=False)
class WeightSet:
    """A loaded, validated weight set.

    Attributes
    ----------
    manifest : Manifest
    model_keys : tuple of str, length n_models
    coefficients : ndarray of float64, shape (n_models, n_terms)
        Columns in ``manifest.spec.terms`` order.
    poverty_lines : dict of str to float
        Rupiah per person per month, keyed by region key; empty if none.
    cutoffs : dict of str to ndarray
        Reference cutoffs ``c_1 .. c_{n-1}`` per scope (``"national"`` or a
        2-digit province code); empty if none.
    path : Path or None
        Where it was loaded from.
    """

    manifest: Manifest
    model_keys: tuple[str, ...]
    coefficients: np.ndarray
    poverty_lines: Mapping[str, float] = field(default_factory=dict)
    cutoffs: Mapping[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None
    #: The hash of the files as read (None for a set built in memory).
    loaded_hash: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems = _check_arrays(self)
        if problems:
            where = str(self.path) if self.path is not None else "(in memory)"
            raise _collected(where, problems)
        self.coefficients.setflags(write=False)
        for c in self.cutoffs.values():
            c.setflags(write=False)

    @property
    def cutoff_classes(self) -> int | None:
        """Number of classes the reference cutoffs are for (None without cutoffs)."""
        if not self.cutoffs:
            return None
        return len(next(iter(self.cutoffs.values()))) + 1

    @property
    def spec(self) -> VariableSpec:
        """The variable spec the models use."""
        return self.manifest.spec

    @property
    def name(self) -> str:
        """The weight set's name."""
        return self.manifest.name

    @property
    def id(self) -> str:
        """``name@version``."""
        return f"{self.manifest.name}@{self.manifest.version}"

    @cached_property
    def content_hash(self) -> str:
        """``sha256:…`` over the manifest and every data file (see :func:`compute_hash`).

        For a loaded set, the hash of the files as read; for a set built in
        memory, the hash :func:`save_weights` will write for it.
        """
        if self.loaded_hash is not None:
            return self.loaded_hash
        from .store import _saved_form, compute_hash  # the store imports this module

        manifest, files = _saved_form(self)
        return compute_hash(manifest, files)

    @property
    def has_poverty_lines(self) -> bool:
        """Whether welfare is a log ratio to a poverty line (else the raw prediction)."""
        return bool(self.poverty_lines)

    def model_index(self) -> dict[str, int]:
        """Model key -> row of :attr:`coefficients`."""
        return {k: i for i, k in enumerate(self.model_keys)}

    def model_chain(self, district: int, urban: int) -> tuple[str, ...]:
        """Model keys to try for a district x urban cell, most specific first.

        The fallback chain (:func:`pmt.regions.fallback_chain`); for a cell outside
        a partial set's ``covers``, only its ``coverage_fallback`` (or none).
        """
        covers = self.manifest.covers
        if covers is None or f"{district:04d}" in covers or f"{district // 100:02d}" in covers:
            return fallback_chain(district, urban)
        fallback = self.manifest.coverage_fallback
        return () if fallback is None else (fallback,)

    def levels(self) -> dict[str, int]:
        """Number of models at each level of the fallback chain."""
        out = dict.fromkeys(LEVELS, 0)
        for k in self.model_keys:
            out[key_level(k)] += 1
        return out

    def __repr__(self) -> str:
        m = self.manifest
        flag = "synthetic" if m.synthetic else "non-synthetic"
        return (
            f"<WeightSet {self.id} ({flag}): {len(self.model_keys)} models, "
            f"{len(m.spec.terms)} terms, {m.region_scheme} {m.region_vintage}, "
            f"cutoffs={'n=' + str(self.cutoff_classes) if self.cutoffs else 'none'}>"
        )


def _check_arrays(ws: WeightSet) -> list[str]:
    """Consistency of a weight set's arrays (every set, loaded or built in memory)."""
    m = ws.manifest
    files = m.files
    problems: list[str] = []
    shape = (len(ws.model_keys), len(m.spec.terms))
    if ws.coefficients.shape != shape:
        return [
            f"{files.coefficients}: coefficients have shape {ws.coefficients.shape}; "
            f"{len(ws.model_keys)} models x {len(m.spec.terms)} terms of the spec expected"
        ]
    if len(set(ws.model_keys)) != len(ws.model_keys):
        problems.append(f"{files.coefficients}: model keys must be unique")
    for key in ws.model_keys:
        _check_key(m, key, files.coefficients, problems)
    bad = np.argwhere(~np.isfinite(ws.coefficients))
    for i, j in bad[:5]:
        problems.append(
            f"{files.coefficients}: model {ws.model_keys[i]!r}, term "
            f"{m.spec.terms[j]!r}: coefficient is not a finite number"
        )
    if not ws.model_keys:
        problems.append(f"{files.coefficients}: no models")
    if m.coverage == "national":
        _check_coverage(m, ws.model_keys, "coefficients", problems)
        modelled = None
    else:
        modelled = {int(k[:2]) for k in ws.model_keys if k != "national"}
        modelled = None if "national" in ws.model_keys else modelled
        if m.covers is not None:  # the regions estimated for: each needs a model and a line
            for code in m.covers:
                _check_key(m, code, "manifest.json: covers", problems)
            modelled = {int(c[:2]) for c in m.covers}
            _check_coverage(m, ws.model_keys, "coefficients", problems, modelled)
        if m.coverage_fallback is not None and m.coverage_fallback not in ws.model_keys:
            problems.append(
                f"manifest.json: coverage_fallback {m.coverage_fallback!r} is not a model of "
                f"{files.coefficients}"
            )
    variances = m.residual_variance
    if variances is not None:
        if set(variances) != set(ws.model_keys):
            problems.append(
                "manifest.json: residual_variance must have one entry per model of "
                f"{files.coefficients} and no other"
            )
        bad_var = sorted(k for k, v in variances.items() if not (math.isfinite(v) and v > 0))
        if bad_var:
            problems.append(
                f"manifest.json: residual_variance of {bad_var[:5]} must be a positive finite "
                "number"
            )
    if ws.poverty_lines:
        for key, line in ws.poverty_lines.items():
            _check_key(m, key, str(files.poverty_lines), problems)
            if not (math.isfinite(line) and line > 0):
                problems.append(
                    f"{files.poverty_lines}: poverty line of {key!r} must be a "
                    "positive finite number"
                )
        _check_coverage(m, tuple(ws.poverty_lines), "poverty_lines", problems, modelled)
    if ws.cutoffs:
        sizes = {len(c) for c in ws.cutoffs.values()}
        if len(sizes) != 1:
            problems.append(f"{files.cutoffs}: every scope needs the same number of cutoffs")
        elif m.cutoff_classes is not None and m.cutoff_classes != sizes.pop() + 1:
            problems.append(
                f"{files.cutoffs}: cutoffs do not match the manifest's "
                f"cutoff_classes = {m.cutoff_classes}"
            )
        if "national" not in ws.cutoffs:
            problems.append(f"{files.cutoffs}: no 'national' row")
        for scope, c in ws.cutoffs.items():
            if not np.isfinite(c).all() or (np.diff(c) < 0).any():
                problems.append(
                    f"{files.cutoffs}: scope {scope!r}: cutoffs must be finite and "
                    "must not decrease"
                )
    return problems


def _collected(
    folder: Path | str,
    problems: list[str],
    *,
    fix: str = "correct the files named (line numbers are 1-based) or rebuild the set",
) -> WeightSetError:
    shown = "\n  ".join(problems[:20])
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    return WeightSetError(
        f"weight set {str(folder)!r} is invalid ({len(problems)} problem"
        f"{'s' if len(problems) != 1 else ''}):\n  {shown}{more}\nFix: {fix}.",
        problems,
    )


def _check_key(manifest: Manifest, key: str, where: str, problems: list[str]) -> bool:
    try:
        key_level(key)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return False
    if "-" in key and not manifest.spec.urban:
        problems.append(
            f"{where}: region key {key!r}: the spec has no urban split (urban: false), so keys "
            "are district, province or 'national' only; use "
            f"{key.partition('-')[0]!r}"
        )
        return False
    if key != "national":
        prov = int(key[:2])
        if prov not in province_table(manifest.region_scheme):
            problems.append(
                f"{where}: region key {key!r}: province {prov:02d} is not a "
                f"province of the {manifest.region_scheme} scheme"
            )
            return False
        code = key.partition("-")[0]
        if len(code) == 4 and int(code) not in scheme(manifest.region_scheme).districts:
            problems.append(
                f"{where}: region key {key!r}: {code} is not a kabupaten/kota of "
                f"the {manifest.region_scheme} scheme (see docs/regions.md)"
            )
            return False
    return True


def _check_coverage(
    manifest: Manifest,
    keys: tuple[str, ...],
    what: str,
    problems: list[str],
    provinces: set[int] | None = None,
) -> None:
    """Every province in ``provinces`` (default: the scheme's) must have a model.

    It must be reachable by the fallback chain for any household of it: a
    province row, both province x urban/rural rows, or a national row.
    """
    have = set(keys)
    if "national" in have:
        return
    for code, prov in province_table(manifest.region_scheme).items():
        if provinces is not None and code not in provinces:
            continue
        p = f"{code:02d}"
        if p in have or {f"{p}-urban", f"{p}-rural"} <= have:
            continue
        problems.append(
            f"{getattr(manifest.files, what)}: no {what.replace('_', ' ')} row "
            f"covers province {p} ({prov.name}) and there is no 'national' row; "
            f"add a '{p}' or 'national' row"
        )


def manifest_json_schema() -> dict[str, Any]:
    """The JSON schema of ``manifest.json`` (for editors and reviewers)."""
    return Manifest.model_json_schema()
