"""The ``pmt`` command line: the same functions as the library.

    pmt demo [--households N] [--seed S] [--cutoffs MODE] [--out FILE]
    pmt rank INPUT --weights NAME|PATH --out OUTPUT [--rejects FILE] [--cutoffs MODE]
             [--max-desil K | --line Z] [--classes N] [--weight COL] [--id-col COL] ...
    pmt synth registry N --out FILE [--seed S]
    pmt weights list | show NAME|PATH | validate NAME|PATH
    pmt evaluate ... / pmt compare ... / pmt calibrate ...

This package is the only place that parses arguments. One module per command
(``demo.py``, ``rank.py``, ...), each registered by one line of
:data:`COMMANDS` (command name -> module) and each holding two functions:

``add_parser(subparsers, name) -> argparse.ArgumentParser``
    Add the command: ``subparsers.add_parser(name, help=..., description=...)``,
    then its arguments, every one with a help text; return the parser. Runs
    for ``pmt --help`` too, so it imports nothing heavy.
``run(args, progress) -> int``
    Do the work and return the exit status (:data:`EXIT_OK`). Import the
    library inside ``run``. Raise, never print, errors: :func:`main` turns
    them into one line (below). ``progress`` is a :class:`Progress`. Check
    output paths first with :func:`check_paths`. A module holding several
    commands tells them apart by ``args.command``.

:func:`main` imports only the module of the command given (``pmt rank ...``
never loads evaluation or calibration); ``pmt --help`` imports them all.

>>> import importlib
>>> command = importlib.import_module(COMMANDS["rank"])
>>> callable(command.add_parser) and callable(command.run)
True

Every command that writes checks its output paths before it starts
(:func:`check_paths`, :func:`pmt.io.check_outputs`) and writes each file under
a temporary name, renamed when complete (:func:`pmt.io.atomic_output`).

An error is one line on stderr, ``pmt: error: <ErrorClass>: <message>``, whose
suggested fix names the command-line option (:func:`cli_message` translates
the library's Python keywords), and one of the exit statuses of
:data:`EXIT_CODES`; no traceback unless ``PMT_DEBUG=1``. SIGTERM and SIGHUP
raise :class:`Terminated` so that temporary files are removed as on Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import importlib.util
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ._common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_IO,
    EXIT_NOTHING_RANKED,
    EXIT_OK,
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    Progress,
    check_paths,
)
from ._errors import (
    DEBUG_ENV,
    RECEIVED,
    Parser,
    Terminated,
    UsageError,
    cli_message,
    error_line,
    install_signal_handlers,
    option_flags,
    received_signal,
    show_warning,
)

__all__ = [
    "COMMANDS",
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_INTERNAL",
    "EXIT_IO",
    "EXIT_NOTHING_RANKED",
    "EXIT_OK",
    "EXIT_SIGHUP",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "Progress",
    "Terminated",
    "check_paths",
    "cli_message",
    "console",
    "main",
]

#: The commands of ``pmt``, in the order of ``pmt --help``: name -> module holding
#: ``add_parser(subparsers, name)`` and ``run(args, progress)``. Adding a command is
#: one module and one line here (docs/contributing.md).
COMMANDS: dict[str, str] = {
    "demo": "pmt.cli.demo",
    "rank": "pmt.cli.rank",
    "synth": "pmt.cli.synth",
    "weights": "pmt.cli.weights",
    "evaluate": "pmt.cli.evaluate",
    "compare": "pmt.cli.evaluate",
    "calibrate": "pmt.cli.calibrate",
    "adopt": "pmt.cli.adopt",
    "snapshot": "pmt.cli.snapshot",
    "update": "pmt.cli.update",
    "transitions": "pmt.cli.transitions",
    "allocate": "pmt.cli.allocate",
    "verify-list": "pmt.cli.verify_list",
    "warmup": "pmt.cli.warmup",
}


def _command(name: str) -> ModuleType:
    """The module of command ``name`` (imported now)."""
    return importlib.import_module(COMMANDS[name])


def _top_parser() -> argparse.ArgumentParser:
    """``pmt`` and its global options, without the commands."""
    p = Parser(
        prog="pmt",
        description="Proxy Means Test scoring, ranking and desil "
        "(DTKS / DTSEN style). See docs/cli.md.",
    )
    p.add_argument("--version", action="version", version=_version(), help="print pmt's version")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show pmt's log on stderr: what was loaded, rows rejected by rule (-v); "
        "the time of each step too (-vv)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="numba threads (default: all cores); results do not depend on it",
    )
    return p


def _version() -> str:
    """``pmt 0.2.0``: what ``pmt --version`` prints."""
    from .._version import __version__

    return f"pmt {__version__}"


@contextmanager
def _log_to_stderr(verbosity: int) -> Iterator[None]:
    """Show the ``pmt`` loggers on stderr while the command runs: INFO (``-v``), DEBUG (``-vv``)."""
    if not verbosity:
        yield
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pmt: %(levelname)s: %(name)s: %(message)s"))
    logger = logging.getLogger("pmt")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _command_in(argv: Sequence[str], top: argparse.ArgumentParser) -> str | None:
    """The command ``argv`` names after the global options of ``top``, if plain to see.

    ``None`` for help, an unknown option or command, or none: then every command's
    parser is built, for the full help or argparse's own error.
    """
    flags = {o for a in top._actions for o in a.option_strings if a.nargs == 0}
    valued = {o for a in top._actions for o in a.option_strings if a.nargs != 0}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in ("-h", "--help"):
            return None
        if token == "--version":
            return ""  # no command's parser is needed
        if token in flags or (token.split("=", 1)[0] in valued and "=" in token):
            i += 1
        elif token in valued:
            i += 2
        else:
            return token if token in COMMANDS else None
    return None


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``pmt`` parser: with every command, or only with ``command`` (to import less).

    ``command=""``: with no command (``pmt --version``).
    """
    p = _top_parser()
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS if command is None else (command,) if command else ():
        _command(name).add_parser(sub, name)
    return p


