"""The exceptions pmt raises.

Every error about a *value* is a :class:`ValueError` subclass, so that
``except ValueError`` keeps working; an error about a column's *type* is also a
:class:`TypeError`. Messages follow one grammar: what (column or file), the
rule, what was received (a few row positions and values — never a personal
identifier), and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ArgumentError",
    "CalibrationError",
    "CalibrationWarning",
    "ChangeFileError",
    "CollinearityError",
    "ColumnTypeError",
    "ConsumptionUnitWarning",
    "DuplicateColumnError",
    "DuplicateIdError",
    "EmptyInputError",
    "EvaluationError",
    "EvaluationWarning",
    "FoldError",
    "FolderError",
    "HouseholdSizeError",
    "InputError",
    "InvalidCodeError",
    "InvalidFileError",
    "InvalidValueError",
    "MissingColumnError",
    "MissingValueError",
    "NonFiniteWelfareError",
    "OutputPathError",
    "PopulationTooSmallError",
    "RegionSchemeError",
    "SmallPopulationWarning",
    "SmallSampleError",
    "SnapshotError",
    "SnapshotMismatchError",
    "UnknownIdError",
    "UnknownRegionError",
    "WeightSetError",
]


class InputError(ValueError):
    """A household table breaks a rule; ``column`` and ``rows`` say where.

    Attributes
    ----------
    column : str or None
        The offending column, if the rule concerns one column.
    rule : str
        A short machine-readable rule name (the ``reason`` in a rejects table).
    rows : tuple of int
        Up to a few offending row positions (0-based, in input order).
    """

    rule = "invalid"

    def __init__(
        self, message: str, *, column: str | None = None, rows: Iterable[int] = ()
    ) -> None:
        super().__init__(message)
        self.column = column
        self.rows = tuple(int(r) for r in rows)


class EmptyInputError(InputError):
    """The household table has no rows."""

    rule = "empty"


class InvalidFileError(InputError):
    """A household file is not a valid file of its type: truncated, corrupt or another format.

    Attributes
    ----------
    path : str
        The file, as given.
    """

    rule = "invalid_file"

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class MissingColumnError(InputError):
    """A column the weight set needs is absent."""

    rule = "missing_column"


class DuplicateColumnError(InputError):
    """A column name occurs more than once."""

    rule = "duplicate_column"


class ColumnTypeError(InputError, TypeError):
    """A column has a dtype the variable's kind cannot take (text in a number, …)."""

    rule = "wrong_dtype"


class MissingValueError(InputError):
    """A value is missing (NaN / None / NA) or infinite."""

    rule = "missing_or_infinite"


class InvalidValueError(InputError):
    """A value is outside its variable's allowed range, or not a whole number."""

    rule = "out_of_range"


class InvalidCodeError(InputError):
    """A categorical code is not in the variable's allowed set."""

    rule = "invalid_code"


class HouseholdSizeError(InputError):
    """``hh_size`` is below 1, not a whole number, or absurdly large."""

    rule = "invalid_hh_size"


class DuplicateIdError(InputError):
    """The household id column holds the same id more than once."""

    rule = "duplicate_id"


class UnknownRegionError(InputError):
    """A region code is malformed, or unknown to the weight set with no fallback."""

    rule = "unknown_region"


class ArgumentError(ValueError):
    """An argument (not a table column) breaks its rule; ``argument`` names it."""

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class EvaluationError(ArgumentError):
    """An argument of an evaluation function (:mod:`pmt.evaluation`) breaks its rule.

    ``argument`` names the offending argument (or column).
    """


class EvaluationWarning(UserWarning):
    """An evaluation metric is undefined (NaN) for this input; the message names it and why."""


class PopulationTooSmallError(ArgumentError):
    """Registry cutoffs asked of fewer households than there are classes."""


class SmallPopulationWarning(UserWarning):
    """Registry cutoffs from a population too small for them to mean much."""


class RegionSchemeError(ValueError):
    """The input's declared region-code scheme is not the weight set's."""


class NonFiniteWelfareError(ValueError):
    """A weight set's coefficients overflow to a non-finite welfare on some households."""


class OutputPathError(ValueError):
    """An output path would overwrite an input or another output, or cannot be written.

    Raised before any work starts. ``argument`` names the output (``"out"``,
    ``"--rejects"`` …) and ``path`` is the path as given.
    """

    def __init__(self, message: str, *, argument: str, path: str) -> None:
        super().__init__(message)
        self.argument = argument
        self.path = path


class FolderError(ValueError):
    """A folder of plain files (a weight set, a snapshot) is corrupt or inconsistent.

    Attributes
    ----------
    problems : tuple of str
        Every problem found, each as ``file:line: message``.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class WeightSetError(FolderError):
    """A weight set on disk is corrupt or inconsistent (``problems`` lists each)."""


class SnapshotError(FolderError):
    """A snapshot folder is corrupt, edited since it was saved, or inconsistent."""


class SnapshotMismatchError(ArgumentError):
    """A snapshot does not belong to the weight set, classes or registry it is used with."""


class ChangeFileError(InputError):
    """A change file breaks a rule of its own (its ``action`` column, a removal's row)."""

    rule = "invalid_change"


class UnknownIdError(InputError):
    """A change or removal names a household id that the registry does not hold."""

    rule = "unknown_id"


class CalibrationError(ValueError):
    """A survey cannot be calibrated as asked (see the message for the fix)."""


class CollinearityError(CalibrationError):
    """Constant or collinear terms: the survey cannot separate their effects.

    Attributes
    ----------
    terms : tuple of str
        The terms involved.
    """

    def __init__(self, message: str, terms: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.terms = tuple(terms)


class SmallSampleError(CalibrationError):
    """Too few households or PSUs for any model where one is required.

    Attributes
    ----------
    regions : tuple of str
        The region keys concerned.
    """

    def __init__(self, message: str, regions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.regions = tuple(regions)


class CalibrationWarning(UserWarning):
    """Something the caller should know about a calibration that still succeeded."""


class ConsumptionUnitWarning(CalibrationWarning):
    """Survey consumption implausible for rupiah per person per month (a unit mistake?)."""


class FoldError(CalibrationError):
    """An estimator failed on one fold of a cross-validation (``errors="raise"``).

    Attributes
    ----------
    estimator : str
        The label of the estimator that failed.
    fold : object
        The fold's label.
    error : BaseException
        The original error (also the ``__cause__``).
    """

    def __init__(self, message: str, *, estimator: str, fold: object, error: BaseException) -> None:
        super().__init__(message)
        self.estimator = estimator
        self.fold = fold
        self.error = error


def format_examples(
    rows: Iterable[int], values: Sequence[object] | None = None, *, limit: int = 5
) -> str:
    """Render offending row positions (and values) for an error message.

    >>> format_examples([3, 9], ["x", 2.5])
    "rows 3 ('x'), 9 (2.5)"
    """
    rows = list(rows)[:limit]
    if values is None:
        shown = ", ".join(str(int(r)) for r in rows)
    else:
        shown = ", ".join(f"{int(r)} ({_short(v)})" for r, v in zip(rows, values, strict=False))
    return ("row " if len(rows) == 1 else "rows ") + shown


def _short(value: object) -> str:
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 24 else text[:21] + "..."
