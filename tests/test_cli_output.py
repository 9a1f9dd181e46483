"""What the command line prints: --version, --json documents, weights show, progress, rejects.

Most commands run in this process through :func:`pmt.cli.main` (fast: numba
compiles once per test session); a few run as a user runs them, in a
subprocess, where what a terminal or a pipe sees matters.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import make_households

import pmt
from pmt import cli
from pmt.cli._common import Progress, _duration

ROOT = Path(__file__).resolve().parent.parent


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``pmt ARGS`` in this process: (exit status, stdout, stderr)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def json_of(out: str) -> dict[str, Any]:
    """The one JSON document ``out`` holds (and nothing else)."""
    doc = json.loads(out)  # raises on anything but exactly one document
    assert isinstance(doc, dict)
    assert doc["format"] == "pmt-cli/1"
    assert doc["provenance"]["pmt_version"] == pmt.__version__
    assert set(doc) == {"format", "command", "summary", "provenance", "outputs", "timings"}
    assert doc["timings"]["total"] >= sum(v for k, v in doc["timings"].items() if k != "total")
    assert all(v >= 0 for v in doc["timings"].values())
    return doc


@pytest.fixture()
def households(tmp_path: Path) -> Path:
    """A small household file with three invalid rows (two rules), as Parquet and CSV."""
    hh = make_households(1500, seed=31)
    hh.loc[[4, 900], "hh_size"] = 0
    hh.loc[77, "district_code"] = 9999
    hh.to_parquet(tmp_path / "hh.parquet")
    hh.to_csv(tmp_path / "hh.csv", index=False)
    return tmp_path


# --------------------------------------------------------------------------- the exit


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (["rank", "missing.parquet", "--weights", "demo", "--out", "o.parquet"], 2, "missing"),
        (["synth", "registry", "50", "--out", "hh.parquet"], 0, "hh.parquet"),
    ],
)
def test_the_command_runs_atexit_handlers_flushes_and_keeps_its_status(
    tmp_path: Path, argv: list[str], status: int, says: str
) -> None:
    """``pmt`` leaves by ``os._exit`` once main returns: nothing it says or writes is lost."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        f"sys.argv = ['pmt', *{argv!r}]\n"
        "from pmt.cli import console\n"
        "console()\n"
    )
    # block-buffered standard streams (as in a pipe), so that a missing flush would lose output
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == status, proc.stderr
    assert proc.stdout.endswith("atexit ran\n")
    assert says in proc.stdout + proc.stderr
    if status == 0:
        assert len(pd.read_parquet(tmp_path / "hh.parquet")) == 50


# --------------------------------------------------------------------------- --version


