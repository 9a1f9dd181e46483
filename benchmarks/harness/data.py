"""Synthetic data for the benchmarks, generated once per size and seed and cached.

Every file's name carries a fingerprint of what made it, so a generator (or
an encoder, or a weight set) that changes gives new files:

- ``registry_<n>_<seed>_<fp>.parquet`` -- ``pmt.synth.registry(n, seed=seed)``
  (``bench_rank.py``);
- ``files_<n>_<seed>_<fp>.parquet`` -- ``n`` households in blocks of 5 M,
  block ``b`` being ``pmt.synth.registry(rows, seed=seed * 1000 + b)`` with
  ``hh_id`` offset by the block's start, row groups of 1 M (``bench_files.py``);
- ``ties_60000_<seed>_<fp>.parquet`` -- the tie-heavy check registry: 60,000
  rows drawn with replacement from 5,000 households, shuffled ids;
- ``encoded_<n>_<seed>_<fp>/`` and ``encoded_ties_60000_<seed>_<fp>/`` -- the
  same kinds of registry encoded by ``pmt.encode.encode`` (blocks of 2 M),
  as ``.npy`` files plus ``cells.npz`` and ``meta.json`` (``bench_compute.py``).

``fp`` is :func:`registry_fingerprint` (8 hex digits over a small registry)
for the Parquet files and :func:`encoded_fingerprint` (10 hex digits over the
weight set, pmt's synth and encode code, and a small encoding) for the
arrays. Generation runs in a child process (:func:`ensure`), so the parent
stays small.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import proc

CACHE = proc.HERE / ".cache"
WARM_ROWS = 10_000  # households of the warm-up run
TIES_BASE, TIES_ROWS = 5_000, 60_000  # tie check: 60k households drawn from 5k
FILES_BLOCK, ROW_GROUP = 5_000_000, 1_000_000  # the Parquet registries of bench_files.py
ENCODED_BLOCK = 2_000_000  # households per encoded block (bounds memory while encoding)
CACHE_FORMAT = "1"  # bump when the layout of the cached encoded files changes
#: Per-household arrays of an encoding, as ``pmt.encode.Encoded`` names them.
HOUSEHOLD_ARRAYS = ("codes", "numeric", "cell", "person_weight")
#: Per-cell arrays (and the provinces present), in ``cells.npz``.
CELL_ARRAYS = ("cell_district", "cell_urban", "cell_model", "cell_shift", "cell_group",
               "provinces")


# --------------------------------------------------------------------------- names

def registry_path(cache: Path, n: int, seed: int, fp: str) -> Path:
    return cache / f"registry_{n}_{seed}_{fp}.parquet"


def files_path(cache: Path, n: int, seed: int, fp: str) -> Path:
    return cache / f"files_{n}_{seed}_{fp}.parquet"


def ties_path(cache: Path, seed: int, fp: str) -> Path:
    return cache / f"ties_{TIES_ROWS}_{seed}_{fp}.parquet"


def encoded_dir(cache: Path, n: int, seed: int, fp: str) -> Path:
    return cache / f"encoded_{n}_{seed}_{fp}"


def encoded_ties_dir(cache: Path, seed: int, fp: str) -> Path:
    return cache / f"encoded_ties_{TIES_ROWS}_{seed}_{fp}"


def ensure(path: Path, make: str, **kwargs: Any) -> None:
    """Make ``path`` with ``harness.data:<make>(path=..., **kwargs)`` in a child, unless it
    exists."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  making {path.name} ...", flush=True)
    t = time.perf_counter()
    proc.call_checked(f"harness.data:{make}", path=str(path), **kwargs)
    print(f"  made in {time.perf_counter() - t:.1f} s", flush=True)


# ----------------------------------------------------------------- fingerprints (children)

def registry_fingerprint(seed: int) -> dict[str, str]:
    """8 hex digits over a small registry from the current pmt.synth (dtypes and values)."""
    import pmt

    df = pmt.synth.registry(2_000, seed=seed)
    h = hashlib.sha256(",".join(f"{c}:{t}" for c, t in df.dtypes.items()).encode())
    for c in df.columns:
        h.update(np.ascontiguousarray(df[c].to_numpy()).tobytes())
    return {"fp": h.hexdigest()[:8]}


def _source_bytes(module: Any) -> bytes:
    """The source of a module, or of every module of a package (sorted by path)."""
    path = Path(module.__file__)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    return b"".join(f.read_bytes() for f in files)


