"""The README's commands run as written in a fresh virtual environment.

``tests/test_docs.py`` runs every ``pmt`` line of the README (``.venv/bin/pmt``
there) and CI runs its test command; this file checks that nothing in the
README escapes both: each command line of a shell block is either setup
(creating ``.venv`` and installing into it) or the virtual environment's
``pmt``, never a bare ``pmt`` that a fresh machine does not have on its PATH.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from test_docs import SETUP, SHELLS, after_setup, parse_blocks, shell_commands

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[tuple[int, str]]:
    """(line, command) of every shell block of the README, continuations joined."""
    return [
        (line, command)
        for block in parse_blocks("README.md", README)
        if block.lang in SHELLS
        for line, command, _ in shell_commands(block)
    ]


def test_every_readme_command_is_setup_or_the_venvs_pmt() -> None:
    commands = _commands()
    assert len(commands) >= 5
    for line, command in commands:
        if SETUP.search(command):
            # a setup line: each part is the venv, pip into it, or (CI) its pytest, and
            # it may end with the venv's pmt (the README's one command), which test_docs runs
            parts = command.split("&&")
            if after_setup(command):
                parts = parts[:-1]
            for part in parts:
                word = shlex.split(part)[0]
                assert word in ("python3", ".venv/bin/pip", ".venv/bin/python"), (line, part)
        else:
            assert shlex.split(command)[0] == ".venv/bin/pmt", f"README.md:{line}: {command}"


def test_the_readme_demo_and_quick_start_commands_are_run_by_test_docs() -> None:
    runnable = [after_setup(c) if SETUP.search(c) else c for _, c in _commands()]
    assert ".venv/bin/pmt demo" in runnable
    assert any(c.startswith(".venv/bin/pmt rank ") for c in runnable)
    assert any(c.endswith("--json") for c in runnable)


def test_inline_pmt_commands_in_the_readme_name_their_weights() -> None:
    """An inline ``pmt rank ...`` in the text is complete too (``--weights`` is required)."""
    for command in re.findall(r"`(pmt rank [^`]*)`", README):
        assert "--weights" in command and "--out" in command, command
