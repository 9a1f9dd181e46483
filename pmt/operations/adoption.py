"""Adopting a ranking: :func:`adopt` turns a :class:`~pmt.RankResult` into a :class:`Snapshot`.

The snapshot records the cutoffs per scope that gave the ranking's desil
(checked against the ranking with :func:`pmt.assign_desil` before anything is
written), the weight set's id and hash, the eligibility rule, the counts per
desil, a date and a label; :mod:`pmt.operations.snapshot` holds the format.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import ArgumentError
from ..rank import assign_desil
from ..results import RankResult
from ..weights import WeightSet
from .snapshot import _LABEL, Snapshot, SnapshotManifest

__all__ = ["adopt"]


def adopt(
    result: RankResult,
    *,
    label: str,
    date: _dt.date | str,
    cutoffs: Mapping[str, Any] | WeightSet | None = None,
    description: str = "",
) -> Snapshot:
    """Adopt a ranking: its cutoffs per scope, weight set, rule and counts as a :class:`Snapshot`.

    Parameters
    ----------
    result : RankResult
        The ranking to adopt (of the whole registry).
    label : str
        A short name of the round, e.g. ``"2026-S1"`` (letters, digits, space, ``_.:/()-``).
    date : datetime.date or str
        The adoption date (``"2026-01-31"``).
    cutoffs : mapping or WeightSet, optional
        The cutoffs that gave ``result`` its desil. Not needed for a ranking
        with ``cutoffs="registry"`` (its :attr:`~pmt.RankResult.registry_cutoffs`
        are they); for ``"reference"`` pass the weight set, for ``"given"`` the mapping.
    description : str
        Free text.

    Returns
    -------
    Snapshot
        In memory; :meth:`Snapshot.save` writes it.

    Raises
    ------
    pmt.errors.ArgumentError
        A bad label or date, missing cutoffs, or cutoffs that do not give the
        result's national and provincial desil (checked by the one desil rule,
        :func:`pmt.assign_desil`).
    """
    if not isinstance(result, RankResult):
        raise TypeError(f"adopt: result must be a pmt.RankResult; got {type(result).__name__}.")
    _check_label(label)
    when = _date(date)
    if result.n_households == 0:
        raise ArgumentError(
            f"result: no household was ranked (all {result.n_input:,} rows rejected), so there "
            "are no cutoffs to adopt. Fix: adopt a ranking of the registry.",
            argument="result",
        )
    if isinstance(cutoffs, WeightSet):
        cutoffs = cutoffs.cutoffs
    if result.cutoff_mode == "registry" and cutoffs is None:
        table: Mapping[str, Any] = result.registry_cutoffs
    elif cutoffs is None:
        raise ArgumentError(
            f"cutoffs: the ranking was cut with cutoffs={result.cutoff_mode!r}, so adopt needs "
            "the cutoffs it used. Fix: pass cutoffs=weights (reference) or the mapping given "
            "to pmt.rank.",
            argument="cutoffs",
        )
    else:
        table = cutoffs
    n = result.n_classes
    provinces = sorted({f"{int(p):02d}" for p in np.unique(result.province).tolist()})
    scopes = ["national", *provinces] if result.n_households else []
    try:
        cut = {s: np.array(table[s], dtype=np.float64).reshape(n - 1) for s in scopes}
    except (KeyError, ValueError, TypeError) as exc:
        raise ArgumentError(
            f"cutoffs: need n-1 = {n - 1} numbers for 'national' and every province ranked "
            f"({len(provinces)}); {exc!s:.80}. Fix: pass the cutoffs the ranking used.",
            argument="cutoffs",
        ) from None
    if result.n_households:
        _check_reproduces(result, cut)
    counts = _counts(result, scopes)
    manifest = SnapshotManifest(
        label=label,
        date=when,
        description=description,
        weights_id=result.weights_id,
        weights_hash=result.weights_hash,
        weights_synthetic=result.weights_synthetic,
        n_classes=n,
        cutoff_mode=cast(Any, result.cutoff_mode),
        weighting=result.weighting,
        max_desil=result.max_desil,
        line=result.line,
        welfare_kind=result.welfare_kind,
        id_col=result.id_col,
        households=result.n_households,
        rejected=result.n_rejected,
        people=float(result.person_weight.sum()),
        pmt_version=__version__,
    )
    return Snapshot(manifest, cut, counts)


def _check_label(label: Any) -> None:
    if not isinstance(label, str) or not re.fullmatch(_LABEL, label):
        raise ArgumentError(
            f"label must be 1 to 100 characters: letters, digits, space and _.:/()- , starting "
            f"with a letter or digit; got {label!r:.60}. Fix: label='2026-S1'.",
            argument="label",
        )


def _date(date: Any) -> _dt.date:
    if isinstance(date, _dt.datetime):
        return date.date()
    if isinstance(date, _dt.date):
        return date
    if isinstance(date, str):
        try:
            return _dt.date.fromisoformat(date)
        except ValueError:
            pass
    raise ArgumentError(
        f"date must be a datetime.date or an ISO date 'YYYY-MM-DD'; got {date!r:.40}. "
        "Fix: date='2026-01-31'.",
        argument="date",
    )


def _check_reproduces(result: RankResult, cut: Mapping[str, np.ndarray]) -> None:
    """The cutoffs must give the result's desil, by the one rule (:func:`pmt.assign_desil`)."""
    n = result.n_classes
    nat = assign_desil(result.welfare, None, cutoffs=cut["national"], n=n).desil
    groups = np.asarray(result.province).astype(np.int64)
    prov = assign_desil(
        result.welfare,
        None,
        groups=groups,
        cutoffs={int(s): c for s, c in cut.items() if s != "national"},
        n=n,
    ).desil
    for name, got, want in (
        ("national", nat, result.desil_national),
        ("provincial", prov, result.desil_provincial),
    ):
        bad = np.flatnonzero(got != want)
        if bad.size:
            raise ArgumentError(
                f"cutoffs: they do not give the ranking's {name} desil for {bad.size} households "
                f"(rows {result.rows[bad[:5]].tolist()}) (rule: a snapshot's cutoffs must "
                "reproduce the adopted desil). Fix: pass the cutoffs the ranking was made with.",
                argument="cutoffs",
            )


def _counts(result: RankResult, scopes: list[str]) -> pd.DataFrame:
    n = result.n_classes
    index = pd.MultiIndex.from_product([scopes, range(1, n + 1)], names=["scope", "desil"])
    if not result.n_households:
        return pd.DataFrame({"households": np.zeros(0, np.int64), "people": np.zeros(0)}, index)
    s = result.summary()[["households", "people"]]
    s = s.reindex(index)
    s["households"] = s["households"].astype(np.int64)
    s["people"] = s["people"].astype(np.float64)
    return s
