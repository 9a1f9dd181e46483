"""Slow, obviously correct references for scoring and desil (pure Python / numpy).

Every kernel test compares against these. They follow DESIGN.md's words
literally: O(n^2) comparisons, one household at a time, no sorting tricks.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd

from pmt.regions import fallback_chain


def _log(x: float) -> float:
    """Natural log as the C library computes it: pmt's rule (numpy's may differ by an ulp)."""
    return math.log(x)


def model_key(ws, district: int, urban: int) -> str:
    keys = set(ws.model_keys)
    for key in fallback_chain(int(district), int(urban)):
        if key in keys:
            return key
    raise KeyError((district, urban))


def welfare(households: pd.DataFrame, ws) -> np.ndarray:
    """Predicted log per-capita consumption minus log poverty line, row by row."""
    spec = ws.spec
    terms = spec.terms
    row_of = ws.model_index()
    out = np.empty(len(households))
    for pos, (_, hh) in enumerate(households.iterrows()):
        key = model_key(ws, hh["district_code"], hh["urban"])
        coef = dict(zip(terms, ws.coefficients[row_of[key]], strict=True))
        total = coef["intercept"]
        for v in spec.lookup_variables:
            total += coef[f"{v.name}={int(hh[v.name])}"]
        size = float(hh["hh_size"])
        for name in spec.numeric_terms:
            d = next((d for d in spec.derived if d.name == name), None)
            if d is None:
                x = float(hh[name])
            elif d.op == "log":
                x = _log(float(hh[d.args[0]]))
            elif d.op == "per_capita":
                x = sum(float(hh[a]) for a in d.args) / size
            else:
                x = _log(float(hh[d.args[0]]) / size)
            total += coef[name] * x
        if ws.poverty_lines:
            line = next(
                ws.poverty_lines[k]
                for k in fallback_chain(int(hh["district_code"]), int(hh["urban"]))
                if k in ws.poverty_lines
            )
            total -= math.log(line)
        out[pos] = total
    return out


def _inputs_and_outputs(welfare, weight, groups):
    """welfare, weights and group labels as arrays; empty desil, rank and share arrays."""
    w = np.asarray(welfare, dtype=float)
    p = np.asarray(weight, dtype=float)
    g = np.zeros(len(w), dtype=int) if groups is None else np.asarray(groups)
    return (w, p, g, np.empty(len(w), dtype=int), np.empty(len(w), dtype=int), np.empty(len(w)))


def desil(welfare, weight, groups=None, n=10):
    """(desil, rank, share_below) by the rule's definition, O(n^2) per group."""
    w, p, g, d, r, s = _inputs_and_outputs(welfare, weight, groups)
    for label in np.unique(g):
        idx = np.flatnonzero(g == label)
        total = math.fsum(p[idx])
        for i in idx:
            poorer = idx[w[idx] < w[i]]
            below = math.fsum(p[poorer])
            d[i] = 1 + sum(1 for k in range(1, n) if n * below >= k * total)
            r[i] = 1 + len(poorer)
            s[i] = below / total
    return d, r, s


def cutoffs(welfare, weight, n=10):
    """c_k = the smallest welfare whose weighted CDF (household counted in) reaches k/n."""
    w = np.asarray(welfare, dtype=float)
    p = np.asarray(weight, dtype=float)
    total = math.fsum(p)
    out = []
    for k in range(1, n):
        candidates = [x for x in np.unique(w) if n * math.fsum(p[w <= x]) >= k * total]
        out.append(min(candidates))
    return np.array(out)


def desil_reference(welfare, cut):
    w = np.asarray(welfare, dtype=float)
    return np.array([1 + sum(1 for c in cut if x > c) for x in w])


def desil_by_runs(welfare, weight, groups=None, n=10):
    """(desil, rank, share_below) by the rule, O(n log n): for large inputs.

    Per group, households sorted by welfare and cut into runs of equal welfare;
    ``S`` of a run is the exact weight of all earlier runs (``Fraction`` sums,
    rounded once). Obviously correct, not fast.
    """
    w, p, g, d, r, s = _inputs_and_outputs(welfare, weight, groups)
    for label in np.unique(g):
        idx = np.flatnonzero(g == label)
        idx = idx[np.argsort(w[idx], kind="stable")]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(w[idx]) != 0) + 1, [len(idx)]])
        runs = [idx[a:b] for a, b in itertools.pairwise(starts)]
        total = sum((Fraction(x) for x in p[idx]), Fraction(0))
        below = Fraction(0)
        for a, members in zip(starts[:-1], runs, strict=True):
            s_float, t_float = float(below), float(total)
            d[members] = 1 + sum(1 for k in range(1, n) if n * s_float >= k * t_float)
            r[members] = 1 + a
            s[members] = float(below / total)
            below += sum((Fraction(x) for x in p[members]), Fraction(0))
    return d, r, s
