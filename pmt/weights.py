"""Weight sets: the manifest model, loading, saving, validation and hashing.

A weight set is a folder of plain text a person can diff and review::

    weights/<name>/
        manifest.json       frozen pydantic model (:class:`Manifest`), incl. the variable spec
        coefficients.csv    one row per model key, one column per term (see ``docs/weights.md``)
        poverty_lines.csv   region_key,poverty_line   (optional; Rp per person per month)
        cutoffs.csv         scope,c1,...,c{n-1}       (optional reference cutoffs)

Nothing here knows about ranking. :func:`load_weights` checks everything and
reports every problem found as ``file:line: message`` in one
:class:`~pmt.errors.WeightSetError`.

Integrity: the manifest's ``content_hash`` covers the manifest and every data
file and ``file_hashes`` holds one digest per data file (so an error can name
the file that changed); a set without a hash, or whose files do not match it,
is refused unless ``verify_hash=False``. Every file name in a manifest is a
plain name inside the set's folder, checked in :class:`WeightFiles` and again
(through symbolic links) when reading. :func:`save_weights` writes a complete
new folder next to the target and swaps it into place.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import WeightSetError
from .regions import LEVELS, key_level, province_table, scheme
from .spec import VariableSpec

__all__ = ["FORMAT", "Manifest", "WeightFiles", "WeightSet", "available_weights",
           "load_weights", "save_weights"]

FORMAT: Literal["pmt-weights/1"] = "pmt-weights/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HASH = r"^sha256:[0-9a-f]{64}$"
_MANIFEST = "manifest.json"
_DATA_FILES = ("coefficients", "poverty_lines", "cutoffs")
_RESAVE = ("if the change is intended, re-save the set: "
           "pmt.save_weights(pmt.load_weights(path, verify_hash=False), path); "
           "otherwise restore the files from version control")


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
                raise ValueError(f"file name {name!r} {why}; a weight set reads files in its "
                                 "own folder only: use a plain name such as 'coefficients.csv'")
        return name

    @model_validator(mode="after")
    def _distinct(self) -> WeightFiles:
        names = [n.casefold() for n in self.names().values()]
        if len(set(names)) != len(names):
            raise ValueError(f"two tables name the same file: {self.names()}; each table needs "
                             "its own file")
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
    region_scheme: Literal["BPS", "Kemendagri"] = "BPS"
    region_vintage: str
    target: str = "log per-capita household consumption (Rp per person per month)"
    #: "national": every province of the scheme must have a model (else the set is
    #: corrupt); "partial": a set for some regions only — households elsewhere are an
    #: UnknownRegionError (or rejects).
    coverage: Literal["national", "partial"] = "national"
    #: The most specific model level; the fallback chain goes down from it.
    model_level: Literal["district_urban", "district", "province_urban", "province",
                         "national"] = "district_urban"
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

    @field_validator("file_hashes")
    @classmethod
    def _one_hash_per_file(cls, hashes: dict[str, str] | None,
                           info: ValidationInfo) -> dict[str, str] | None:
        if hashes is None:
            return None
        bad = sorted(k for k, v in hashes.items() if not re.fullmatch(_HASH, v))
        if bad:
            raise ValueError(f"the hashes of {bad} are not 'sha256:' and 64 hex digits")
        files = info.data.get("files")
        if isinstance(files, WeightFiles):
            named = set(files.names().values())
            if set(hashes) != named:
                raise ValueError(f"must have one entry per data file {sorted(named)}; it has "
                                 f"{sorted(hashes)}")
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
        manifest, files = _saved_form(self)
        return compute_hash(manifest, files)

    @property
    def has_poverty_lines(self) -> bool:
        """Whether welfare is a log ratio to a poverty line (else the raw prediction)."""
        return bool(self.poverty_lines)

    def model_index(self) -> dict[str, int]:
        """Model key -> row of :attr:`coefficients`."""
        return {k: i for i, k in enumerate(self.model_keys)}

    def levels(self) -> dict[str, int]:
        """Number of models at each level of the fallback chain."""
        out = dict.fromkeys(LEVELS, 0)
        for k in self.model_keys:
            out[key_level(k)] += 1
        return out

    def __repr__(self) -> str:
        m = self.manifest
        flag = "synthetic" if m.synthetic else "non-synthetic"
        return (f"<WeightSet {self.id} ({flag}): {len(self.model_keys)} models, "
                f"{len(m.spec.terms)} terms, {m.region_scheme} {m.region_vintage}, "
                f"cutoffs={'n=' + str(self.cutoff_classes) if self.cutoffs else 'none'}>")


# --------------------------------------------------------------------------- loading

def _weights_roots() -> list[Path]:
    roots = []
    try:
        roots.append(Path(str(resources.files("pmt") / "_weights")))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - only in odd installs
        pass
    roots.append(Path(__file__).resolve().parent.parent / "weights")
    return [r for r in roots if r.is_dir()]


def available_weights() -> list[str]:
    """Names of the weight sets shipped with pmt (loadable by name)."""
    names: set[str] = set()
    for root in _weights_roots():
        names |= {p.parent.name for p in root.glob("*/manifest.json")
                  if _NAME.match(p.parent.name)}
    return sorted(names)


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.is_dir():
        return p
    if p.name == _MANIFEST and p.is_file():
        return p.parent
    name = str(name_or_path)
    if _NAME.match(name):
        for root in _weights_roots():
            if (root / name / _MANIFEST).is_file():
                return root / name
    raise WeightSetError(
        f"weights: no weight set folder or shipped name {name!r}; shipped names are "
        f"{available_weights()}. Fix: pass a folder that holds a manifest.json, or one of "
        "those names.")


def load_weights(name_or_path: str | Path, *, verify_hash: bool = True) -> WeightSet:
    """Load and validate a weight set by shipped name (``"demo"``) or folder path.

    Parameters
    ----------
    name_or_path : str or Path
        A name shipped in pmt's ``weights/`` or a folder with a ``manifest.json``.
    verify_hash : bool, default True
        Refuse a set whose manifest has no ``content_hash``, or whose files do
        not match its ``content_hash`` or ``file_hashes`` (the error names the
        file that changed). ``False`` is the explicit opt-out, to inspect or
        re-save an edited set: the content checks still apply, and the set is
        stamped with the hash of the files as actually read
        (:attr:`WeightSet.content_hash`), not the one the manifest records.

    Raises
    ------
    WeightSetError
        With every problem found, each as ``file:line: message``: a malformed
        or unreadable file (not UTF-8, a byte-order mark, a NUL byte, broken
        JSON or CSV), a file name that leaves the set's folder, content that
        breaks a rule, or a hash that does not match.
    TypeError
        If ``verify_hash`` is not a bool.
    """
    if not isinstance(verify_hash, bool):
        raise TypeError(f"load_weights: verify_hash must be True or False, got "
                        f"{type(verify_hash).__name__}. Fix: pass verify_hash=False only to "
                        "inspect or re-save an edited set.")
    folder = _resolve(name_or_path)
    manifest, manifest_text = _read_manifest(folder)
    problems: list[str] = []
    texts: dict[str, str] = {}
    for attr, fname in manifest.files.names().items():
        text = _read_text(folder, fname, problems)
        if text is not None:
            texts[attr] = text
    if "coefficients" not in texts:
        raise _collected(folder, problems)

    keys, coef = _parse_coefficients(manifest, texts["coefficients"], problems)
    lines = (_parse_poverty_lines(manifest, texts["poverty_lines"], problems)
             if "poverty_lines" in texts else {})
    cutoffs = _parse_cutoffs(manifest, texts["cutoffs"], problems) if "cutoffs" in texts else {}
    if problems:
        raise _collected(folder, problems)

    by_name = {getattr(manifest.files, a): t for a, t in texts.items()}
    actual = compute_hash(manifest, by_name)
    ws = WeightSet(manifest, keys, coef, lines, cutoffs, folder, actual)
    if verify_hash:
        problems = _hash_problems(manifest, manifest_text, by_name, actual)
        if problems:
            raise _collected(folder, problems, fix=_RESAVE)
    return ws


def _hash_problems(manifest: Manifest, manifest_text: str, files: Mapping[str, str],
                   actual: str) -> list[str]:
    """What does not match the recorded hashes, naming the changed file where it can."""
    where = f"{_MANIFEST}:{_line_of(manifest_text, ('content_hash',))}"
    recorded = manifest.content_hash
    if recorded is None:
        return [f"{where}: no content_hash, so nothing shows that the files are the ones "
                f"that were saved (the files hash to {actual})"]
    per_file = manifest.file_hashes or {}
    changed = [name for name, text in sorted(files.items())
               if name in per_file and per_file[name] != file_hash(text)]
    problems = [f"{name}: changed since the set was saved: {_MANIFEST} records "
                f"{per_file[name]} for it (file_hashes), the file hashes to "
                f"{file_hash(files[name])}" for name in changed]
    if recorded == actual:
        # the data files are the saved ones, so the file_hashes entries themselves were edited
        return [f"{_MANIFEST}:{_line_of(manifest_text, ('file_hashes', name))}: the "
                f"file_hashes entry of {name} was edited: it does not match the file, but "
                "content_hash does" for name in changed]
    if manifest.file_hashes is None:
        names = ", ".join([_MANIFEST, *sorted(files)])
        problems.append(f"{where}: content_hash is {recorded} but the set hashes to {actual}: "
                        f"one of {names} was edited without re-saving (this manifest records "
                        "no per-file hashes, so the file cannot be named; compare with version "
                        "control)")
    elif not changed:
        problems.append(f"{_MANIFEST}: changed since the set was saved: content_hash is "
                        f"{recorded} but the set hashes to {actual}, and every data file "
                        "matches its file_hashes entry, so a field of the manifest was edited")
    else:
        problems.append(f"{where}: content_hash is {recorded} but the set hashes to {actual}")
    return problems


class _JsonProblem(ValueError):
    """A manifest.json value the JSON parser accepts but a weight set must not hold."""

    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.token = token


def _json_int(token: str) -> int:
    if len(token.lstrip("-")) > 19 or not -(2**63) <= int(token) < 2**63:
        raise _JsonProblem(f"integer {token[:20]}{'…' if len(token) > 20 else ''} is too "
                           "large (a weight set's numbers fit in 64 bits)", token)
    return int(token)


def _json_float(token: str) -> float:
    x = float(token)
    if not math.isfinite(x):
        raise _JsonProblem(f"number {token[:20]}{'…' if len(token) > 20 else ''} is too large "
                           "(not a finite 64-bit float)", token)
    return x


def _json_constant(token: str) -> Any:
    raise _JsonProblem(f"{token} is not a JSON number (NaN and Infinity are not allowed)", token)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonProblem(f"key {key!r} appears twice in one object (JSON readers keep "
                               "only one of them)", json.dumps(key))
        out[key] = value
    return out


def _token_line(text: str, exc: _JsonProblem) -> int:
    """1-based line of the value or key ``exc`` is about (the last such key for a repeat)."""
    token = re.escape(exc.token)
    if exc.token.startswith('"'):
        hits = list(re.finditer(token + r"\s*:", text))
        hit = hits[-1] if hits else None
    else:
        hit = re.search(r"(?<=[:\[,])\s*" + token + r"(?=\s*[,\]}])", text)
    return text.count("\n", 0, hit.end()) + 1 if hit else 1


def _read_manifest(folder: Path) -> tuple[Manifest, str]:
    """The validated manifest and its text; any problem is a WeightSetError with its line."""
    problems: list[str] = []
    text = _read_text(folder, _MANIFEST, problems)
    if text is None:
        raise _collected(folder, problems)
    try:
        raw = json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int,
                         parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise _collected(folder, [f"{_MANIFEST}:{exc.lineno}: not valid JSON: {exc.msg} "
                                  f"(line {exc.lineno}, column {exc.colno})"]) from None
    except _JsonProblem as exc:
        raise _collected(folder, [f"{_MANIFEST}:{_token_line(text, exc)}: {exc}"]) from None
    except RecursionError:
        raise _collected(folder, [f"{_MANIFEST}:1: nested too deeply to read"]) from None
    if not isinstance(raw, dict):
        raise _collected(folder, [f"{_MANIFEST}:1: must be a JSON object ({{...}}), not a "
                                  f"{type(raw).__name__}"])
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise _collected(folder, [
            f"{_MANIFEST}:{_line_of(text, e['loc'])}: {'.'.join(map(str, e['loc']))}: "
            f"{e['msg']}" for e in exc.errors()]) from None
    return manifest, text


def _read_text(folder: Path, fname: str, problems: list[str]) -> str | None:
    """The text of ``folder/fname`` with ``\\n`` line endings, or None (a problem recorded).

    The file must be a regular file inside ``folder`` once symbolic links are
    resolved, UTF-8 without a byte-order mark, and hold no NUL byte.
    """
    why = file_name_problem(fname) if fname != _MANIFEST else None
    if why is not None:  # the manifest model checks this; here for sets built otherwise
        problems.append(f"{fname}: the file name {why}")
        return None
    try:
        home = folder.resolve(strict=True)
        real = (folder / fname).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, or a loop of symbolic links
        problems.append(f"{fname}: cannot read ({getattr(exc, 'strerror', None) or exc})")
        return None
    if not real.is_relative_to(home):
        problems.append(f"{fname}: is a link to {real}, outside the weight set folder; a "
                        "weight set reads files in its own folder only (copy the file in)")
        return None
    if not real.is_file():
        problems.append(f"{fname}: is not a regular file")
        return None
    try:
        data = real.read_bytes()
    except OSError as exc:
        problems.append(f"{fname}: cannot read ({exc.strerror or exc})")
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        problems.append(f"{fname}:1: starts with a byte-order mark (BOM); save it as UTF-8 "
                        "without BOM")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = _normalise(data[:exc.start].decode("utf-8"))
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        problems.append(f"{fname}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
                        f"character {column}); save the file as UTF-8")
        return None
    text = _normalise(text)
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        problems.append(f"{fname}:{line}: contains a NUL byte (a binary or corrupt file)")
        return None
    if not text:
        problems.append(f"{fname}:1: the file is empty")
        return None
    return text


def _check_arrays(ws: WeightSet) -> list[str]:
    """Consistency of a weight set's arrays (every set, loaded or built in memory)."""
    m = ws.manifest
    files = m.files
    problems: list[str] = []
    shape = (len(ws.model_keys), len(m.spec.terms))
    if ws.coefficients.shape != shape:
        return [f"{files.coefficients}: coefficients have shape {ws.coefficients.shape}; "
                f"{len(ws.model_keys)} models x {len(m.spec.terms)} terms of the spec expected"]
    if len(set(ws.model_keys)) != len(ws.model_keys):
        problems.append(f"{files.coefficients}: model keys must be unique")
    for key in ws.model_keys:
        _check_key(m, key, files.coefficients, problems)
    bad = np.argwhere(~np.isfinite(ws.coefficients))
    for i, j in bad[:5]:
        problems.append(f"{files.coefficients}: model {ws.model_keys[i]!r}, term "
                        f"{m.spec.terms[j]!r}: coefficient is not a finite number")
    if not ws.model_keys:
        problems.append(f"{files.coefficients}: no models")
    if m.coverage == "national":
        _check_coverage(m, ws.model_keys, "coefficients", problems)
        modelled = None
    else:
        modelled = {int(k[:2]) for k in ws.model_keys if k != "national"}
        modelled = None if "national" in ws.model_keys else modelled
    if ws.poverty_lines:
        for key, line in ws.poverty_lines.items():
            _check_key(m, key, str(files.poverty_lines), problems)
            if not (math.isfinite(line) and line > 0):
                problems.append(f"{files.poverty_lines}: poverty line of {key!r} must be a "
                                "positive finite number")
        _check_coverage(m, tuple(ws.poverty_lines), "poverty_lines", problems, modelled)
    if ws.cutoffs:
        sizes = {len(c) for c in ws.cutoffs.values()}
        if len(sizes) != 1:
            problems.append(f"{files.cutoffs}: every scope needs the same number of cutoffs")
        elif m.cutoff_classes is not None and m.cutoff_classes != sizes.pop() + 1:
            problems.append(f"{files.cutoffs}: cutoffs do not match the manifest's "
                            f"cutoff_classes = {m.cutoff_classes}")
        if "national" not in ws.cutoffs:
            problems.append(f"{files.cutoffs}: no 'national' row")
        for scope, c in ws.cutoffs.items():
            if not np.isfinite(c).all() or (np.diff(c) < 0).any():
                problems.append(f"{files.cutoffs}: scope {scope!r}: cutoffs must be finite and "
                                "must not decrease")
    return problems


