"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pmt
from pmt import cli

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
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


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) >= 1
    error = lines[-1]
    assert error.startswith("pmt: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in error, error


def test_demo_prints_the_summary_and_writes_parquet(tmp_path: Path) -> None:
    out = tmp_path / "demo.parquet"
    proc = run("demo", "--households", "30000", "--seed", "3", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "National desil" in proc.stdout and "By province" in proc.stdout
    assert "Papua Pegunungan" in proc.stdout
    assert "synthesising 30,000 households" in proc.stderr  # progress on stderr
    table = pq.read_table(out)
    meta = json.loads(table.schema.metadata[b"pmt"])
    ws = pmt.load_weights("demo")
    assert meta["weights_id"] == ws.id and meta["weights_hash"] == ws.content_hash
    frame = table.to_pandas()
    assert len(frame) == 30_000
    # the file holds what the library computes on the same synthetic registry
    expected = pmt.rank(pmt.synth.registry(30_000, seed=3), ws).to_frame()
    np.testing.assert_array_equal(frame["desil_national"], expected["desil_national"])
    np.testing.assert_array_equal(frame["welfare"], expected["welfare"])


def test_rank_csv_with_rejects(tmp_path: Path) -> None:
    hh = pmt.synth.registry(2_000, seed=9)
    hh["hh_size"] = hh["hh_size"].astype("float64")
    hh.loc[[5, 77], "hh_size"] = np.nan
    hh.loc[100, "district_code"] = 9999
    hh.to_csv(tmp_path / "hh.csv", index=False)
    proc = run(
        "rank",
        "hh.csv",
        "--weights",
        "demo",
        "--out",
        "ranked.csv",
        "--rejects",
        "rejects.csv",
        "--national-only",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ranked 1,997 of 2,000 rows" in proc.stdout
    rejects = pd.read_csv(tmp_path / "rejects.csv")
    assert rejects["row"].tolist() == [5, 77, 100]
    assert rejects["rule"].tolist() == ["missing_or_infinite"] * 2 + ["unknown_region"]
    ranked = pd.read_csv(tmp_path / "ranked.csv")
    assert len(ranked) + len(rejects) == len(hh)
    assert set(ranked["hh_id"]) | set(rejects["hh_id"]) == set(hh["hh_id"])
    clean = hh.drop(index=[5, 77, 100])
    expected = pmt.rank(clean, "demo").to_frame()
    np.testing.assert_array_equal(
        ranked["desil_national"].to_numpy(), expected["desil_national"].to_numpy()
    )


def test_rank_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    hh = pmt.synth.registry(500, seed=2)
    hh.loc[42, "floor_material"] = 77
    hh.to_parquet(tmp_path / "hh.parquet")
    proc = run("rank", "hh.parquet", "--weights", "demo", "--out", "r.parquet", cwd=tmp_path)
    assert_one_line_error(proc, 2, "InvalidCodeError", "floor_material", "row 42 (77)")
    assert not (tmp_path / "r.parquet").exists()


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run("rank", "nothere.csv", "--weights", "demo", "--out", "r.csv", cwd=tmp_path)
    assert_one_line_error(proc, 2, "nothere.csv")  # bad input (docs/cli.md: exit status)


def test_reference_cutoffs_and_line_rule(tmp_path: Path) -> None:
    pmt.synth.registry(3_000, seed=4).to_parquet(tmp_path / "hh.parquet")
    proc = run(
        "--quiet",
        "rank",
        "hh.parquet",
        "--weights",
        "demo",
        "--out",
        "r.parquet",
        "--cutoffs",
        "reference",
        "--line",
        "0",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet
    meta = json.loads(pq.read_schema(tmp_path / "r.parquet").metadata[b"pmt"])
    assert meta["cutoff_mode"] == "reference" and meta["eligibility"] == "welfare <= 0.0"
    frame = pd.read_parquet(tmp_path / "r.parquet")
    assert (frame["eligible"] == (frame["welfare"] <= 0)).all()


def test_weights_show_validate_list(tmp_path: Path) -> None:
    show = run("weights", "show", "demo", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "synthetic     True" in show.stdout and "floor_material" in show.stdout
    listed = run("weights", "list", cwd=tmp_path)
    assert listed.stdout.split() == pmt.available_weights()
    ok = run("weights", "validate", "demo", cwd=tmp_path)
    assert ok.returncode == 0 and pmt.load_weights("demo").content_hash in ok.stdout


def test_weights_validate_corrupt_set(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    source = pmt.load_weights("demo").path
    assert source is not None
    shutil.copytree(source, folder)
    lines = (folder / "cutoffs.csv").read_text().splitlines()
    cells = lines[1].split(",")
    cells[3], cells[4] = cells[4], cells[3]  # c3 > c4 for the national row
    lines[1] = ",".join(cells)
    (folder / "cutoffs.csv").write_text("\n".join(lines) + "\n")
    proc = run("weights", "validate", str(folder), cwd=tmp_path)
    assert_one_line_error(proc, 2, "WeightSetError", "cutoffs.csv:2", "must not decrease")
    # one problem, told once, in plain numbers: the bad row is not also a missing row
    assert "(1 problem)" in proc.stderr and "no 'national' row" not in proc.stderr
    assert f"c4 = {float(cells[4])!r} < c3 = {float(cells[3])!r}" in proc.stderr


def test_synth_registry_writes_the_generator_output(tmp_path: Path) -> None:
    proc = run("synth", "registry", "1500", "--seed", "11", "--out", "s.parquet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "s.parquet"), pmt.synth.registry(1500, seed=11)
    )


SCRIPT = Path(sys.executable).parent / "pmt"


@pytest.mark.skipif(not SCRIPT.exists(), reason="pmt is not installed in this environment")
def test_console_script_is_installed(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(SCRIPT), "weights", "list"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "demo" in proc.stdout.split()


# --------------------------------------------------------------------------- the command table


def _parsers(
    parser: argparse.ArgumentParser, prog: str = "pmt"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)parser under ``parser``, by its command line: ``pmt synth registry``."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{prog} {name}")


def test_every_command_module_follows_the_protocol() -> None:
    for name, module_name in cli.COMMANDS.items():
        assert module_name.startswith("pmt.cli."), name
        module = importlib.import_module(module_name)
        sub = argparse.ArgumentParser().add_subparsers(dest="command")
        parser = module.add_parser(sub, name)
        assert isinstance(parser, argparse.ArgumentParser)
        assert sub.choices[name] is parser and callable(module.run)


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_option_has_help_and_every_command_its_own_usage(name: str) -> None:
    for prog, parser in _parsers(cli._parser(name)):
        assert parser.prog == prog
        assert parser.format_usage().startswith(f"usage: {prog} ")
        if prog != "pmt":
            assert parser.description, prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(a.help for a in action._choices_actions), prog
            else:
                assert action.help, (prog, action.option_strings or action.dest)


@pytest.mark.parametrize(
    "args",
    [
        ["synth", "--help"],
        ["synth", "registry", "--help"],
        ["weights", "--help"],
        ["weights", "show", "--help"],
        ["weights", "validate", "--help"],
        ["rank", "--help"],
    ],
)
def test_help_of_a_subcommand_is_its_own(args: list[str], tmp_path: Path) -> None:
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    prog = " ".join(["pmt", *args[:-1]])
    assert proc.stdout.startswith(f"usage: {prog} [-h]"), proc.stdout


def test_top_help_lists_every_command(tmp_path: Path) -> None:
    proc = run("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in cli.COMMANDS:
        assert f"\n    {name} " in proc.stdout, name


@pytest.mark.parametrize(
    "args, needles",
    [
        (["weights", "show"], ["pmt weights show:", "NAME|PATH", "`pmt weights show --help`"]),
        (["weights", "validate"], ["pmt weights validate:", "NAME|PATH"]),
        (["weights"], ["pmt weights:", "{list,show,validate}"]),
        (["synth", "registry", "10"], ["pmt synth registry:", "--out"]),
        (["synth", "survey", "10", "--out", "x.csv"], ["pmt synth:", "'survey'", "'registry'"]),
        (["rnak"], ["pmt:", "'rnak'", "'rank'"]),
        (["--threads", "x", "weights", "list"], ["--threads", "'x'"]),
    ],
)
def test_usage_errors_are_one_line_naming_the_command(
    args: list[str], needles: list[str], tmp_path: Path
) -> None:
    proc = run(*args, cwd=tmp_path)
    assert_one_line_error(proc, 2, *needles)
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1


def test_global_options_before_the_command(tmp_path: Path) -> None:
    for args in (["--threads", "1", "--quiet"], ["--threads=1"], ["--qu"]):
        proc = run(*args, "weights", "list", cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout.split() == pmt.available_weights(), args


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    """``pmt rank`` parses and starts without importing evaluation, calibration or plots."""
    code = (
        "import sys\nfrom pmt.cli import main\n"
        "status = main(['--quiet', 'rank', 'hh.csv', '--weights', 'demo', '--out', 'r.txt'])\n"
        "print(status)\nprint(' '.join(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PMT_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    status, modules = proc.stdout.splitlines()
    assert status == "2" and "OutputPathError: --out r.txt" in proc.stderr  # it ran
    loaded = set(modules.split())
    assert "pmt.cli.rank" in loaded
    others = set(cli.COMMANDS.values()) - {"pmt.cli.rank"}
    heavy = {
        "pmt.evaluate",
        "pmt.evaluation",
        "pmt.calibrate",
        "pmt.calibration",
        "pmt.plots",
        "matplotlib",
        *others,
    }
    assert not loaded & heavy, loaded & heavy


@pytest.mark.parametrize("where, code", [("rank.py", 2), ("cli/rank.py", 2), (None, 1)])
def test_a_type_error_is_bad_input_only_when_pmt_raised_it(
    where: str | None, code: int, tmp_path: Path
) -> None:
    """A TypeError raised by pmt's code is the caller's bad argument (exit 2).

    One raised elsewhere (a library pmt calls) is a bug in pmt (exit 1).
    """
    from pmt.cli._errors import classify

    filename = str(ROOT / "pmt" / where) if where else str(tmp_path / "elsewhere.py")
    try:
        exec(compile("raise TypeError('x')", filename, "exec"))
    except TypeError as exc:
        assert classify(exc)[0] == code
    else:  # pragma: no cover
        pytest.fail("no TypeError")
