"""Updates between adoptions: apply a change file to a registry, rank against a snapshot.

A change file is a household table (the registry's columns) with one more
column, ``action``:

``add``
    a new household; its id must not be in the registry;
``change``
    a whole new row for a household of the registry (every column, not only
    the changed ones); its id must be in the registry;
``remove``
    a household leaves; its id must be in the registry (other cells are ignored).

Ids are matched as text (``12`` and ``"12"`` are the same id) and new rows
take the registry's id type (an added id must be a whole number if the
registry's are). An id may appear once in a change file. ``add`` and
``change`` rows are validated by the encoder, with the same rules and
errors as :func:`pmt.rank`. With ``on_invalid="raise"`` (default) the first
broken rule raises a typed error
and nothing is applied; with ``"reject"`` the rows that break a rule are set
aside in :attr:`Update.rejects` (``row`` is the change file's row) and the
others are applied.

The updated registry keeps the registry's row order: a changed household's
row is replaced in place, a removed one is dropped, new ones are appended in
the change file's order. :func:`update` then ranks the updated registry against
the snapshot (``pmt.rank(..., cutoffs=snapshot)``): a household that did not
change keeps its adopted desil, and a new or changed one gets the desil the
adopted cutoffs give its welfare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..encode import empty_rejects, encode
from ..errors import DuplicateIdError, EmptyInputError, MissingColumnError, format_examples
from ..options import check_id_col
from ..rank import _weights, rank
from ..results import RankResult, html_repr
from ..weights import WeightSet
from .errors import ChangeFileError, UnknownIdError
from .snapshot import Snapshot

__all__ = ["ACTIONS", "Update", "apply_changes", "update"]

#: The values of a change file's ``action`` column.
ACTIONS = ("add", "change", "remove")


@dataclass(frozen=True, eq=False)
class Update:
    """A change file applied to a registry (and, from :func:`update`, its ranking).

    Attributes
    ----------
    registry : pandas.DataFrame
        The updated household table.
    added, changed, removed : int
        Change-file rows applied, by action.
    rejects : pandas.DataFrame
        Change-file rows set aside (``on_invalid="reject"``): ``row`` (0-based
        position in the change file), the id, ``column``, ``rule``, ``value``.
    result : RankResult or None
        The updated registry ranked against the snapshot (:func:`update`).
    """

    registry: pd.DataFrame
    added: int
    changed: int
    removed: int
    rejects: pd.DataFrame
    result: RankResult | None = None

    def summary(self) -> pd.DataFrame:
        """Change-file rows by action (``added``, ``changed``, ``removed``, ``rejected``)."""
        counts = [self.added, self.changed, self.removed, len(self.rejects)]
        return pd.DataFrame(
            {"rows": counts},
            index=pd.Index(["added", "changed", "removed", "rejected"], name="action"),
        )

    def to_frame(self) -> pd.DataFrame:
        """The updated registry ranked (``result.to_frame()``), or the updated table unranked."""
        return self.registry.copy() if self.result is None else self.result.to_frame()

    def _repr_html_(self) -> str:
        return html_repr(self)

    def __repr__(self) -> str:
        return (
            f"<Update {len(self.registry):,} households: {self.added:,} added, "
            f"{self.changed:,} changed, {self.removed:,} removed, "
            f"{len(self.rejects):,} change rows rejected>"
        )


def _text_ids(values: pd.Series) -> pd.Series:
    """Ids as Python text (None where missing), an object Series: hashed lookups stay fast."""
    text = values.astype("string").str.strip()
    return pd.Series(
        text.to_numpy(dtype=object, na_value=None),  # None where missing
        index=values.index,
        dtype=object,
    )


def _repeated(ids: pd.Series) -> np.ndarray:
    """Which of :func:`_text_ids`' ids occur more than once (every copy; missing ids never)."""
    return (ids.duplicated(keep=False) & ids.notna()).to_numpy()


