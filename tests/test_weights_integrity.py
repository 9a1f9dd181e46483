"""Weight sets are tamper-evident: hashes, file names, atomic saves, malformed bytes.

Each guarantee of the "Integrity" section of ``docs/weights.md`` has a test
here. Hashes are checked against an independent computation written from the
documented rule (canonical JSON of the manifest without its two hash fields,
then each data file's name and text), not against the code under test.
"""

from __future__ import annotations

import copy
import doctest
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_weight_set
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import pmt
import pmt._folders as F
import pmt.weights.store as W
from pmt.errors import WeightSetError
from pmt.weights import Manifest, WeightFiles, WeightSet, save_weights

ROOT = Path(__file__).resolve().parent.parent
DATA = ("coefficients.csv", "poverty_lines.csv", "cutoffs.csv")
CUTOFFS = {"national": np.linspace(-1.0, 1.0, 9), "31": np.linspace(-0.5, 1.5, 9)}


def small_set() -> WeightSet:
    """The conftest tiny set with all three tables."""
    return tiny_weight_set(name="integrity", cutoffs=copy.deepcopy(CUTOFFS))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    save_weights(small_set(), tmp_path / "set")
    return tmp_path / "set"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def reference_hash(folder: Path) -> str:
    """The content hash as docs/weights.md defines it, from the raw files."""
    raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    body = {k: v for k, v in raw.items() if k not in {"content_hash", "file_hashes"}}
    h = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    names = sorted(n for n in raw["files"].values() if n is not None)
    for name in names:
        text = (folder / name).read_bytes().decode("utf-8").replace("\r\n", "\n")
        h.update(b"\0" + name.encode() + b"\0" + text.encode())
    return "sha256:" + h.hexdigest()


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(folder: Path, raw: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")


def edit_coefficient(folder: Path) -> None:
    """Change one coefficient to another valid value (line 3, the intercept)."""
    lines = (folder / "coefficients.csv").read_text(encoding="utf-8").split("\n")
    cells = lines[2].split(",")
    cells[1] = repr(float(cells[1]) + 0.25)
    lines[2] = ",".join(cells)
    (folder / "coefficients.csv").write_text("\n".join(lines), encoding="utf-8")


def load_error(folder: Path, *, verify_hash: bool = True) -> WeightSetError:
    with pytest.raises(WeightSetError) as info:
        pmt.load_weights(folder, verify_hash=verify_hash)
    assert str(folder) in str(info.value)
    return info.value


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of ``path`` that contains ``needle``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i + 1 for i, t in enumerate(lines) if needle in t)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PMT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "pmt.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir())


# --------------------------------------------------------------------------- 1. the hash


def test_saved_hashes_match_an_independent_computation(folder: Path) -> None:
    raw = read_manifest(folder)
    assert raw["content_hash"] == reference_hash(folder)
    assert raw["file_hashes"] == {n: sha256((folder / n).read_bytes()) for n in DATA}
    ws = pmt.load_weights(folder)
    assert ws.content_hash == raw["content_hash"] == small_set().content_hash


def test_edit_then_delete_the_hash_is_refused(folder: Path) -> None:
    """The reported bypass: edit a coefficient, delete content_hash (and file_hashes)."""
    edit_coefficient(folder)
    raw = read_manifest(folder)
    del raw["content_hash"], raw["file_hashes"]
    write_manifest(folder, raw)
    err = load_error(folder)
    assert err.problems == (err.problems[0],)
    assert re.match(r"manifest\.json:\d+: no content_hash", err.problems[0]), err.problems
    assert "verify_hash=False" in str(err)  # the fix names the opt-out
    proc = cli("weights", "validate", str(folder), cwd=folder.parent)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("pmt: error: WeightSetError:") and "no content_hash" in line


def test_a_set_without_a_hash_is_refused_even_unedited(folder: Path) -> None:
    raw = read_manifest(folder)
    del raw["content_hash"]
    write_manifest(folder, raw)
    assert "no content_hash" in str(load_error(folder))


def test_opt_out_stamps_the_hash_of_the_files_as_read(folder: Path) -> None:
    edit_coefficient(folder)
    raw = read_manifest(folder)
    del raw["content_hash"], raw["file_hashes"]
    write_manifest(folder, raw)
    ws = pmt.load_weights(folder, verify_hash=False)
    assert ws.content_hash == reference_hash(folder) != small_set().content_hash
    assert ws.manifest.content_hash is None
    # re-saving blesses what was read: it loads again with verify_hash=True
    again = save_weights(ws, folder)
    assert again.content_hash == ws.content_hash == pmt.load_weights(folder).content_hash


