"""Result objects: what ranking returns, labelled on the way out.

:class:`RankResult` holds one entry per ranked household, in input order, and
puts the labels back (:meth:`RankResult.to_frame`), summarises
(:meth:`RankResult.summary`) and records provenance. Nothing here ranks.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ._threads import kernels as K  # parallel kernels guarded for concurrent calls
from ._version import __version__
from .regions import LEVELS, key_level

__all__ = ["DesilResult", "RankResult", "html_repr"]


def html_repr(obj: Any) -> str:
    """The ``_repr_html_`` of every pmt result: its one-line repr, then its summary table."""
    import html

    return f"<p><code>{html.escape(repr(obj))}</code></p>" + obj.summary().to_html(max_rows=60)


class _Labelled(NamedTuple):
    """A label column as codes into its labels (``model_key``, ``model_level``)."""

    codes: np.ndarray
    labels: tuple[str, ...]


class DesilResult(NamedTuple):
    """Desil, rank and share below of :func:`assign_desil`, each of shape (n_households,)."""

    desil: np.ndarray
    rank: np.ndarray
    share_below: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per household, in input order: ``desil``, ``rank``, ``share_below``."""
        return pd.DataFrame(
            {"desil": self.desil, "rank": self.rank, "share_below": self.share_below}
        )

    def summary(self) -> pd.DataFrame:
        """Households per desil (every class from 1 to the largest present), indexed by desil."""
        top = int(self.desil.max()) if self.desil.size else 0
        counts = np.bincount(self.desil.astype(np.int64), minlength=top + 1)[1:]
        return pd.DataFrame({"households": counts}, index=pd.RangeIndex(1, top + 1, name="desil"))

    def __repr__(self) -> str:
        n = int(self.desil.shape[0])
        top = int(self.desil.max()) if n else 0
        return f"<DesilResult {n:,} households, desil 1..{top}>"

    def _repr_html_(self) -> str:
        return html_repr(self)


def summary_table(tally: tuple[np.ndarray, ...], n_classes: int) -> pd.DataFrame:
    """:meth:`RankResult.summary` from a :func:`pmt._kernels.desil_tally` (or a sum of them).

    The one layout of the summary, for the in-memory result and for results
    tallied partition by partition (:mod:`pmt.dask`).
    """
    n = n_classes
    nat_hh, nat_people, prv_hh, prv_people = tally[:4]
    any_rows = bool(nat_hh.sum())
    labels: list[str] = ["national"] if any_rows else []
    hh, people = ([nat_hh], [nat_people]) if any_rows else ([], [])
    for p in np.flatnonzero(prv_hh.sum(axis=1)).tolist():
        labels.append(f"{p:02d}")
        hh.append(prv_hh[p])
        people.append(prv_people[p])
    index = pd.MultiIndex.from_product([labels, range(1, n + 1)], names=["scope", "desil"])
    out = pd.DataFrame(
        {
            "households": np.concatenate(hh).astype(np.int64) if hh else np.zeros(0, np.int64),
            "people": np.concatenate(people) if people else np.zeros(0),
        },
        index=index,
    )
    out["share_people"] = out["people"] / out.groupby(level="scope")["people"].transform("sum")
    return out


