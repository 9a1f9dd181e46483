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
    """Step-by-step progress on stderr: what runs, then how long it took.

    Parameters
    ----------
    stream : file-like, optional
        Where to write (default ``sys.stderr``).
    quiet : bool, default False
        Write nothing (``pmt --quiet``).
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def write(self, text: str, end: str = "\n") -> None:
        """Write one message (unless quiet)."""
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
            text = (
                f"{label} ... {phase + ': ' if phase else ''}{100 * done / max(total, 1):5.1f}"
                f" % ({rate:,.0f} households/s)"
            )
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

    if result.n == 0:
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