def encoded_fingerprint(seed: int, weights: str) -> dict[str, str]:
    """10 hex digits over the weight set's content hash, the source of pmt's synth and
    encode modules, and the encoding of a small registry (which catches any other change
    that alters the arrays)."""
    import pmt
    import pmt.encode

    ws = pmt.load_weights(weights)
    h = hashlib.sha256(f"{CACHE_FORMAT}|{ws.content_hash}|".encode())
    for mod in (pmt.synth, pmt.encode):
        h.update(_source_bytes(mod))
    enc = pmt.encode.encode(pmt.synth.registry(2_000, seed=seed), ws)
    for name in HOUSEHOLD_ARRAYS + CELL_ARRAYS:
        a = getattr(enc, name)
        h.update(f"{name}{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return {"fp": h.hexdigest()[:10]}


def snapshot_weights(name: str, path: str) -> dict[str, str]:
    """Validate the weight set ``name`` and copy its folder to ``path`` (a child), so that
    every tool of a run reads the same files even if the source is being edited."""
    import shutil

    import pmt

    ws = pmt.load_weights(name)
    if ws.path is None:
        raise SystemExit(f"weight set {name!r} has no folder to copy")
    shutil.copytree(ws.path, path)
    if pmt.load_weights(path).content_hash != ws.content_hash:
        raise SystemExit(f"weight set {name!r} changed while being copied; try again")
    return {"desc": f"{ws.id} {ws.content_hash} from {ws.path}"}


# ------------------------------------------------------------------- registries (children)

def _blocks(n: int, seed: int, block: int) -> Iterator[tuple[int, Any]]:
    """``(start, frame)`` per block: ``pmt.synth.registry(rows, seed=seed * 1000 + b)`` with
    ``hh_id`` offset by the block's start, so ids stay unique."""
    import pmt

    for b, lo in enumerate(range(0, n, block)):
        frame = pmt.synth.registry(min(block, n - lo), seed=seed * 1000 + b)
        frame["hh_id"] += lo
        yield lo, frame


def _tie_draw(seed: int) -> tuple[Any, np.ndarray, np.random.Generator]:
    """The tie-heavy set: a base registry, the rows drawn from it, and the generator."""
    import pmt

    base = pmt.synth.registry(TIES_BASE, seed=seed + 1)
    rng = np.random.default_rng(seed)
    return base, rng.integers(0, TIES_BASE, TIES_ROWS), rng


def _write_parquet(df: Any, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)


def make_registry(path: str, n: int, seed: int) -> None:
    """``pmt.synth.registry(n, seed=seed)`` as Parquet."""
    import pmt

    _write_parquet(pmt.synth.registry(n, seed=seed), Path(path))


def make_ties(path: str, seed: int) -> None:
    """The tie-heavy check registry as Parquet: many exact duplicates, shuffled ids."""
    base, rows, rng = _tie_draw(seed)
    df = base.iloc[rows].reset_index(drop=True)
    df["hh_id"] = rng.permutation(TIES_ROWS).astype(np.int64) + 1
    _write_parquet(df, Path(path))


def make_files_registry(path: str, n: int, seed: int) -> None:
    """``n`` households in blocks of :data:`FILES_BLOCK`, row groups of :data:`ROW_GROUP`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    tmp = out.with_suffix(".tmp")
    writer = None
    start = time.perf_counter()
    try:
        for lo, frame in _blocks(n, seed, FILES_BLOCK):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            del frame
            if writer is None:
                meta = {**(table.schema.metadata or {}), b"pmt_bench": json.dumps(
                    {"generator": "pmt.synth.registry", "households": n, "seed": seed,
                     "block": FILES_BLOCK, "block_seed": "seed * 1000 + block"}).encode()}
                writer = pq.ParquetWriter(tmp, table.schema.with_metadata(meta))
            writer.write_table(table, row_group_size=ROW_GROUP)
            print(f"    {lo + table.num_rows:,} / {n:,} rows "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(out)


# --------------------------------------------------------------- encoded arrays (children)

def _write_meta(folder: Path, ws: Any, n: int, kind: str, seed: int) -> None:
    spec = ws.spec
    meta = {"n": n, "kind": kind, "seed": seed, "weights": ws.id,
            "weights_hash": ws.content_hash,
            "lookup_names": [v.name for v in spec.lookup_variables],
            "numeric_names": list(spec.numeric_terms)}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))


def make_encoded(path: str, n: int, seed: int, weights: str) -> None:
    """Encode ``n`` synthetic households block by block into the folder ``path``.

    Each block's cells are mapped to one global cell table through their
    (district, urban) key; the global table lists the keys ascending, as
    ``encode`` would for the whole registry."""
    from numpy.lib.format import open_memmap

    import pmt
    from pmt.encode import encode

    ws = pmt.load_weights(weights)
    n_lookup, n_numeric = len(ws.spec.lookup_variables), len(ws.spec.numeric_terms)
    dest = Path(path)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    codes = open_memmap(tmp / "codes.npy", mode="w+", dtype=np.uint8, shape=(n, n_lookup),
                        fortran_order=True)
    numeric = open_memmap(tmp / "numeric.npy", mode="w+", dtype=np.float64,
                          shape=(n, n_numeric), fortran_order=True)
    cell = open_memmap(tmp / "cell.npy", mode="w+", dtype=np.int32, shape=(n,))
    weight = open_memmap(tmp / "person_weight.npy", mode="w+", dtype=np.float64, shape=(n,))
    cells: dict[int, tuple[int, float]] = {}  # key = district*2 + urban -> (model, shift)
    start = time.perf_counter()
    for b, (lo, frame) in enumerate(_blocks(n, seed, ENCODED_BLOCK)):
        rows = len(frame)
        enc = encode(frame, ws)
        del frame
        if enc.n != rows or len(enc.rejects):
            raise SystemExit(f"block {b}: encode set {len(enc.rejects)} rows aside")
        codes[lo:lo + rows] = enc.codes
        numeric[lo:lo + rows] = enc.numeric
        weight[lo:lo + rows] = enc.person_weight
        keys = (enc.cell_district * 2 + enc.cell_urban).astype(np.int32)
        cell[lo:lo + rows] = keys[enc.cell]  # global key for now; an index below
        for k, m, s in zip(keys.tolist(), enc.cell_model.tolist(), enc.cell_shift.tolist(),
                           strict=True):
            if cells.setdefault(k, (m, s)) != (m, s):
                raise SystemExit(f"cell {k} resolves differently in block {b}")
        print(f"  encoded {lo + rows:,} / {n:,} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    keys = np.array(sorted(cells), dtype=np.int64)
    lut = np.full(int(keys.max()) + 1, -1, dtype=np.int32)
    lut[keys] = np.arange(keys.size, dtype=np.int32)
    for lo in range(0, n, ENCODED_BLOCK):
        cell[lo:lo + ENCODED_BLOCK] = lut[cell[lo:lo + ENCODED_BLOCK]]
    district, urban = keys // 2, keys % 2
    provinces = np.unique(district // 100)
    np.savez(tmp / "cells.npz", cell_district=district, cell_urban=urban,
             cell_model=np.array([cells[k][0] for k in keys.tolist()], dtype=np.int32),
             cell_shift=np.array([cells[k][1] for k in keys.tolist()], dtype=np.float64),
             cell_group=np.searchsorted(provinces, district // 100).astype(np.int32),
             provinces=provinces)
    for a in (codes, numeric, cell, weight):
        a.flush()
    del codes, numeric, cell, weight
    _write_meta(tmp, ws, n, "registry", seed)
    tmp.replace(dest)


def make_encoded_ties(path: str, seed: int, weights: str) -> None:
    """The tie-heavy set, encoded: the base registry's encoding at the drawn rows."""
    import pmt
    from pmt.encode import encode

    ws = pmt.load_weights(weights)
    base, rows, _ = _tie_draw(seed)
    enc = encode(base, ws)
    dest = Path(path)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "codes.npy", np.asfortranarray(enc.codes[rows]))
    np.save(tmp / "numeric.npy", np.asfortranarray(enc.numeric[rows]))
    np.save(tmp / "cell.npy", enc.cell[rows])
    np.save(tmp / "person_weight.npy", enc.person_weight[rows])
    np.savez(tmp / "cells.npz", **{k: getattr(enc, k) for k in CELL_ARRAYS})
    _write_meta(tmp, ws, TIES_ROWS, "ties", seed)
    tmp.replace(dest)


