"""The one progress protocol of pmt's long-running functions.

:func:`pmt.rank`, :func:`pmt.score`, :func:`pmt.io.rank_file`,
:func:`pmt.calibrate` and :func:`pmt.cross_validate` take ``progress=``, a
callable that is called as ``progress(done, total, stage)``:

``done`` : int
    Units of the current stage finished so far (households, or fits).
``total`` : int
    Units the stage has in all; ``done == total`` when it ends.
``stage`` : str
    What is being counted: ``"validating"``, ``"scoring"``, ``"ranking"``,
    ``"writing"`` (households) or ``"fitting"`` (calibration steps and
    cross-validation fits).

The callback runs in the calling thread, between steps of the work; an
exception it raises stops the work and propagates (no output file is left
behind). ``pmt``'s command line uses the same callbacks for its progress
display on stderr.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ProgressCallback", "check_progress", "report"]


class ProgressCallback(Protocol):
    """``progress(done, total, stage)``: how far a long-running call has got."""

    def __call__(self, done: int, total: int, stage: str, /) -> None:
        """Report ``done`` of ``total`` units of ``stage``."""


def check_progress(progress: object) -> ProgressCallback | None:
    """``progress`` itself if it is None or callable; else a :class:`TypeError` with the fix."""
    if progress is None or callable(progress):
        return progress  # type: ignore[return-value]
    raise TypeError(
        f"progress must be a function called as progress(done, total, stage); got "
        f"{type(progress).__name__}. Fix: pass a function, or progress=None."
    )


def report(progress: ProgressCallback | None, done: int, total: int, stage: str) -> None:
    """Call ``progress(done, total, stage)`` unless ``progress`` is None."""
    if progress is not None:
        progress(int(done), int(total), stage)