def _leaf(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command ``args`` were parsed for: ``pmt synth registry``'s."""
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None:
            return parser
        parser = sub.choices[getattr(args, sub.dest)]


@contextmanager
def _announce_compiling(progress: Progress) -> Iterator[None]:
    """Say once, on stderr, when a kernel is compiled rather than loaded from the cache."""
    from pmt._kernels import on_compile

    said: list[str] = []

    def listener(name: str) -> None:
        if not said:
            said.append(name)
            progress.break_line()  # the message starts a line of its own
            progress.write(
                "pmt: compiling numba kernels (first run only: cached for later runs; "
                "'pmt warmup' does it ahead of time)"
            )

    previous = on_compile(listener)
    try:
        yield
    finally:
        on_compile(previous)


def _after_line_break(progress: Progress) -> Callable[..., None]:
    """:func:`show_warning`, on a line of its own when a live progress line is open."""

    def show(*args: Any, **kwargs: Any) -> None:
        progress.break_line()
        show_warning(*args, **kwargs)

    return show


def console() -> None:
    """The ``pmt`` command (and ``python -m pmt.cli``): :func:`main`, then a quick exit.

    When :func:`main` returns, every file it wrote is complete and closed. The
    process then runs its ``atexit`` handlers, flushes the standard streams and
    leaves with ``os._exit``, skipping the interpreter's teardown of its modules
    (about 1 s with numba, pandas and pyarrow loaded, measured on 2026-12-02),
    which nothing of the command needs.
    """
    code = main()
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)


def _interrupted(signum: int) -> int:
    """Say that a signal ended the command; its exit status (130 for SIGINT, 128 + N)."""
    if signum == signal.SIGINT:
        sys.stderr.write("pmt: interrupted; no partial output left\n")
        return EXIT_SIGINT
    sys.stderr.write(f"pmt: terminated ({signal.Signals(signum).name}); no partial output left\n")
    return 128 + signum


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pmt`` command; returns the exit status (:data:`EXIT_CODES`)."""
    old_handlers = install_signal_handlers()
    old_showwarning = warnings.showwarning
    warnings.showwarning = show_warning
    flags: dict[str, tuple[str, bool]] = {}
    args: argparse.Namespace | None = None
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = _parser(_command_in(argv, _top_parser()))
        try:
            args = parser.parse_args(argv)
        except UsageError as exc:
            sys.stderr.write(f"pmt: error: {exc}\n")
            return EXIT_USAGE
        flags = option_flags(_leaf(parser, args))
        args.argv = list(argv)  # recorded by --json
        progress = Progress(quiet=args.quiet)
        warnings.showwarning = _after_line_break(progress)
        if args.threads is not None:
            import numba

            numba.set_num_threads(args.threads)
        with _log_to_stderr(args.verbose), _announce_compiling(progress):
            code = int(_command(args.command).run(args, progress))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except Terminated as exc:
        return _interrupted(exc.signum)
    except KeyboardInterrupt:
        return _interrupted(signal.SIGINT)
    except BrokenPipeError:  # e.g. `pmt ... | head`: quiet, and no second error at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        signum = received_signal()
        if signum is not None:  # a library turned the interrupt into an error of its own
            return _interrupted(signum)
        code, line = error_line(exc, flags)
        sys.stderr.write(line + "\n")
        if getattr(args, "json", False):  # --json: stdout still holds one document
            from ._json import emit, error_document

            assert args is not None
            emit(error_document(args, line, code))
        return code
    finally:
        warnings.showwarning = old_showwarning
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        RECEIVED.clear()
