"""The tree of regional models: levels, their codes and keys, and each node's parents.

A calibrated weight set holds one model per region key. Calibration fits them
as a tree::

    national ─ province ─ province × urban ─ district × urban
                       └─ district

A node is a ``(level, code)`` pair; its code is computed from a household's
district code and urban flag (:func:`level_codes`), its region key (the weight
set's ``model_keys``) by :data:`KEY_FORMAT`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "KEY_FORMAT",
    "LEVEL_ORDER",
    "key_order",
    "level_codes",
    "levels",
    "node_code",
    "parents",
]

#: Levels below the national model, in the order they are fitted (parents first).
LEVEL_ORDER = ("province", "province_urban", "district", "district_urban")


def levels(urban: bool = True) -> tuple[str, ...]:
    """The levels fitted below the national model, parents first.

    :data:`LEVEL_ORDER`, or without the urban x rural levels for a spec
    without an urban split (``urban: false``).
    """
    return LEVEL_ORDER if urban else tuple(lv for lv in LEVEL_ORDER if "urban" not in lv)


#: Level -> function of a node code giving the node's region key.
KEY_FORMAT = {
    "national": lambda c: "national",
    "province": lambda c: f"{c:02d}",
    "province_urban": lambda c: f"{c // 2:02d}-{'urban' if c % 2 else 'rural'}",
    "district": lambda c: f"{c:04d}",
    "district_urban": lambda c: f"{c // 2:04d}-{'urban' if c % 2 else 'rural'}",
}


def level_codes(district: np.ndarray, urban: np.ndarray, level: str) -> np.ndarray:
    """The node code of each household at ``level`` (from district codes and urban flags)."""
    prov = district // 100
    return {
        "national": np.zeros_like(district),
        "province": prov,
        "province_urban": prov * 2 + urban,
        "district": district,
        "district_urban": district * 2 + urban,
    }[level]


def parents(level: str, code: int) -> list[tuple[str, int]]:
    """Candidate parents of a node, nearest first (the tree, then the fallback)."""
    if level == "province":
        return [("national", 0)]
    if level == "province_urban":
        return [("province", code // 2), ("national", 0)]
    if level == "district":
        return [("province", code // 100), ("national", 0)]
    return [
        ("province_urban", (code // 200) * 2 + code % 2),
        ("province", code // 200),
        ("national", 0),
    ]


def node_code(key: str) -> int:
    """The level code of a model key (inverse of :data:`KEY_FORMAT`)."""
    if key == "national":
        return 0
    code, _, urb = key.partition("-")
    return int(code) * 2 + (urb == "urban") if urb else int(code)


def key_order(key: str) -> tuple[int, str]:
    """Sort key of model keys: national, then provinces, then districts."""
    if key == "national":
        return (0, "")
    code = key.split("-")[0]
    return (1 if len(code) == 2 else 2, key)