@pytest.mark.parametrize("verify_hash", ["no", 0, None])
def test_verify_hash_must_be_a_bool(folder: Path, verify_hash: object) -> None:
    with pytest.raises(TypeError, match="verify_hash must be True or False"):
        pmt.load_weights(folder, verify_hash=verify_hash)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", DATA)
def test_a_changed_data_file_is_named(folder: Path, name: str) -> None:
    path = folder / name
    before = path.read_bytes()
    text = before.decode().split("\n")
    cells = text[1].split(",")
    cells[-1] = repr(float(cells[-1]) * 1.5 + 1.0)  # a valid, larger value: still a valid set
    text[1] = ",".join(cells)
    path.write_text("\n".join(text), encoding="utf-8")
    err = load_error(folder)
    recorded = read_manifest(folder)["file_hashes"][name]
    assert recorded == sha256(before)
    changed = [p for p in err.problems if "changed since the set was saved" in p]
    assert changed == [
        f"{name}: changed since the set was saved: manifest.json records "
        f"{recorded} for it (file_hashes), the file hashes to "
        f"{sha256(path.read_bytes())}"
    ]
    hash_line = line_of(folder / "manifest.json", '"content_hash"')
    assert f"manifest.json:{hash_line}: content_hash is " in str(err)
    for other in set(DATA) - {name}:  # no other file is blamed
        assert not any(p.startswith(other) for p in err.problems)
    proc = cli("weights", "validate", str(folder), cwd=folder.parent)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert f"{name}: changed since the set was saved" in line


def test_a_changed_manifest_field_is_named(folder: Path) -> None:
    raw = read_manifest(folder)
    raw["description"] += " (edited)"
    write_manifest(folder, raw)
    err = load_error(folder)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("manifest.json: changed since the set was saved")
    assert "a field of the manifest was edited" in err.problems[0]


def test_an_edited_file_hashes_entry_is_refused(folder: Path) -> None:
    raw = read_manifest(folder)
    raw["file_hashes"]["cutoffs.csv"] = "sha256:" + "0" * 64
    write_manifest(folder, raw)
    line = line_of(folder / "manifest.json", '"cutoffs.csv": "sha256:')
    err = load_error(folder)
    assert err.problems == (
        f"manifest.json:{line}: the file_hashes entry of cutoffs.csv was "
        "edited: it does not match the file, but content_hash does",
    )
    assert pmt.load_weights(folder, verify_hash=False).content_hash == raw["content_hash"]


@pytest.mark.parametrize(
    ("hashes", "why"),
    [
        ({"coefficients.csv": "sha256:" + "0" * 64}, "one entry per data file"),
        ({n: "sha256:" + "0" * 64 for n in (*DATA, "extra.csv")}, "one entry per data file"),
        ({n: "md5:" + "0" * 32 for n in DATA}, "64 hex digits"),
    ],
)
def test_file_hashes_must_cover_exactly_the_files(folder: Path, hashes: dict, why: str) -> None:
    raw = read_manifest(folder)
    raw["file_hashes"] = hashes
    write_manifest(folder, raw)
    line = line_of(folder / "manifest.json", '"file_hashes"')
    for verify_hash in (True, False):
        err = load_error(folder, verify_hash=verify_hash)
        assert err.problems[0].startswith(f"manifest.json:{line}: file_hashes:"), err.problems
        assert why in str(err)


def test_an_older_manifest_without_file_hashes_still_loads(folder: Path) -> None:
    raw = read_manifest(folder)
    del raw["file_hashes"]
    write_manifest(folder, raw)
    assert pmt.load_weights(folder).content_hash == raw["content_hash"]
    ok = cli("weights", "validate", str(folder), cwd=folder.parent)
    assert ok.returncode == 0, ok.stderr
    assert raw["content_hash"] in ok.stdout and "no per-file hashes" in ok.stdout
    edit_coefficient(folder)
    err = load_error(folder)
    (problem,) = err.problems
    assert "records no per-file hashes, so the file cannot be named" in problem
    assert "manifest.json, coefficients.csv, cutoffs.csv, poverty_lines.csv" in problem