def _collected(folder: Path | str, problems: list[str], *,
               fix: str = "correct the files named (line numbers are 1-based) or rebuild "
                          "the set") -> WeightSetError:
    shown = "\n  ".join(problems[:20])
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    return WeightSetError(
        f"weight set {str(folder)!r} is invalid ({len(problems)} problem"
        f"{'s' if len(problems) != 1 else ''}):\n  {shown}{more}\nFix: {fix}.",
        problems)


def _line_of(text: str, loc: tuple[Any, ...]) -> int:
    """1-based line of the innermost JSON key of a pydantic error location (else 1)."""
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return 1
    needle = json.dumps(keys[-1]) + ":"
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line.replace('": ', '":'):
            return number
    return 1


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _rows(fname: str, text: str, problems: list[str]) -> list[tuple[int, list[str]]] | None:
    """The CSV records of ``text`` with the 1-based line each starts on (None if not CSV)."""
    reader = csv.reader(io.StringIO(text), strict=True)
    out: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            out.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.append(f"{fname}:{max(reader.line_num, start)}: not valid CSV ({exc})")
        return None
    return out


#: A plain decimal number as :func:`repr` of a float writes it (ASCII digits only; no
#: ``_`` separators, no surrounding spaces, no ``nan``/``inf``).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _float(cell: str) -> float | None:
    """The finite number a cell holds, or None."""
    if not _NUMBER.fullmatch(cell):
        return None
    x = float(cell)
    return x if math.isfinite(x) else None


