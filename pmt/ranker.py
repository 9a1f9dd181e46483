"""Ranking again and again in a long-lived process: :class:`Ranker` and its :class:`Workspace`.

A service that ranks a registry many times pays, on every :func:`pmt.rank`
call, for memory the operating system must back afresh: the sort keys, the
permutation, the result records and the outputs (about 70 bytes per
household). A :class:`Ranker` keeps those buffers in a :class:`Workspace`
between calls and grows them only when a larger table comes; its results are
bit for bit those of :func:`pmt.rank` with the same options (it runs the same
code, lending the buffers).

Thread safety: a Ranker serves one call at a time. Use one Ranker per thread
(each has its own workspace); a call made while another is running on the same
Ranker raises :class:`pmt.errors.ArgumentError` instead of waiting, since it
would overwrite the results the first call is returning.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np

from . import _memory
from .desil import _check_registry_size
from .encode import Encoded, encode
from .errors import ArgumentError
from .options import RankOptions, mode_cutoffs, rank_options
from .rank import _cell_scopes, _weights, _welfare_and_bounds, rank_encoded
from .results import RankResult
from .selection import _desil_scopes
from .weights import WeightSet

__all__ = ["OUTPUTS", "Desil", "Ranker", "Workspace"]

#: the workspace buffers that a result holds (the others are work buffers)
OUTPUTS = frozenset(
    {
        "welfare",
        "model",
        "province",
        "eligible",
        "desil_national",
        "desil_group",
        "rank_national",
        "rank_group",
        "share_national",
        "share_group",
    }
)


class Workspace:
    """Named buffers kept between calls, grown only when a larger table comes.

    Buffers are new memory on 4 KB pages, except the sort's records
    (:data:`pmt._memory.RANDOM_ACCESS`), which keep huge pages.

    Parameters
    ----------
    capacity : int, optional
        Households to size every buffer for at its first use (so that tables
        up to this size never reallocate); default: the first table's size.
    keep_outputs : bool, default True
        Lend the outputs too (see :data:`OUTPUTS`): a result's arrays are then
        this workspace's and the next call overwrites them. With False, each
        call gets new output arrays and only the work buffers are reused.
    """

    def __init__(self, capacity: int | None = None, *, keep_outputs: bool = True) -> None:
        if capacity is not None and (
            isinstance(capacity, bool)
            or not isinstance(capacity, (int, np.integer))
            or capacity < 0
        ):
            raise ArgumentError(
                f"capacity must be a whole number of households >= 0 or None; got {capacity!r}. "
                "Fix: pass the registry's size, or leave it out.",
                argument="capacity",
            )
        self.capacity = 0 if capacity is None else int(capacity)
        self.keep_outputs = bool(keep_outputs)
        self._buffers: dict[str, np.ndarray] = {}

    def take(self, name: str, size: int, dtype: Any) -> np.ndarray:
        """A (size,) array of ``dtype``: buffer ``name``, grown (uninitialised) if too small."""
        dtype = np.dtype(dtype)
        if name in OUTPUTS and not self.keep_outputs:
            return _memory.empty(size, dtype)
        need = size * dtype.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.nbytes < need:
            buf = _memory.buffer(name, max(need, self.capacity * dtype.itemsize), np.uint8)
            self._buffers[name] = buf
        return buf[:need].view(dtype)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(b.nbytes for b in self._buffers.values())

    def clear(self) -> None:
        """Give every buffer back (the next call allocates afresh)."""
        self._buffers.clear()


class Desil(NamedTuple):
    """What :meth:`Ranker.desil` gives: welfare and desil, without ranks and shares below.

    Arrays of shape (n_households,) in the order of the valid input rows;
    ``registry_cutoffs`` as :attr:`pmt.RankResult.registry_cutoffs`;
    ``selected`` is False when the weights were not whole numbers and the full
    path computed the desil.
    """

    welfare: np.ndarray
    province: np.ndarray
    desil_national: np.ndarray
    desil_provincial: np.ndarray
    eligible: np.ndarray
    registry_cutoffs: dict[str, np.ndarray]
    rows: np.ndarray
    selected: bool


class Ranker:
    """Rank again and again with the same weight set and options, reusing memory.

    ``Ranker(weights, **options).rank(households)`` is bit for bit
    ``pmt.rank(households, weights, **options)``; from the second call on,
    the work buffers and outputs are those of the earlier calls (grown when a
    larger table comes), so no call pays for fresh memory. A result's arrays
    belong to the Ranker: the next call overwrites them (copy what you keep,
    or pass ``keep_outputs=False``).

    Parameters
    ----------
    weights : WeightSet or str
        A loaded weight set, a shipped name or a folder.
    capacity : int, optional
        Households to size the buffers for at the first call.
    keep_outputs : bool, default True
        Reuse the output arrays too (see :class:`Workspace`).
    cutoffs, n, max_desil, line, weight, weighting, on_invalid, id_col, region_scheme
        As for :func:`pmt.rank` (``cutoffs`` a mode or a mapping of cutoffs).

    Notes
    -----
    One call at a time per Ranker: use one per thread. A concurrent call on the
    same Ranker raises :class:`pmt.errors.ArgumentError`.
    """

    def __init__(
        self,
        weights: WeightSet | str,
        *,
        capacity: int | None = None,
        keep_outputs: bool = True,
        cutoffs: Literal["registry", "reference"] | Mapping[str, Any] = "registry",
        n: int = 10,
        max_desil: int | None = None,
        line: float | None = None,
        weight: str | None = None,
        weighting: Literal["person", "household"] = "person",
        on_invalid: Literal["raise", "reject"] = "raise",
        id_col: str | None = "hh_id",
        region_scheme: str | None = None,
    ) -> None:
        self.options: RankOptions = rank_options(
            cutoffs=cutoffs,
            n=n,
            max_desil=max_desil,
            line=line,
            weight=weight,
            weighting=weighting,
            id_col=id_col,
        )
        self.weights = _weights(weights)
        self.workspace = Workspace(capacity, keep_outputs=keep_outputs)
        self._encode: dict[str, Any] = {
            "weight": weight,
            "weighting": weighting,
            "on_invalid": on_invalid,
            "id_col": id_col,
            "region_scheme": region_scheme,
        }
        self._busy = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"<pmt.Ranker {self.weights.id} cutoffs={self.options.cutoffs} n={self.options.n}: "
            f"{self.workspace.nbytes / 1e6:.1f} MB of buffers>"
        )

    def _enter(self) -> None:
        if not self._busy.acquire(blocking=False):
            raise ArgumentError(
                "this Ranker is already ranking in another thread (rule: a Ranker serves one "
                "call at a time, and a second call would overwrite the first one's results). "
                "Fix: use one Ranker per thread.",
                argument="Ranker",
            )

    def encode(self, households: Any) -> Encoded:
        """Validate and encode a table as :func:`pmt.rank` does (with this Ranker's options)."""
        return encode(households, self.weights, **self._encode)

    def rank(self, households: Any) -> RankResult:
        """Score and rank a table: :func:`pmt.rank` with this Ranker's weights and options."""
        return self.rank_encoded(self.encode(households))

    def rank_encoded(self, enc: Encoded) -> RankResult:
        """Score and rank encoded households (:func:`pmt.rank.rank_encoded`), reusing memory."""
        self._enter()
        try:
            return rank_encoded(enc, self.weights, self.options, workspace=self.workspace)
        finally:
            self._busy.release()

    def desil(self, households: Any) -> Desil:
        """Welfare and desil of a table, without ranks and shares below (faster)."""
        return self.desil_encoded(self.encode(households))

    def desil_encoded(self, enc: Encoded) -> Desil:
        """Welfare and national and provincial desil of encoded households, without ranks.

        The desil, eligibility and registry cutoffs are bit for bit those of
        :meth:`rank_encoded`; the registry cutoffs are found by weighted
        selection (:mod:`pmt.selection`) instead of a full sort.
        """
        self._enter()
        try:
            return self._desil(enc)
        finally:
            self._busy.release()

    def _desil(self, enc: Encoded) -> Desil:
        options, ws, space = self.options, self.weights, self.workspace
        # no model rows: the desil do not need them (a 4-byte gather per household saved)
        welfare, bounds = _welfare_and_bounds(enc, ws, space)
        _, province, (counts, provinces, group) = _cell_scopes(enc, space, model=False)
        prov_cut, nat_cut = mode_cutoffs(options, ws, provinces)
        if options.cutoffs == "registry" and welfare.size:
            _check_registry_size(welfare.size, counts, options.n)
        r = _desil_scopes(
            welfare,
            enc.person_weight,
            group,
            int(provinces.shape[0]),
            options.n,
            ref_national=nat_cut,
            ref_group=prov_cut,
            workspace=space,
            bounds=bounds,
        )
        eligible = space.take("eligible", welfare.size, np.bool_)
        if options.line is None:
            assert options.max_desil is not None  # rank_options sets one rule
            np.less_equal(r.desil_national, options.max_desil, out=eligible)
        else:
            np.less_equal(welfare, options.line, out=eligible)
        cut = {"national": r.cut_national[0]} if welfare.size else {}
        cut.update({f"{p:02d}": r.cut_group[g] for g, p in enumerate(provinces.tolist())})
        return Desil(
            welfare,
            province,
            r.desil_national,
            r.desil_group,
            eligible,
            cut,
            enc.rows,
            r.selected,
        )