def test_validate_lists_each_file_hash(folder: Path) -> None:
    ok = cli("weights", "validate", str(folder), cwd=folder.parent)
    assert ok.returncode == 0, ok.stderr
    for name in DATA:
        assert f"  {name}  {sha256((folder / name).read_bytes())}\n" in ok.stdout
    assert "no per-file hashes" not in ok.stdout


def test_line_endings_do_not_change_the_hashes(folder: Path) -> None:
    """A CRLF checkout (e.g. git on Windows) is the same set."""
    for name in (*DATA, "manifest.json"):
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert pmt.load_weights(folder).content_hash == small_set().content_hash


def test_the_shipped_demo_set_verifies() -> None:
    demo = pmt.load_weights("demo", verify_hash=True)
    folder = demo.path
    assert folder is not None  # loaded from disk
    # results and docs stamp this hash: adding file_hashes must not have changed it
    assert demo.content_hash.startswith("sha256:8bc1a8bbc312")
    assert demo.content_hash == demo.manifest.content_hash == reference_hash(folder)
    hashes = demo.manifest.file_hashes
    assert hashes is not None and set(hashes) == set(DATA)
    for name, digest in hashes.items():
        assert digest == sha256((folder / name).read_bytes().replace(b"\r\n", b"\n"))


# --------------------------------------------------------------------------- 3. file names

