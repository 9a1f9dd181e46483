"""The agreement check: every peer's outputs against pmt's, on the benchmarked data and on
the tie-heavy set.

One rule for every benchmark: desil, rank and every other column exactly,
welfare bit for bit (every peer adds the terms in pmt's order), share below
to 1e-12. Arrays are compared in input order; output files row by row after
matching ``hh_id``.

One allowance: a tool whose log is numpy's (:data:`peers.NUMPY_LOG`). pmt
takes logs from the C library, as polars, DuckDB and numba do; numpy's
``np.log`` differs from it in the last bit for about 1 value in 7,000 on
processors with AVX-512 (equal elsewhere). Such a tool's welfare may differ
from pmt's by at most :data:`NUMPY_LOG_TOL`, and the verdict counts the
households where it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from peers import NUMPY_LOG
from peers.common import OUTPUTS

SHARE_TOL = 1e-12
#: largest welfare difference allowed where a tool's log is numpy's (a last-bit difference of
#: a log, times its coefficient, carried through the sum: about 1e-16)
NUMPY_LOG_TOL = 1e-13


def _problem(name: str, ref: np.ndarray, other: np.ndarray, tol: float = 0.0) -> str | None:
    """What is wrong with column ``name`` of a peer against pmt's, or None.

    ``tol``: the welfare difference allowed (a tool whose log is numpy's).
    """
    if ref.shape != other.shape:
        return f"{name} shape {other.shape} vs {ref.shape}"
    if name.startswith("share_below"):
        diff = float(np.max(np.abs(other - ref))) if ref.size else 0.0
        return None if diff <= SHARE_TOL else f"{name} max |diff| {diff:.2g} > {SHARE_TOL:g}"
    if np.array_equal(other, ref):
        return None
    if name == "welfare":
        diff = float(np.max(np.abs(other - ref)))
        if diff <= tol:
            return None
        return f"welfare not bit-identical (max |diff| {diff:.2g})"
    return f"{name} differs in {int(np.count_nonzero(other != ref)):,} rows"


def _welfare_note(ref: np.ndarray, other: np.ndarray) -> str:
    """How the welfare of a tool whose log is numpy's compares (the problem is _problem's)."""
    if ref.shape != other.shape:
        return ""
    differ = int(np.count_nonzero(ref.view(np.int64) != other.view(np.int64)))
    if differ == 0:
        return ""
    return (f"welfare bit-identical but in {differ:,} households, where numpy's log differs "
            f"from the C library's (max |diff| {float(np.max(np.abs(other - ref))):.2g})")


def _verdict(problems: list[str], names: tuple[str, ...], note: str = "") -> tuple[bool, str]:
    if problems:
        return False, "MISMATCH: " + "; ".join(problems)
    others = " and the other columns" if set(names) - set(OUTPUTS) else ""
    return True, f"ok (desil+rank{others} exact, {note or 'welfare bit-identical'})"


def welfare_tol(tool: str) -> float:
    """The welfare difference allowed for ``tool`` (0: bit for bit)."""
    return NUMPY_LOG_TOL if tool in NUMPY_LOG else 0.0


def compare(ref: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray],
            names: tuple[str, ...] = OUTPUTS, tol: float = 0.0) -> tuple[bool, str]:
    """(ok, short text) of a peer's outputs ``other`` against pmt's ``ref``, in input order."""
    problems = [p for k in names if (p := _problem(k, ref[k], other[k], tol))]
    note = _welfare_note(ref["welfare"], other["welfare"]) if tol and "welfare" in names else ""
    return _verdict(problems, names, note)


def save(folder: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Save outputs as ``<name>.npy`` files for :func:`compare_saved`."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, v in arrays.items():
        np.save(folder / f"{k}.npy", np.ascontiguousarray(v))


def compare_saved(ref: Path, other: Path, tol: float = 0.0) -> tuple[bool, str]:
    """:func:`compare` of two folders written by :func:`save`."""
    def load(folder: Path) -> dict[str, np.ndarray]:
        return {k: np.load(folder / f"{k}.npy") for k in OUTPUTS}

    return compare(load(ref), load(other), tol=tol)


def compare_files(ref: str, other: str, tol: float = 0.0) -> dict[str, Any]:
    """A peer's output file against pmt's, rows matched on ``hh_id``, every column of pmt's
    file; one column in memory at a time (run it in a child). ``tol`` as :func:`compare`'s."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def col(path: str, name: str) -> np.ndarray:
        c = pq.read_table(path, columns=[name]).column(0).combine_chunks()
        c = c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c
        return c.to_numpy(zero_copy_only=False)

    a_ids, b_ids = col(ref, "hh_id"), col(other, "hh_id")
    if a_ids.shape != b_ids.shape:
        return {"ok": False, "text": f"MISMATCH: {a_ids.shape[0]:,} rows in pmt's output, "
                                     f"{b_ids.shape[0]:,} here"}
    oa, ob = np.argsort(a_ids, kind="stable"), np.argsort(b_ids, kind="stable")
    if not np.array_equal(a_ids[oa], b_ids[ob]):
        return {"ok": False, "text": "MISMATCH: the hh_id sets differ"}
    del a_ids, b_ids
    names = tuple(c for c in pq.ParquetFile(ref).schema_arrow.names if c != "hh_id")
    have = set(pq.ParquetFile(other).schema_arrow.names)
    problems = [f"{k} missing" if k not in have
                else _problem(k, col(ref, k)[oa], col(other, k)[ob], tol) for k in names]
    note = ""
    if tol and "welfare" in have:
        note = _welfare_note(col(ref, "welfare")[oa], col(other, "welfare")[ob])
    ok, text = _verdict([p for p in problems if p], names, note)
    return {"ok": ok, "text": text}


# --------------------------------------------------------------------------- in the tables

def judge(row: dict[str, Any], ref: Path | None, mine: Path) -> None:
    """Set ``agree``, ``agree_ok`` and ``ties`` of a result row from the saved outputs
    (``<folder>/main`` and ``<folder>/ties``) of the peer and of pmt (``ref``)."""
    if row["tool"] == "pmt":
        row.update(agree="reference", agree_ok=True, ties="reference")
    elif ref is None or not (ref / "main").exists():
        row.update(agree="not checked (pmt not run)", agree_ok=True, ties="not checked")
    else:
        tol = welfare_tol(row["tool"])
        ok, row["agree"] = compare_saved(ref / "main", mine / "main", tol)
        ok_t, row["ties"] = compare_saved(ref / "ties", mine / "ties", tol)
        row["agree_ok"] = ok and ok_t


def cell(row: dict[str, Any]) -> str:
    """The table's agreement cell: the verdict (bold if it failed) and the tie check's."""
    text = row.get("agree", "")
    if row.get("agree_ok") is False:
        text = f"**{text}**"
    ties = row.get("ties")
    if row["tool"] != "pmt" and ties not in (None, "reference", "not checked"):
        text += "; ties: " + ("ok" if ties.startswith("ok") else ties)
    return text


def banner(rows: list[dict[str, Any]]) -> list[str]:
    """Lines that shout every disagreement (empty if all agree)."""
    bad = [r for r in rows if r.get("agree_ok") is False]
    if not bad:
        return []
    return ["", "!" * 78,
            *(f"!! {r['tool']}" + (f" at {r['n']:,}" if "n" in r else "")
              + f": outputs DISAGREE with pmt: {r.get('agree')}; tie check: {r.get('ties')}"
              for r in bad), "!" * 78]
