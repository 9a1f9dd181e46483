"""The tools pmt is compared with, one module each, and the table that registers them.

A peer module implements the job (see :mod:`peers.common`) for each benchmark
it takes part in, with these functions (all but the timed one are untimed):

``threads() -> str``
    The tool's thread count, for the results file.
``WHAT``
    One line per benchmark kind on how the tool does the job.

From a table (``bench_rank.py``, kind ``"frame"``):
    ``frame_form(path)`` reads the cached Parquet file into the tool's form;
    ``frame_head(form, n)`` its first ``n`` rows (warm-up); ``frame(form, ws)``
    is the timed job; ``frame_arrays(result, form)`` the outputs in input order.
From encoded arrays in memory (``bench_compute.py``, kind ``"compute"``):
    ``compute_form(inputs, ws)`` (optional; default: the ``Inputs`` themselves);
    ``compute(form, coefs, ws)`` timed; ``compute_arrays(result, form)``.
File to file (``bench_files.py``, kind ``"files"``):
    ``files(src, out, ws, threads=)`` run in a child process, returning how it
    ran; or ``files_command(src, out, weights, chunk=, threads=)``, a command
    line (pmt's CLI). Optional ``THREADS_ENV``: the variable that sets the
    tool's threads before it is imported.

Optional: ``prepare(ws)``, untimed set-up before the memory baseline;
``release(result, form)`` frees a result whose memory is not
Python's; ``output_bytes(result, form)`` the memory a result holds (pmt).

Adding a peer: write ``peers/<tool>_peer.py`` and add one line to :data:`PEERS`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: tool name -> module, in the order tables list them.
PEERS = {
    "pmt": "peers.pmt_peer",
    "numba": "peers.numba_peer",
    "numpy": "peers.numpy_peer",
    "pandas": "peers.pandas_peer",
    "polars": "peers.polars_peer",
    "duckdb": "peers.duckdb_peer",
}
#: Tools whose log is numpy's ``np.log``, not the C library's (pmt's, polars', DuckDB's,
#: numba's): on processors with AVX-512 the two differ in the last bit for some values, so
#: the agreement check allows these tools' welfare a tiny difference
#: (:data:`harness.agree.NUMPY_LOG_TOL`) and counts the households where it differs.
NUMPY_LOG = frozenset({"numpy", "pandas"})
#: What each benchmark kind needs of a peer.
KIND_FUNCTIONS = {"frame": ("frame",), "compute": ("compute",),
                  "files": ("files", "files_command")}


def get(name: str) -> ModuleType:
    """The peer module of tool ``name`` (imports the tool)."""
    return importlib.import_module(PEERS[name])


def supports(peer: ModuleType, kind: str) -> bool:
    """Whether ``peer`` takes part in benchmark ``kind``."""
    return any(hasattr(peer, f) for f in KIND_FUNCTIONS[kind])


def check_tools(text: str, kind: str) -> list[str]:
    """Tool names from a comma-separated list; ValueError naming the unknown ones."""
    tools = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in tools if t not in PEERS or not supports(get(t), kind)]
    if bad:
        known = [t for t in PEERS if supports(get(t), kind)]
        raise ValueError(f"unknown tools {bad}; known here: {known}")
    return tools
