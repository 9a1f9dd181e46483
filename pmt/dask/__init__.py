"""Exact ranking on a Dask cluster: :func:`rank`, bit for bit :func:`pmt.rank`.

Install with ``pip install "pmt[dask]"``. See ``docs/dask.md``. ``import pmt``
never imports this package (nor Dask).
"""

from __future__ import annotations

try:
    import dask
    import dask.dataframe  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised with Dask absent
    raise ImportError(
        'pmt.dask needs Dask (dask.dataframe and distributed): pip install "pmt[dask]"'
    ) from exc

from ._rank import DaskRankResult, check_dataset_target, rank

__all__ = ["DaskRankResult", "check_dataset_target", "rank"]
