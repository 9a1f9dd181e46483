"""The synthetic household registry: households drawn block by block, reproducibly.

:func:`registry` fills preallocated columns in fixed blocks of 65,536 rows,
block ``b`` drawn by :func:`pmt.synth._households._draw_households` from
``numpy.random.default_rng([seed, b])``, so that the result depends only on
``(n, seed, spec, scheme)`` and not on the chunking of progress reports.
The registry is SYNTHETIC: no row describes a real household.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..spec import VariableSpec
from ._args import _check_int, _check_spec
from ._geography import _geography
from ._households import _MAX_HH_SIZE, _draw_households, _plan

__all__ = ["registry"]

_BLOCK = 1 << 16  # rows per random stream: block b uses default_rng([seed, b])


def registry(
    n_households: int | None = None,
    *,
    seed: int = 0,
    spec: VariableSpec | None = None,
    chunk_size: int = 1_000_000,
    scheme: str = "BPS",
    progress: Callable[[int, int], None] | None = None,
    n: int | None = None,
) -> pd.DataFrame:
    """A synthetic household registry of ``n_households`` households.

    Households are SYNTHETIC, with realistic joint structure: a latent welfare
    (province, district and urban effects plus an idiosyncratic term) drives
    housing, utilities, assets, household composition and the head's
    education and work, so that poor households are poor on many variables at
    once; Papua, NTT and Maluku are poorer, Jakarta, Bali, Kalimantan Timur
    and Kepulauan Riau richer, urban richer than rural. District codes are
    synthetic BPS-style codes (see :func:`districts`), not real districts.

    Parameters
    ----------
    n_households : int
        Number of households, at least 1.
    seed : int, default 0
        Non-negative seed. The result depends only on ``(n_households, seed, spec,
        scheme)``: rows are drawn in fixed blocks of 65,536, block ``b`` from
        ``numpy.random.default_rng([seed, b])``.
    spec : VariableSpec, optional
        Variables to produce; :func:`pmt.spec.default_spec` if None. Variables
        of the built-in catalogue (same name, kind and codes) use its model;
        others get a generic draw by kind driven by the latent welfare.
    chunk_size : int, default 1_000_000
        Rows between ``progress`` calls (rounded up to whole blocks). It does
        not change the result.
    scheme : {"BPS", "Kemendagri"}, default "BPS"
        Region-code scheme of ``district_code``.
    progress : callable, optional
        Called as ``progress(rows_done, n_households)`` after each chunk.
    n : int, optional
        Deprecated name of ``n_households`` (in pmt, ``n`` is a number of
        classes); removed in pmt 0.3.

    Returns
    -------
    pandas.DataFrame
        ``(n_households, 4 + n_variables)``: ``hh_id`` (int64, 1..n_households), ``district_code``
        (int16, PPDD), ``urban`` (int8 0/1), ``hh_size`` (int8, 1 to 15 or
        the spec's ``max_household_size`` if smaller), then the spec's
        variables in spec order: binary int8 0/1, categorical int8 codes,
        count int8/int16 within ``[min, max]`` (and at most ``hh_size`` where
        ``max_hh_size``), continuous float32 within ``[min, max]``. Columns
        are the preallocated arrays themselves (about 70 bytes a household
        with the default spec).

    Raises
    ------
    TypeError
        If ``n_households``, ``seed`` or ``chunk_size`` is not an int, or ``spec``
        is not a :class:`VariableSpec` (the int errors are also ValueErrors).
    ValueError
        If ``n_households < 1``, ``seed < 0``, ``chunk_size < 1`` or ``scheme`` is unknown.

    Examples
    --------
    >>> hh = registry(1000, seed=1)
    >>> hh.shape[0], int(hh["hh_id"].iloc[-1])
    (1000, 1000)
    """
    if n is not None:
        warnings.warn(
            "pmt.synth.registry(n=...) is deprecated and will be removed in pmt 0.3 (in pmt, n "
            "is a number of classes); pass n_households=... or the count as the first argument",
            DeprecationWarning,
            stacklevel=2,
        )
        if n_households is not None:
            raise TypeError("pass n_households only (n is its deprecated name), not both")
        n_households = n
    if n_households is None:
        raise TypeError("registry() missing the number of households: registry(n_households)")
    n = _check_int("n_households", n_households, 1)
    seed = _check_int("seed", seed, 0)
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    spec = _check_spec(spec)
    geo = _geography(scheme)
    plan = _plan(spec)
    max_size = min(_MAX_HH_SIZE, spec.max_household_size)

    out: dict[str, np.ndarray] = {"hh_id": np.arange(1, n + 1, dtype=np.int64)}
    out["district_code"] = np.empty(n, dtype=np.int16)
    out["urban"] = np.empty(n, dtype=np.int8)
    out["hh_size"] = np.empty(n, dtype=np.int8 if max_size <= 127 else np.int16)
    for col in plan:
        out[col.var.name] = np.empty(n, dtype=col.dtype)

    blocks_per_chunk = max(1, -(-chunk_size // _BLOCK))
    n_blocks = -(-n // _BLOCK)
    for b in range(n_blocks):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        rng = np.random.default_rng([seed, b])
        cols, _ = _draw_households(rng, hi - lo, geo=geo, plan=plan, max_size=max_size)
        for name, values in cols.items():
            out[name][lo:hi] = values
        if progress is not None and ((b + 1) % blocks_per_chunk == 0 or b == n_blocks - 1):
            progress(hi, n)
    return pd.DataFrame(out, copy=False)