BAD_NAMES = [
    "../other/coefficients.csv",
    "/etc/passwd",
    "C:\\weights\\c.csv",
    "C:c.csv",
    "sub/coefficients.csv",
    "sub\\coefficients.csv",
    "..",
    ".",
    "",
    "manifest.json",
    "Manifest.JSON",
    "coef\n.csv",
    "coef\0.csv",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_file_names_must_be_plain_names_in_the_model(name: str) -> None:
    with pytest.raises(ValidationError, match="file name"):
        WeightFiles(coefficients=name)
    with pytest.raises(ValidationError, match="file name"):
        WeightFiles(cutoffs=name)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_file_names_must_be_plain_names_on_load(folder: Path, name: str) -> None:
    outside = folder.parent / "other"
    outside.mkdir()
    shutil.copy(folder / "coefficients.csv", outside / "coefficients.csv")
    raw = read_manifest(folder)
    raw["files"]["coefficients"] = name
    write_manifest(folder, raw)
    line = line_of(folder / "manifest.json", '"coefficients": ')
    for verify_hash in (True, False):
        err = load_error(folder, verify_hash=verify_hash)
        assert err.problems[0].startswith(f"manifest.json:{line}: files.coefficients: "), err
        assert "a weight set reads files in its own folder only" in str(err)


def test_two_tables_may_not_share_a_file(folder: Path) -> None:
    with pytest.raises(ValidationError, match="same file"):
        WeightFiles(coefficients="a.csv", cutoffs="A.CSV")
    raw = read_manifest(folder)
    raw["files"]["cutoffs"] = "coefficients.csv"
    write_manifest(folder, raw)
    assert "two tables name the same file" in str(load_error(folder, verify_hash=False))


@pytest.mark.parametrize("name", ["coefficients.csv", "manifest.json"])
def test_a_link_out_of_the_folder_is_refused(folder: Path, name: str) -> None:
    """Even a link to an identical copy (hash intact): files are read inside the folder only."""
    outside = folder.parent / "elsewhere"
    outside.mkdir()
    shutil.move(folder / name, outside / name)
    (folder / name).symlink_to(outside / name)
    for verify_hash in (True, False):
        err = load_error(folder, verify_hash=verify_hash)
        assert err.problems == (
            f"{name}: is a link to {(outside / name).resolve()}, outside "
            "the weight set folder; a weight set reads files in its own "
            "folder only (copy the file in)",
        )


def test_links_inside_the_folder_are_followed(folder: Path, tmp_path: Path) -> None:
    (folder / "coefficients.csv").rename(folder / "real.csv")
    (folder / "coefficients.csv").symlink_to("real.csv")
    link = tmp_path / "link-to-set"
    link.symlink_to(folder, target_is_directory=True)
    assert pmt.load_weights(link).content_hash == small_set().content_hash


def test_a_fifo_is_refused_without_blocking(folder: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    (folder / "cutoffs.csv").unlink()
    os.mkfifo(folder / "cutoffs.csv")
    err = load_error(folder)
    assert err.problems == ("cutoffs.csv: is not a regular file",)


@pytest.mark.parametrize("name", ["VICTIM", "../victim.csv"])
def test_save_refuses_a_name_outside_the_folder_before_writing(tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim.csv"
    victim.write_text("precious\n")
    bad = str(victim) if name == "VICTIM" else name
    base = small_set()
    # model_construct skips validation: the only way to hold such a manifest in memory
    files = WeightFiles.model_construct(
        coefficients=bad, poverty_lines="poverty_lines.csv", cutoffs="cutoffs.csv"
    )
    ws = WeightSet(
        base.manifest.model_copy(update={"files": files}),
        base.model_keys,
        base.coefficients.copy(),
        dict(base.poverty_lines),
        dict(base.cutoffs),
    )
    parent = tmp_path / "out"
    parent.mkdir()
    with pytest.raises(WeightSetError, match=r"(?s)file names are invalid.*nothing was written"):
        save_weights(ws, parent / "set")
    assert victim.read_text() == "precious\n"
    assert list(parent.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "victim.csv"]


# --------------------------------------------------------------------------- 3. atomic save


def test_save_writes_only_the_set_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "set"
    save_weights(small_set(), target)
    assert siblings(target) == ["set"]
    assert sorted(p.name for p in target.iterdir()) == sorted([*DATA, "manifest.json"])


def test_save_replaces_the_set_and_keeps_other_files(folder: Path) -> None:
    (folder / "notes.txt").write_text("keep me\n")
    (folder / "extra").mkdir()
    (folder / "extra" / "plot.txt").write_text("keep me too\n")
    (folder / "note-link").symlink_to("notes.txt")
    folder.chmod(0o750)
    base = small_set()
    smaller = WeightSet(
        base.manifest, base.model_keys, base.coefficients + 1.0, dict(base.poverty_lines)
    )  # no cutoffs this time
    saved = save_weights(smaller, folder)
    assert not saved.cutoffs and saved.manifest.files.cutoffs is None
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            "coefficients.csv",
            "poverty_lines.csv",
            "manifest.json",
            "notes.txt",
            "extra",
            "note-link",
        ]
    )  # the old cutoffs.csv went with the old set
    assert (folder / "notes.txt").read_text() == "keep me\n"
    assert (folder / "extra" / "plot.txt").read_text() == "keep me too\n"
    assert os.readlink(folder / "note-link") == "notes.txt"
    assert (folder.stat().st_mode & 0o777) == 0o750
    assert siblings(folder) == ["set"]
    assert pmt.load_weights(folder).content_hash == smaller.content_hash


def test_save_over_the_folder_it_was_loaded_from(folder: Path) -> None:
    ws = pmt.load_weights(folder)
    assert save_weights(ws, folder).content_hash == ws.content_hash
    assert siblings(folder) == ["set"]


def test_save_refuses_a_folder_that_is_not_a_weight_set(tmp_path: Path) -> None:
    other = tmp_path / "documents"
    other.mkdir()
    (other / "thesis.txt").write_text("years of work\n")
    with pytest.raises(FileExistsError, match=r"not empty and holds no manifest\.json"):
        save_weights(small_set(), other)
    assert [p.name for p in other.iterdir()] == ["thesis.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        save_weights(small_set(), a_file)
    assert a_file.read_text() == "x"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert save_weights(small_set(), empty).content_hash == small_set().content_hash
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "empty", "file"]


class Boom(BaseException):
    """Stands for an interruption (KeyboardInterrupt, SystemExit, a signal)."""


def _fail_on_call(monkeypatch: pytest.MonkeyPatch, name: str, n: int, exc: BaseException) -> None:
    """Call ``n`` of ``name`` raises ``exc``, counted over every module that calls it."""
    calls = {"n": 0}
    for module in (W, F):  # the weight store and the folder helpers it calls
        real = getattr(module, name, None)
        if real is None:
            continue

        def wrapper(*args, real=real, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise exc
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)


#: (function, which call is interrupted, whether the new set is in place by then)
INTERRUPTIONS = [
    ("write_durably", 1, False),
    ("write_durably", 3, False),
    ("write_durably", 4, False),
    ("_carry_over", 1, False),
    ("sync_folder", 1, False),
    ("_exchange", 1, False),
    ("sync_folder", 2, True),
]


@pytest.mark.parametrize(("where", "n", "swapped"), INTERRUPTIONS)
def test_interrupted_save_leaves_the_old_set_or_the_new(
    folder: Path, monkeypatch: pytest.MonkeyPatch, where: str, n: int, swapped: bool
) -> None:
    (folder / "notes.txt").write_text("keep me\n")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    base = small_set()
    new = WeightSet(
        base.manifest,
        base.model_keys,
        base.coefficients + 1.0,
        dict(base.poverty_lines),
        dict(base.cutoffs),
    )
    _fail_on_call(monkeypatch, where, n, Boom())
    with pytest.raises(Boom):
        save_weights(new, folder)
    monkeypatch.undo()
    if swapped:
        assert pmt.load_weights(folder).content_hash == new.content_hash
        assert (folder / "notes.txt").read_text() == "keep me\n"
    else:
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
        assert pmt.load_weights(folder).content_hash == base.content_hash
    assert siblings(folder) == ["set"]


@pytest.mark.parametrize("fail", [None, 1, 2])
def test_save_without_an_atomic_exchange(
    folder: Path, monkeypatch: pytest.MonkeyPatch, fail: int | None
) -> None:
    """Where the exchange is unsupported: two renames; a failure of either keeps the old set."""
    base = small_set()
    new = WeightSet(
        base.manifest,
        base.model_keys,
        base.coefficients + 1.0,
        dict(base.poverty_lines),
        dict(base.cutoffs),
    )
    monkeypatch.setattr(F, "_exchange", lambda a, b: False)
    real_rename = os.rename
    calls = {"n": 0}

    def rename(src, dst):
        calls["n"] += 1
        if calls["n"] == fail:
            raise OSError(5, "simulated failure", str(dst))
        return real_rename(src, dst)

    monkeypatch.setattr(W.os, "rename", rename)
    if fail is None:
        save_weights(new, folder)
        expected = new.content_hash
    else:
        with pytest.raises(OSError, match="simulated failure"):
            save_weights(new, folder)
        expected = base.content_hash
    monkeypatch.undo()
    assert pmt.load_weights(folder).content_hash == expected
    assert siblings(folder) == ["set"]


def test_the_atomic_exchange_swaps_two_folders(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 exchange is Linux only")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not F._exchange(a, b):
        pytest.skip("this file system has no atomic exchange")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


# --------------------------------------------------------------------------- 4. malformed bytes


def _replace_line(path: Path, line: int, new: bytes) -> int:
    """Replace line ``line`` of ``path``; the bytes written (``Path.write_bytes``)."""
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = new
    return path.write_bytes(b"\n".join(lines))


def _insert_in_line(path: Path, line: int, data: bytes, at: int = 3) -> int:
    """Insert ``data`` into line ``line`` of ``path``; the bytes written (``Path.write_bytes``)."""
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = lines[line - 1][:at] + data + lines[line - 1][at:]
    return path.write_bytes(b"\n".join(lines))


def _manifest_value(folder: Path, key: str, value: bytes) -> int:
    """Set ``"key": value`` (raw JSON text) in manifest.json; return its line."""
    line = line_of(folder / "manifest.json", f'"{key}": ')
    lines = (folder / "manifest.json").read_bytes().split(b"\n")
    head = lines[line - 1].split(b":")[0]
    comma = b"," if lines[line - 1].rstrip().endswith(b",") else b""
    lines[line - 1] = head + b": " + value + comma
    (folder / "manifest.json").write_bytes(b"\n".join(lines))
    return line


def _huge_cell(folder: Path) -> tuple[str, int]:
    _replace_line(folder / "poverty_lines.csv", 3, b"31-urban," + b"1" * 200_000)
    return "poverty_lines.csv", 3


def _multiline_record(folder: Path) -> tuple[str, int]:
    """A quoted cell spanning two lines: later rows keep their physical line numbers."""
    path = folder / "coefficients.csv"
    lines = path.read_bytes().split(b"\n")
    lines[1] = b'"nat\nional"' + lines[1][len(b"national") :]  # line 2 becomes lines 2-3
    cells = lines[2].split(b",")
    cells[2] = b"nan"
    lines[2] = b",".join(cells)  # old line 3 is physical line 4 now
    path.write_bytes(b"\n".join(lines))
    return "coefficients.csv", 4


MALFORMED = {
    "manifest not UTF-8": (
        lambda f: (
            _insert_in_line(f / "manifest.json", 5, b"\xff"),
            ("manifest.json", 5, "not valid UTF-8"),
        )[1]
    ),
    "coefficients not UTF-8": (
        lambda f: (
            _insert_in_line(f / "coefficients.csv", 3, b"\xc3("),
            ("coefficients.csv", 3, "not valid UTF-8"),
        )[1]
    ),
    "surrogate bytes": (
        lambda f: (
            _insert_in_line(f / "cutoffs.csv", 2, b"\xed\xa0\x80"),
            ("cutoffs.csv", 2, "not valid UTF-8"),
        )[1]
    ),
    "cell over the csv field limit": (lambda f: (*_huge_cell(f), "field larger than")),
    "NUL byte": (
        lambda f: (_insert_in_line(f / "cutoffs.csv", 3, b"\0"), ("cutoffs.csv", 3, "NUL byte"))[1]
    ),
    "NUL byte in manifest": (
        lambda f: (
            _insert_in_line(f / "manifest.json", 7, b"\0"),
            ("manifest.json", 7, "NUL byte"),
        )[1]
    ),
    "empty csv": (
        lambda f: (
            (f / "coefficients.csv").write_bytes(b""),
            ("coefficients.csv", 1, "the file is empty"),
        )[1]
    ),
    "empty manifest": (
        lambda f: (
            (f / "manifest.json").write_bytes(b""),
            ("manifest.json", 1, "the file is empty"),
        )[1]
    ),
    "manifest is a list": (
        lambda f: (
            (f / "manifest.json").write_bytes(b'["a", 1]'),
            ("manifest.json", 1, "must be a JSON object"),
        )[1]
    ),
    "manifest is a string": (
        lambda f: ((f / "manifest.json").write_bytes(b'"x"'), ("manifest.json", 1, "not a str"))[1]
    ),
    "BOM on csv": (
        lambda f: (
            (f / "poverty_lines.csv").write_bytes(
                b"\xef\xbb\xbf" + (f / "poverty_lines.csv").read_bytes()
            ),
            ("poverty_lines.csv", 1, "byte-order mark"),
        )[1]
    ),
    "BOM on manifest": (
        lambda f: (
            (f / "manifest.json").write_bytes(b"\xef\xbb\xbf" + (f / "manifest.json").read_bytes()),
            ("manifest.json", 1, "byte-order mark"),
        )[1]
    ),
    "broken JSON": (
        lambda f: (
            (f / "manifest.json").write_bytes((f / "manifest.json").read_bytes()[:300]),
            None,
        )[1]
    ),
    "huge float in manifest": (
        lambda f: (
            "manifest.json",
            _manifest_value(f, "cutoff_classes", b"1e999"),
            "number 1e999 is too large",
        )
    ),
    "huge int in manifest": (
        lambda f: (
            "manifest.json",
            _manifest_value(f, "cutoff_classes", b"1" * 5000),
            "is too large",
        )
    ),
    "int over 64 bits": (
        lambda f: (
            "manifest.json",
            _manifest_value(f, "max_household_size", b"9223372036854775808"),
            "is too large",
        )
    ),
    "NaN in manifest": (
        lambda f: (
            "manifest.json",
            _manifest_value(f, "provenance", b'{"x": NaN}'),
            "NaN is not a JSON number",
        )
    ),
    "repeated key": (
        lambda f: (
            "manifest.json",
            _manifest_value(f, "provenance", b'{"x": 1, "x": 2}'),
            "'x' appears twice",
        )
    ),
    "deep nesting": (
        lambda f: (
            "manifest.json",
            _manifest_value(f, "provenance", b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
            and 1,
            "nested too deeply",
        )
    ),
    "bad CSV quoting": (
        lambda f: (
            _replace_line(f / "cutoffs.csv", 2, b'"national"x,1,2'),
            ("cutoffs.csv", 2, "not valid CSV"),
        )[1]
    ),
    "huge number in csv": (
        lambda f: (
            _replace_line(f / "poverty_lines.csv", 2, b"national," + b"9" * 400),
            ("poverty_lines.csv", 2, "positive finite"),
        )[1]
    ),
    "number with underscores": (
        lambda f: (
            _replace_line(f / "poverty_lines.csv", 2, b"national,600_000"),
            ("poverty_lines.csv", 2, "positive finite"),
        )[1]
    ),
    "non-ASCII digits": (
        lambda f: (
            _replace_line(f / "poverty_lines.csv", 2, "national,６００".encode()),
            ("poverty_lines.csv", 2, "positive finite"),
        )[1]
    ),
    "multi-line record": (lambda f: (*_multiline_record(f), "not a finite number")),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_names_file_and_line(folder: Path, case: str) -> None:
    expected = MALFORMED[case](folder)
    if expected is None:  # truncated JSON: the line where the text ends
        text = (folder / "manifest.json").read_text(encoding="utf-8")
        expected = ("manifest.json", text.count("\n") + 1, "not valid JSON")
    name, line, words = expected
    for verify_hash in (True, False):
        err = load_error(folder, verify_hash=verify_hash)
        hits = [p for p in err.problems if p.startswith(f"{name}:{line}: ")]
        assert hits, err.problems
        assert any(words in p for p in hits), err.problems


# --------------------------------------------------------------------------- 4. fuzzing

INSERTS = st.one_of(
    st.sampled_from(
        [
            b"\xff",
            b"\xc3",
            b"\x00",
            b"\xef\xbb\xbf",
            b"\xed\xa0\x80",
            b'"',
            b",",
            b"\n",
            b"\r",
            b"\r\n",
            b"1e999",
            b"-0",
            b"NaN",
            b"Infinity",
            b"[",
            b"{",
            b"}",
            b"9" * 5000,
            b"1" * 140_000,
            b"\\",
            b"\x1b",
            "\u2028".encode(),
            "３".encode(),
            b" ",
            b"national,1\n",
        ]
    ),
    st.binary(min_size=1, max_size=8),
)
MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), INSERTS),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("replace"), st.binary(max_size=64)),
)


