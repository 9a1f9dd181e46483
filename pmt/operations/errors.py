"""The exceptions of registry operations, which live in :mod:`pmt.errors` with all others.

Kept so that ``from pmt.operations.errors import SnapshotError`` keeps working.
"""

from __future__ import annotations

from ..errors import ChangeFileError, SnapshotError, SnapshotMismatchError, UnknownIdError

__all__ = ["ChangeFileError", "SnapshotError", "SnapshotMismatchError", "UnknownIdError"]
