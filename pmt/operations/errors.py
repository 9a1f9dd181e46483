"""The exceptions of registry operations (adoption, updates, quotas).

Each is a subclass of an error of :mod:`pmt.errors` (so ``except ValueError``
and ``except pmt.errors.InputError`` keep working) and follows the same
message grammar: what, the rule, a few row positions (never an id), the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ArgumentError, InputError

__all__ = ["ChangeFileError", "SnapshotError", "SnapshotMismatchError", "UnknownIdError"]


class SnapshotError(ValueError):
    """A snapshot folder is corrupt, edited since it was saved, or inconsistent.

    Attributes
    ----------
    problems : tuple of str
        Every problem found, each as ``file:line: message``.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class SnapshotMismatchError(ArgumentError):
    """A snapshot does not belong to the weight set, classes or registry it is used with."""


class ChangeFileError(InputError):
    """A change file breaks a rule of its own (its ``action`` column, a removal's row)."""

    rule = "invalid_change"


class UnknownIdError(InputError):
    """A change or removal names a household id that the registry does not hold."""

    rule = "unknown_id"