@dataclass(frozen=True, eq=False)
class RankResult:
    """Welfare, desil, rank and share below of a ranked registry.

    Arrays have one entry per ranked household, in input order; rejected
    rows are in :attr:`rejects`. Use :meth:`to_frame` for a labelled table.
    """

    welfare: np.ndarray
    model: np.ndarray
    model_keys: tuple[str, ...]
    province: np.ndarray
    desil_national: np.ndarray
    desil_provincial: np.ndarray
    rank_national: np.ndarray
    rank_provincial: np.ndarray
    share_below_national: np.ndarray
    share_below_provincial: np.ndarray
    eligible: np.ndarray
    person_weight: np.ndarray
    ids: np.ndarray | None
    index: pd.Index
    rows: np.ndarray
    rejects: pd.DataFrame
    n_input: int
    id_col: str | None
    weights_id: str
    weights_hash: str
    weights_synthetic: bool
    cutoff_mode: str
    n_classes: int
    eligibility: str
    welfare_kind: str
    weighting: str
    registry_cutoffs: dict[str, np.ndarray]
    #: The eligibility rule as data: ``desil_national <= max_desil``, or
    #: ``welfare <= line`` when ``line`` is set (then ``max_desil`` is None).
    max_desil: int | None = 4
    line: float | None = None
    #: With ``rank(..., uncertainty=True)``: each household's probability of being
    #: eligible (n,), and of each desil (n, n_classes), under its model's residual
    #: variance (:mod:`pmt.operations.uncertainty`); None otherwise.
    p_eligible: np.ndarray | None = None
    p_desil: np.ndarray | None = None
    #: Ranked against an adopted ranking (``rank(..., cutoffs=snapshot)``): its
    #: ``label``, ``date`` and ``content_hash``; None otherwise.
    snapshot: Mapping[str, str] | None = None

    @property
    def n_households(self) -> int:
        """Households ranked."""
        return int(self.welfare.shape[0])

    @property
    def n(self) -> int:
        """Households ranked (deprecated: use :attr:`n_households`)."""
        warnings.warn(
            "RankResult.n is deprecated and will be removed in pmt 0.3 (in pmt, n is "
            "a number of classes); use RankResult.n_households",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.n_households

    @property
    def n_rejected(self) -> int:
        """Input rows set aside (``on_invalid="reject"``)."""
        return len(self.rejects)

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """What produced this result: pmt version, weight set id and hash, cutoff mode, rules."""
        return {
            "pmt_version": __version__,
            "weights_id": self.weights_id,
            "weights_hash": self.weights_hash,
            "weights_synthetic": self.weights_synthetic,
            "cutoff_mode": self.cutoff_mode,
            "n_classes": self.n_classes,
            "eligibility": self.eligibility,
            "welfare": self.welfare_kind,
            "weighting": self.weighting,
            "households_input": self.n_input,
            "households_ranked": self.n_households,
            "households_rejected": self.n_rejected,
            **({"snapshot": dict(self.snapshot)} if self.snapshot is not None else {}),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per ranked household, in input order, indexed like the input.

        Columns: the id column, ``welfare``, ``model_key``, ``model_level``,
        ``province_code``, ``desil_national``, ``desil_provincial``,
        ``rank_national``, ``rank_provincial``, ``share_below_national``,
        ``share_below_provincial``, ``eligible``, ``person_weight`` (the weight
        each household carries in the desil shares); with ``uncertainty=True``
        also ``p_eligible`` and ``p_desil_1`` … ``p_desil_n``. ``attrs`` holds
        :attr:`provenance`.
        """
        frame = self.slice_frame(slice(None))
        if self.id_col is not None:
            frame.insert(0, self.id_col, self.ids)
        frame.index = self.index
        frame.attrs.update(self.provenance)
        return frame

    def slice_frame(self, part: slice) -> pd.DataFrame:
        """The :meth:`to_frame` columns after the id, for households ``part`` (a slice)."""
        return pd.DataFrame(
            {
                name: (
                    pd.Categorical.from_codes(col.codes, categories=list(col.labels))
                    if isinstance(col, _Labelled)
                    else col
                )
                for name, col in self._columns(part).items()
            }
        )

    def _columns(self, part: slice = slice(None)) -> dict[str, Any]:
        """The :meth:`to_frame` columns after the id, as arrays, for households ``part``.

        The one list of the result's columns, which :meth:`to_frame` and
        :meth:`to_arrow` both build from: each is an array (a view of the
        result's, not a copy), except ``model_key`` and ``model_level``, which
        are :class:`_Labelled` codes.
        """
        model = self.model[part]
        cols: dict[str, Any] = {
            "welfare": self.welfare[part],
            "model_key": _Labelled(model, tuple(self.model_keys)),
            "model_level": _Labelled(self._level_of[model], LEVELS),
            "province_code": self.province[part],
            "desil_national": self.desil_national[part],
            "desil_provincial": self.desil_provincial[part],
            "rank_national": self.rank_national[part],
            "rank_provincial": self.rank_provincial[part],
            "share_below_national": self.share_below_national[part],
            "share_below_provincial": self.share_below_provincial[part],
            "eligible": self.eligible[part],
            "person_weight": self.person_weight[part],
        }
        if self.p_eligible is not None and self.p_desil is not None:
            cols["p_eligible"] = self.p_eligible[part]
            for d in range(self.p_desil.shape[1]):
                cols[f"p_desil_{d + 1}"] = self.p_desil[part, d]
        return cols

    @cached_property
    def _level_of(self) -> np.ndarray:
        """Each model row's index in ``LEVELS`` (made once: a file is written chunk by chunk)."""
        return np.array([LEVELS.index(key_level(k)) for k in self.model_keys], dtype=np.int8)

    @cached_property
    def _tally(self) -> tuple[np.ndarray, ...]:
        """:func:`pmt._kernels.desil_tally` of this result (one parallel pass)."""
        return tuple(
            K.desil_tally(
                self.desil_national,
                self.desil_provincial,
                self.province,
                self.person_weight,
                self.n_classes,
            )
        )

    def summary(self) -> pd.DataFrame:
        """Households and people per desil, nationally and per province.

        Returns a DataFrame indexed by (``scope``, ``desil``) — scope
        ``"national"`` or a 2-digit province code — with ``households``,
        ``people`` (sum of person weights) and ``share_people`` within the scope.
        """
        return summary_table(self._tally, self.n_classes)

    def __repr__(self) -> str:
        return (
            f"<RankResult {self.n_households:,} ranked, {self.n_rejected:,} rejected; "
            f"weights {self.weights_id} {self.weights_hash[:19]}; cutoffs={self.cutoff_mode}"
            f", n={self.n_classes}, eligible: {self.eligibility} "
            f"({int(self.eligible.sum()):,} households)>"
        )

    def _repr_html_(self) -> str:
        return html_repr(self)

    def to_parquet(self, path: Any) -> None:
        """Write :meth:`to_frame` to Parquet, with :attr:`provenance` in the file metadata."""
        from .io import write_result

        write_result(self, path)

    def to_arrow(self) -> Any:
        """:meth:`to_frame`'s columns as a pyarrow Table (no index), provenance in its metadata.

        The schema metadata holds :attr:`provenance` as JSON under the key ``pmt``.
        """
        from ._frames import result_arrow

        return result_arrow(self)

    def to_polars(self) -> Any:
        """:meth:`to_frame`'s columns as a polars DataFrame; needs the ``polars`` extra.

        Install it with ``pip install "pmt[polars]"``; without it, ImportError says so.
        """
        from ._frames import result_polars

        return result_polars(self)
