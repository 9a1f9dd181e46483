"""No file lost or half-written, and every command-line error on one line.

Run as a user runs pmt: in a subprocess. The collision and bad-input cases of
one test start their subprocesses together, to keep the file fast.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pytest
from conftest import SPEC, make_households, tiny_weight_set

import pmt
from pmt import cli
from pmt import errors as E
from pmt.io import atomic_output, check_outputs, output_kind, rank_file, write_table
from pmt.io.atomic import SLOW_WRITE_ENV, TEMP_MARK

ROOT = Path(__file__).resolve().parent.parent
REJECT_COLUMNS = ["row", "hh_id", "column", "rule", "value"]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PMT_DEBUG", None)
    return {**env, **extra}


def _default_sigint() -> None:  # a child of a shell without job control may ignore SIGINT
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(
    *args: str, cwd: Path, stdout: int = subprocess.PIPE, **env: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pmt.cli", *args],
        cwd=cwd,
        env=_env(**env),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def run_all(cases: dict[str, list[str]], cwd: Path) -> dict[str, tuple[int, str, str]]:
    """Run every case at once; ``{name: (exit status, stdout, stderr)}``."""
    procs = {name: popen(*args, cwd=cwd) for name, args in cases.items()}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=600)
        out[name] = (p.returncode, stdout, stderr)
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_MARK in p.name)


def one_error_line(code: int, stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("pmt: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a tiny weight set (``tiny``) and 3000 households as CSV and Parquet."""
    folder = tmp_path_factory.mktemp("cli_safety")
    pmt.save_weights(tiny_weight_set(), folder / "tiny")
    hh = make_households(3000, seed=5)
    hh.to_csv(folder / "hh.csv", index=False)
    hh.to_parquet(folder / "hh.parquet")
    return folder


# --------------------------------------------------------------------------- (a) collisions


def test_outputs_that_are_inputs_or_each_other_are_refused_before_any_work(work: Path) -> None:
    folder = work / "collide"
    folder.mkdir()
    for name in ("hh.csv", "hh.parquet"):
        shutil.copy(work / name, folder / name)
    shutil.copytree(work / "tiny", folder / "tiny")
    os.link(folder / "hh.csv", folder / "hard.csv")
    ws_out = folder / "ws"
    shutil.copytree(work / "tiny", ws_out)
    pd.DataFrame({"region_key": ["national"], "poverty_line": [600000.0]}).to_csv(
        ws_out / "poverty_lines.csv", index=False
    )
    before = {p: digest(p) for p in folder.rglob("*") if p.is_file()}
    listing = sorted(str(p) for p in folder.rglob("*"))

    rank = ["--quiet", "rank", "--weights", "tiny"]
    cases = {
        "out is the input": [*rank, "hh.csv", "--out", "hh.csv"],
        "rejects is the input": [*rank, "hh.csv", "--out", "o.csv", "--rejects", "hh.csv"],
        "out is rejects": [*rank, "hh.parquet", "--out", "X.parquet", "--rejects", "X.parquet"],
        "out is a hard link of the input": [*rank, "hh.csv", "--out", "hard.csv"],
        "out is a weight-set file": [*rank, "hh.csv", "--out", "tiny/coefficients.csv"],
        "evaluate --out is its input": [
            "--quiet",
            "evaluate",
            "hh.csv",
            "--true",
            "hh_size",
            "--predicted",
            "hh_size",
            "--out",
            "hh.csv",
        ],
        "calibrate --out holds an input": [
            "--quiet",
            "calibrate",
            "hh.csv",
            "--poverty-lines",
            "ws/poverty_lines.csv",
            "--out",
            "ws",
        ],
    }
    results = run_all(cases, folder)
    for name, (code, _, stderr) in results.items():
        assert code == 2, (name, stderr)
        line = one_error_line(code, stderr)
        assert "OutputPathError" in line and "same file" in line, (name, line)
    assert {p: digest(p) for p in folder.rglob("*") if p.is_file()} == before
    assert sorted(str(p) for p in folder.rglob("*")) == listing  # nothing new, no temporaries


