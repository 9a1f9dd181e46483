"""pmt._memory: new result arrays on small pages (Linux), the same values either way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pmt import _memory
from pmt.desil import _rank_scopes

SMAPS = Path("/proc/self/smaps")
THP = Path("/sys/kernel/mm/transparent_hugepage")  # absent: a kernel without huge pages
linux_only = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and SMAPS.exists() and THP.exists()),
    reason="Linux with transparent huge pages and /proc/self/smaps",
)


def _vm_flags(a: np.ndarray) -> list[str]:
    """The kernel's flags of the mapping that holds the middle of ``a``."""
    addr = a.__array_interface__["data"][0] + a.nbytes // 2
    inside = False
    for line in SMAPS.read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:
            lo, hi = (int(v, 16) for v in head[0].split("-"))
            inside = lo <= addr < hi
        elif inside and head and head[0] == "VmFlags:":
            return head[1:]
    raise AssertionError("no mapping holds the array")


def test_empty_is_np_empty_in_shape_and_dtype() -> None:
    cases: list[tuple[Any, Any]] = [
        (0, np.float64),
        (5, np.int8),
        (3_000_000, np.int32),
        ((4, 3), "f8"),
    ]
    for shape, dtype in cases:
        a = _memory.empty(shape, dtype)
        b = np.empty(shape, dtype=dtype)
        assert (a.shape, a.dtype, a.flags.writeable, a.flags.c_contiguous) == (
            b.shape,
            b.dtype,
            True,
            True,
        )


@linux_only
def test_large_new_arrays_are_not_advised_huge_pages_and_numpys_are() -> None:
    ours = _memory.empty(2_000_000)  # 16 MB: numpy would advise huge pages
    plain = np.empty(2_000_000)
    assert "nh" in _vm_flags(ours)
    assert "nh" not in _vm_flags(plain)


@linux_only
def test_ranking_results_are_on_small_pages() -> None:
    # large enough that the int32 ranks are over numpy's 4 MB threshold too
    n = 1_200_000
    rng = np.random.default_rng(3)
    scopes = _rank_scopes(
        rng.normal(13.0, 0.6, n),
        rng.integers(1, 8, n).astype(np.float64),
        rng.integers(0, 5, n).astype(np.uint8),
        5,
        10,
    )
    for arr in (scopes.rank_national, scopes.share_national, scopes.rank_group, scopes.share_group):
        assert arr.nbytes >= 1 << 22
        assert "nh" in _vm_flags(arr)


@linux_only
def test_workspace_buffers_are_on_small_pages_but_the_sort_records() -> None:
    from pmt._memory import RANDOM_ACCESS
    from pmt.ranker import Workspace

    space = Workspace()
    rng = np.random.default_rng(4)
    n = 1_200_000
    _rank_scopes(
        rng.normal(13.0, 0.6, n),
        rng.integers(1, 8, n).astype(np.float64),
        rng.integers(0, 5, n).astype(np.uint8),
        5,
        10,
        workspace=space,
    )
    held = space._buffers
    assert set(RANDOM_ACCESS) <= set(held) and {"order", "rank_national"} <= set(held)
    for name, buf in held.items():
        if buf.nbytes >= 1 << 22:
            assert ("nh" in _vm_flags(buf)) == (name not in RANDOM_ACCESS), name
