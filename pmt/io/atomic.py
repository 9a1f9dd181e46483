"""Atomic writes and the one check of output paths.

Every file pmt writes goes through :func:`atomic_output`: it is written under
a temporary name in the folder of its final name (``.NAME.pmt-tmp-XXXXXXXX``)
and renamed onto the final name only once it is complete. An interrupted or
failing run therefore leaves the old file, or none — never a partial file
under the final name — and removes its temporary file.

:func:`check_outputs` is the one check of output paths, run before any work
starts: an output must not be an input or another output (same path, link or
inode), and its folder must exist and be writable.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .._folders import fsync_path, sync_folder
from ..errors import OutputPathError

__all__ = ["SLOW_WRITE_ENV", "TEMP_MARK", "atomic_output", "atomic_outputs", "check_outputs"]

#: Marks pmt's temporary files: ``.NAME.pmt-tmp-XXXXXXXX`` (hidden, and no result extension).
TEMP_MARK = ".pmt-tmp-"

#: Test-only: seconds to pause between written chunks and before each rename, so that a
#: test can interrupt a write in progress. Never set it in production.
SLOW_WRITE_ENV = "PMT_TEST_SLOW_WRITE"

PathLike = str | os.PathLike[str]


def _slow_write_pause() -> None:
    """Sleep ``$PMT_TEST_SLOW_WRITE`` seconds (test hook; no-op when unset)."""
    value = os.environ.get(SLOW_WRITE_ENV)
    if value:
        time.sleep(float(value))


def _new_temp(final: Path, temps: list[Path]) -> None:
    """Create a new, empty ``.NAME.pmt-tmp-XXXXXXXX`` beside ``final``; append it to ``temps``.

    The name is put in ``temps`` before the file is created, so that an
    interrupt at any point leaves the caller's cleanup knowing it. Created
    with mode 0666 minus the umask, as an ordinary new file would be.
    """
    for _ in range(100):
        temps.append(final.parent / f".{final.name[:200]}{TEMP_MARK}{secrets.token_hex(4)}")
        try:
            fd = os.open(temps[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            temps.pop()  # not created by us: not ours to remove
            if isinstance(exc, FileExistsError):
                continue
            raise
        os.close(fd)
        return
    raise FileExistsError(f"{final.parent}: could not create a temporary file for {final.name}")


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    r"""Write a file atomically: yield a temporary path, rename it onto ``path`` at the end.

    The temporary file, ``.NAME.pmt-tmp-XXXXXXXX``, is created empty in the
    folder ``path`` resolves to (a symbolic link at ``path`` is followed, so
    its target is replaced), so that the final rename is atomic. When the
    block completes, the file is flushed to disk, takes the permissions of the
    file it replaces (if any) and is renamed onto ``path``. If the block
    raises — any exception, ``KeyboardInterrupt`` or ``SystemExit`` — the
    temporary file is removed and an existing file at ``path`` is left as it
    was.

    Parameters
    ----------
    path : str or PathLike
        The final name.

    Yields
    ------
    Path
        The temporary path to write to. Its name has no result extension, so
        writers must be told the format explicitly.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output(folder / "report.md") as tmp:
    ...     _ = tmp.write_text("# done\n")
    >>> sorted(p.name for p in folder.iterdir())
    ['report.md']
    """
    with atomic_outputs(path) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_outputs(*paths: PathLike) -> Iterator[tuple[Path, ...]]:
    """:func:`atomic_output` for several files written together (``out`` and ``rejects``).

    Yields one temporary path per final path, in order. Only when the block
    has completed and every file is flushed are they renamed, one right after
    the other: a failure while writing any of them leaves all the old files
    (or none). The renames are not one atomic step, so a crash in the
    instant between two of them can leave one new and one old file.
    """
    finals = [Path(os.path.realpath(p)) for p in paths]
    temps: list[Path] = []
    try:
        for final in finals:
            _new_temp(final, temps)
        yield tuple(temps)
        for tmp, final in zip(temps, finals, strict=True):
            fsync_path(tmp)
            with contextlib.suppress(OSError):
                os.chmod(tmp, os.stat(final).st_mode & 0o7777)
        _slow_write_pause()
        while temps:
            os.replace(temps[0], finals[len(finals) - len(temps)])
            temps.pop(0)
    finally:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
    for folder in dict.fromkeys(final.parent for final in finals):
        with contextlib.suppress(OSError):  # the renames themselves survive a crash
            sync_folder(folder)


# --------------------------------------------------------------------------- output checks

Paths = Mapping[str, PathLike | None] | Iterable[PathLike | tuple[str, PathLike] | None]


def _labelled(paths: Paths) -> list[tuple[str, Path]]:
    """``[(label, path)]`` from a mapping, (label, path) pairs or plain paths; no None."""
    items = (
        paths.items()
        if isinstance(paths, Mapping)
        else (p if isinstance(p, tuple) else (str(p), p) for p in paths)
    )
    return [(str(label), Path(p)) for label, p in items if p is not None]


def _same(a: Path, b: Path) -> bool:
    """Whether two paths name one file: equal after resolving links, or the same inode."""
    if Path(os.path.realpath(a)) == Path(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)  # hard links: same st_dev and st_ino
    except OSError:  # one of them does not exist (yet)
        return False


def _writable(folder: Path) -> OSError | None:
    """Create and remove a temporary file in ``folder``; the error if that fails.

    On Linux the file has no name at all (``O_TMPFILE``), so an interrupt
    cannot leave it behind.
    """
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc
    return None


def check_outputs(*, inputs: Paths = (), outputs: Paths = (), folders: Paths = ()) -> None:
    """Refuse outputs that would destroy an input or each other, or cannot be written.

    Run it before any work starts. Each argument maps a label (the option
    that named the path, e.g. ``"--out"``; used in the message) to a path, or
    is a list of ``(label, path)`` pairs or of plain paths; ``None`` entries
    are skipped.

    Parameters
    ----------
    inputs : mapping or iterable of paths
        Files the run reads.
    outputs : mapping or iterable of paths
        Files the run writes. Each must not be the same file as an input or as
        another output — equal after resolving symbolic links, or the same
        inode (a hard link) — must not be a folder, and its folder must exist
        and be writable (checked by creating and removing a temporary file
        there).
    folders : mapping or iterable of paths
        Folders the run writes into, created if absent: each must not be an
        input or an output, must be a folder if it exists, and it or (if
        absent) its parent folder must exist and be writable. Outputs inside
        a folder named here skip their own folder check.

    Raises
    ------
    OutputPathError
        The first rule broken, naming the options involved.
    """
    ins, outs, dirs = _labelled(inputs), _labelled(outputs), _labelled(folders)

    def refuse(label: str, path: Path, rule: str, fix: str) -> OutputPathError:
        return OutputPathError(
            f"{label} {path}: {rule}. Fix: {fix}.", argument=label, path=str(path)
        )

    targets = outs + dirs
    for i, (label, path) in enumerate(targets):
        for in_label, in_path in ins:
            if _same(path, in_path):
                raise refuse(
                    label,
                    path,
                    f"is the same file as the input {in_label} {in_path} "
                    "(rule: an output never overwrites an input)",
                    f"give {label} another path",
                )
        for other_label, other in targets[:i]:
            if _same(path, other):
                raise refuse(
                    label,
                    path,
                    f"is the same file as {other_label} {other} (rule: "
                    "each output is a file of its own)",
                    f"give {label} and {other_label} different paths",
                )
    made = {Path(os.path.realpath(p)) for _, p in dirs}
    for label, path in dirs:
        if path.exists() and not path.is_dir():
            raise refuse(label, path, "exists and is not a folder", f"give {label} a folder")
        folder = path if path.is_dir() else Path(os.path.realpath(path)).parent
        _check_folder(label, path, folder, refuse)
    for label, path in outs:
        if path.is_dir():
            raise refuse(label, path, "is a folder, not a file", f"give {label} a file name")
        folder = Path(os.path.realpath(path)).parent
        if folder not in made:
            _check_folder(label, path, folder, refuse)


def _check_folder(label: str, path: Path, folder: Path, refuse: Any) -> None:
    if not folder.is_dir():
        raise refuse(
            label,
            path,
            f"the folder {folder} does not exist",
            "create the folder first, or choose another path",
        )
    problem = _writable(folder)
    if problem is not None:
        raise refuse(
            label,
            path,
            f"cannot write in the folder {folder} ({problem.strerror or problem})",
            "choose a folder you can write to, or fix its permissions",
        )