def apply_changes(
    registry: pd.DataFrame,
    changes: pd.DataFrame,
    weights: WeightSet | str,
    *,
    on_invalid: Literal["raise", "reject"] = "raise",
    id_col: str = "hh_id",
    action_col: str = "action",
    region_scheme: str | None = None,
) -> Update:
    """Apply a change file to a household table (see the module for the rules).

    Parameters
    ----------
    registry : pandas.DataFrame
        The registry's household table (what was ranked and adopted).
    changes : pandas.DataFrame
        The change file: the registry's columns plus ``action_col``.
    weights : WeightSet or str
        The weight set whose spec validates the new rows.
    on_invalid : {"raise", "reject"}
    id_col, action_col : str
    region_scheme : str, optional
        The scheme of the change file's district codes (refused unless the weight set's).

    Raises
    ------
    pmt.errors.MissingColumnError
        No id or action column.
    pmt.operations.ChangeFileError
        An action other than add, change, remove.
    pmt.errors.DuplicateIdError
        An id twice in the registry or in the change file, or an added id already
        in the registry.
    pmt.operations.UnknownIdError
        A changed or removed id not in the registry.
    pmt.errors.InputError
        An added or changed row that breaks a rule of :func:`pmt.rank`.
    """
    for frame, what in ((registry, "registry"), (changes, "changes")):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}.")
    check_id_col(id_col)
    ws = _weights(weights)
    for col, frame, what in (
        (id_col, registry, "registry"),
        (id_col, changes, "change file"),
        (action_col, changes, "change file"),
    ):
        if col not in frame.columns:
            raise MissingColumnError(
                f"{what}: no column {col!r} (rule: a change file names each household by its id "
                f"and says what to do in {action_col!r}: add, change or remove). Fix: add the "
                "column.",
                column=col,
            )
    reg_ids = _text_ids(registry[id_col])
    twice = np.flatnonzero(_repeated(reg_ids))
    if twice.size:
        raise DuplicateIdError(
            f"registry, column {id_col!r}: an id may appear once in the registry (duplicate_id); "
            f"{twice.size} rows share an id ({format_examples(twice)}; ids are not shown). "
            "Fix: remove or correct the duplicate rows of the registry before applying a "
            "change file.",
            column=id_col,
            rows=twice[:5],
        )
    ids = _text_ids(changes[id_col])
    action = changes[action_col].astype("string").str.strip().str.lower()
    n = len(changes)
    problems: list[tuple[type[Exception], str, str, np.ndarray, str]] = []

    def flag(error: type[Exception], rule: str, column: str, mask: Any, what: str) -> None:
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if rows.size:
            problems.append((error, rule, column, rows, what))

    flag(
        ChangeFileError,
        "invalid_change",
        action_col,
        ~action.isin(ACTIONS).fillna(False),
        f"{action_col} must be one of {list(ACTIONS)}",
    )
    flag(
        ChangeFileError,
        "missing_or_infinite",
        id_col,
        ids.isna() | (ids == ""),
        "household ids must not be missing or blank",
    )
    flag(
        DuplicateIdError,
        "duplicate_id",
        id_col,
        _repeated(ids),
        "an id may appear once in a change file",
    )
    whole_ids = pd.api.types.is_integer_dtype(registry[id_col].dtype)
    if whole_ids:  # new rows take the registry's id type: whole numbers here
        flag(
            ChangeFileError,
            "wrong_dtype",
            id_col,
            (action == "add").fillna(False).to_numpy()
            & ids.notna().to_numpy()
            & ~ids.str.fullmatch(r"[+-]?[0-9]+").eq(True).to_numpy(),
            "the registry's ids are whole numbers, so an added household's id must be one",
        )
    known = ids.isin(reg_ids.dropna().to_numpy()).to_numpy()
    flag(
        DuplicateIdError,
        "duplicate_id",
        id_col,
        (action == "add").fillna(False).to_numpy() & known,
        "an added household's id must not be in the registry already (use action 'change')",
    )
    flag(
        UnknownIdError,
        "unknown_id",
        id_col,
        action.isin(("change", "remove")).fillna(False).to_numpy()
        & ~known
        & ids.notna().to_numpy(),
        "a changed or removed household's id must be in the registry (use action 'add' for a "
        "new one)",
    )
    if problems and on_invalid == "raise":
        error, _, column, rows, what = problems[0]
        raise error(  # type: ignore[call-arg]
            f"change file, column {column!r}: {what}; {rows.size} rows break it "
            f"({format_examples(rows + 0)}; ids are not shown). Fix: correct the change file, "
            "or pass on_invalid='reject' to set those rows aside.",
            column=column,
            rows=rows[:5],
        )
    bad = np.zeros(n, dtype=bool)
    records = []
    for _, rule, column, rows, _ in problems:
        for r in rows.tolist():
            if not bad[r]:
                records.append((r, column, rule, None))
            bad[r] = True
    rows_in = (action.isin(("add", "change")).fillna(False).to_numpy()) & ~bad
    new = changes.iloc[np.flatnonzero(rows_in)].drop(columns=[action_col])
    if len(new):
        # rows picked from the change file: errors and rejects name the change file's rows
        enc = encode(
            new,
            ws,
            on_invalid=on_invalid,
            id_col=id_col,
            region_scheme=region_scheme,
            row_offset=np.flatnonzero(rows_in),
            check_ids=False,
        )
        for rec in enc.rejects.itertuples(index=False):
            r = int(rec.row)
            records.append((r, str(rec.column), str(rec.rule), rec.value))
            bad[r] = True
    rejects = _rejects(records, changes, id_col)
    ok = ~bad
    act = action.to_numpy()
    take_add = ok & (act == "add")
    take_change = ok & (act == "change")
    take_remove = ok & (act == "remove")
    missing = [c for c in registry.columns if c not in changes.columns]
    if missing and (take_add | take_change).any():
        raise MissingColumnError(
            f"change file: no columns {missing[:5]} of the registry (rule: an added or changed "
            "household's row is given whole). Fix: give every column of the registry.",
            column=str(missing[0]),
        )
    # one key per output row: a registry row keeps its position, a changed row takes the
    # position of the row it replaces, a new row comes after them in the change file's order
    position = pd.Series(np.arange(len(registry)), index=reg_ids.to_numpy())
    gone = reg_ids.isin(ids[take_remove | take_change].to_numpy()).to_numpy()
    kept = registry.loc[~gone]
    changed_rows = changes.iloc[np.flatnonzero(take_change)][list(registry.columns)]
    added_rows = changes.iloc[np.flatnonzero(take_add)][list(registry.columns)]
    # the registry's id type (ids were matched as text): whole numbers or text
    if whole_ids:
        changed_rows[id_col] = registry[id_col].to_numpy()[
            position.loc[ids[take_change].to_numpy()].to_numpy()
        ]
        added_rows[id_col] = ids[take_add].astype(np.int64).to_numpy()
    else:
        changed_rows[id_col] = ids[take_change].to_numpy(dtype=object)
        added_rows[id_col] = ids[take_add].to_numpy(dtype=object)
    keys = np.concatenate(
        [
            np.flatnonzero(~gone),
            position.loc[ids[take_change].to_numpy()].to_numpy(),
            len(registry) + np.arange(int(take_add.sum())),
        ]
    )
    parts = [f for f in (kept, changed_rows, added_rows) if len(f)]
    out = pd.concat(parts, ignore_index=True) if parts else registry.iloc[:0].copy()
    out = out.iloc[np.argsort(keys, kind="stable")].reset_index(drop=True)
    return Update(
        registry=out,
        added=int(take_add.sum()),
        changed=int(take_change.sum()),
        removed=int(take_remove.sum()),
        rejects=rejects,
    )