def test_library_refuses_the_same_collisions(work: Path, tmp_path: Path) -> None:
    src = tmp_path / "hh.parquet"
    shutil.copy(work / "hh.parquet", src)
    ws = pmt.load_weights(work / "tiny")
    before = digest(src)
    with pytest.raises(E.OutputPathError, match="same file as the input path"):
        rank_file(src, ws, src)
    with pytest.raises(E.OutputPathError, match=r"rejects .* same file as out"):
        rank_file(
            src, ws, tmp_path / "o.parquet", rejects=tmp_path / "o.parquet", on_invalid="reject"
        )
    os.link(src, tmp_path / "hard.parquet")
    (tmp_path / "link.parquet").symlink_to(src)
    (tmp_path / "sub").mkdir()
    for other in ("hard.parquet", "link.parquet", "sub/../hh.parquet", "./hh.parquet"):
        with pytest.raises(E.OutputPathError, match="same file as the input"):
            check_outputs(inputs={"INPUT": src}, outputs={"--out": tmp_path / other})
    with pytest.raises(E.OutputPathError, match=r"--out .* unknown result file type"):
        output_kind(tmp_path / "o.txt", argument="--out")
    with pytest.raises(E.OutputPathError, match="does not exist"):
        check_outputs(inputs=[src], outputs=[tmp_path / "no" / "o.parquet"])
    with pytest.raises(E.OutputPathError, match="is a folder"):
        check_outputs(inputs=[src], outputs=[tmp_path])
    check_outputs(inputs=[src], outputs=[tmp_path / "o.parquet", tmp_path / "r.csv"])
    assert digest(src) == before and temporaries(tmp_path) == []


# --------------------------------------------------------------------------- atomic_output


def test_atomic_output_keeps_the_old_file_on_any_failure(tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    for exc in (RuntimeError("boom"), KeyboardInterrupt(), SystemExit(143)):
        with pytest.raises(type(exc)):
            with atomic_output(target) as tmp:
                assert tmp.parent == tmp_path and TEMP_MARK in tmp.name
                assert tmp.name.startswith(".r.csv") and not tmp.name.endswith(".csv")
                tmp.write_text("half")
                raise exc
        assert target.read_text() == "old\n" and temporaries(tmp_path) == []
    with atomic_output(target) as tmp:
        tmp.write_text("new\n")
        assert target.read_text() == "old\n"  # not before the block completes
    assert target.read_text() == "new\n" and temporaries(tmp_path) == []
    assert target.stat().st_mode & 0o777 == 0o640  # the permissions of the file it replaced


def test_a_raising_progress_callback_leaves_no_output(work: Path, tmp_path: Path) -> None:
    hh = make_households(3000, seed=6)
    hh.loc[[3, 2500], "hh_size"] = 0
    src = tmp_path / "hh.parquet"
    hh.to_parquet(src)
    ws = pmt.load_weights(work / "tiny")
    old = tmp_path / "old.parquet"
    write_table(pd.DataFrame({"x": [1, 2]}), old)
    old_digest = digest(old)

    class Stop(Exception):
        pass

    def stop_at(phase: str, rows: int) -> Callable[[int, int, str], None]:
        def progress(done: int, total: int, p: str) -> None:
            if p == phase and done >= rows:
                raise Stop(p)

        return progress

    for phase, rows in (("scoring", 1000), ("writing", 1000), ("writing", 3000)):
        for out in (tmp_path / "new.parquet", old):
            with pytest.raises(Stop):
                rank_file(
                    src,
                    ws,
                    out,
                    chunk_size=500,
                    rejects=tmp_path / "rejects.csv",
                    on_invalid="reject",
                    progress=stop_at(phase, rows),
                )
            assert not (tmp_path / "new.parquet").exists()
            assert not (tmp_path / "rejects.csv").exists()
            assert digest(old) == old_digest
            assert temporaries(tmp_path) == []


# --------------------------------------------------------------------------- (b) signals


def _wait(predicate: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 300
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"pmt ended ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_an_interrupt_that_a_library_turns_into_another_error_still_exits_130(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # pandas 2's CSV reader turns the KeyboardInterrupt raised in its read into
    # "ParserError: ... Calling read(nbytes) on source failed": pmt rank exited 2, not 130
    import pmt.io

    def read_interrupted(*args: object, **kwargs: object) -> None:
        try:
            # to this (the main) thread: sent to the process, the signal may land in another of
            # the test process's threads, which does not interrupt this sleep (seen in CI once)
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            time.sleep(5)  # the handler raises here
        except KeyboardInterrupt:
            raise ValueError("Error tokenizing data. Calling read(nbytes) failed") from None

    monkeypatch.setattr(pmt.io, "read_households", read_interrupted)
    args = ["rank", str(work / "hh.csv"), "--weights", str(work / "tiny")]
    code = cli.main([*args, "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 130, err
    assert "pmt: interrupted; no partial output left" in err and "Error tokenizing" not in err
    assert list(tmp_path.iterdir()) == []
    # the next command, with no signal, reports its errors as errors again
    monkeypatch.setattr(pmt.io, "read_households", lambda *a, **k: int("x"))
    assert cli.main([*args, "--out", str(tmp_path / "out.csv")]) != 130


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", ["working", "writing"])
def test_an_interrupted_rank_leaves_the_old_file_or_none(
    work: Path, tmp_path: Path, kind: str, signum: int, point: str
) -> None:
    shutil.copy(work / f"hh.{kind}", tmp_path / f"hh.{kind}")
    out, rejects = tmp_path / f"out.{kind}", tmp_path / "rejects.csv"
    old = {}
    if point == "writing":  # an older result is there and must survive
        write_table(pd.DataFrame({"old": [1, 2, 3]}), out)
        write_table(pd.DataFrame({"old": [4]}), rejects)
        old = {out: digest(out), rejects: digest(rejects)}
    proc = popen(
        "rank",
        f"hh.{kind}",
        "--weights",
        str(work / "tiny"),
        "--out",
        out.name,
        "--rejects",
        rejects.name,
        "--chunk-size",
        "500",
        "--national-only",
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        # the pause before the renames is the window the signal must land in: wide enough
        # for a loaded machine to deliver it after the temporary file appears
        **{SLOW_WRITE_ENV: "2.0"},
    )
    assert proc.stderr is not None
    stderr = proc.stderr
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stderr.readline, "")))
    reader.start()
    try:
        if point == "working":  # reading, scoring and ranking start with this progress line
            step = "reading" if kind == "csv" else "ranking"
            _wait(lambda: any(line.startswith(step) for line in lines), proc, step)
        else:
            _wait(
                lambda: any(
                    n.startswith((f".{out.name}", f".{rejects.name}"))
                    for n in temporaries(tmp_path)
                ),
                proc,
                "a temporary output",
            )
        proc.send_signal(signum)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=60)
        stderr.close()
    expected = 130 if signum == signal.SIGINT else 143
    assert proc.returncode == expected, "".join(lines)
    assert "Traceback" not in "".join(lines)
    assert lines[-1].startswith("pmt: interrupted" if expected == 130 else "pmt: terminated")
    assert temporaries(tmp_path) == []
    if old:
        assert {p: digest(p) for p in old} == old
    else:
        assert not out.exists() and not rejects.exists()


