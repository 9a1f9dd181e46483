"""Province tables of the region-code schemes, and region-key helpers.

A region code means something only with its scheme and vintage (``docs/regions.md``).
Two schemes are known: ``BPS`` (statistics; the default) and ``Kemendagri``
(home affairs; used in NIK). They agree on every province except Papua.

The BPS codes of the four Papua provinces created in 2022 are *unconfirmed*:
third-party lists give 92, 95, 96, 97, which this table uses; a weight set
that relies on them says so through its scheme vintage.

Model and poverty-line keys are strings, one per level of the fallback chain::

    "3171-urban" / "3171-rural"   district x urban/rural
    "3171"                        district (kabupaten/kota, 4 digits)
    "31-urban" / "31-rural"       province x urban/rural
    "31"                          province (2 digits)
    "national"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

__all__ = [
    "LEVELS",
    "PROVINCES",
    "SCHEMES",
    "Province",
    "RegionScheme",
    "fallback_chain",
    "key_level",
    "province_table",
    "register_scheme",
    "scheme",
]


class Province(NamedTuple):
    """One province of a scheme: its 2-digit code, its name, its regency and city counts."""

    code: int
    name: str
    #: Number of kabupaten (regencies) and kota (cities) since 2022.
    n_kabupaten: int
    n_kota: int


# The kabupaten/kota split is used only to shape synthetic data (kota are urban).
_COMMON = [
    (11, "Aceh", 18, 5),
    (12, "Sumatera Utara", 25, 8),
    (13, "Sumatera Barat", 12, 7),
    (14, "Riau", 10, 2),
    (15, "Jambi", 9, 2),
    (16, "Sumatera Selatan", 13, 4),
    (17, "Bengkulu", 9, 1),
    (18, "Lampung", 13, 2),
    (19, "Kepulauan Bangka Belitung", 6, 1),
    (21, "Kepulauan Riau", 5, 2),
    (31, "DKI Jakarta", 1, 5),
    (32, "Jawa Barat", 18, 9),
    (33, "Jawa Tengah", 29, 6),
    (34, "DI Yogyakarta", 4, 1),
    (35, "Jawa Timur", 29, 9),
    (36, "Banten", 4, 4),
    (51, "Bali", 8, 1),
    (52, "Nusa Tenggara Barat", 8, 2),
    (53, "Nusa Tenggara Timur", 21, 1),
    (61, "Kalimantan Barat", 12, 2),
    (62, "Kalimantan Tengah", 13, 1),
    (63, "Kalimantan Selatan", 11, 2),
    (64, "Kalimantan Timur", 7, 3),
    (65, "Kalimantan Utara", 4, 1),
    (71, "Sulawesi Utara", 11, 4),
    (72, "Sulawesi Tengah", 12, 1),
    (73, "Sulawesi Selatan", 21, 3),
    (74, "Sulawesi Tenggara", 15, 2),
    (75, "Gorontalo", 5, 1),
    (76, "Sulawesi Barat", 6, 0),
    (81, "Maluku", 9, 2),
    (82, "Maluku Utara", 8, 2),
]
_PAPUA_NAMES = {
    "Papua Barat": (7, 0),
    "Papua Barat Daya": (5, 1),
    "Papua": (8, 1),
    "Papua Selatan": (4, 0),
    "Papua Tengah": (8, 0),
    "Papua Pegunungan": (8, 0),
}
_PAPUA_CODES = {
    "BPS": {
        "Papua Barat": 91,
        "Papua Barat Daya": 92,
        "Papua": 94,
        "Papua Selatan": 95,
        "Papua Tengah": 96,
        "Papua Pegunungan": 97,
    },
    "Kemendagri": {
        "Papua": 91,
        "Papua Barat": 92,
        "Papua Selatan": 93,
        "Papua Tengah": 94,
        "Papua Pegunungan": 95,
        "Papua Barat Daya": 96,
    },
}


@dataclass(frozen=True)
class RegionScheme:
    """A region-code scheme at one vintage: its provinces and kabupaten/kota codes.

    The district list follows the numbering convention — kabupaten ``PP01`` to
    ``PPnn`` and kota ``PP71`` onwards, with each province's number of
    kabupaten and kota since 2022 (514 in all). The official lists have gaps
    and renumberings this convention does not know, so the built-in list is a
    stand-in: a district code outside it is refused (``unknown_region``),
    never scored by a province model silently.
    """

    name: str
    vintage: str
    provinces: dict[int, Province] = field(hash=False, compare=False)
    #: The official district list, if given; else the numbering convention above.
    district_list: frozenset[int] | None = field(default=None, hash=False, compare=False)

    @cached_property
    def districts(self) -> frozenset[int]:
        """The 4-digit kabupaten/kota codes of the scheme."""
        if self.district_list is not None:
            return frozenset(self.district_list)
        return frozenset(
            code * 100 + k
            for code, p in self.provinces.items()
            for k in (*range(1, p.n_kabupaten + 1), *range(71, 71 + p.n_kota))
        )

    @cached_property
    def _known(self) -> np.ndarray:
        known = np.zeros(10_000, dtype=bool)
        known[sorted(self.districts)] = True
        known.setflags(write=False)
        return known

    def known_districts(self, codes: np.ndarray) -> np.ndarray:
        """Whether each code of ``codes`` (n,) int is a district of the scheme (bool (n,))."""
        codes = np.asarray(codes)
        if codes.size and codes.min() >= 0 and codes.max() < 10_000:
            return self._known[codes]  # one gather (a masked one took 4x as long)
        inside = (codes >= 0) & (codes < 10_000)
        out = np.zeros(codes.shape, dtype=bool)
        out[inside] = self._known[codes[inside]]
        return out


def _build(name: str) -> RegionScheme:
    rows = [Province(*r) for r in _COMMON]
    rows += [
        Province(code, pname, *_PAPUA_NAMES[pname]) for pname, code in _PAPUA_CODES[name].items()
    ]
    return RegionScheme(name, "2022", {p.code: p for p in sorted(rows)})


#: The one registry of region schemes, by name (:func:`register_scheme` adds one).
_REGISTRY = {name: _build(name) for name in _PAPUA_CODES}
#: The built-in schemes.
SCHEMES = tuple(_REGISTRY)


def scheme(name: str = "BPS") -> RegionScheme:
    """The region scheme called ``name`` (``"BPS"``, ``"Kemendagri"`` or a registered one)."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"region scheme must be one of {tuple(_REGISTRY)}; got {name!r}. Fix: use one of "
            "those, or register yours first with pmt.regions.register_scheme."
        ) from None