def _check_key(manifest: Manifest, key: str, where: str, problems: list[str]) -> bool:
    try:
        key_level(key)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return False
    if key != "national":
        prov = int(key[:2])
        if prov not in province_table(manifest.region_scheme):
            problems.append(f"{where}: region key {key!r}: province {prov:02d} is not a "
                            f"province of the {manifest.region_scheme} scheme")
            return False
        code = key.partition("-")[0]
        if len(code) == 4 and int(code) not in scheme(manifest.region_scheme).districts:
            problems.append(f"{where}: region key {key!r}: {code} is not a kabupaten/kota of "
                            f"the {manifest.region_scheme} scheme (see docs/regions.md)")
            return False
    return True


def _parse_coefficients(manifest: Manifest, text: str,
                        problems: list[str]) -> tuple[tuple[str, ...], np.ndarray]:
    fname = manifest.files.coefficients
    records = _rows(fname, text, problems)
    terms = manifest.spec.terms
    if records is None:
        return (), np.zeros((0, len(terms)))
    rows = [r for _, r in records]
    if not rows or not rows[0] or rows[0][0] != "model_key":
        problems.append(f"{fname}:1: the header must start with 'model_key'")
        return (), np.zeros((0, len(terms)))
    header = rows[0][1:]
    col_of = {}
    for j, t in enumerate(header):
        if t in col_of:
            problems.append(f"{fname}:1: term {t!r} appears twice")
        col_of[t] = j
    for t in header:
        if t not in terms:
            var = t.split("=")[0]
            why = ("code not allowed by the spec" if "=" in t and var in
                   {v.name for v in manifest.spec.lookup_variables} else "unknown variable")
            problems.append(f"{fname}:1: column {t!r}: {why} (the spec "
                            f"{manifest.spec.name} {manifest.spec.version} has no such term)")
    missing = [t for t in terms if t not in col_of]
    if missing:
        problems.append(f"{fname}:1: missing columns for {len(missing)} terms of the spec, "
                        f"e.g. {missing[:5]}")
    order = [col_of.get(t, -1) for t in terms]
    keys: list[str] = []
    coef = np.zeros((max(len(rows) - 1, 0), len(terms)))
    for i, (line, row) in enumerate(records[1:]):
        where = f"{fname}:{line}"
        if len(row) != len(header) + 1:
            problems.append(f"{where}: {len(row)} cells, the header has {len(header) + 1}")
            keys.append(row[0] if row else "")
            continue
        key = row[0]
        if key in keys:
            problems.append(f"{where}: model key {key!r} appears twice")
        _check_key(manifest, key, where, problems)
        keys.append(key)
        for t_i, j in enumerate(order):
            if j < 0:
                continue
            x = _float(row[j + 1])
            if x is None:
                problems.append(f"{where}: model {key!r}, term {terms[t_i]!r}: coefficient "
                                f"{row[j + 1]!r} is missing or not a finite number")
            else:
                coef[i, t_i] = x
    if not keys:
        problems.append(f"{fname}: no models")
    return tuple(keys), coef


