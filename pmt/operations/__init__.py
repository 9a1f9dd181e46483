"""Registry operations: adopted rankings, updates between adoptions, transitions, quotas.

A registry is not ranked once. A ranking is *adopted* (:func:`adopt` makes a
:class:`Snapshot`: the cutoffs, the weight set, the counts, a date and a
label); between adoptions, new and changed households are placed against the
adopted cutoffs (``pmt.rank(..., cutoffs=snapshot)``, :func:`update`);
:func:`transitions` reports who moved and why; :func:`allocate` draws
beneficiaries under a quota or a budget; :func:`verification_list` lists the
households whose eligibility is least certain. ``docs/operations.md`` is the
guide. Every desil here comes from :mod:`pmt.rank` (the one scorer and the one
desil rule); nothing in this package scores or cuts on its own.
"""

from __future__ import annotations

from .adoption import adopt
from .allocate import Allocation, allocate, largest_remainder
from .errors import ChangeFileError, SnapshotError, SnapshotMismatchError, UnknownIdError
from .snapshot import SNAPSHOT_FORMAT, Snapshot, SnapshotManifest, load_snapshot
from .transitions import Transitions, transitions
from .uncertainty import CalibrationCheck, calibration_check, cv_calibration, verification_list
from .update import ACTIONS, Update, apply_changes, update

__all__ = [
    "ACTIONS",
    "SNAPSHOT_FORMAT",
    "Allocation",
    "CalibrationCheck",
    "ChangeFileError",
    "Snapshot",
    "SnapshotError",
    "SnapshotManifest",
    "SnapshotMismatchError",
    "Transitions",
    "UnknownIdError",
    "Update",
    "adopt",
    "allocate",
    "apply_changes",
    "calibration_check",
    "cv_calibration",
    "largest_remainder",
    "load_snapshot",
    "transitions",
    "update",
    "verification_list",
]
