"""The error path of ``pmt``: one-line messages in the command line's words, signals.

:func:`cli_message` is the one translation of the library's advice (Python
keywords) into command-line options; :func:`error_line` turns an exception
into the one line and exit status of :data:`pmt.cli.EXIT_CODES`;
:class:`Parser` makes argparse's usage errors one line too.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ._common import EXIT_INTERNAL, EXIT_IO, EXIT_USAGE

DEBUG_ENV = "PMT_DEBUG"
#: The folder of pmt's own code (an exception raised there is pmt's).
_PMT_DIR = Path(__file__).resolve().parents[1]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP, so that cleanup runs as on Ctrl-C.

    Python's default action on SIGTERM ends the process at once, without
    running ``finally`` blocks: temporary files would stay behind.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: Signals received while a command ran (SIGINT, SIGTERM, SIGHUP), in order. A library can
#: turn the exception a signal raises into an error of its own (pandas' CSV reader turns
#: KeyboardInterrupt into "ParserError: ... Calling read(nbytes) on source failed"); the
#: command still ends as interrupted when one was received (:func:`received_signal`).
RECEIVED: list[int] = []


def _raise_terminated(signum: int, frame: Any) -> NoReturn:
    RECEIVED.append(signum)
    raise Terminated(signum)


def _raise_interrupt(signum: int, frame: Any) -> NoReturn:
    RECEIVED.append(signum)
    raise KeyboardInterrupt


def received_signal() -> int | None:
    """The first signal received while the command ran, if any."""
    return RECEIVED[0] if RECEIVED else None


class UsageError(Exception):
    """A command-line usage error found by argparse (one line, exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised (one line) instead of printed with the usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------- error messages

#: Library keywords whose command-line option has another name (keyword -> argparse dest).
_RENAMED = {
    "n": "classes",
    "region_scheme": "scheme",
    "folds": "cv",
    "estimators": "compare",
    "quotas": "quota",
    "lines": "line",
}
#: Whole phrases of the library's fixes and their command-line form; applied first, and only
#: when the command has the option named on the right.
_PHRASES: tuple[tuple[str, str, str], ...] = (
    (r"""on_invalid=(['"])reject\1""", "--rejects FILE", "--rejects"),
    (r"""on_invalid=(['"])raise\1""", "no --rejects", "--rejects"),
    (r"""pmt\.load_weights\((['"])([^'"]+)\1\)""", r"--weights \2", "--weights"),
    (r"""select=(['"])stepwise\1""", "--stepwise", "--stepwise"),
)
_VALUE = r"""(?:'[^']*'|"[^"]*"|-?[\w.+/-]*[\w/])"""


def option_flags(parser: argparse.ArgumentParser) -> dict[str, tuple[str, bool]]:
    """``{dest: (option string, takes no value)}`` of a (sub)parser's options."""
    out: dict[str, tuple[str, bool]] = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and action.dest != "help":
            out[action.dest] = (longs[0], action.nargs == 0)
    return out


def cli_message(
    message: str, flags: Mapping[str, tuple[str, bool]], argument: str | None = None
) -> str:
    """A library error message as the command line says it: one line, options for keywords.

    The one translation of the library's advice to command-line options:
    the phrases of ``_PHRASES`` (``on_invalid='reject'`` -> ``--rejects FILE``),
    then ``keyword=value`` -> ``--option value`` for every keyword that is an
    option of the command (through ``_RENAMED``: ``n=10`` -> ``--classes 10``,
    ``cutoffs='registry'`` -> ``--cutoffs registry``), then bare keywords
    that hold an underscore (``max_desil`` -> ``--max-desil``) or start the
    message (``weights: ...`` -> ``--weights: ...``). Keywords the command has no
    option for are left as they are. If the error names its ``argument`` and
    the message does not mention its option, the option is put in front.

    Parameters
    ----------
    message : str
        The exception's text (may span lines).
    flags : mapping
        ``{argparse dest: (option string, takes no value)}`` of the command.
    argument : str, optional
        The keyword the error is about (``ArgumentError.argument``).

    Examples
    --------
    >>> flags = {"rejects": ("--rejects", False), "classes": ("--classes", False),
    ...          "cutoffs": ("--cutoffs", False), "max_desil": ("--max-desil", False)}
    >>> cli_message("max_desil must be from 1 to n=10", flags)
    '--max-desil must be from 1 to --classes 10'
    >>> cli_message("Fix: pass cutoffs='reference' or on_invalid='reject'.", flags)
    'Fix: pass --cutoffs reference or --rejects FILE.'
    """
    text = " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
    options = {flag for flag, _ in flags.values()}
    for pattern, replacement, needs in _PHRASES:
        if needs in options:
            text = re.sub(pattern, replacement, text)

    def option(keyword: str) -> tuple[str, bool] | None:
        return flags.get(_RENAMED.get(keyword, keyword)) or flags.get(keyword)

    def with_value(m: re.Match[str]) -> str:
        found = option(m.group(1))
        if found is None:
            return m.group(0)
        flag, no_value = found
        value = m.group(2).strip("'\"")
        if no_value:
            return flag if value == "True" else m.group(0)
        return f"{flag} {value}"

    text = re.sub(r"(?<![\w.-])([a-z][a-z0-9_]*)=(" + _VALUE + ")", with_value, text)

    def bare(m: re.Match[str]) -> str:
        found = option(m.group(1))
        return found[0] if found is not None else m.group(0)

    text = re.sub(r"(?<![\w./'\"-])([a-z][a-z0-9]*_[a-z0-9_]*)(?![\w/'\"=-]|\.\w)", bare, text)
    text = re.sub(r"^([a-z][a-z0-9_]*)(?=[: ])", bare, text)
    if argument is not None:
        found = option(argument)
        if found is not None and found[0] not in text:
            text = f"{found[0]}: {text}"
    return text


def _raised_in_pmt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by pmt's own code (its innermost frame is in pmt/)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    here = str(_PMT_DIR)
    return str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(here + os.sep)


def classify(exc: BaseException) -> tuple[int, str]:
    """(exit status, label in front of the message) of an exception that ends a command."""
    from .. import errors

    if isinstance(exc, MemoryError):
        return EXIT_INTERNAL, "MemoryError: out of memory"
    if isinstance(
        exc,
        (
            FileNotFoundError,
            PermissionError,
            IsADirectoryError,
            NotADirectoryError,
            FileExistsError,
        ),
    ):
        return EXIT_USAGE, type(exc).__name__
    if isinstance(exc, OSError):
        return EXIT_IO, type(exc).__name__
    if isinstance(exc, ValueError):
        return EXIT_USAGE, type(exc).__name__
    if isinstance(exc, TypeError) and (
        type(exc).__module__ == errors.__name__ or _raised_in_pmt(exc)
    ):
        return EXIT_USAGE, type(exc).__name__
    if isinstance(exc, ImportError) and "pip install" in str(exc):
        return EXIT_USAGE, type(exc).__name__
    return EXIT_INTERNAL, f"internal error: {type(exc).__name__}"


def error_line(exc: BaseException, flags: Mapping[str, tuple[str, bool]]) -> tuple[int, str]:
    """(exit status, ``pmt: error: ...`` line) of an exception that ends a command.

    ``flags`` are the command's options (:func:`option_flags`), for :func:`cli_message`.
    """
    code, label = classify(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        detail = f"{exc.filename}: {exc.strerror}"
    else:
        detail = str(exc) or repr(exc)
    detail = cli_message(detail, flags, getattr(exc, "argument", None))
    if len(detail) > 2000:
        detail = detail[:2000] + f" ... (the full message with {DEBUG_ENV}=1)"
    if code == EXIT_INTERNAL and not isinstance(exc, MemoryError):
        detail += (
            f" (this is a bug in pmt; run again with {DEBUG_ENV}=1 for the traceback and report it)"
        )
    elif isinstance(exc, MemoryError):
        detail = (
            "Fix: rank Parquet in and out (streamed in chunks; "
            "--chunk-size), or use a machine with more memory"
        )
    return code, f"pmt: error: {label}: {detail}"


def install_signal_handlers() -> dict[int, Any]:
    """Install pmt's signal handlers; the old handlers.

    SIGTERM and SIGHUP raise :class:`Terminated` (unless ignored), SIGINT
    ``KeyboardInterrupt`` (unless the caller set a handler of its own); each
    signal is recorded in :data:`RECEIVED`.
    """
    old: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return old
    RECEIVED.clear()
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            old[sig] = signal.signal(sig, _raise_terminated)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # Python's: Ctrl-C
        old[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_interrupt)
    return old


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """:data:`warnings.showwarning` of ``pmt``: ``pmt: warning: <message>``, one line."""
    text = " ".join(str(message).split())
    (file or sys.stderr).write(f"pmt: warning: {text}\n")