def _parse_poverty_lines(manifest: Manifest, text: str, problems: list[str]) -> dict[str, float]:
    fname = manifest.files.poverty_lines
    records = _rows(str(fname), text, problems)
    if records is None:
        return {}
    rows = [r for _, r in records]
    if not rows or rows[0] != ["region_key", "poverty_line"]:
        problems.append(f"{fname}:1: the header must be 'region_key,poverty_line'")
        return {}
    out: dict[str, float] = {}
    for line, row in records[1:]:
        where = f"{fname}:{line}"
        if len(row) != 2:
            problems.append(f"{where}: expected 2 cells, got {len(row)}")
            continue
        key, val = row
        if key in out:
            problems.append(f"{where}: region key {key!r} appears twice")
        _check_key(manifest, key, where, problems)
        x = _float(val)
        if x is None or x <= 0:
            problems.append(f"{where}: poverty line {val!r} for {key!r} must be a positive "
                            "finite number")
            continue
        out[key] = x
    return out


def _parse_cutoffs(manifest: Manifest, text: str, problems: list[str]) -> dict[str, np.ndarray]:
    fname = manifest.files.cutoffs
    records = _rows(str(fname), text, problems)
    if records is None:
        return {}
    rows = [r for _, r in records]
    if not rows or not rows[0] or rows[0][0] != "scope" or len(rows[0]) < 2:
        problems.append(f"{fname}:1: the header must be 'scope,c1,...,c{{n-1}}'")
        return {}
    n = len(rows[0])
    expected = ["scope"] + [f"c{k}" for k in range(1, n)]
    if rows[0] != expected:
        problems.append(f"{fname}:1: the header must be {','.join(expected)}")
    if manifest.cutoff_classes is not None and manifest.cutoff_classes != n:
        problems.append(f"{fname}:1: {n - 1} cutoffs make {n} classes but the manifest's "
                        f"cutoff_classes is {manifest.cutoff_classes}")
    out: dict[str, np.ndarray] = {}
    provinces = province_table(manifest.region_scheme)
    for line, row in records[1:]:
        where = f"{fname}:{line}"
        if len(row) != n:
            problems.append(f"{where}: expected {n} cells, got {len(row)}")
            continue
        scope = row[0]
        if scope != "national" and not (re.fullmatch(r"\d{2}", scope)
                                        and int(scope) in provinces):
            problems.append(f"{where}: scope {scope!r} must be 'national' or a 2-digit "
                            f"province code of the {manifest.region_scheme} scheme")
            continue
        vals = [_float(c) for c in row[1:]]
        if any(v is None for v in vals):
            problems.append(f"{where}: scope {scope!r}: every cutoff must be a finite number")
            continue
        arr = np.array(vals, dtype=np.float64)
        bad = np.flatnonzero(np.diff(arr) < 0)
        if bad.size:
            k = int(bad[0]) + 1
            problems.append(f"{where}: scope {scope!r}: cutoffs must not decrease, but c{k + 1}"
                            f" = {arr[k]!r} < c{k} = {arr[k - 1]!r}")
            continue
        if scope in out:
            problems.append(f"{where}: scope {scope!r} appears twice")
        out[scope] = arr
    if out and "national" not in out:
        problems.append(f"{fname}: no 'national' row")
    return out


