"""Small array helpers shared by the calibration modules (plain arrays in and out)."""

from __future__ import annotations

import numpy as np

__all__ = ["groups", "rank_keep", "wmean"]


def wmean(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean of each column of ``X``."""
    return (w @ X) / w.sum()


def groups(codes: np.ndarray) -> dict[int, np.ndarray]:
    """Positions of each distinct code (positions into ``codes``)."""
    if codes.size == 0:
        return {}
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    cut = np.flatnonzero(sc[1:] != sc[:-1]) + 1
    return {
        int(codes[s[0]]): s
        for s in (order[a:b] for a, b in zip(np.r_[0, cut], np.r_[cut, sc.size], strict=True))
    }


def rank_keep(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns of a design without intercept kept by a rank-revealing pivoted QR.

    The intercept is taken as given: a column in its span is not kept.
    """
    from scipy.linalg import qr

    if X.shape[1] == 0:
        return np.zeros(0, dtype=np.int64)
    sw = np.sqrt(w / w.sum())
    Xc = (X - wmean(X, w)) * sw[:, None]
    norms = np.sqrt((Xc**2).sum(0))
    Xs = Xc / np.where(norms > 0, norms, 1.0)
    _, R, piv = qr(Xs, pivoting=True, mode="economic")
    diag = np.abs(np.diag(R))
    if diag.size == 0 or diag[0] == 0:
        return np.zeros(0, dtype=np.int64)
    rank = int((diag > 1e-9 * diag[0]).sum())
    return np.sort(piv[:rank])
