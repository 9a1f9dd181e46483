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
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from .errors import WeightSetError
from .regions import LEVELS, key_level, province_table
from .spec import VariableSpec

__all__ = ["Manifest", "WeightFiles", "WeightSet", "load_weights", "save_weights",
           "available_weights", "FORMAT"]

FORMAT = "pmt-weights/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class WeightFiles(BaseModel):
    """File names inside the weight set folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    coefficients: str = "coefficients.csv"
    poverty_lines: str | None = "poverty_lines.csv"
    cutoffs: str | None = "cutoffs.csv"


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
    content_hash: str | None = None


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
        """``sha256:…`` over the manifest and every data file (see :func:`compute_hash`)."""
        if self.loaded_hash is not None:
            return self.loaded_hash
        return compute_hash(self.manifest, _render_files(self))

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
        names |= {p.parent.name for p in root.glob("*/manifest.json")}
    return sorted(names)


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.is_dir():
        return p
    if p.name == "manifest.json" and p.is_file():
        return p.parent
    name = str(name_or_path)
    if _NAME.match(name):
        for root in _weights_roots():
            if (root / name / "manifest.json").is_file():
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
        Check the manifest's ``content_hash`` against the files (an edited
        file without a new hash is an error).

    Raises
    ------
    WeightSetError
        With every problem found, each as ``file:line: message``.
    """
    folder = _resolve(name_or_path)
    problems: list[str] = []
    try:
        raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        manifest = Manifest.model_validate(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightSetError(f"{folder / 'manifest.json'}: cannot read: {exc}. Fix: restore "
                             "the file from version control.", [str(exc)]) from exc
    except ValidationError as exc:
        text = (folder / "manifest.json").read_text(encoding="utf-8")
        problems = [f"manifest.json:{_line_of(text, e['loc'])}: "
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise _collected(folder, problems) from exc

    texts: dict[str, str] = {}
    for attr in ("coefficients", "poverty_lines", "cutoffs"):
        fname = getattr(manifest.files, attr)
        if fname is None:
            continue
        try:
            texts[attr] = _normalise((folder / fname).read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(f"{fname}: cannot read ({exc.strerror})")
    if "coefficients" not in texts:
        raise _collected(folder, problems)

    keys, coef = _parse_coefficients(manifest, texts["coefficients"], problems)
    lines = (_parse_poverty_lines(manifest, texts["poverty_lines"], problems)
             if "poverty_lines" in texts else {})
    cutoffs = _parse_cutoffs(manifest, texts["cutoffs"], problems) if "cutoffs" in texts else {}
    if problems:
        raise _collected(folder, problems)

    actual = compute_hash(manifest, {getattr(manifest.files, a): t for a, t in texts.items()})
    ws = WeightSet(manifest, keys, coef, lines, cutoffs, folder, actual)
    if verify_hash and manifest.content_hash is not None:
        if actual != manifest.content_hash:
            raise _collected(folder, [
                f"manifest.json: content_hash is {manifest.content_hash} but the files hash to "
                f"{actual}: a file was edited without re-saving. Fix: re-save with "
                "pmt.save_weights(pmt.load_weights(path, verify_hash=False), path)"])
    return ws


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


def _collected(folder: Path | str, problems: list[str]) -> WeightSetError:
    shown = "\n  ".join(problems[:20])
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    return WeightSetError(
        f"weight set {str(folder)!r} is invalid ({len(problems)} problem"
        f"{'s' if len(problems) != 1 else ''}):\n  {shown}{more}\n"
        "Fix: correct the files named (line numbers are 1-based) or rebuild the set.",
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


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _float(cell: str) -> float | None:
    try:
        x = float(cell)
    except ValueError:
        return None
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
    return True


def _parse_coefficients(manifest: Manifest, text: str,
                        problems: list[str]) -> tuple[tuple[str, ...], np.ndarray]:
    fname = manifest.files.coefficients
    rows = _rows(text)
    terms = manifest.spec.terms
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
    for i, row in enumerate(rows[1:]):
        where = f"{fname}:{i + 2}"
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
    rows = _rows(text)
    if not rows or rows[0] != ["region_key", "poverty_line"]:
        problems.append(f"{fname}:1: the header must be 'region_key,poverty_line'")
        return {}
    out: dict[str, float] = {}
    for i, row in enumerate(rows[1:]):
        where = f"{fname}:{i + 2}"
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
    rows = _rows(text)
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
    for i, row in enumerate(rows[1:]):
        where = f"{fname}:{i + 2}"
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
    for key, row in zip(ws.model_keys, ws.coefficients):
        w.writerow([key, *map(_fmt, row)])
    out = {m.files.coefficients: buf.getvalue()}
    if ws.poverty_lines:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["region_key", "poverty_line"])
        for key, val in ws.poverty_lines.items():
            w.writerow([key, _fmt(val)])
        out[m.files.poverty_lines or WeightFiles().poverty_lines] = buf.getvalue()
    if ws.cutoffs:
        n = len(next(iter(ws.cutoffs.values()))) + 1
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["scope", *[f"c{k}" for k in range(1, n)]])
        for scope, arr in ws.cutoffs.items():
            w.writerow([scope, *map(_fmt, arr)])
        out[m.files.cutoffs or WeightFiles().cutoffs] = buf.getvalue()
    return out


def compute_hash(manifest: Manifest, files: Mapping[str, str]) -> str:
    """``sha256:<hex>`` over the manifest (without its hash) and the data files.

    The manifest is serialised as canonical JSON (sorted keys); each file
    contributes its name and its text with ``\\n`` line endings, in name order.
    """
    h = hashlib.sha256()
    body = manifest.model_dump(mode="json", exclude={"content_hash"})
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(files):
        h.update(b"\0" + name.encode() + b"\0" + _normalise(files[name]).encode())
    return "sha256:" + h.hexdigest()


def save_weights(ws: WeightSet, folder: str | Path) -> WeightSet:
    """Write ``ws`` to ``folder`` (created if needed) with a fresh content hash.

    Returns the weight set as loaded back from disk, so what you hold is what
    was written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    m = ws.manifest
    files = _render_files(ws)
    default = WeightFiles()
    m = m.model_copy(update={
        "files": WeightFiles(
            coefficients=m.files.coefficients,
            poverty_lines=(m.files.poverty_lines or default.poverty_lines)
            if ws.poverty_lines else None,
            cutoffs=(m.files.cutoffs or default.cutoffs) if ws.cutoffs else None),
        "cutoff_classes": ws.cutoff_classes,
    })
    m = m.model_copy(update={"content_hash": compute_hash(m, files)})
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8", newline="\n")
    (folder / "manifest.json").write_text(
        m.model_dump_json(indent=2) + "\n", encoding="utf-8", newline="\n")
    return load_weights(folder)


def manifest_json_schema() -> dict[str, Any]:
    """The JSON schema of ``manifest.json`` (for editors and reviewers)."""
    return Manifest.model_json_schema()

