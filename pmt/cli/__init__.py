"""The ``pmt`` command line: the same functions as the library.

    pmt demo [--households N] [--seed S] [--out FILE]
    pmt rank INPUT --weights NAME|PATH --out OUTPUT [--rejects FILE] [--cutoffs MODE]
             [--max-desil K | --line Z] [--classes N] [--weight COL] [--id-col COL]
    pmt synth registry N --out FILE [--seed S]
    pmt weights list
    pmt weights show NAME|PATH
    pmt weights validate NAME|PATH
    pmt evaluate ... / pmt compare ... / pmt calibrate ...

Every command that writes checks its output paths before it starts
(:func:`pmt.io.check_outputs`) and writes each file under a temporary name,
renamed when complete (:func:`pmt.io.atomic_output`).

An error is one line on stderr, ``pmt: error: <ErrorClass>: <message>``, whose
suggested fix names the command-line option (:func:`cli_message` translates
the library's Python keywords), and one of the exit statuses of
:data:`EXIT_CODES`; no traceback unless ``PMT_DEBUG=1``. SIGTERM and SIGHUP
raise :class:`Terminated` so that temporary files are removed as on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TextIO

__all__ = ["EXIT_CODES", "Terminated", "cli_message", "main"]

#: Exit statuses of ``pmt`` (docs/cli.md lists them too).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NOTHING_RANKED = 3
EXIT_IO = 74
EXIT_SIGHUP = 129
EXIT_SIGINT = 130
EXIT_BROKEN_PIPE = 141
EXIT_SIGTERM = 143
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_INTERNAL: "internal error (a bug in pmt: run again with PMT_DEBUG=1 for the "
                   "traceback), or out of memory",
    EXIT_USAGE: "bad input or usage: a bad option, file, column, value or weight set; an "
                "output that would overwrite an input; a missing or unwritable file or folder",
    EXIT_NOTHING_RANKED: "pmt rank ranked no household: every row was rejected (the output, "
                         "with no rows, and the rejects file were written)",
    EXIT_IO: "the system failed to read or write a file (disk full, device error)",
    EXIT_SIGHUP: "hung up (SIGHUP); no partial output is left",
    EXIT_SIGINT: "interrupted (Ctrl-C, SIGINT); no partial output is left",
    EXIT_BROKEN_PIPE: "stdout was closed (e.g. piped into head)",
    EXIT_SIGTERM: "terminated (SIGTERM); no partial output is left",
}

DEBUG_ENV = "PMT_DEBUG"


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP, so that cleanup runs as on Ctrl-C.

    Python's default action on SIGTERM ends the process at once, without
    running ``finally`` blocks: temporary files would stay behind.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> NoReturn:
    raise Terminated(signum)


class _UsageError(Exception):
    """A command-line usage error found by argparse (one line, exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised (one line) instead of printed with the usage."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------- error messages

#: Library keywords whose command-line option has another name (keyword -> argparse dest).
_RENAMED = {"n": "classes", "region_scheme": "scheme", "folds": "cv", "estimators": "compare",
            "quotas": "quota", "lines": "line"}
#: Whole phrases of the library's fixes and their command-line form; applied first, and only
#: when the command has the option named on the right.
_PHRASES: tuple[tuple[str, str, str], ...] = (
    (r"""on_invalid=(['"])reject\1""", "--rejects FILE", "--rejects"),
    (r"""on_invalid=(['"])raise\1""", "no --rejects", "--rejects"),
    (r"""pmt\.load_weights\((['"])([^'"]+)\1\)""", r"--weights \2", "--weights"),
    (r"""select=(['"])stepwise\1""", "--stepwise", "--stepwise"),
)
_VALUE = r"""(?:'[^']*'|"[^"]*"|-?[\w.+/-]*[\w/])"""


def _flags(parser: argparse.ArgumentParser) -> dict[str, tuple[str, bool]]:
    """``{dest: (option string, takes no value)}`` of a (sub)parser's options."""
    out: dict[str, tuple[str, bool]] = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and action.dest != "help":
            out[action.dest] = (longs[0], action.nargs == 0)
    return out


def cli_message(message: str, flags: Mapping[str, tuple[str, bool]],
                argument: str | None = None) -> str:
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
    here = str(Path(__file__).resolve().parent)
    return str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(here + os.sep)


def _classify(exc: BaseException) -> tuple[int, str]:
    """(exit status, label in front of the message) of an exception that ends a command."""
    from .. import errors

    if isinstance(exc, MemoryError):
        return EXIT_INTERNAL, "MemoryError: out of memory"
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError,
                        NotADirectoryError, FileExistsError)):
        return EXIT_USAGE, type(exc).__name__
    if isinstance(exc, OSError):
        return EXIT_IO, type(exc).__name__
    if isinstance(exc, ValueError):
        return EXIT_USAGE, type(exc).__name__
    if isinstance(exc, TypeError) and (type(exc).__module__ == errors.__name__
                                       or _raised_in_pmt(exc)):
        return EXIT_USAGE, type(exc).__name__
    if isinstance(exc, ImportError) and "pip install" in str(exc):
        return EXIT_USAGE, type(exc).__name__
    return EXIT_INTERNAL, f"internal error: {type(exc).__name__}"


