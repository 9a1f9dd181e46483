"""Every code example in README.md and docs/*.md runs, and the output it shows is checked.

The docs follow these conventions; this file enforces them.

Fenced blocks (a line starting with three backticks and a language tag; an
untagged fence is an error, so nothing can hide from this test):

- ``python`` with ``>>>`` prompts: a doctest (``ELLIPSIS`` and
  ``NORMALIZE_WHITESPACE``). The block is parsed here and only its text is
  given to :class:`doctest.DocTestParser`, so the closing fence is never read
  as expected output.
- ``python`` without prompts: run with ``exec``, with stdout captured.
- ``text`` right after a prompt-less ``python`` block (nothing but blank lines
  between them): the printed output of that block, compared **exactly** after
  removing trailing spaces on each line and blank lines at the start and end.
  No other normalisation: numbers must print as shown.
- ``text``, ``json``, ``csv`` anywhere else: a listing (a folder layout, a
  message format, a diagram, a usage synopsis), not run. A listing must not
  contain a line that looks like a runnable command (``pmt ...``, ``$ ...``,
  ``>>> ...``): tag it as code. A synopsis line is not runnable: it has an
  ``[option]``, a ``A|B`` choice or an upper-case placeholder (``FILE``).
- ``sh``, ``bash``, ``console``: command lines (a trailing backslash continues
  a line; ``$ `` prompts and ``#`` comments are removed). A line whose
  command is ``pmt`` (or ``.venv/bin/pmt``, the README's virtual environment)
  runs as ``python -m pmt.cli ...`` and must exit with status 0. In a
  ``console`` block, the lines after a ``$ pmt ...`` line up to the next
  ``$`` line are its stdout, compared like a ``text`` block.
  Lines that create a virtual environment or ``pip install`` are not run
  here (CI runs the README's test command itself, and
  ``tests/test_packaging_docs.py`` checks that it does). Any other command is
  an error: make it a ``pmt`` command, or opt the block out.

Each document runs in its own temporary working folder, block after block in
the order of the page, Python blocks in one namespace per document (a later
block uses the names an earlier one defined; a command line reads the files an
earlier block wrote). Warnings are errors, as everywhere in the suite.

Opting out: a block preceded by ``<!-- not-run: REASON -->`` (the last
non-blank line before its fence, visible in the Markdown source) is not run.
Every opt-out must also be listed in :data:`OPTED_OUT` below, with its reason,
so adding one is a visible change to this file too; each is reported as a
skipped test with its reason (``pytest -ra``), and each document's counts of
blocks run, checked, skipped and listings are printed (``pytest -rP``).

The docs stand alone: no document cites a file outside the repository (the
design documents the package was written from), and every repository file,
relative link and ``pmt.`` name a document cites exists.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import io
import os
import re
import shlex
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Every document: the README and each page of docs/.
DOCS = [
    "README.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
]

#: Every opted-out block: (document, reason as written in its not-run marker).
OPTED_OUT = {
    (
        "docs/contributing.md",
        "builds the whole site (about 20 s); tests/test_docs_site.py builds it in the suite",
    ),
    (
        "docs/performance.md",
        "the benchmarks time 1 to 94 million households, for minutes to "
        "hours; run by hand (benchmarks/README.md)",
    ),
}

PYTHON = "python"
SHELLS = {"sh", "bash", "console"}
LISTINGS = {"text", "json", "csv"}
FENCE = re.compile(r"^```(.*)$")
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.*?)\s*-->$")
SETUP = re.compile(r"(^|[\s/])(pip3?|python3?\s+-m\s+pip)\s+install\b|\s-m\s+venv\b")
PROMPT = re.compile(r"^\s*(\$|>>>) ")
PMT_LINE = re.compile(r"^\s*(\.venv/bin/)?pmt\s+[a-z]")
#: The command words run as ``python -m pmt.cli``: pmt, and the README's virtual environment's.
PMT_COMMANDS = ("pmt", ".venv/bin/pmt")
SYNOPSIS = re.compile(r"\[|\||(^|\s)[A-Z][A-Z_]*(\s|$)")


def looks_runnable(line: str) -> bool:
    """A listing line that is a command or prompt one could run (not a usage synopsis)."""
    command = line.split("#")[0]
    return bool(PROMPT.match(line) or (PMT_LINE.match(command) and not SYNOPSIS.search(command)))


def after_setup(command: str) -> str:
    """The pmt command a setup line ends with (``... && .venv/bin/pmt demo``), or ``""``."""
    last = command.split("&&")[-1].strip()
    if SETUP.search(last) or not last:
        return ""
    return last if shlex.split(last, comments=True)[0] in PMT_COMMANDS else ""


FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Block:
    """One fenced block of a Markdown document."""

    doc: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    not_run: str | None  # the reason of a not-run marker
    adjacent: bool  # only blank lines between the previous block and this one

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def is_doctest(self) -> bool:
        return self.lang == PYTHON and any(
            ln.lstrip().startswith(">>>") for ln in self.text.splitlines()
        )


def parse_blocks(doc: str, text: str) -> list[Block]:
    """The fenced blocks of ``text``, in order; an unclosed fence is an error."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i, last_text, since_block = 0, "", False
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                last_text, since_block = lines[i].strip(), True
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            i += 1
        if i == len(lines):
            raise AssertionError(f"{doc}:{start + 1}: code fence never closed")
        marker = NOT_RUN.match(last_text)
        blocks.append(
            Block(
                doc,
                start + 1,
                m.group(1).strip(),
                "\n".join(lines[start + 1 : i]),
                marker.group(1) if marker else None,
                bool(blocks) and not since_block,
            )
        )
        i += 1
        last_text, since_block = "", False
    return blocks