# --------------------------------------------------------------------------- (d) all rejected


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_every_row_rejected(work: Path, tmp_path: Path, kind: str) -> None:
    hh = make_households(300, seed=7)
    hh["hh_size"] = 0
    getattr(hh, f"to_{kind}")(tmp_path / f"bad.{kind}", index=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pmt.cli",
            "--quiet",
            "rank",
            f"bad.{kind}",
            "--weights",
            str(work / "tiny"),
            "--out",
            f"o.{kind}",
            "--rejects",
            f"r.{kind}",
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == cli.EXIT_NOTHING_RANKED == 3
    line = one_error_line(3, proc.stderr)
    assert "no household was ranked" in line and "300" in line
    assert "ranked 0 of 300 rows" in proc.stdout and "No household was ranked" in proc.stdout
    read = pd.read_csv if kind == "csv" else pd.read_parquet
    ranked, rejected = read(tmp_path / f"o.{kind}"), read(tmp_path / f"r.{kind}")
    expected = pmt.rank(make_households(50, seed=7), pmt.load_weights(work / "tiny")).to_frame()
    assert list(ranked.columns) == list(expected.columns) and len(ranked) == 0
    assert list(rejected.columns) == REJECT_COLUMNS
    assert rejected["row"].tolist() == list(range(300))
    assert set(rejected["rule"]) == {"invalid_hh_size"}


def test_rejects_have_the_same_columns_when_nothing_is_rejected(work: Path, tmp_path: Path) -> None:
    ws = pmt.load_weights(work / "tiny")
    result = rank_file(
        work / "hh.parquet",
        ws,
        tmp_path / "o.parquet",
        chunk_size=700,
        rejects=tmp_path / "r.parquet",
        on_invalid="reject",
    )
    assert result.n_rejected == 0
    assert list(pd.read_parquet(tmp_path / "r.parquet").columns) == REJECT_COLUMNS
    assert list(result.rejects.columns) == REJECT_COLUMNS
    in_memory = pmt.rank(pd.read_parquet(work / "hh.parquet"), ws, on_invalid="reject")
    assert list(in_memory.rejects.columns) == REJECT_COLUMNS


# --------------------------------------------------------------------------- (e) one line


def _unwritable_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        (folder / "probe").touch()
    except PermissionError:
        return folder
    (folder / "probe").unlink()  # root ignores permissions: use a read-only file system
    for candidate in (Path("/sys"), Path("/proc/sys")):
        try:
            (candidate / "pmt-probe").touch()
        except OSError:
            if candidate.is_dir():
                return candidate
    pytest.skip("no folder this user cannot write to")


def test_every_error_is_one_line_naming_the_option(work: Path, tmp_path: Path) -> None:
    hh = make_households(200, seed=8)
    variable = next(v.name for v in SPEC.variables if v.is_lookup)
    hh.drop(columns=[variable]).to_csv(tmp_path / "missing.csv", index=False)
    text = hh.astype({"hh_size": object})
    text.loc[17, "hh_size"] = "lima"
    text.to_csv(tmp_path / "text.csv", index=False)
    region = hh.copy()
    region.loc[9, "district_code"] = 9999
    region.to_parquet(tmp_path / "region.parquet")
    hh.to_csv(tmp_path / "hh.csv", index=False)
    locked = _unwritable_folder(tmp_path)
    tiny = str(work / "tiny")
    rank = ["--quiet", "rank", "--weights", tiny]
    cases = {
        # name: (arguments, exit status, words the line holds, words it must not hold)
        "missing column": (
            [*rank, "missing.csv", "--out", "o.csv"],
            2,
            ["MissingColumnError", variable],
            [],
        ),
        "text in a number column": (
            [*rank, "text.csv", "--out", "o.csv"],
            2,
            ["hh_size", "row 17", "lima"],
            [],
        ),
        "unknown region": (
            [*rank, "region.parquet", "--out", "o.parquet"],
            2,
            ["UnknownRegionError", "district_code", "--rejects FILE"],
            ["on_invalid"],
        ),
        "bad weight set name": (
            ["--quiet", "rank", "hh.csv", "--weights", "no-such-set", "--out", "o.csv"],
            2,
            ["WeightSetError", "--weights"],
            [],
        ),
        "missing input file": (
            [*rank, "nothere.csv", "--out", "o.csv"],
            2,
            ["FileNotFoundError", "nothere.csv", "Fix: "],
            [],
        ),
        "unwritable output folder": (
            [*rank, "hh.csv", "--out", str(locked / "o.csv")],
            2,
            ["OutputPathError", "--out", "cannot write"],
            [],
        ),
        "max desil above classes": (
            [*rank, "hh.csv", "--out", "o.csv", "--max-desil", "11"],
            2,
            ["--max-desil", "--classes 10"],
            ["max_desil", "n=10"],
        ),
        "bad option value": (
            [*rank, "hh.csv", "--out", "o.csv", "--classes", "ten"],
            2,
            ["--classes", "invalid int value"],
            [],
        ),
    }
    results = run_all({k: v[0] for k, v in cases.items()}, tmp_path)
    for name, (_, code, needles, forbidden) in cases.items():
        got, _, stderr = results[name]
        assert got == code, (name, stderr)
        line = one_error_line(code, stderr)
        for needle in needles:
            assert needle in line, (name, needle, line)
        for word in forbidden:
            assert word not in line.replace("--max-desil", ""), (name, word, line)
    assert not list(tmp_path.glob("o.*")) and temporaries(tmp_path) == []


def test_unreadable_or_ambiguous_input_files_are_one_line_naming_the_file(
    work: Path, tmp_path: Path
) -> None:
    variable = next(v.name for v in SPEC.variables if v.is_lookup)
    header, rows = (work / "hh.csv").read_text().split("\n", 1)
    (tmp_path / "dup.csv").write_text(f"{header},{variable}\n" + rows.replace("\n", ",1\n"))
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "empty.parquet").write_bytes(b"")
    data = (work / "hh.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.dta").write_bytes(b"no Stata here")
    old = tmp_path / "o.parquet"
    write_table(pd.DataFrame({"x": [1, 2]}), old)
    before = digest(old)
    rank = ["--quiet", "rank", "--weights", str(work / "tiny"), "--out"]
    cases = {
        # name: (arguments, the error, words the line holds)
        "duplicated column": (
            [*rank, "o.parquet", "dup.csv"],
            "DuplicateColumnError",
            ["dup.csv", repr(variable), "Fix: rename or drop the copies in the file"],
        ),
        "empty csv": ([*rank, "o.parquet", "empty.csv"], "EmptyInputError", ["0 bytes"]),
        "empty parquet, streamed": (
            [*rank, "o.parquet", "empty.parquet"],
            "EmptyInputError",
            ["0 bytes"],
        ),
        "cut parquet, streamed": (
            [*rank, "o.parquet", "cut.parquet"],
            "InvalidFileError",
            ["not a valid Parquet file", "write it again"],
        ),
        "cut parquet, in memory": (
            [*rank, "o.csv", "cut.parquet"],
            "InvalidFileError",
            ["not a valid Parquet file", "write it again"],
        ),
        "garbage stata": ([*rank, "o.parquet", "garbage.dta"], "InvalidFileError", ["Stata"]),
        "missing parquet, streamed": (
            [*rank, "o.parquet", "nothere.parquet"],
            "FileNotFoundError",
            ["check the file's name"],
        ),
    }
    results = run_all({k: v[0] for k, v in cases.items()}, tmp_path)
    for name, (args, error, needles) in cases.items():
        code, _, stderr = results[name]
        assert code == 2, (name, stderr)
        line = one_error_line(code, stderr)
        assert line.startswith(f"pmt: error: {error}: {args[-1]}: "), (name, line)
        assert "Fix: " in line and "internal error" not in line, (name, line)
        for needle in needles:
            assert needle in line, (name, needle, line)
    assert digest(old) == before and not (tmp_path / "o.csv").exists()
    assert temporaries(tmp_path) == []