# --------------------------------------------------------------------------- reading

@dataclass(frozen=True, eq=False)
class Inputs:
    """An encoded registry in memory: what every compute-only peer starts from.

    codes (n, V) uint8 and numeric (n, C) float64, both Fortran order, cell
    (n,) int32, person_weight (n,) float64; ``cells`` the per-cell arrays of
    :data:`CELL_ARRAYS` (model row, log poverty line ``cell_shift``, ...).
    """

    codes: np.ndarray
    numeric: np.ndarray
    cell: np.ndarray
    person_weight: np.ndarray
    cells: dict[str, np.ndarray]
    lookup_names: tuple[str, ...]
    numeric_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.cell.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the per-household arrays (what a pass over the inputs reads)."""
        return sum(int(getattr(self, k).nbytes) for k in HOUSEHOLD_ARRAYS)

    def cell_province(self) -> np.ndarray:
        """2-digit province code of each cell (K,) int16."""
        return (self.cells["cell_district"] // 100).astype(np.int16)

    def columns(self) -> dict[str, np.ndarray]:
        """One 1-D array per column, each a view (columns of Fortran arrays are contiguous)."""
        cols = {name: self.codes[:, v] for v, name in enumerate(self.lookup_names)}
        cols.update({name: self.numeric[:, j] for j, name in enumerate(self.numeric_names)})
        cols["cell"] = self.cell
        cols["p"] = self.person_weight
        return cols


def load_inputs(folder: Path, rows: int | None = None) -> Inputs:
    """Read a cached encoded set into RAM; ``rows``: only the first ones (for the warm-up)."""
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {}
    for k in HOUSEHOLD_ARRAYS:
        a = np.load(folder / f"{k}.npy", mmap_mode=None if rows is None else "r")
        arrays[k] = a if rows is None else np.array(a[:rows], order="F")
    with np.load(folder / "cells.npz") as z:
        cells = {k: z[k] for k in z.files}
    return Inputs(**arrays, cells=cells, lookup_names=tuple(meta["lookup_names"]),
                  numeric_names=tuple(meta["numeric_names"]))