def _rejects(
    records: list[tuple[int, str, str, Any]], changes: pd.DataFrame, id_col: str
) -> pd.DataFrame:
    if not records:
        return empty_rejects(id_col)
    records.sort(key=lambda r: r[0])
    rows = [r[0] for r in records]
    frame = pd.DataFrame({"row": np.array(rows, dtype=np.int64)})
    frame[id_col] = changes[id_col].iloc[rows].to_numpy()
    frame["column"] = [r[1] for r in records]
    frame["rule"] = [r[2] for r in records]
    frame["value"] = [r[3] for r in records]
    return frame


def update(
    registry: pd.DataFrame,
    changes: pd.DataFrame,
    weights: WeightSet | str,
    snapshot: Snapshot,
    *,
    on_invalid: Literal["raise", "reject"] = "raise",
    id_col: str = "hh_id",
    action_col: str = "action",
    region_scheme: str | None = None,
    allow_other_weights: bool = False,
) -> Update:
    """Apply a change file and rank the updated registry against an adopted snapshot.

    The ranking is ``pmt.rank(updated, weights, cutoffs=snapshot)``: every
    household's desil comes from the adopted cutoffs, so unchanged households
    keep their adopted desil. See :func:`apply_changes` for the change file.

    Raises
    ------
    pmt.operations.SnapshotMismatchError
        ``weights`` is not the weight set the snapshot was adopted with (unless
        ``allow_other_weights=True``).
    pmt.errors.EmptyInputError
        The updated registry has no households left to rank.
    """
    if not isinstance(snapshot, Snapshot):
        raise TypeError(
            f"snapshot must be a pmt.operations.Snapshot; got {type(snapshot).__name__}. "
            "Fix: pmt.load_snapshot(path)."
        )
    ws = _weights(weights)
    snapshot.check_weights(ws, allow_other_weights=allow_other_weights)
    applied = apply_changes(
        registry,
        changes,
        ws,
        on_invalid=on_invalid,
        id_col=id_col,
        action_col=action_col,
        region_scheme=region_scheme,
    )
    if not len(applied.registry):
        raise EmptyInputError(
            f"changes: the updated registry has no households ({applied.removed:,} removed, "
            f"{applied.added:,} added, {len(applied.rejects):,} change rows rejected) (rule: "
            "update ranks the updated registry, which needs at least one household). Fix: "
            "check the change file's remove rows, or use apply_changes to update without "
            "ranking."
        )
    result = rank(
        applied.registry,
        ws,
        cutoffs=snapshot,
        id_col=id_col,
        region_scheme=region_scheme,
        allow_other_weights=allow_other_weights,
    )
    return Update(
        registry=applied.registry,
        added=applied.added,
        changed=applied.changed,
        removed=applied.removed,
        rejects=applied.rejects,
        result=result,
    )
