"""Folders written whole: a new folder built beside its final name, then swapped in.

Weight sets (:func:`pmt.save_weights`), snapshots and :mod:`pmt.dask`'s
Parquet datasets are folders. Each is written to a hidden sibling
(``.NAME.pmt-new-XXXXXXXX``), flushed, and put in place by
:func:`swap_into_place`: one atomic exchange on Linux (``renameat2``), else
two renames, with the old folder put back if the second fails or is
interrupted.
"""

from __future__ import annotations

import errno
import os
import secrets
import sys
from pathlib import Path

__all__ = ["fsync_path", "new_sibling", "swap_into_place", "sync_folder", "write_durably"]


def new_sibling(target: Path, kind: str) -> Path:
    """Create and return an empty hidden folder next to ``target`` (permissions by umask)."""
    for _ in range(100):
        path = target.parent / f".{target.name}.pmt-{kind}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"cannot create a temporary folder in {str(target.parent)!r}")


def write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def fsync_path(path: Path) -> None:
    """Flush a file (or, on POSIX, a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_folder(path: Path) -> None:
    """Flush a folder's entries to disk (POSIX; a no-op where folders cannot be opened)."""
    if os.name == "posix":
        fsync_path(path)


def swap_into_place(new: Path, target: Path, *, exists: bool) -> None:
    """Put folder ``new`` at ``target``; afterwards ``new`` holds the old folder, if any."""
    if not exists:
        os.rename(new, target)
    elif not _exchange(new, target):
        old = new_sibling(target, "old")
        os.rmdir(old)
        os.rename(target, old)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(old, target)
            raise
        os.rename(old, new)
    sync_folder(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the system or file system cannot; raises OSError on
    any other failure.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}:
        return False
    raise OSError(err, os.strerror(err), str(b))
