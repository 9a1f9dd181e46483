"""The tree is lint-clean, formatted and type-checked: ruff and mypy, as pinned in the test extra.

These run in the README's test command (and so in CI): a finding fails the suite. The
versions are pinned in ``pyproject.toml`` (``[project.optional-dependencies] test``) because
their rules change between releases.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["pmt", "tests"]


def _tool(name: str) -> str:
    """The tool installed beside this interpreter (the venv's), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the test extra (pip install '.[test]')")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_lint_is_clean() -> None:
    proc = _run(_tool("ruff"), "check", *TARGETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean() -> None:
    proc = _run(_tool("ruff"), "format", "--check", *TARGETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    proc = _run(_tool("mypy"), *TARGETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