def normalised(text: str) -> str:
    """Trailing spaces removed from each line, blank lines removed at both ends."""
    return "\n".join(ln.rstrip() for ln in text.strip("\n").splitlines()).strip("\n")


def shell_commands(block: Block) -> list[tuple[int, str, str | None]]:
    """(line, command, expected stdout or None) of a shell block."""
    console = block.lang == "console"
    out: list[tuple[int, str, str | None]] = []
    pending = ""
    lines = block.text.splitlines()
    for k, raw in enumerate(lines):
        line_no = block.line + 1 + k
        if console and not pending:
            if raw.startswith("$ "):
                raw = raw[2:]
            else:  # output of the previous command
                shown = out[-1][2] if out else None
                if shown is not None:
                    n, cmd, _ = out[-1]
                    out[-1] = (n, cmd, shown + raw + "\n")
                elif raw.strip():
                    raise AssertionError(f"{block.doc}:{line_no}: output before any command")
                continue
        elif raw.startswith("$ "):
            raw = raw[2:]
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1].strip() + " "
            continue
        command = (pending + raw.strip()).strip()
        pending = ""
        if command and not command.startswith("#"):
            out.append((line_no, command, "" if console else None))
    return out


def run_python(block: Block, ns: dict[str, Any]) -> str:
    """Run a prompt-less Python block in ``ns``; its stdout."""
    # Leading newlines put the block's lines at their line numbers in the document.
    code = compile("\n" * block.line + block.text, str(ROOT / block.doc), "exec")
    buf = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(buf):
            exec(code, ns)
    except Exception as exc:  # reported below, from the example's own frames
        frames = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        error = "".join(traceback.format_exception(type(exc), exc, frames))
    if error is not None:
        pytest.fail(f"{block.where}: the example raised\n{error}", pytrace=False)
    return buf.getvalue()


def run_doctest(block: Block, ns: dict[str, Any]) -> int:
    """Run a doctest block in ``ns``; the number of examples."""
    test = doctest.DocTestParser().get_doctest(
        block.text, ns, block.where, str(ROOT / block.doc), block.line
    )
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test, out=report.write, clear_globs=False)
    ns.update(test.globs)  # DocTest works on a copy of the namespace; later blocks see its names
    if result.failed:
        pytest.fail(f"{block.where}: doctest failed\n{report.getvalue()}", pytrace=False)
    return result.attempted


def run_pmt(block: Block, line: int, command: str, cwd: Path) -> str:
    """Run one ``pmt ...`` command line in ``cwd``; its stdout."""
    args = shlex.split(command, comments=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PMT_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pmt.cli", *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{block.doc}:{line}: `{command}` exited with {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
            pytrace=False,
        )
    return proc.stdout


