"""Rejected rows: the rules in the order they are checked, and the rejects table.

The encoder (:mod:`pmt.encode`) records each broken rule in a
:class:`_Problems`; with ``on_invalid="raise"`` the first one raises its typed
error (:data:`_ERROR`) naming the column, the rule, a few rows and the fix
(:data:`_FIX`); with ``on_invalid="reject"`` every row that breaks a rule
becomes a row of the rejects table (:func:`empty_rejects` gives its columns).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import errors as E

if TYPE_CHECKING:
    from ._columns import _Table

__all__ = ["CHECK_ORDER", "OnInvalid", "empty_rejects"]

OnInvalid = Literal["raise", "reject"]


#: The order of rules within a column; a rejected row carries the first rule it breaks.
CHECK_ORDER = (
    "wrong_dtype",
    "missing_or_infinite",
    "out_of_range",
    "invalid_code",
    "invalid_hh_size",
    "unknown_region",
    "duplicate_id",
)


_FIX = {
    "wrong_dtype": "convert the column to numbers (e.g. pd.to_numeric) and fix the entries "
    "that are not numbers",
    "missing_or_infinite": "fill or remove the missing values, or pass on_invalid='reject' to "
    "set those rows aside",
    "out_of_range": "correct the values, or pass on_invalid='reject' to set those rows aside",
    "invalid_code": "recode to the allowed codes (map old form codes explicitly), or pass "
    "on_invalid='reject'",
    "invalid_hh_size": "hh_size counts the members (a whole number from 1 to the spec's "
    "max_household_size); correct it or pass on_invalid='reject'",
    "unknown_region": "use codes of the weight set's region scheme, add a model for the region "
    "(or a fallback such as 'national'), or pass on_invalid='reject'",
    "duplicate_id": "make the household ids unique, or pass on_invalid='reject' to set all "
    "rows sharing an id aside",
}


_ERROR = {
    "wrong_dtype": E.ColumnTypeError,
    "missing_or_infinite": E.MissingValueError,
    "out_of_range": E.InvalidValueError,
    "invalid_code": E.InvalidCodeError,
    "invalid_hh_size": E.HouseholdSizeError,
    "unknown_region": E.UnknownRegionError,
    "duplicate_id": E.DuplicateIdError,
}


def input_rows(rows: np.ndarray, offset: int | np.ndarray) -> np.ndarray:
    """The caller's positions of ``rows`` (positions in the table being encoded).

    ``offset`` is the position of the table's first row in a larger input (a
    chunk of a file), or an array of each row's position (the added and changed
    rows of a change file).
    """
    if np.ndim(offset):
        return np.asarray(offset, dtype=np.int64)[rows]
    return rows + offset


class _Problems:
    """Row-level rule breaks, first reason per row; raises at once in raise mode."""

    def __init__(
        self,
        n: int,
        mode: OnInvalid,
        table: _Table,
        offset: int | np.ndarray = 0,
        *,
        part: bool = False,
    ) -> None:
        self.mode = mode
        self.offset = offset
        # a part of a larger input (a chunk, or rows picked from it): errors name its rows
        self.part = part or bool(np.ndim(offset)) or offset > 0
        self.bad = np.zeros(n, dtype=bool)
        self.records: list[tuple[np.ndarray, str, str, np.ndarray | None]] = []
        self.table = table

    def add(
        self,
        rule: str,
        column: str,
        mask: np.ndarray | None,
        values: Any = None,
        what: str = "",
        *,
        echo: bool = True,
    ) -> None:
        if mask is None or not mask.any():
            return
        rows = np.flatnonzero(mask)
        if self.mode == "raise":
            shown = values[rows[:5]] if (echo and values is not None) else None
            at = input_rows(rows[:5], self.offset)
            examples = E.format_examples(at, shown)
            if np.ndim(self.offset):
                scope = f"the {mask.size:,} rows checked"
            elif self.part:
                scope = f"the {mask.size:,} rows from row {self.offset:,}"
            else:
                scope = f"{mask.size:,} rows"
            raise _ERROR[rule](
                f"column {column!r}: {what} ({rule}); {rows.size:,} of {scope} break "
                f"it, e.g. {examples}. Fix: {_FIX[rule]}.",
                column=column,
                rows=at,
            )
        new = rows[~self.bad[rows]]
        if new.size:
            self.bad[new] = True
            vals = None
            if echo and values is not None:
                vals = np.asarray(values)[new]
            self.records.append((new, column, rule, vals))

    def frame(self, id_col: str | None, ids: Any) -> pd.DataFrame:
        if not self.records:
            return empty_rejects(id_col)
        rows = np.concatenate([r[0] for r in self.records])
        column = np.concatenate([np.full(r[0].size, r[1], dtype=object) for r in self.records])
        rule = np.concatenate([np.full(r[0].size, r[2], dtype=object) for r in self.records])
        value = np.concatenate(
            [
                np.array([str(v.item() if hasattr(v, "item") else v) for v in r[3]], dtype=object)
                if r[3] is not None
                else np.full(r[0].size, None, dtype=object)
                for r in self.records
            ]
        )
        order = np.argsort(rows, kind="stable")
        frame = pd.DataFrame({"row": input_rows(rows[order], self.offset)})
        if id_col is not None:
            frame[id_col] = (
                np.asarray(ids.take(rows[order]), dtype=object) if ids is not None else None
            )
        frame["column"] = column[order]
        frame["rule"] = rule[order]
        frame["value"] = value[order]
        return frame


def empty_rejects(id_col: str | None) -> pd.DataFrame:
    """A rejects table with no rows: the same columns and dtypes as a non-empty one.

    Columns: ``row``, the id column, ``column``, ``rule``, ``value``. A new
    frame each call (a copy of one built once per id column: building it
    took 4 ms, once per chunk of a file).
    """
    template = _EMPTY.get(id_col)
    if template is None:
        template = pd.DataFrame({"row": pd.Series([], dtype="int64")})
        if id_col is not None:
            template[id_col] = pd.Series([], dtype=object)
        for name in ("column", "rule", "value"):
            template[name] = pd.Series([], dtype=object)
        if len(_EMPTY) < 64:  # a few id column names in any real process
            _EMPTY[id_col] = template
    return template.copy()


_EMPTY: dict[str | None, pd.DataFrame] = {}
