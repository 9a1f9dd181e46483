"""The regions a calibration covers: inferred from the survey, or declared.

A survey of a few provinces calibrates a set for those provinces only: its
manifest says ``coverage: "partial"`` and lists them in ``covers``; poverty
lines are needed for them only, and a registry household elsewhere is an
``UnknownRegionError`` (or a reject) unless the set names a
``coverage_fallback`` model (:meth:`pmt.WeightSet.model_chain`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ArgumentError, CalibrationError
from ..regions import province_table, scheme

__all__ = ["COVERAGE_FALLBACKS", "coverage_fields", "resolve_coverage"]

#: The models ``calibrate(coverage_fallback=...)`` may name.
COVERAGE_FALLBACKS = (None, "national")


def _code(value: Any, scheme_name: str) -> str:
    """A province ('31') or district ('3171') code from an int or a string of digits."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, str)):
        raise TypeError(
            f"coverage: region codes must be whole numbers or strings of digits ('31', "
            f"'3171'); got {value!r} ({type(value).__name__})"
        )
    text = str(value).strip()
    if isinstance(value, (int, np.integer)):
        text = f"{int(value):02d}" if 0 <= int(value) < 100 else f"{int(value):04d}"
    if not (text.isdigit() and len(text) in (2, 4)):
        raise ArgumentError(
            f"coverage: {value!r} is neither a province code (2 digits, e.g. '31') nor a "
            "district code (4 digits, e.g. '3171'). Fix: pass codes of the region scheme.",
            argument="coverage",
        )
    known = (
        int(text) in province_table(scheme_name)
        if len(text) == 2
        else int(text) in scheme(scheme_name).districts
    )
    if not known:
        raise ArgumentError(
            f"coverage: {text} is not a {'province' if len(text) == 2 else 'district'} of the "
            f"{scheme_name} scheme. Fix: pass codes of the survey's region scheme "
            "(see docs/regions.md).",
            argument="coverage",
        )
    return text


def resolve_coverage(
    coverage: Any, district: np.ndarray, scheme_name: str
) -> tuple[str, ...] | None:
    """The regions a calibration covers: None for national, else sorted codes.

    Parameters
    ----------
    coverage : None, "national" or iterable of codes
        None infers it: the provinces the survey has households in (None if
        that is every province of the scheme). ``"national"``: the whole
        country, whatever the survey holds. Codes: provinces (``31``, ``"31"``)
        and districts (``3171``); every survey household must lie in one.
    district : (n,) int
        The survey households' district codes.
    scheme_name : str
        The region scheme of the codes.

    Raises
    ------
    TypeError
        ``coverage`` is neither None, ``"national"`` nor an iterable of codes.
    pmt.errors.ArgumentError
        A code that is not a region of the scheme.
    pmt.errors.CalibrationError
        Survey households outside the declared coverage (each region listed).
    """
    provinces = np.unique(district // 100)
    if coverage is None:
        if set(provinces.tolist()) >= set(province_table(scheme_name)):
            return None
        return tuple(f"{int(p):02d}" for p in provinces)
    if isinstance(coverage, str):
        if coverage == "national":
            return None
        raise ArgumentError(
            f"coverage={coverage!r}: must be None (infer it from the survey), 'national', or "
            "a list of province/district codes, e.g. coverage=['31', '3273'].",
            argument="coverage",
        )
    if not isinstance(coverage, Iterable):
        raise TypeError(
            f"coverage must be None, 'national' or a list of region codes; got "
            f"{type(coverage).__name__}"
        )
    codes = tuple(sorted({_code(c, scheme_name) for c in coverage}))
    if not codes:
        raise ArgumentError(
            "coverage=[]: an empty coverage scores no one. Fix: list the regions, or pass "
            "None to infer them from the survey.",
            argument="coverage",
        )
    inside = np.isin(district, [int(c) for c in codes if len(c) == 4]) | np.isin(
        district // 100, [int(c) for c in codes if len(c) == 2]
    )
    if not inside.all():
        outside, counts = np.unique(district[~inside], return_counts=True)
        listed = ", ".join(f"{int(d):04d} ({int(c)})" for d, c in zip(outside, counts, strict=True))
        raise CalibrationError(
            f"coverage={list(codes)}: {int((~inside).sum()):,} survey households lie outside "
            f"it, in districts (households): {listed}. Fix: add their provinces or districts "
            "to coverage=, or drop those households from the survey."
        )
    return codes


def coverage_fields(covers: tuple[str, ...] | None, fallback: str | None) -> dict[str, Any]:
    """The manifest fields of a coverage: ``coverage``, ``covers``, ``coverage_fallback``."""
    if fallback not in COVERAGE_FALLBACKS:
        raise ArgumentError(
            f"coverage_fallback={fallback!r}: must be None (households outside the coverage "
            "are refused) or 'national' (the national model scores them).",
            argument="coverage_fallback",
        )
    if covers is None:
        return {"coverage": "national"}
    return {"coverage": "partial", "covers": covers, "coverage_fallback": fallback}