def check_output(where: str, shown: str, printed: str) -> None:
    if normalised(shown) != normalised(printed):
        pytest.fail(
            f"{where}: the output shown differs from what the example prints\n"
            f"--- shown\n{normalised(shown)}\n--- printed\n{normalised(printed)}",
            pytrace=False,
        )


@dataclass
class Counts:
    """What happened to a document's blocks."""

    run: int = 0  # blocks run (Python, doctest or shell)
    checked: int = 0  # blocks whose shown output was compared
    skipped: int = 0  # blocks opted out with a not-run marker
    listings: int = 0  # text listings that are not output
    setup_lines: int = 0  # venv / pip install lines not run
    seconds: dict[str, float] = field(default_factory=dict)  # time taken by each block run

    def __str__(self) -> str:
        slowest = sorted(self.seconds.items(), key=lambda kv: -kv[1])[:3]
        return (
            f"{self.run} run, {self.checked} with output checked, {self.skipped} skipped, "
            f"{self.listings} listings, {self.setup_lines} setup lines not run; slowest: "
            + ", ".join(f"{where} {sec:.1f} s" for where, sec in slowest)
        )


def run_document(doc: str, cwd: Path) -> Counts:
    blocks = parse_blocks(doc, (ROOT / doc).read_text(encoding="utf-8"))
    counts = Counts()
    ns: dict[str, Any] = {"__name__": "__main__"}
    last_python: tuple[Block, str] | None = None  # a prompt-less Python block and its stdout
    for block in blocks:
        previous, last_python = last_python, None
        started = time.perf_counter()
        if block.not_run is not None:
            assert block.not_run, f"{block.where}: a not-run marker needs a reason"
            assert (doc, block.not_run) in OPTED_OUT, (
                f"{block.where}: opted out ({block.not_run!r}) but not listed in OPTED_OUT"
            )
            counts.skipped += 1
            continue
        if block.lang == PYTHON and block.is_doctest:
            assert run_doctest(block, ns) > 0
            counts.seconds[block.where] = time.perf_counter() - started
            counts.run += 1
            counts.checked += 1
        elif block.lang == PYTHON:
            last_python = (block, run_python(block, ns))
            counts.seconds[block.where] = time.perf_counter() - started
            counts.run += 1
        elif block.lang in SHELLS:
            ran = False
            for line, command, shown in shell_commands(block):
                if SETUP.search(command):
                    counts.setup_lines += 1
                    command = after_setup(command)  # "venv && pip install && pmt demo"
                    if not command:
                        continue
                if shlex.split(command, comments=True)[0] not in PMT_COMMANDS:
                    pytest.fail(
                        f"{doc}:{line}: `{command}` is not a pmt command: make it one, "
                        "or opt the block out with <!-- not-run: REASON -->",
                        pytrace=False,
                    )
                started = time.perf_counter()
                printed = run_pmt(block, line, command, cwd)
                counts.seconds[f"{doc}:{line}"] = time.perf_counter() - started
                ran = True
                if shown is not None and shown.strip():
                    check_output(f"{doc}:{line}", shown, printed)
                    counts.checked += 1
            counts.run += ran
        elif block.lang == "text" and block.adjacent and previous is not None:
            check_output(block.where, block.text, previous[1])
            counts.checked += 1
        elif block.lang in LISTINGS:
            for k, ln in enumerate(block.text.splitlines()):
                assert not looks_runnable(ln), (
                    f"{doc}:{block.line + 1 + k}: a {block.lang!r} listing holds a command; "
                    "tag the block as python or sh so that it runs"
                )
            counts.listings += 1
        else:
            pytest.fail(
                f"{block.where}: code block tagged {block.lang!r}; use one of "
                f"{sorted({PYTHON, *SHELLS, *LISTINGS})}",
                pytrace=False,
            )
    return counts