def _check_coverage(manifest: Manifest, keys: tuple[str, ...], what: str,
                    problems: list[str], provinces: set[int] | None = None) -> None:
    """Every province in ``provinces`` (default: the scheme's) must be reachable by the
    fallback chain for any household of it: a province row, both province x urban/rural
    rows, or a national row."""
    have = set(keys)
    if "national" in have:
        return
    for code, prov in province_table(manifest.region_scheme).items():
        if provinces is not None and code not in provinces:
            continue
        p = f"{code:02d}"
        if p in have or {f"{p}-urban", f"{p}-rural"} <= have:
            continue
        problems.append(f"{getattr(manifest.files, what)}: no {what.replace('_', ' ')} row "
                        f"covers province {p} ({prov.name}) and there is no 'national' row; "
                        f"add a '{p}' or 'national' row")


# --------------------------------------------------------------------------- saving, hashing

def _fmt(x: float) -> str:
    return repr(float(x))


def _render_files(ws: WeightSet) -> dict[str, str]:
    m = ws.manifest
    terms = m.spec.terms
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model_key", *terms])
    for key, row in zip(ws.model_keys, ws.coefficients, strict=True):
        w.writerow([key, *map(_fmt, row)])
    out = {m.files.coefficients: buf.getvalue()}
    if ws.poverty_lines:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["region_key", "poverty_line"])
        for key, val in ws.poverty_lines.items():
            w.writerow([key, _fmt(val)])
        out[str(m.files.poverty_lines or WeightFiles().poverty_lines)] = buf.getvalue()
    if ws.cutoffs:
        n = len(next(iter(ws.cutoffs.values()))) + 1
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["scope", *[f"c{k}" for k in range(1, n)]])
        for scope, arr in ws.cutoffs.items():
            w.writerow([scope, *map(_fmt, arr)])
        out[str(m.files.cutoffs or WeightFiles().cutoffs)] = buf.getvalue()
    return out