def _mutate(data: bytes, mutation: tuple) -> bytes:
    kind = mutation[0]
    if kind == "replace":
        return mutation[1]
    at = min(int(mutation[1] * len(data)), max(len(data) - 1, 0))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ mutation[2]]) + data[at + 1 :] if data else data
    if kind == "insert":
        return data[:at] + mutation[2] + data[at:]
    return data[:at] + data[at + mutation[2] :]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pristine") / "set"
    save_weights(small_set(), folder)
    return folder


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(["manifest.json", *DATA]), MUTATIONS), min_size=1, max_size=3
    )
)
def test_mutated_bytes_give_weight_set_error_or_the_saved_set(pristine: Path, edits) -> None:
    """Any byte damage: WeightSetError, or (verify_hash=True) exactly the saved set."""
    original = pmt.load_weights(pristine)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "set"
        shutil.copytree(pristine, folder)
        for name, mutation in edits:
            path = folder / name
            path.write_bytes(_mutate(path.read_bytes(), mutation))
        assume(
            any(
                (folder / n).read_bytes() != (pristine / n).read_bytes()
                for n in ("manifest.json", *DATA)
            )
        )
        for verify_hash in (True, False):
            try:
                ws = pmt.load_weights(folder, verify_hash=verify_hash)
            except WeightSetError as exc:
                assert exc.problems and all(isinstance(p, str) for p in exc.problems)
                continue
            if verify_hash:  # only a change that means the same (whitespace, CRLF) may load
                assert ws.content_hash == original.content_hash
                assert ws.manifest == original.manifest
                assert ws.model_keys == original.model_keys
                np.testing.assert_array_equal(ws.coefficients, original.coefficients)
                assert dict(ws.poverty_lines) == dict(original.poverty_lines)
                assert set(ws.cutoffs) == set(original.cutoffs)
                for k, c in original.cutoffs.items():
                    np.testing.assert_array_equal(ws.cutoffs[k], c)
            else:  # stamped with the hash of what was read: the saved one iff nothing differs
                same = _body(ws.manifest) == _body(original.manifest) and all(
                    _text(folder / n) == _text(pristine / n)
                    for n in ws.manifest.files.names().values()
                )
                assert (ws.content_hash == original.content_hash) == same
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", ws.content_hash)


def _body(m: Manifest) -> dict:
    return m.model_dump(mode="json", exclude={"content_hash", "file_hashes"})


def _text(path: Path) -> bytes:
    return path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")


# --------------------------------------------------------------------------- docs


def test_weights_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(
        str(ROOT / "docs" / "weights.md"),
        module_relative=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_manifest_model_refuses_a_bad_content_hash() -> None:
    base = small_set().manifest.model_dump()
    with pytest.raises(ValidationError, match="content_hash"):
        Manifest.model_validate({**base, "content_hash": "sha256:xyz"})