def test_unexpected_errors_are_one_line_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        empty: dict[str, int] = {}
        return empty["national"]

    monkeypatch.setattr(importlib.import_module(cli.COMMANDS["synth"]), "run", broken)
    monkeypatch.delenv("PMT_DEBUG", raising=False)
    assert cli.main(["synth", "registry", "5", "--out", "x.csv"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    line = one_error_line(1, err)
    assert "internal error: KeyError" in line and "PMT_DEBUG=1" in line
    monkeypatch.setenv("PMT_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["synth", "registry", "5", "--out", "x.csv"])


def test_messages_name_the_options_not_the_keywords() -> None:
    parser = cli._parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    choices = cast("dict[str, argparse.ArgumentParser]", sub.choices)
    rank = cli.option_flags(choices["rank"])
    calibrate = cli.option_flags(choices["calibrate"])
    cases = [
        (
            rank,
            "bad. Fix: correct it, or pass on_invalid='reject'.",
            "bad. Fix: correct it, or pass --rejects FILE.",
        ),
        (
            rank,
            "Fix: pass cutoffs='reference' or n=10.",
            "Fix: pass --cutoffs reference or --classes 10.",
        ),
        (
            rank,
            "max_desil must be a whole number from 1 to n=10; got 11",
            "--max-desil must be a whole number from 1 to --classes 10; got 11",
        ),
        (
            rank,
            "weights: no weight set 'x'. Fix: pmt.load_weights('demo').",
            "--weights: no weight set 'x'. Fix: --weights demo.",
        ),
        (
            rank,
            "column 'id_col_x' in poverty_lines.csv is bad",
            "column 'id_col_x' in poverty_lines.csv is bad",
        ),
        (
            calibrate,
            "collinear terms. Fix: pass on_collinear='drop'.",
            "collinear terms. Fix: pass --on-collinear drop.",
        ),
        (
            calibrate,
            "poverty_lines.csv:3: bad line; min_households=30 is too small",
            "poverty_lines.csv:3: bad line; --min-households 30 is too small",
        ),
        (calibrate, "use select='stepwise' with p_enter=0.1", "use --stepwise with --p-enter 0.1"),
    ]
    for flags, message, expected in cases:
        assert cli.cli_message(message, flags) == expected
    assert cli.cli_message("two\nlines", rank) == "two lines"
    assert (
        cli.cli_message("no cutoffs for provinces", rank, argument="cutoffs")
        == "--cutoffs: no cutoffs for provinces"
    )


def test_exit_codes_are_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for code in cli.EXIT_CODES:
        assert f"| {code} |" in doc, code
    assert "PMT_DEBUG" in doc and SLOW_WRITE_ENV in doc


def test_doctests_of_io_and_cli() -> None:
    import doctest

    import pmt.io.atomic
    from pmt.cli import _errors

    for module in (pmt.io.atomic, cli, _errors):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module


def test_outputs_are_complete_when_the_run_succeeds(work: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pmt.cli",
            "--quiet",
            "rank",
            "hh.parquet",
            "--weights",
            str(work / "tiny"),
            "--out",
            str(tmp_path / "o.parquet"),
            "--chunk-size",
            "700",
            "--national-only",
        ],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    got = pd.read_parquet(tmp_path / "o.parquet")
    expected = (
        pmt.rank(pd.read_parquet(work / "hh.parquet"), pmt.load_weights(work / "tiny"))
        .to_frame()
        .reset_index(drop=True)
    )
    np.testing.assert_array_equal(got["desil_national"], expected["desil_national"])
    assert len(got) == 3000 and temporaries(tmp_path) == []
