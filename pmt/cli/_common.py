"""What every command module uses: exit statuses, progress, the output check, summaries.

A command module imports from here (``from ._common import EXIT_OK, Progress,
check_paths``); the error path of :func:`pmt.cli.main` lives in
:mod:`pmt.cli._errors`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

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


class Progress:
    """Progress on stderr: each step and its time, and a live count on a terminal.

    Every step writes what runs and, when it ends, how long it took (unless
    ``quiet``). On a terminal the step's line is also redrawn as the work
    reports progress (:data:`pmt._progress.ProgressCallback`): units done of
    the total, the rate, and the time left. When ``stream`` is not a terminal
    (a log file, a pipe) the live count is off. The time of every step is kept
    in :attr:`timings` (also when quiet), for ``--json``.

    Parameters
    ----------
    stream : file-like, optional
        Where to write (default ``sys.stderr``).
    quiet : bool, default False
        Write nothing (``pmt --quiet``).
    live : bool, optional
        Redraw the live count; default: when ``stream`` is a terminal and not ``quiet``.
    """

    #: Seconds between two redraws of the live count.
    REDRAW = 0.1

    def __init__(
        self, stream: TextIO | None = None, quiet: bool = False, live: bool | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.live = (self.tty and not quiet) if live is None else live
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()
        self._line_open = False  # a live line is on the terminal, without its newline

    def break_line(self) -> None:
        """End the live line (if one is open), so that a message starts a line of its own."""
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False

    def write(self, text: str, end: str = "\n") -> None:
        """Write one message (unless quiet)."""
        if not self.quiet:
            self.stream.write(text + end)
            self.stream.flush()

    @contextmanager
    def step(
        self, label: str, *, key: str | None = None, unit: str = "households"
    ) -> Iterator[Callable[..., None]]:
        """Time a step; yields a progress callback ``update(done, total, stage="")``.

        ``key`` names the step in :attr:`timings` (default: ``label``); ``unit``
        is what ``done`` counts. The callback follows pmt's progress protocol, so
        it can be passed as ``progress=`` to :func:`pmt.rank` and the like.
        """
        start = time.perf_counter()
        drawn, previous, width = 0.0, start, 0  # last redraw, last update, line length
        stage_start: dict[str, float] = {}
        live = self.live
        self.write(f"{label} ...", end="" if live else "\n")
        self._line_open = live and not self.quiet

        def update(done: int, total: int, stage: str = "") -> None:
            nonlocal drawn, previous, width
            now = time.perf_counter()
            began = stage_start.setdefault(stage, previous)
            previous = now
            if not live or (now - drawn < self.REDRAW and done < total):
                return
            drawn = now
            text = f"{label} ... {stage + ': ' if stage else ''}" + _count(
                done, total, now - began, unit
            )
            pad = " " * max(width - len(text), 0)
            width = len(text)
            self.stream.write("\r" + text + pad)
            self.stream.flush()
            self._line_open = True

        try:
            yield update
        except BaseException:
            self.break_line()  # the error starts a line of its own
            raise
        took = time.perf_counter() - start
        self.timings[key or label] = round(took, 6)
        if live:
            text = f"\r{label} ... done in {took:.1f} s"
            self.write(text + " " * max(width + 1 - len(text), 0))
            self._line_open = False
        else:
            self.write(f"  done in {took:.1f} s")


def _count(done: int, total: int, seconds: float, unit: str) -> str:
    """``1,500 of 3,000 households (50 %), 1,200 households/s, 2 s left``."""
    text = f"{done:,} of {total:,} {unit} ({100 * done / max(total, 1):.0f} %)"
    if done <= 0 or seconds <= 0:
        return text
    rate = done / seconds
    text += f", {rate:,.0f} {unit}/s" if rate >= 10 else f", {rate:.2g} {unit}/s"
    if done < total:
        text += f", {_duration((total - done) / rate)} left"
    return text


def _duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``1 h 05 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _weight_set_files(name_or_path: str | None) -> list[Path]:
    """The files of a weight set given as a folder (inputs no output may overwrite)."""
    if not name_or_path:
        return []
    folder = Path(name_or_path)
    if folder.name == "manifest.json":
        folder = folder.parent
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def check_paths(
    *, inputs: Mapping[str, Any], outputs: Any, weights: str | None = None, folders: Any = ()
) -> None:
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


def print_summary(result: Any, out: TextIO, *, provinces: bool = True) -> None:
    """Print a :class:`~pmt.RankResult`: national desil table, then one row per province.

    Used by ``pmt demo`` and ``pmt rank``.
    """
    import numpy as np
    import pandas as pd

    from ..regions import province_table

    if result.n_households == 0:
        out.write(
            f"{result!r}\n\nNo household was ranked: all {result.n_input:,} rows were "
            "rejected (the rejects file gives the rule each broke).\n"
        )
        return
    s = result.summary()
    nat = s.loc["national"]
    out.write(
        f"{result!r}\n\nNational desil ({result.weighting} weights, "
        f"cutoffs={result.cutoff_mode}):\n"
    )
    table = pd.DataFrame(
        {
            "households": nat["households"],
            "people": nat["people"].round().astype("int64"),
            "share_people_%": (100 * nat["share_people"]).round(2),
        }
    )
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
    in_nat = pd.Series(
        cross[present, :max_desil].sum(axis=1) / cross[present].sum(axis=1),
        index=[f"{c:02d}" for c in np.flatnonzero(present).tolist()],
    )
    table = pd.DataFrame(
        {
            "name": [names.get(c, "?") for c in wide.index],
            "households": wide.sum(axis=1),
            f"people_in_national_d1-{max_desil}_%": (100 * in_nat.reindex(wide.index)).round(1),
            f"people_in_provincial_d1-{max_desil}_%": (100 * elig.sum(axis=1)).round(1),
        },
        index=wide.index,
    )
    out.write(
        "\nBy province (households; share of people in the bottom "
        f"{max_desil} desil, national and provincial ranking):\n"
    )
    out.write(table.to_string() + "\n")
