"""Numba kernels: scoring, ranking, desil and cutoffs over plain arrays.

Nothing here imports pandas, pydantic or any other part of pmt. Kernels
report (they return flags or counts); the Python layer raises.

Layout: :mod:`._jit` (numba options, explicit signatures compiled on first
use, the thread pool), :mod:`.score`, :mod:`.sort`, :mod:`.walk` (ranks,
weight below, totals, cutoffs), :mod:`.desil` (desil, rank and share in input
order; tallies), :mod:`.clean` (column checks for the encoder) and :mod:`.libm`
(the logs and powers of derived terms, as the C library computes them).

Determinism. A household's welfare is summed in one fixed order (intercept,
lookup terms in spec order, numeric terms in spec order, minus the log
poverty line), so identical households under one model tie bit for bit.
Cumulative person weights are summed in welfare order; within a run of equal
welfare the run's weights are summed in ascending order of weight, so the
sums — and hence desil, rank and share below — do not depend on row order or
on how the sort broke ties. Logs and powers are the C library's, never numpy's,
which depend on the processor (:mod:`.libm`). Work is cut into ranges by the
data alone, never by the number of threads. No fastmath anywhere: reordering a
sum could move a household across a cutoff.
"""

from __future__ import annotations

from collections.abc import Callable

from . import libm
from ._jit import KERNELS, Kernel, on_compile, threads
from .clean import clean_codes, clean_numbers, factorize_small, sorted_overlap
from .desil import RECORD, desil_tally, finish_scopes, scatter_records
from .score import SCORE_BLOCK, gather_cells, lookup_by_variable, score
from .sort import SORT_CHUNKS, SORT_RECORD, n_buckets, sort_record, sort_welfare
from .walk import scope_passes, walk

__all__ = [
    "KERNELS",
    "RECORD",
    "SCORE_BLOCK",
    "SORT_CHUNKS",
    "SORT_RECORD",
    "Kernel",
    "clean_codes",
    "clean_numbers",
    "desil_tally",
    "factorize_small",
    "finish_scopes",
    "gather_cells",
    "libm",
    "lookup_by_variable",
    "n_buckets",
    "on_compile",
    "scatter_records",
    "scope_passes",
    "score",
    "sort_record",
    "sort_welfare",
    "sorted_overlap",
    "threads",
    "walk",
    "warmup",
]


def warmup(progress: Callable[[int, int, str], None] | None = None) -> list[str]:
    """Compile pmt's numba kernels into numba's on-disk cache, or load them from it.

    The first ranking in a fresh environment otherwise compiles the kernels it
    needs, once. Run this where the environment is built (a container image, a
    virtual environment being set up: ``pmt warmup``), or when a service
    starts, so that no request pays for it. Later processes load the cache.

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress(done, total, "compiling")`` after each kernel.

    Returns
    -------
    list of str
        The kernels compiled or loaded, by name.
    """
    names = list(KERNELS)
    for done, name in enumerate(names, 1):
        KERNELS[name].compile()
        if progress is not None:
            progress(done, len(names), "compiling")
    return names