def compute_hash(manifest: Manifest, files: Mapping[str, str]) -> str:
    """``sha256:<hex>`` over the manifest (without its hashes) and the data files.

    The manifest is serialised as canonical JSON (sorted keys) without
    ``content_hash`` and ``file_hashes``; each file contributes its name and its
    text with ``\\n`` line endings, in name order.
    """
    h = hashlib.sha256()
    body = manifest.model_dump(mode="json", exclude={"content_hash", "file_hashes"})
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(files):
        h.update(b"\0" + name.encode() + b"\0" + _normalise(files[name]).encode())
    return "sha256:" + h.hexdigest()


def file_hash(text: str) -> str:
    """``sha256:<hex>`` of one data file's text with ``\\n`` line endings (``file_hashes``)."""
    return "sha256:" + hashlib.sha256(_normalise(text).encode()).hexdigest()


def save_weights(ws: WeightSet, folder: str | Path) -> WeightSet:
    """Write ``ws`` to ``folder`` with a fresh content hash, replacing the folder atomically.

    The complete set (data files, then ``manifest.json`` with ``content_hash``
    and ``file_hashes``) is written to a new hidden folder next to ``folder``
    (same parent), flushed to disk, and only then put in ``folder``'s place:

    - if ``folder`` does not exist (or is empty), the new folder is renamed to it;
    - if it holds a weight set, the two folders are swapped in one atomic step
      (Linux ``renameat2`` exchange; elsewhere two renames) and the old one is
      deleted. Other files in the old folder (notes, ``diagnostics.csv``, ...)
      are copied into the new one first; the old set's own files are not.

    An interruption or error at any point leaves ``folder`` holding either the
    old set or the new one, never a mix (on systems without the exchange, in
    the instant between the two renames the old set is in
    ``.<name>.pmt-old-*`` beside it). A killed process can leave a hidden
    ``.<name>.pmt-new-*`` folder beside ``folder``; it is never loaded and can
    be deleted. Nothing is written outside ``folder`` and that temporary folder.

    Parameters
    ----------
    ws : WeightSet
    folder : str or Path
        Created with its parents if needed. A symbolic link is followed: the
        folder it points to is replaced.

    Returns
    -------
    WeightSet
        The set as loaded back from disk (with ``verify_hash=True``), so what
        you hold is what was written.

    Raises
    ------
    WeightSetError
        If the manifest names a file outside the folder (possible only for a
        manifest built without validation); nothing is written then.
    FileExistsError
        If ``folder`` exists, is not empty and holds no ``manifest.json``:
        pmt does not replace a folder that is not a weight set.
    NotADirectoryError
        If ``folder`` is a file.
    """
    if not isinstance(ws, WeightSet):
        raise TypeError(f"save_weights: ws must be a pmt.WeightSet, got {type(ws).__name__}")
    m, files = _saved_form(ws)
    m = m.model_copy(update={"file_hashes": {n: file_hash(t) for n, t in sorted(files.items())},
                             "content_hash": compute_hash(m, files)})
    manifest_text = m.model_dump_json(indent=2) + "\n"
    try:  # the manifest as it will be read back (catches a model built without validation)
        Manifest.model_validate_json(manifest_text)
    except ValidationError as exc:
        raise WeightSetError(f"save_weights: the manifest is invalid: {exc}. Fix: build it "
                             "with pmt.Manifest(...); nothing was written.",
                             [str(exc)]) from None

    target = Path(folder).resolve()
    old_names = _existing_set_names(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_sibling(target, "new")
    try:
        for name, text in sorted(files.items()):
            _write_durably(tmp / name, text)
        _write_durably(tmp / _MANIFEST, manifest_text)
        if old_names is not None:
            _carry_over(target, tmp, skip=old_names | set(files) | {_MANIFEST})
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        _sync_folder(tmp)
        _swap_into_place(tmp, target, exists=old_names is not None)
    finally:
        # after a swap, tmp holds the old set; after a failure, the partial new one
        shutil.rmtree(tmp, ignore_errors=True)
    return load_weights(Path(folder))


def _saved_form(ws: WeightSet) -> tuple[Manifest, dict[str, str]]:
    """The manifest (without hashes) and file texts :func:`save_weights` writes for ``ws``.

    ``files`` names exactly the tables ``ws`` has and ``cutoff_classes`` is
    theirs. Raises WeightSetError for a file name that is not plain.
    """
    m = ws.manifest
    default = WeightFiles()
    try:
        names = WeightFiles(
            coefficients=m.files.coefficients,
            poverty_lines=(m.files.poverty_lines or default.poverty_lines)
            if ws.poverty_lines else None,
            cutoffs=(m.files.cutoffs or default.cutoffs) if ws.cutoffs else None)
    except (ValidationError, AttributeError) as exc:
        raise WeightSetError(f"save_weights: the manifest's file names are invalid: {exc}. "
                             "Fix: use plain names such as 'coefficients.csv'; nothing was "
                             "written.", [str(exc)]) from None
    m = m.model_copy(update={"files": names, "cutoff_classes": ws.cutoff_classes})
    return m, _render_files(ws)


def _existing_set_names(target: Path) -> set[str] | None:
    """Files of the weight set at ``target`` (None if nothing is there to replace)."""
    if not target.exists():
        return None
    if not target.is_dir():
        raise NotADirectoryError(f"save_weights: {str(target)!r} is a file, not a folder. Fix: "
                                 "pass a folder path for the weight set.")
    if not (target / _MANIFEST).is_file():
        if any(target.iterdir()):
            raise FileExistsError(
                f"save_weights: folder {str(target)!r} is not empty and holds no "
                f"{_MANIFEST}, so it is not a weight set; saving replaces the whole folder. "
                "Fix: pass a new or empty folder, or the folder of a weight set to replace.")
        return set()
    names = set(WeightFiles().names().values())
    try:
        names |= set(_read_manifest(target)[0].files.names().values())
    except WeightSetError:
        pass  # a corrupt old manifest: its default-named files are still not carried over
    return names


def _new_sibling(target: Path, kind: str) -> Path:
    """Create and return an empty hidden folder next to ``target`` (permissions by umask)."""
    for _ in range(100):
        path = target.parent / f".{target.name}.pmt-{kind}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"save_weights: cannot create a temporary folder in "
                          f"{str(target.parent)!r}")


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _sync_folder(path: Path) -> None:
    """Flush a folder's entries to disk (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _carry_over(old: Path, new: Path, *, skip: set[str]) -> None:
    """Copy the entries of ``old`` that are not in ``skip`` into ``new`` (links as links)."""
    for entry in sorted(old.iterdir()):
        if entry.name in skip:
            continue
        dest = new / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry), dest)
        elif entry.is_dir():
            shutil.copytree(entry, dest, symlinks=True)
        else:
            shutil.copy2(entry, dest)


def _swap_into_place(new: Path, target: Path, *, exists: bool) -> None:
    """Put folder ``new`` at ``target``; afterwards ``new`` holds the old folder, if any."""
    if not exists:
        os.rename(new, target)
    elif not _exchange(new, target):
        old = _new_sibling(target, "old")
        os.rmdir(old)
        os.rename(target, old)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(old, target)
            raise
        os.rename(old, new)
    _sync_folder(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the system or file system cannot; raises OSError on
    any other failure.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}:
        return False
    raise OSError(err, os.strerror(err), str(b))


def manifest_json_schema() -> dict[str, Any]:
    """The JSON schema of ``manifest.json`` (for editors and reviewers)."""
    return Manifest.model_json_schema()