@pytest.mark.parametrize("doc", DOCS)
def test_examples_run_and_show_true_output(
    doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    counts = run_document(doc, tmp_path)
    print(f"{doc}: {counts}")  # shown with pytest -rP


def _opted_out() -> list[Block]:
    return [
        b
        for doc in DOCS
        for b in parse_blocks(doc, (ROOT / doc).read_text(encoding="utf-8"))
        if b.not_run is not None
    ]


def test_every_opt_out_is_marked_in_its_document() -> None:
    assert {(b.doc, b.not_run) for b in _opted_out()} == OPTED_OUT


@pytest.mark.parametrize("block", _opted_out(), ids=lambda b: b.where)
def test_opted_out_block(block: Block) -> None:
    """Listed among the skipped tests (pytest -ra), with its reason."""
    pytest.skip(f"{block.where} not run: {block.not_run}")


# --------------------------------------------------------------------------- the parser itself


def test_parser_reads_fences_markers_and_adjacency() -> None:
    text = (
        "intro\n\n<!-- not-run: too big -->\n```sh\npmt demo\n```\n\n```python\n"
        "print(1)\n```\n\n```text\n1\n```\nprose\n```text\nlisting\n```\n"
    )
    sh, py, out, listing = parse_blocks("x.md", text)
    assert (sh.lang, sh.line, sh.text, sh.not_run) == ("sh", 4, "pmt demo", "too big")
    assert (py.lang, py.text, py.not_run, py.adjacent) == ("python", "print(1)", None, True)
    assert (out.lang, out.adjacent, listing.adjacent) == ("text", True, False)
    with pytest.raises(AssertionError, match="never closed"):
        parse_blocks("x.md", "```python\nprint(1)\n")


def test_shell_commands_join_continuations_and_read_console_output() -> None:
    sh = Block(
        "x.md", 1, "sh", "# a comment\npmt rank a \\\n    --out b\n\npmt weights list", None, False
    )
    assert [c for _, c, _ in shell_commands(sh)] == ["pmt rank a --out b", "pmt weights list"]
    assert [s for _, _, s in shell_commands(sh)] == [None, None]
    con = Block(
        "x.md", 1, "console", "$ pmt weights list\ndemo\n$ pmt weights show demo", None, False
    )
    assert shell_commands(con) == [
        (2, "pmt weights list", "demo\n"),
        (4, "pmt weights show demo", ""),
    ]


def test_output_comparison_is_exact_but_for_trailing_space() -> None:
    check_output("x", "a  \n b\n\n", "\na\n b")
    with pytest.raises(pytest.fail.Exception):
        check_output("x", "0.25", "0.250")
    with pytest.raises(pytest.fail.Exception):
        check_output("x", "a b", "a  b")


def test_setup_lines_are_recognised() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->")[1].split("<!-- /test-command -->")[0]
    command = next(ln for ln in block.splitlines() if ln and not ln.startswith("```"))
    assert SETUP.search(command)
    assert SETUP.search('pip install -e ".[bench]"')
    assert not SETUP.search("pmt rank hh.parquet --weights demo --out pip-install.parquet")
    one = "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/pmt demo"
    assert after_setup(one) == ".venv/bin/pmt demo"
    assert after_setup('pip install -e ".[bench]"') == ""
    assert after_setup("python3 -m venv .venv && .venv/bin/python -m pytest -q") == ""


# --------------------------------------------------------------------------- docs stand alone

#: Files outside the repository that the docs must never send a reader to.
OUTSIDE = re.compile(r"\b(DESIGN|DOMAIN|STYLE)\.md\b|\.\./shared\b|/work/shared\b", re.IGNORECASE)
LINK = re.compile(r"\]\(([^)\s]+)\)")
#: A repository path cited in the text (``pmt/encode.py``, ``tests/naive.py``, ...).
REPO_PATH = re.compile(
    r"(?<![\w./-])((?:pmt|tests|benchmarks|docs|weights|\.ci)/[\w./-]*\.(?:py|md|json|csv|toml))\b"
)
#: A placeholder segment of a cited path (``pmt/cli/NAME.py``).
PLACEHOLDER = re.compile(r"(^|/)[A-Z][A-Z_]*(\.\w+)?$")
#: Files a guide tells you to create, cited by the docs although they are not in the repository.
TO_CREATE = {"docs/contributing.md": {"pmt/cli/levels.py"}}


def test_docs_cite_no_file_outside_the_repository() -> None:
    bad = [
        f"{doc}:{k}: {line.strip()}"
        for doc in DOCS
        for k, line in enumerate((ROOT / doc).read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not bad, "docs cite files outside the repository:\n" + "\n".join(bad)


def test_every_cited_repository_file_exists() -> None:
    missing = []
    for doc in DOCS:
        path = ROOT / doc
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for target in LINK.findall(line):
                target = target.split("#")[0]
                if (
                    target
                    and "://" not in target
                    and not target.startswith("mailto:")
                    and not (path.parent / target).exists()
                ):
                    missing.append(f"{doc}:{k}: link {target}")
            for cited in REPO_PATH.findall(line):
                if PLACEHOLDER.search(cited) or cited in TO_CREATE.get(doc, set()):
                    continue
                if not (ROOT / cited).exists():
                    missing.append(f"{doc}:{k}: {cited}")
    assert not missing, "docs cite files that are not in the repository:\n" + "\n".join(missing)


#: A Python name of pmt cited in the text: ``pmt.rank``, ``pmt.errors.ArgumentError``, ...
PMT_NAME = re.compile(r"`(pmt(?:\.[A-Za-z_]\w*)+)")


def resolve(name: str) -> object:
    """The object a dotted name in the docs means (raises if there is none).

    Attributes from ``pmt`` on, and where an attribute is missing, the module of that
    name (``pmt.rank.rank_options`` is in the module ``pmt.rank``, although ``pmt.rank``
    is the function).
    """
    parts = name.split(".")
    obj: object = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:  # a submodule not imported yet
            obj = importlib.import_module(".".join(parts[: i + 1]))
        except ModuleNotFoundError:  # an attribute of the module the previous name shadows
            obj = getattr(importlib.import_module(".".join(parts[:i])), part)
    return obj


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each blank-line separated paragraph."""
    out: list[tuple[int, str]] = []
    start, lines = 1, list[str]()
    for k, line in enumerate([*text.splitlines(), ""], 1):
        if line.strip():
            if not lines:
                start = k
            lines.append(line)
        elif lines:
            out.append((start, "\n".join(lines)))
            lines = []
    return out


def test_every_cited_python_name_exists() -> None:
    """A cited name resolves without a DeprecationWarning.

    Unless its paragraph says it is deprecated (a note on the old module paths).
    """
    missing = []
    for doc in DOCS:
        for k, para in paragraphs((ROOT / doc).read_text(encoding="utf-8")):
            for name in PMT_NAME.findall(para):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("error")
                        resolve(name)
                except DeprecationWarning as exc:
                    if "deprecat" not in para.lower():
                        missing.append(f"{doc}:{k}: {name} (deprecated: {exc})")
                except (ImportError, AttributeError) as exc:
                    missing.append(f"{doc}:{k}: {name} ({type(exc).__name__}: {exc})")
    assert not missing, "docs cite Python names pmt does not have:\n" + "\n".join(missing)


def test_listings_may_hold_synopses_but_not_runnable_commands() -> None:
    assert looks_runnable("pmt weights list   # names shipped with pmt")
    assert looks_runnable("$ pmt demo") and looks_runnable(">>> import pmt")
    assert not looks_runnable("pmt synth registry N --out FILE [--seed 1]")
    assert not looks_runnable("pmt weights show NAME|PATH       # manifest, model counts")
    assert not looks_runnable("pmt: error: InvalidCodeError: column 'floor_material': ...")


def test_the_citation_patterns_catch_what_they_should() -> None:
    assert OUTSIDE.search("as DESIGN.md says") and OUTSIDE.search("see ../shared/notes")
    assert OUTSIDE.search("(style.md)") and not OUTSIDE.search("the design of the stylesheet")
    cited = REPO_PATH.findall(
        "`pmt/encode.py`, see tests/naive.py; weights/my-set, pmt/cli/NAME.py"
    )
    assert cited == ["pmt/encode.py", "tests/naive.py", "pmt/cli/NAME.py"]
    assert [bool(PLACEHOLDER.search(c)) for c in cited] == [False, False, True]
    assert PMT_NAME.findall("`pmt.rank.rank_options`, `pmt.rank(hh, ws)`") == [
        "pmt.rank.rank_options",
        "pmt.rank",
    ]
    assert getattr(resolve("pmt.rank.rank_options"), "__name__", None) == "rank_options"
    assert paragraphs("a\nb\n\n\nc\n") == [(1, "a\nb"), (5, "c")]
    with pytest.raises((ImportError, AttributeError)):
        resolve("pmt.rank.no_such_name")
