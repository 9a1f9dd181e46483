"""Logging in pmt: one logger per module, ``logging.getLogger("pmt.<module>")``.

pmt never prints and never configures logging: it only logs, and the
application decides what is shown (``logging.basicConfig(level="INFO")``, or
``pmt --verbose`` on the command line). What is logged:

- INFO, ``pmt.weights.store``: each weight set loaded (id, version, content hash).
- INFO, ``pmt.encode``: rows rejected, as counts by rule (never an id or a value).
- DEBUG: the time each step of a ranking or a calibration took.

A :class:`logging.NullHandler` on the ``pmt`` logger keeps Python's last-resort
handler from printing pmt's warnings when the application configures none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["get_logger", "log_rejects", "timed"]

logging.getLogger("pmt").addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """The logger of pmt module ``name`` (``__name__``, e.g. ``"pmt.rank"``)."""
    return logging.getLogger(name)


@contextmanager
def timed(logger: logging.Logger, what: str) -> Iterator[None]:
    """Log at DEBUG how long the block took: ``<what>: 0.123 s``."""
    if not logger.isEnabledFor(logging.DEBUG):
        yield
        return
    start = time.perf_counter()
    yield
    logger.debug("%s: %.3f s", what, time.perf_counter() - start)


def log_rejects(logger: logging.Logger, rejects: Any, n_input: int) -> None:
    """Log at INFO how many rows were rejected, by rule and column (never an id or a value).

    ``rejects`` is a rejects table (:func:`pmt.encode.empty_rejects` has its columns).
    """
    if not len(rejects) or not logger.isEnabledFor(logging.INFO):
        return
    counts = rejects.groupby(["rule", "column"], sort=True, dropna=False).size()
    logger.info(
        "rejected %d of %d rows: %s",
        len(rejects),
        n_input,
        ", ".join(f"{rule} in {column}: {int(n)}" for (rule, column), n in counts.items()),
    )
