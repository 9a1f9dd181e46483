"""Reading a weight set's files: the manifest's JSON and the CSV tables.

Every problem is reported as ``file:line: message``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import (
    ValidationError,
)

from ..regions import province_table
from .model import _MANIFEST, Manifest, _check_key, _collected, file_name_problem


class _JsonProblem(ValueError):
    """A manifest.json value the JSON parser accepts but a weight set must not hold."""

    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.token = token


__all__ = []


def _json_int(token: str) -> int:
    if len(token.lstrip("-")) > 19 or not -(2**63) <= int(token) < 2**63:
        raise _JsonProblem(
            f"integer {token[:20]}{'…' if len(token) > 20 else ''} is too "
            "large (a weight set's numbers fit in 64 bits)",
            token,
        )
    return int(token)


def _json_float(token: str) -> float:
    x = float(token)
    if not math.isfinite(x):
        raise _JsonProblem(
            f"number {token[:20]}{'…' if len(token) > 20 else ''} is too large "
            "(not a finite 64-bit float)",
            token,
        )
    return x


def _json_constant(token: str) -> Any:
    raise _JsonProblem(f"{token} is not a JSON number (NaN and Infinity are not allowed)", token)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonProblem(
                f"key {key!r} appears twice in one object (JSON readers keep only one of them)",
                json.dumps(key),
            )
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
        raw = json.loads(
            text,
            object_pairs_hook=_json_object,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_json_constant,
        )
    except json.JSONDecodeError as exc:
        raise _collected(
            folder,
            [
                f"{_MANIFEST}:{exc.lineno}: not valid JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})"
            ],
        ) from None
    except _JsonProblem as exc:
        raise _collected(folder, [f"{_MANIFEST}:{_token_line(text, exc)}: {exc}"]) from None
    except RecursionError:
        raise _collected(folder, [f"{_MANIFEST}:1: nested too deeply to read"]) from None
    if not isinstance(raw, dict):
        raise _collected(
            folder, [f"{_MANIFEST}:1: must be a JSON object ({{...}}), not a {type(raw).__name__}"]
        )
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise _collected(
            folder,
            [
                f"{_MANIFEST}:{_line_of(text, e['loc'])}: {'.'.join(map(str, e['loc']))}: "
                f"{e['msg']}"
                for e in exc.errors()
            ],
        ) from None
    return manifest, text


def _read_text(folder: Path, fname: str, problems: list[str]) -> str | None:
    r"""The text of ``folder/fname`` with ``\n`` line endings, or None (a problem recorded).

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
        problems.append(
            f"{fname}: is a link to {real}, outside the weight set folder; a "
            "weight set reads files in its own folder only (copy the file in)"
        )
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
        problems.append(
            f"{fname}:1: starts with a byte-order mark (BOM); save it as UTF-8 without BOM"
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = _normalise(data[: exc.start].decode("utf-8"))
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        problems.append(
            f"{fname}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
            f"character {column}); save the file as UTF-8"
        )
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


#: A record's cells joined by commas, each a :data:`_NUMBER`: one match checks a whole row
_NUMBERS = re.compile(rf"{_NUMBER.pattern}(?:,{_NUMBER.pattern})*")


def _float(cell: str) -> float | None:
    """The finite number a cell holds, or None."""
    if not _NUMBER.fullmatch(cell):
        return None
    x = float(cell)
    return x if math.isfinite(x) else None


def _parse_coefficients(
    manifest: Manifest, text: str, problems: list[str]
) -> tuple[tuple[str, ...], np.ndarray]:
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
            why = (
                "code not allowed by the spec"
                if "=" in t and var in {v.name for v in manifest.spec.lookup_variables}
                else "unknown variable"
            )
            problems.append(
                f"{fname}:1: column {t!r}: {why} (the spec "
                f"{manifest.spec.name} {manifest.spec.version} has no such term)"
            )
    missing = [t for t in terms if t not in col_of]
    if missing:
        problems.append(
            f"{fname}:1: missing columns for {len(missing)} terms of the spec, e.g. {missing[:5]}"
        )
    order = [col_of.get(t, -1) for t in terms]
    whole = all(j >= 0 for j in order)  # every term has its column
    keys: list[str] = []
    seen: set[str] = set()
    coef = np.zeros((max(len(rows) - 1, 0), len(terms)))
    for i, (line, row) in enumerate(records[1:]):
        where = f"{fname}:{line}"
        if len(row) != len(header) + 1:
            problems.append(f"{where}: {len(row)} cells, the header has {len(header) + 1}")
            keys.append(row[0] if row else "")
            continue
        key = row[0]
        if key in seen:
            problems.append(f"{where}: model key {key!r} appears twice")
        _check_key(manifest, key, where, problems)
        keys.append(key)
        seen.add(key)
        if whole:  # the usual case: one match for the row, then the numbers
            cells = [row[j + 1] for j in order]
            if _NUMBERS.fullmatch(",".join(cells)):
                values = np.array([float(c) for c in cells])
                if np.isfinite(values).all():
                    coef[i] = values
                    continue
        for t_i, j in enumerate(order):  # a cell to report, or columns missing
            if j < 0:
                continue
            x = _float(row[j + 1])
            if x is None:
                problems.append(
                    f"{where}: model {key!r}, term {terms[t_i]!r}: coefficient "
                    f"{row[j + 1]!r} is missing or not a finite number"
                )
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
            problems.append(
                f"{where}: poverty line {val!r} for {key!r} must be a positive finite number"
            )
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
        problems.append(
            f"{fname}:1: {n - 1} cutoffs make {n} classes but the manifest's "
            f"cutoff_classes is {manifest.cutoff_classes}"
        )
    out: dict[str, np.ndarray] = {}
    seen: set[str] = set()  # scopes with a row, good or bad: a bad row is one problem
    provinces = province_table(manifest.region_scheme)
    for line, row in records[1:]:
        where = f"{fname}:{line}"
        if len(row) != n:
            problems.append(f"{where}: expected {n} cells, got {len(row)}")
            continue
        scope = row[0]
        seen.add(scope)
        if scope != "national" and not (re.fullmatch(r"\d{2}", scope) and int(scope) in provinces):
            problems.append(
                f"{where}: scope {scope!r} must be 'national' or a 2-digit "
                f"province code of the {manifest.region_scheme} scheme"
            )
            continue
        vals = [_float(c) for c in row[1:]]
        if any(v is None for v in vals):
            problems.append(f"{where}: scope {scope!r}: every cutoff must be a finite number")
            continue
        arr = np.array(vals, dtype=np.float64)
        bad = np.flatnonzero(np.diff(arr) < 0)
        if bad.size:
            k = int(bad[0]) + 1
            problems.append(
                f"{where}: scope {scope!r}: cutoffs must not decrease, but c{k + 1}"
                f" = {float(arr[k])!r} < c{k} = {float(arr[k - 1])!r}"
            )
            continue
        if scope in out:
            problems.append(f"{where}: scope {scope!r} appears twice")
        out[scope] = arr
    if out and "national" not in seen:
        problems.append(f"{fname}: no 'national' row")
    return out