def _error_line(exc: BaseException, flags: Mapping[str, tuple[str, bool]]) -> tuple[int, str]:
    code, label = _classify(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        detail = f"{exc.filename}: {exc.strerror}"
    else:
        detail = str(exc) or repr(exc)
    detail = cli_message(detail, flags, getattr(exc, "argument", None))
    if len(detail) > 2000:
        detail = detail[:2000] + f" ... (the full message with {DEBUG_ENV}=1)"
    if code == EXIT_INTERNAL and not isinstance(exc, MemoryError):
        detail += (f" (this is a bug in pmt; run again with {DEBUG_ENV}=1 for the traceback "
                   "and report it)")
    elif isinstance(exc, MemoryError):
        label, detail = label, ("Fix: rank Parquet in and out (streamed in chunks; "
                                "--chunk-size), or use a machine with more memory")
    return code, f"pmt: error: {label}: {detail}"


class Progress:
    """Step-by-step progress on stderr: what runs, then how long it took."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def write(self, text: str, end: str = "\n") -> None:
        if not self.quiet:
            self.stream.write(text + end)
            self.stream.flush()

    @contextmanager
    def step(self, label: str) -> Iterator[Callable[..., None]]:
        """Time a step; the yielded ``update(done, total, phase="")`` shows progress.

        On a terminal the line is redrawn (percent, households per second, phase);
        elsewhere a line is written at most every 10 seconds.
        """
        start = time.perf_counter()
        last = [start]
        previous = [start]  # time of the last update, where a new phase begins
        phase_start: dict[str, float] = {}
        self.write(f"{label} ...", end="" if self.tty else "\n")

        def update(done: int, total: int, phase: str = "") -> None:
            now = time.perf_counter()
            began = phase_start.setdefault(phase, previous[0])
            previous[0] = now
            if self.quiet or (not self.tty and now - last[0] < 10):
                return
            last[0] = now
            rate = done / max(now - began, 1e-9)
            text = (f"{label} ... {phase + ': ' if phase else ''}{100 * done / max(total, 1):5.1f}"
                    f" % ({rate:,.0f} households/s)")
            if self.tty:
                self.stream.write("\r" + text)
                self.stream.flush()
            else:
                self.write("  " + text)

        try:
            yield update
        except BaseException:
            if self.tty and not self.quiet:  # the error starts a line of its own
                self.stream.write("\n")
                self.stream.flush()
            raise
        took = time.perf_counter() - start
        if self.tty:
            self.write(f"\r{label} ... done in {took:.1f} s" + " " * 40)
        else:
            self.write(f"  done in {took:.1f} s")


def _print_summary(result: Any, out: TextIO, provinces: bool = True) -> None:
    import numpy as np
    import pandas as pd

    from ..regions import province_table

    if result.n == 0:
        out.write(f"{result!r}\n\nNo household was ranked: all {result.n_input:,} rows were "
                  "rejected (the rejects file gives the rule each broke).\n")
        return
    s = result.summary()
    nat = s.loc["national"]
    out.write(f"{result!r}\n\nNational desil ({result.weighting} weights, "
              f"cutoffs={result.cutoff_mode}):\n")
    table = pd.DataFrame({"households": nat["households"],
                          "people": nat["people"].round().astype("int64"),
                          "share_people_%": (100 * nat["share_people"]).round(2)})
    out.write(table.to_string() + "\n")
    if not provinces:
        return
    names = {f"{c:02d}": p.name for c, p in province_table().items()}
    prov = s.drop(index="national", level="scope")
    wide = prov["households"].unstack("desil")
    wide.columns = [f"d{c}" for c in wide.columns]
    share_poor = prov["share_people"].unstack("desil")
    max_desil = 4
    elig = share_poor.loc[:, [c for c in share_poor.columns if c <= max_desil]]
    cross = result._tally[4]  # people by (province code, national desil)
    present = cross.sum(axis=1) > 0
    in_nat = pd.Series(cross[present, :max_desil].sum(axis=1) / cross[present].sum(axis=1),
                       index=[f"{c:02d}" for c in np.flatnonzero(present).tolist()])
    table = pd.DataFrame({
        "name": [names.get(c, "?") for c in wide.index],
        "households": wide.sum(axis=1),
        f"people_in_national_d1-{max_desil}_%": (100 * in_nat.reindex(wide.index)).round(1),
        f"people_in_provincial_d1-{max_desil}_%": (100 * elig.sum(axis=1)).round(1),
    }, index=wide.index)
    out.write("\nBy province (households; share of people in the bottom "
              f"{max_desil} desil, national and provincial ranking):\n")
    out.write(table.to_string() + "\n")


def _weight_set_files(name_or_path: str | None) -> list[Path]:
    """The files of a weight set given as a folder (inputs no output may overwrite)."""
    if not name_or_path:
        return []
    folder = Path(name_or_path)
    if folder.name == "manifest.json":
        folder = folder.parent
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def check_paths(*, inputs: Mapping[str, Any], outputs: Any, weights: str | None = None,
                folders: Any = ()) -> None:
    """The output check of every command that writes, before any work starts.

    ``inputs`` maps option names (``"INPUT"``, ``"--sizes"``) to paths,
    ``outputs`` and ``folders`` map option names to paths or are lists of
    ``(option, path)`` pairs (``None`` paths are skipped); the files of a
    weight set given as a folder by ``weights`` count as inputs. See
    :func:`pmt.io.check_outputs`.
    """
    from ..io import check_outputs

    ins = [*inputs.items(), *(("--weights", p) for p in _weight_set_files(weights))]
    check_outputs(inputs=ins, outputs=outputs, folders=folders)


def _cmd_demo(args: argparse.Namespace, progress: Progress) -> int:
    import pmt
    from pmt.io import output_kind
    from pmt.synth import registry

    output_kind(args.out, argument="--out")
    check_paths(inputs={}, outputs={"--out": args.out})
    with progress.step(f"synthesising {args.households:,} households (seed {args.seed})") as up:
        hh = registry(args.households, seed=args.seed, progress=up)
    with progress.step("loading weight set 'demo'"):
        ws = pmt.load_weights("demo")
    with progress.step("scoring and ranking (national and provincial desil)"):
        result = pmt.rank(hh, ws, cutoffs=args.cutoffs)
    with progress.step(f"writing {args.out}"):
        result.to_parquet(args.out)
    _print_summary(result, sys.stdout)
    sys.stdout.write(f"\nwrote {len(result.welfare):,} rows to {args.out}\n")
    return EXIT_OK


def _cmd_rank(args: argparse.Namespace, progress: Progress) -> int:
    import pmt
    from pmt.io import output_kind, read_households, write_tables

    out_kind = output_kind(args.out, argument="--out")  # a typo fails before any work
    if args.rejects:
        output_kind(args.rejects, argument="--rejects")
    check_paths(inputs={"INPUT": args.input}, outputs={"--out": args.out,
                                                       "--rejects": args.rejects},
                weights=args.weights)
    with progress.step(f"loading weight set {args.weights!r}"):
        ws = pmt.load_weights(args.weights)
    on_invalid = "reject" if args.rejects else "raise"
    options = dict(cutoffs=args.cutoffs, n=args.classes, max_desil=args.max_desil,
                   line=args.line, weight=args.weight, weighting=args.weighting,
                   on_invalid=on_invalid, id_col=args.id_col, region_scheme=args.region_scheme)
    if Path(args.input).suffix.lower() in (".parquet", ".pq") and out_kind == "parquet":
        from pmt.stream import rank_file

        with progress.step(f"ranking {args.input} in chunks of {args.chunk_size:,} rows") as up:
            result = rank_file(args.input, ws, args.out, chunk_size=args.chunk_size,
                               rejects=args.rejects, progress=lambda p, d, t: up(d, t, p),
                               **options)  # type: ignore[arg-type]
    else:
        with progress.step(f"reading {args.input}"):
            hh = read_households(args.input)
        with progress.step(f"scoring and ranking {len(hh):,} households"):
            result = pmt.rank(hh, ws, **options)  # type: ignore[arg-type]
        with progress.step(f"writing {args.out}"):
            tables = {args.out: (result.to_frame(), result.provenance)}
            if args.rejects:
                tables[args.rejects] = (result.rejects, result.provenance)
            write_tables(tables)  # both renamed only once both are complete
    _print_summary(result, sys.stdout, provinces=not args.national_only)
    sys.stdout.write(f"\nranked {result.n:,} of {result.n_input:,} rows -> {args.out}")
    if args.rejects:
        sys.stdout.write(f"; rejected {result.n_rejected:,} -> {args.rejects}")
    sys.stdout.write("\n")
    if result.n == 0:
        sys.stderr.write(f"pmt: error: no household was ranked: all {result.n_input:,} rows "
                         f"were rejected; see {args.rejects} (exit status "
                         f"{EXIT_NOTHING_RANKED})\n")
        return EXIT_NOTHING_RANKED
    return EXIT_OK


def _cmd_synth(args: argparse.Namespace, progress: Progress) -> int:
    from pmt.io import output_kind, write_table
    from pmt.synth import registry

    output_kind(args.out, argument="--out")
    check_paths(inputs={}, outputs={"--out": args.out})
    with progress.step(f"synthesising {args.households:,} households (seed {args.seed})") as up:
        hh = registry(args.households, seed=args.seed, progress=up)
    with progress.step(f"writing {args.out}"):
        write_table(hh, args.out, {"generator": "pmt.synth.registry", "seed": args.seed,
                                   "households": args.households, "synthetic": True})
    return EXIT_OK


def _cmd_weights(args: argparse.Namespace, progress: Progress) -> int:
    import pmt

    if args.action == "list":
        for name in pmt.available_weights():
            sys.stdout.write(f"{name}\n")
        return 0
    ws = pmt.load_weights(args.target)
    if args.action == "validate":
        # load_weights verified content_hash and file_hashes (a mismatch names the file)
        sys.stdout.write(f"ok: {ws!r}\n{ws.content_hash}\n")
        for fname, digest in (ws.manifest.file_hashes or {}).items():
            sys.stdout.write(f"  {fname}  {digest}\n")
        if ws.manifest.file_hashes is None:
            sys.stdout.write("note: this manifest records no per-file hashes, so a change "
                             "could not be traced to one file; re-save the set with "
                             "pmt.save_weights to record them\n")
        return 0
    m = ws.manifest
    out = sys.stdout
    out.write(f"{ws!r}\n\n")
    out.write(f"name          {m.name}\nversion       {m.version}\ncreated       {m.created}\n")
    out.write(f"synthetic     {m.synthetic}\ndescription   {m.description}\n")
    out.write(f"regions       {m.region_scheme}, vintage {m.region_vintage}\n")
    out.write(f"target        {m.target}\nmodel level   {m.model_level}\n")
    out.write(f"content hash  {ws.content_hash}\nfolder        {ws.path}\n")
    out.write("models        " + ", ".join(f"{k}: {v}" for k, v in ws.levels().items()) + "\n")
    out.write(f"poverty lines {len(ws.poverty_lines)} regions\n")
    out.write(f"cutoffs       {len(ws.cutoffs)} scopes, n={m.cutoff_classes}\n")
    out.write(f"provenance    {m.provenance}\n\n")
    out.write(f"variable spec {m.spec.name} {m.spec.version}: {len(m.spec.variables)} variables, "
              f"{len(m.spec.derived)} derived, {len(m.spec.terms)} terms per model\n")
    for v in m.spec.variables:
        extra = (f"codes {list(v.code_values)}" if v.kind == "categorical"
                 else f"[{v.min:g}, {v.max:g}]" if v.min is not None and v.max is not None
                 else "")
        out.write(f"  {v.name:24s} {v.kind:12s} {v.label}  {extra}\n")
    for d in m.spec.derived:
        out.write(f"  {d.name:24s} {'derived':12s} {d.op}({', '.join(d.args)})\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pmt", description="Proxy Means Test scoring, ranking and "
                                "desil (DTKS / DTSEN style).")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.add_argument("--threads", type=int, default=None,
                   help="numba threads (default: all cores); results do not depend on it")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="synthesise a registry, rank it with 'demo', summarise")
    d.add_argument("--households", type=int, default=1_000_000)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--cutoffs", choices=["registry", "reference"], default="registry")
    d.add_argument("--out", default="pmt-demo-ranked.parquet")

    r = sub.add_parser("rank", help="rank a household file (CSV, Parquet or Stata)")
    r.add_argument("input")
    r.add_argument("--weights", required=True, help="shipped name or folder of a weight set")
    r.add_argument("--out", required=True, help="output .parquet or .csv")
    r.add_argument("--rejects", help="set invalid rows aside in this file instead of failing")
    r.add_argument("--cutoffs", choices=["registry", "reference"], default="registry")
    r.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--max-desil", type=int, default=None, help="eligible if desil <= K (default 4)")
    g.add_argument("--line", type=float, help="eligible if welfare <= Z instead")
    r.add_argument("--weight", help="survey-weight column multiplied into person weights")
    r.add_argument("--weighting", choices=["person", "household"], default="person")
    r.add_argument("--id-col", default="hh_id")
    r.add_argument("--region-scheme", choices=["BPS", "Kemendagri"],
                   help="the scheme of the input's district codes; refused unless it is the "
                        "weight set's (default: assume the weight set's)")
    r.add_argument("--national-only", action="store_true", help="print no provincial table")
    r.add_argument("--chunk-size", type=int, default=1_000_000,
                   help="Parquet in and out are streamed in chunks of this many rows "
                        "(the result does not depend on it)")

    s = sub.add_parser("synth", help="write a synthetic registry")
    s.add_argument("what", choices=["registry"])
    s.add_argument("households", type=int)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True)

    w = sub.add_parser("weights", help="list, show or validate weight sets")
    w.add_argument("action", choices=["list", "show", "validate"])
    w.add_argument("target", nargs="?", help="shipped name or folder")

    from ..calibrate import add_cli as add_calibrate
    from ..evaluate import add_cli

    add_cli(sub)
    add_calibrate(sub)
    return p


def _install_signal_handlers() -> dict[int, Any]:
    """SIGTERM and SIGHUP raise :class:`Terminated` (unless ignored); the old handlers."""
    old: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return old
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            old[sig] = signal.signal(sig, _raise_terminated)
    return old


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    text = " ".join(str(message).split())
    (file or sys.stderr).write(f"pmt: warning: {text}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pmt`` command; returns the exit status (:data:`EXIT_CODES`)."""
    old_handlers = _install_signal_handlers()
    old_showwarning = warnings.showwarning
    warnings.showwarning = _show_warning
    flags: dict[str, tuple[str, bool]] = {}
    try:
        parser = _parser()
        try:
            args = parser.parse_args(argv)
        except _UsageError as exc:
            sys.stderr.write(f"pmt: error: {exc}\n")
            return EXIT_USAGE
        if args.command == "weights" and args.action != "list" and not args.target:
            sys.stderr.write("pmt: error: pmt weights show/validate need a NAME or PATH (see "
                             "`pmt weights --help`)\n")
            return EXIT_USAGE
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        flags = _flags(sub.choices[args.command])
        progress = Progress(quiet=args.quiet)
        if args.threads is not None:
            import numba

            numba.set_num_threads(args.threads)
        handler = {"demo": _cmd_demo, "rank": _cmd_rank, "synth": _cmd_synth,
                   "weights": _cmd_weights}.get(args.command) or args.handler
        code = int(handler(args, progress))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except Terminated as exc:
        sys.stderr.write(f"pmt: terminated ({signal.Signals(exc.signum).name}); no partial "
                         "output left\n")
        return 128 + exc.signum
    except KeyboardInterrupt:
        sys.stderr.write("pmt: interrupted; no partial output left\n")
        return EXIT_SIGINT
    except BrokenPipeError:  # e.g. `pmt ... | head`: quiet, and no second error at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        code, line = _error_line(exc, flags)
        sys.stderr.write(line + "\n")
        return code
    finally:
        warnings.showwarning = old_showwarning
        for sig, handler_ in old_handlers.items():
            signal.signal(sig, handler_)
