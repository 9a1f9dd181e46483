"""The package as users get it: the wheel ships the weight sets; the docs tell the truth."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}")
    (path,) = out.glob("pmt-*.whl")
    return path


def test_wheel_contains_the_shipped_weight_sets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(
        p.name for p in (ROOT / "weights").iterdir() if (p / "manifest.json").is_file()
    )
    assert shipped, "no weight set in weights/"
    for name in shipped:
        for f in ("manifest.json", "coefficients.csv"):
            assert f"pmt/_weights/{name}/{f}" in names
    assert not any(n.endswith((".nbi", ".nbc", ".pyc")) for n in names)


def test_load_by_name_from_the_installed_wheel_not_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import pmt, pathlib; ws = pmt.load_weights('demo'); "
        "print(pathlib.Path(pmt.__file__).resolve()); print(ws.path.resolve()); "
        "print(ws.content_hash)"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    module, folder, digest = proc.stdout.split()
    assert Path(module).is_relative_to(site.resolve())
    assert Path(folder) == (site / "pmt" / "_weights" / "demo").resolve()
    from pmt import load_weights

    assert digest == load_weights(ROOT / "weights" / "demo").content_hash


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->")[1].split("<!-- /test-command -->")[0]
    command = [line for line in block.splitlines() if line and not line.startswith("```")]
    assert len(command) == 1 and "pytest" in command[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command" in ci and 'bash -c "$cmd"' in ci


def test_variable_catalogue_doc_is_current() -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import make_variables
    finally:
        sys.path.remove(str(ROOT / "docs"))
    assert (ROOT / "docs" / "variables.md").read_text(
        encoding="utf-8"
    ) == make_variables.render(), "run: python docs/make_variables.py"