def register_scheme(new: RegionScheme) -> None:
    """Add a region scheme to the registry, e.g. an official vintage with its district list.

    A weight set whose manifest names the scheme (``region_scheme``) then loads,
    and its households' districts are checked against ``new.districts``.

    Raises
    ------
    ValueError
        If the name is taken, or a district code is not 4 digits of one of its provinces.
    """
    if new.name in _REGISTRY:
        raise ValueError(f"region scheme {new.name!r} is already registered; choose a new name")
    bad = sorted(d for d in new.districts if not (1000 <= d <= 9999 and d // 100 in new.provinces))
    if bad or any(d % 100 == 0 for d in new.districts):
        raise ValueError(
            f"region scheme {new.name!r}: district codes must be 4 digits PPDD with PP one of "
            f"its provinces and DD not 00; got {bad[:5] or 'a code ending in 00'}"
        )
    _REGISTRY[new.name] = new


def province_table(scheme_name: str = "BPS") -> dict[int, Province]:
    """The 38 provinces of a scheme, keyed by 2-digit code, in code order."""
    return dict(scheme(scheme_name).provinces)


PROVINCES = province_table("BPS")

LEVELS = ("district_urban", "district", "province_urban", "province", "national")

_KEY = re.compile(r"\A(?:national|[0-9]{2}|[0-9]{4})(?:-(?:urban|rural))?\Z", re.ASCII)


def key_level(key: str) -> str:
    """The level of a model key (``"3171-urban"`` -> ``"district_urban"``)."""
    if not isinstance(key, str) or not _KEY.match(key) or key.startswith("national-"):
        raise ValueError(
            f"malformed region key {key!r}: expected 'national', PP, PPDD, "
            "optionally with '-urban' or '-rural'"
        )
    if key == "national":
        return "national"
    code, _, urb = key.partition("-")
    level = "district" if len(code) == 4 else "province"
    return f"{level}_urban" if urb else level


def fallback_chain(district: int, urban: int) -> tuple[str, ...]:
    """Model keys to try for one district x urban cell, most specific first."""
    u = "urban" if urban else "rural"
    d = f"{district:04d}"
    p = d[:2]
    return (f"{d}-{u}", d, f"{p}-{u}", p, "national")
