"""Loading and saving weight sets: finding them by name or folder, hashing, saving.

The save is atomic: a complete new folder is swapped into place.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import stat
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from pydantic import (
    ValidationError,
)

from .._folders import new_sibling, swap_into_place, sync_folder, write_durably
from .._log import get_logger
from ..errors import WeightSetError
from .model import _MANIFEST, _NAME, _RESAVE, Manifest, WeightFiles, WeightSet, _collected
from .parse import (
    _line_of,
    _normalise,
    _parse_coefficients,
    _parse_cutoffs,
    _parse_poverty_lines,
    _read_manifest,
    _read_text,
)

# --------------------------------------------------------------------------- loading


def _weights_roots() -> list[Path]:
    roots = []
    try:
        roots.append(Path(str(resources.files("pmt") / "_weights")))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - only in odd installs
        pass
    roots.append(
        Path(__file__).resolve().parents[2] / "weights"
    )  # a checkout: pmt/weights/store.py
    return [r for r in roots if r.is_dir()]


__all__ = ["available_weights", "compute_hash", "file_hash", "load_weights", "save_weights"]
_log = get_logger(__name__)


def available_weights() -> list[str]:
    """Names of the weight sets shipped with pmt (loadable by name)."""
    names: set[str] = set()
    for root in _weights_roots():
        names |= {p.parent.name for p in root.glob("*/manifest.json") if _NAME.match(p.parent.name)}
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
        "those names."
    )


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
        raise TypeError(
            f"load_weights: verify_hash must be True or False, got "
            f"{type(verify_hash).__name__}. Fix: pass verify_hash=False only to "
            "inspect or re-save an edited set."
        )
    started = time.perf_counter()
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
    lines = (
        _parse_poverty_lines(manifest, texts["poverty_lines"], problems)
        if "poverty_lines" in texts
        else {}
    )
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
    _log.info(
        "loaded weight set %s (%s, %d models%s) from %s",
        ws.id,
        actual,
        len(keys),
        "" if verify_hash else ", hash not verified",
        folder,
    )
    _log.debug("loading weight set %s: %.3f s", ws.id, time.perf_counter() - started)
    return ws


def _hash_problems(
    manifest: Manifest, manifest_text: str, files: Mapping[str, str], actual: str
) -> list[str]:
    """What does not match the recorded hashes, naming the changed file where it can."""
    where = f"{_MANIFEST}:{_line_of(manifest_text, ('content_hash',))}"
    recorded = manifest.content_hash
    if recorded is None:
        return [
            f"{where}: no content_hash, so nothing shows that the files are the ones "
            f"that were saved (the files hash to {actual})"
        ]
    per_file = manifest.file_hashes or {}
    changed = [
        name
        for name, text in sorted(files.items())
        if name in per_file and per_file[name] != file_hash(text)
    ]
    problems = [
        f"{name}: changed since the set was saved: {_MANIFEST} records "
        f"{per_file[name]} for it (file_hashes), the file hashes to "
        f"{file_hash(files[name])}"
        for name in changed
    ]
    if recorded == actual:
        # the data files are the saved ones, so the file_hashes entries themselves were edited
        return [
            f"{_MANIFEST}:{_line_of(manifest_text, ('file_hashes', name))}: the "
            f"file_hashes entry of {name} was edited: it does not match the file, but "
            "content_hash does"
            for name in changed
        ]
    if manifest.file_hashes is None:
        names = ", ".join([_MANIFEST, *sorted(files)])
        problems.append(
            f"{where}: content_hash is {recorded} but the set hashes to {actual}: "
            f"one of {names} was edited without re-saving (this manifest records "
            "no per-file hashes, so the file cannot be named; compare with version "
            "control)"
        )
    elif not changed:
        problems.append(
            f"{_MANIFEST}: changed since the set was saved: content_hash is "
            f"{recorded} but the set hashes to {actual}, and every data file "
            "matches its file_hashes entry, so a field of the manifest was edited"
        )
    else:
        problems.append(f"{where}: content_hash is {recorded} but the set hashes to {actual}")
    return problems


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
    r"""``sha256:<hex>`` over the manifest (without its hashes) and the data files.

    The manifest is serialised as canonical JSON (sorted keys) without
    ``content_hash`` and ``file_hashes``; each file contributes its name and its
    text with ``\n`` line endings, in name order.
    """
    h = hashlib.sha256()
    body = manifest.model_dump(mode="json", exclude={"content_hash", "file_hashes"})
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(files):
        h.update(b"\0" + name.encode() + b"\0" + _normalise(files[name]).encode())
    return "sha256:" + h.hexdigest()


def file_hash(text: str) -> str:
    r"""``sha256:<hex>`` of one data file's text with ``\n`` line endings (``file_hashes``)."""
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
    m = m.model_copy(
        update={
            "file_hashes": {n: file_hash(t) for n, t in sorted(files.items())},
            "content_hash": compute_hash(m, files),
        }
    )
    manifest_text = m.model_dump_json(indent=2) + "\n"
    try:  # the manifest as it will be read back (catches a model built without validation)
        Manifest.model_validate_json(manifest_text)
    except ValidationError as exc:
        raise WeightSetError(
            f"save_weights: the manifest is invalid: {exc}. Fix: build it "
            "with pmt.Manifest(...); nothing was written.",
            [str(exc)],
        ) from None

    target = Path(folder).resolve()
    old_names = _existing_set_names(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_sibling(target, "new")
    try:
        for name, text in sorted(files.items()):
            write_durably(tmp / name, text)
        write_durably(tmp / _MANIFEST, manifest_text)
        if old_names is not None:
            _carry_over(target, tmp, skip=old_names | set(files) | {_MANIFEST})
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        sync_folder(tmp)
        swap_into_place(tmp, target, exists=old_names is not None)
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
            if ws.poverty_lines
            else None,
            cutoffs=(m.files.cutoffs or default.cutoffs) if ws.cutoffs else None,
        )
    except (ValidationError, AttributeError) as exc:
        raise WeightSetError(
            f"save_weights: the manifest's file names are invalid: {exc}. "
            "Fix: use plain names such as 'coefficients.csv'; nothing was "
            "written.",
            [str(exc)],
        ) from None
    m = m.model_copy(update={"files": names, "cutoff_classes": ws.cutoff_classes})
    return m, _render_files(ws)


def _existing_set_names(target: Path) -> set[str] | None:
    """Files of the weight set at ``target`` (None if nothing is there to replace)."""
    if not target.exists():
        return None
    if not target.is_dir():
        raise NotADirectoryError(
            f"save_weights: {str(target)!r} is a file, not a folder. Fix: "
            "pass a folder path for the weight set."
        )
    if not (target / _MANIFEST).is_file():
        if any(target.iterdir()):
            raise FileExistsError(
                f"save_weights: folder {str(target)!r} is not empty and holds no "
                f"{_MANIFEST}, so it is not a weight set; saving replaces the whole folder. "
                "Fix: pass a new or empty folder, or the folder of a weight set to replace."
            )
        return set()
    names = set(WeightFiles().names().values())
    try:
        names |= set(_read_manifest(target)[0].files.names().values())
    except WeightSetError:
        pass  # a corrupt old manifest: its default-named files are still not carried over
    return names


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