def test_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "pmt.cli", "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"pmt {pmt.__version__}\n"
    with pytest.raises(SystemExit) as exit_:  # after a global option, and in this process
        cli.main(["--quiet", "--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"pmt {pmt.__version__}\n"
    from pmt._version import __version__

    assert pmt.__version__ == __version__


# --------------------------------------------------------------------------- --json


@pytest.mark.parametrize("kind", ["csv", "parquet"])  # in memory, and streamed in chunks
def test_rank_json_is_one_document_that_matches_the_files(
    kind: str, households: Path, tiny_ws: pmt.WeightSet, capsys: pytest.CaptureFixture[str]
) -> None:
    out, rejects = households / f"r.{kind}", households / "rejects.csv"
    code, stdout, _ = run_main(
        capsys,
        "--quiet",
        "rank",
        str(households / f"hh.{kind}"),
        "--weights",
        str(tiny_ws.path),
        "--out",
        str(out),
        "--rejects",
        str(rejects),
        "--chunk-size",
        "400",
        "--json",
    )
    assert code == 0
    doc = json_of(stdout)
    assert doc["command"] == "rank"
    s = doc["summary"]
    assert (s["households_input"], s["households_ranked"], s["households_rejected"]) == (
        1500,
        1497,
        3,
    )
    # the reject counts are those of the rejects file, by rule
    written = pd.read_csv(rejects)
    assert s["rejected_by_rule"] == written["rule"].value_counts().to_dict()
    assert s["rejected_by_rule"] == {"invalid_hh_size": 2, "unknown_region": 1}
    # the desil table is what the output file holds, counted here with pandas
    ranked = pd.read_parquet(out) if kind == "parquet" else pd.read_csv(out)
    national = [r for r in s["desil"] if r["scope"] == "national"]
    by_desil = ranked.groupby("desil_national")
    assert [r["desil"] for r in national] == list(range(1, 11))
    assert [r["households"] for r in national] == by_desil.size().tolist()
    np.testing.assert_allclose(
        [r["people"] for r in national], by_desil["person_weight"].sum().to_numpy()
    )
    provinces = {r["scope"] for r in s["desil"]} - {"national"}
    assert provinces == {f"{p:02d}" for p in ranked["province_code"].unique()}
    assert s["households_eligible"] == int(ranked["eligible"].sum())
    prov = doc["provenance"]
    assert prov["weights_hash"] == tiny_ws.content_hash == prov["weights"]["content_hash"]
    assert prov["argv"][:2] == ["pmt", "--quiet"] and "--json" in prov["argv"]
    assert doc["outputs"] == {"out": str(out), "rejects": str(rejects)}
    assert {"load_weights", "rank"} <= set(doc["timings"])


def test_a_failing_json_command_still_prints_one_document(
    households: Path, tiny_ws: pmt.WeightSet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = run_main(
        capsys, "--quiet", "rank", str(households / "hh.csv"), "--weights", str(tiny_ws.path),
        "--out", str(households / "r.csv"), "--json",
    )  # fmt: skip
    assert code == 2
    doc = json.loads(stdout)
    assert set(doc) == {"format", "command", "error", "provenance"}
    assert doc["error"]["exit_status"] == 2 and doc["error"]["type"] == "HouseholdSizeError"
    assert stderr.strip() == f"pmt: error: HouseholdSizeError: {doc['error']['message']}"
    assert "--rejects FILE" in doc["error"]["message"]  # the fix, in the command line's words
    assert doc["provenance"]["pmt_version"] == pmt.__version__
    assert not (households / "r.csv").exists()


def test_evaluate_json_holds_the_library_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(5)
    true = rng.normal(0, 1, 400)
    frame = pd.DataFrame(
        {
            "true": true,
            "pred": true + rng.normal(0, 0.5, 400),
            "hh_size": rng.integers(1, 8, 400),
        }
    )
    frame.to_csv(tmp_path / "e.csv", index=False)
    code, stdout, _ = run_main(
        capsys, "evaluate", str(tmp_path / "e.csv"), "--true", "true", "--predicted", "pred",
        "--quota", "0.3", "--line", "0", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json_of(stdout)
    assert doc["command"] == "evaluate" and doc["summary"]["households"] == 400
    expected = pmt.evaluate(
        frame["true"].to_numpy(),
        frame["pred"].to_numpy(),
        weight=frame["hh_size"].to_numpy(dtype=float),
        quotas=[0.3],
        lines=[0.0],
    ).summary()
    metrics = doc["summary"]["metrics"]
    assert set(metrics) == {str(c) for c in expected.columns}
    for column in expected.columns:
        for metric, value in expected[column].items():
            shown = metrics[str(column)][metric]
            assert (shown is None) if np.isnan(value) else shown == pytest.approx(value), metric


def test_compare_json_transitions_are_the_crosstab(
    households: Path, tiny_ws: pmt.WeightSet, capsys: pytest.CaptureFixture[str]
) -> None:
    hh = pd.read_parquet(households / "hh.parquet").drop(index=[4, 77, 900])
    a, b = households / "a.parquet", households / "b.parquet"
    pmt.rank(hh, tiny_ws).to_parquet(a)
    pmt.rank(hh.iloc[:1000], tiny_ws).to_parquet(b)  # B: a part, ranked on its own
    code, stdout, _ = run_main(capsys, "--quiet", "compare", str(a), str(b), "--json")
    assert code == 0
    doc = json_of(stdout)
    s = doc["summary"]
    fa, fb = pd.read_parquet(a), pd.read_parquet(b)
    both = fa.merge(fb, on="hh_id", suffixes=("_a", "_b"))
    cross = pd.crosstab(both["desil_national_a"], both["desil_national_b"])
    t = s["transitions"]
    shown = pd.DataFrame(
        t["households"], index=[int(x) for x in t["row_labels"]],
        columns=[int(x) for x in t["column_labels"]],
    )  # fmt: skip
    shown = shown.loc[(shown != 0).any(axis=1), (shown != 0).any(axis=0)]
    np.testing.assert_array_equal(shown.to_numpy(), cross.to_numpy())
    assert (s["matched"], s["only_in_a"], s["only_in_b"]) == (1000, len(fa) - 1000, 0)
    assert doc["provenance"]["a"]["weights_hash"] == tiny_ws.content_hash
    assert doc["provenance"]["b"]["pmt_version"] == pmt.__version__  # from b's Parquet metadata


def test_calibrate_compare_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    survey = pmt.synth.survey(1200, seed=3)  # SYNTHETIC
    survey.to_parquet(tmp_path / "s.parquet")
    code, stdout, _ = run_main(
        capsys, "--quiet", "calibrate", str(tmp_path / "s.parquet"), "--compare", "wls",
        "--cv", "2", "--pooling", "fallback", "--on-collinear", "drop", "--json",
        "--out", str(tmp_path / "set"),
    )  # fmt: skip
    assert code == 0
    doc = json_of(stdout)
    cv = doc["summary"]["cross_validation"]
    expected = pmt.cross_validate(
        survey, estimators={"wls": {}}, folds=2, pooling="fallback", on_collinear="drop"
    )
    assert cv["folds"] == 2 and list(cv["estimators"]) == ["wls"]
    assert set(cv["headline"]) <= set(cv["estimators"]["wls"])
    for metric in expected.headline():
        assert cv["estimators"]["wls"][metric] == pytest.approx(expected.table.loc["wls", metric])
    assert {"cross_validate", "calibrate", "write"} <= set(doc["timings"])
    saved = pmt.load_weights(tmp_path / "set")
    made = doc["summary"]["weight_set"]
    assert (made["id"], made["content_hash"]) == (saved.id, saved.content_hash)
    assert made["models"] == len(saved.model_keys) and made["survey"]["households"] == 1200
    assert doc["outputs"] == {"out": str(tmp_path / "set")}


# --------------------------------------------------------------------------- weights show


def test_weights_show_is_a_page_and_full_has_everything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = pmt.load_weights("demo")
    code, page, _ = run_main(capsys, "weights", "show", "demo")
    assert code == 0
    lines = page.splitlines()
    assert len(page) < 5000 and len(lines) < 60 and max(map(len, lines)) <= 200
    for needle in (ws.id, ws.content_hash, f"{len(ws.model_keys):,} in all", "coverage"):
        assert needle in page, needle
    words = set(page.replace(",", " ").split())
    assert {v.name for v in ws.spec.variables} <= words
    assert f"{len(ws.poverty_lines)} regions" in page
    assert "pmt weights show --full" in page
    assert "data_hash" not in page and "lambda" not in page  # the provenance is for --full

    code, full, _ = run_main(capsys, "weights", "show", "demo", "--full")
    assert code == 0 and max(map(len, full.splitlines())) <= 300
    for v in ws.spec.variables:
        if v.kind == "categorical":
            assert f"codes {list(v.code_values)}" in full, v.name
    for key in ws.manifest.provenance:
        assert f"  {key}: " in full, key
    assert all(k in full for k in ws.model_keys[:50])  # the models table, one row each

    code, out, _ = run_main(capsys, "weights", "show", "demo", "--json")
    doc = json_of(out)
    assert doc["command"] == "weights show"
    s = doc["summary"]
    assert s["models"] == len(ws.model_keys) and s["content_hash"] == ws.content_hash
    assert s["variables"] == [v.name for v in ws.spec.variables]
    assert s["poverty_lines"]["regions"] == len(ws.poverty_lines)
    assert s["poverty_lines"]["max"] == max(ws.poverty_lines.values())
    assert "provenance" not in s
    code, out, _ = run_main(capsys, "weights", "show", "demo", "--json", "--full")
    s = json_of(out)["summary"]
    assert s["provenance"] == json.loads(json.dumps(ws.manifest.provenance))
    assert s["poverty_lines"]["by_region"] == ws.poverty_lines


# --------------------------------------------------------------------------- help


def _all_parsers(
    parser: argparse.ArgumentParser,
) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _all_parsers(child)
    return found


def test_every_action_of_every_parser_has_help() -> None:
    """The whole ``pmt`` parser, global options and every (sub)command at once."""
    parsers = _all_parsers(cli._parser())
    progs = {p.prog for p in parsers}
    assert {"pmt", "pmt synth registry", "pmt weights show", "pmt weights validate"} <= progs
    for parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help and choice.help.strip(), (parser.prog, choice.dest)
            else:
                assert action.help and action.help.strip(), (parser.prog, action.dest)
    json_commands = {"pmt rank", "pmt evaluate", "pmt compare", "pmt weights show", "pmt calibrate"}
    with_json = {p.prog for p in parsers if any("--json" in a.option_strings for a in p._actions)}
    assert json_commands <= with_json


# --------------------------------------------------------------------------- progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_counts_rate_and_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter(np.arange(0.0, 100.0, 1.0))  # one second per reading of the clock
    monkeypatch.setattr("pmt.cli._common.time.perf_counter", lambda: float(next(clock)))
    stream = Terminal()
    progress = Progress(stream)
    with progress.step("fitting folds", key="cv", unit="fits") as up:
        up(0, 10, "fitting")
        up(4, 10, "fitting")
        up(10, 10, "fitting")
    text = stream.getvalue()
    frames = text.split("\r")
    assert frames[0] == "fitting folds ..."
    assert "fitting: 0 of 10 fits (0 %)" in frames[1]
    # 4 fits in the 2 s since the step started: 2 fits/s, 6 fits left: 3 s
    assert "fitting: 4 of 10 fits (40 %), 2 fits/s, 3 s left" in frames[2]
    assert "10 of 10 fits (100 %)" in frames[3] and "left" not in frames[3]
    assert frames[-1].startswith("fitting folds ... done in") and text.endswith("\n")
    assert progress.timings["cv"] > 0


def test_a_warning_during_a_live_line_starts_a_line_of_its_own() -> None:
    stream = Terminal()
    progress = Progress(stream)
    show = cli._after_line_break(progress)
    with progress.step("ranking", key="rank") as up:
        up(10, 10, "scoring")
        show(UserWarning("small\nprovince"), UserWarning, "x.py", 1, file=stream)
        show(UserWarning("again"), UserWarning, "x.py", 2, file=stream)
    lines = stream.getvalue().split("\n")
    assert lines[0].startswith("ranking ...\rranking ... scoring: 10 of 10 households")
    assert lines[1:3] == ["pmt: warning: small province", "pmt: warning: again"]
    assert lines[3].startswith("\rranking ... done in ") and lines[4] == ""


def test_progress_off_when_not_a_terminal_or_quiet() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    with progress.step("ranking", key="rank") as up:
        up(5, 10, "scoring")
        up(10, 10, "scoring")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ranking ..." and lines[1].startswith("  done in ") and len(lines) == 2
    quiet = Terminal()
    progress = Progress(quiet, quiet=True)
    with progress.step("ranking", key="rank") as up:
        up(10, 10, "scoring")
    assert quiet.getvalue() == "" and "rank" in progress.timings


def test_progress_in_a_subprocess_is_off_on_a_pipe(
    households: Path, tiny_ws: pmt.WeightSet
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "pmt.cli", "rank", "hh.parquet", "--weights", str(tiny_ws.path),
         "--out", "r.parquet", "--rejects", "rj.csv", "--chunk-size", "300", "--json"],
        cwd=households, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    json_of(proc.stdout)  # stdout: the document only
    assert "\r" not in proc.stderr and " of 1,500 households" not in proc.stderr
    assert "loading weight set" in proc.stderr and "done in" in proc.stderr


def test_duration() -> None:
    assert [_duration(s) for s in (0.4, 59.4, 60, 200, 3599, 3600, 7325)] == [
        "0 s", "59 s", "1 min 00 s", "3 min 20 s", "59 min 59 s", "1 h 00 min", "2 h 02 min",
    ]  # fmt: skip


# --------------------------------------------------------------------------- rejects


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("rejects_kind", ["csv", "parquet"])
def test_rejects_file_has_the_same_columns_with_or_without_rejections(
    kind: str,
    rejects_kind: str,
    households: Path,
    tiny_ws: pmt.WeightSet,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean = households / f"clean.{kind}"
    hh = make_households(300, seed=8)
    hh.to_parquet(clean) if kind == "parquet" else hh.to_csv(clean, index=False)
    read = pd.read_parquet if rejects_kind == "parquet" else pd.read_csv
    frames = {}
    for name, source in (("some", households / f"hh.{kind}"), ("none", clean)):
        target = households / f"rejects-{name}.{rejects_kind}"
        code, _, _ = run_main(
            capsys, "--quiet", "rank", str(source), "--weights", str(tiny_ws.path), "--out",
            str(households / f"out-{name}.{kind}"), "--rejects", str(target),
        )  # fmt: skip
        assert code == 0
        frames[name] = read(target)
    assert len(frames["some"]) == 3 and len(frames["none"]) == 0
    assert list(frames["none"].columns) == list(frames["some"].columns)
    assert list(frames["some"].columns) == ["row", "hh_id", "column", "rule", "value"]


# --------------------------------------------------------------------------- the library side


def test_progress_callbacks_of_the_library(tmp_path: Path, tiny_ws: pmt.WeightSet) -> None:
    hh = make_households(900, seed=4)
    calls: list[tuple[int, int, str]] = []

    def record(done: int, total: int, stage: str) -> None:
        calls.append((done, total, stage))

    pmt.rank(hh, tiny_ws, progress=record)
    assert calls == [(900, 900, "validating"), (900, 900, "ranking")]
    calls.clear()
    pmt.score(hh, tiny_ws, progress=record)
    assert calls == [(900, 900, "validating"), (900, 900, "scoring")]
    calls.clear()
    hh.to_parquet(tmp_path / "hh.parquet")
    pmt.io.rank_file(
        tmp_path / "hh.parquet", tiny_ws, tmp_path / "o.parquet", chunk_size=400, progress=record
    )
    assert calls == [
        (400, 900, "scoring"), (800, 900, "scoring"), (900, 900, "scoring"),
        (900, 900, "ranking"),
        (400, 900, "writing"), (800, 900, "writing"), (900, 900, "writing"),
    ]  # fmt: skip
    with pytest.raises(TypeError, match=r"progress must be a function .* Fix:"):
        pmt.rank(hh, tiny_ws, progress="yes")  # type: ignore[arg-type]


def test_calibration_progress(capsys: pytest.CaptureFixture[str]) -> None:
    survey = pmt.synth.survey(1200, seed=3)  # SYNTHETIC
    calls: list[tuple[int, int, str]] = []

    def record(done: int, total: int, stage: str) -> None:
        calls.append((done, total, stage))

    pmt.calibrate(survey, pooling="fallback", on_collinear="drop", progress=record)
    assert calls == [(k, 6, "fitting") for k in range(7)]
    calls.clear()
    estimators = {"a": {}, "b": {"estimator": "quantile", "solver": "highs"}}
    pmt.cross_validate(
        survey,
        estimators=estimators,
        folds=3,
        pooling="fallback",
        on_collinear="drop",
        progress=record,
    )
    assert calls == [(k, 6, "fitting") for k in range(7)]


def test_logging_names_the_weight_set_and_counts_rejects_without_ids(
    tiny_ws: pmt.WeightSet, caplog: pytest.LogCaptureFixture
) -> None:
    hh = make_households(400, seed=12)
    hh["hh_id"] = [f"SECRET-{i:05d}" for i in range(len(hh))]
    hh.loc[[3, 5], "hh_size"] = 0
    hh.loc[9, "district_code"] = 9999
    with caplog.at_level(logging.DEBUG, logger="pmt"):
        assert tiny_ws.path is not None
        ws = pmt.load_weights(tiny_ws.path)
        res = pmt.rank(hh, ws, on_invalid="reject")
    assert res.n_rejected == 3
    by_logger = {r.name: r.getMessage() for r in caplog.records if r.levelno == logging.INFO}
    loaded = by_logger["pmt.weights.store"]
    assert ws.id in loaded and ws.content_hash in loaded
    assert by_logger["pmt.rank"] == (
        "rejected 3 of 400 rows: invalid_hh_size in hh_size: 2, unknown_region in district_code: 1"
    )
    assert not any("SECRET" in r.getMessage() for r in caplog.records)
    timings = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert timings and all(r.getMessage().endswith(" s") for r in timings)


def test_verbose_shows_the_log_on_stderr(
    households: Path, tiny_ws: pmt.WeightSet, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["rank", str(households / "hh.csv"), "--weights", str(tiny_ws.path), "--out",
            str(households / "o.csv"), "--rejects", str(households / "rj.csv")]  # fmt: skip
    _, _, quiet = run_main(capsys, "--quiet", *args)
    assert "INFO" not in quiet
    _, _, err = run_main(capsys, "--quiet", "-v", *args)
    assert f"pmt: INFO: pmt.weights.store: loaded weight set {tiny_ws.id}" in err
    assert "pmt: INFO: pmt.rank: rejected 3 of 1500 rows" in err and "DEBUG" not in err
    _, _, err = run_main(capsys, "--quiet", "-vv", *args)
    assert "pmt: DEBUG: pmt.rank: scoring and ranking 1497 households:" in err
    assert not logging.getLogger("pmt").handlers[1:]  # the handler is gone after the command


def test_the_library_never_prints() -> None:
    """No ``print(`` call, nor ``sys.stdout`` or ``sys.stderr``, in pmt's code outside the CLI."""
    found = []
    for path in sorted((ROOT / "pmt").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "pmt").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("stdout", "stderr")
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} sys.{node.attr}")
    assert not found, found
