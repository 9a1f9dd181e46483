"""How to calibrate: the options of :func:`pmt.calibration.calibrate`, checked once.

:class:`Options` is the validated record of every calibration option; it is
recorded in the weight set's provenance (:meth:`Options.record`). Options an
estimator of its own defines (not a parameter of ``calibrate``) travel in
``estimator_options`` and are checked by that estimator
(:meth:`pmt.calibration.estimators.Estimator.check`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ArgumentError
from .estimators import ESTIMATORS
from .tree import LEVEL_ORDER

__all__ = ["POOLING", "Options", "json_num", "options_from"]

#: The regional structures of ``pooling=``.
POOLING = ("shrink", "fallback", "none")


@dataclass(frozen=True)
class Options:
    """How to calibrate (validated when built; recorded in the manifest's provenance).

    See :func:`pmt.calibration.calibrate` for the meaning of each field;
    ``estimator_options`` holds the options of an added estimator as
    ``(name, value)`` pairs (:meth:`estimator_option` reads them).
    """

    estimator: str = "wls"
    tau: float = 0.5
    truncate: float = 0.5
    solver: Literal["ipm", "highs"] = "ipm"
    select: Literal["stepwise"] | None = None
    p_enter: float = 0.05
    p_remove: float = 0.10
    keep: tuple[str, ...] = ()
    pooling: Literal["shrink", "fallback", "none"] = "shrink"
    min_households: int | None = None
    min_psus: int = 2
    lambdas: tuple[tuple[str, float, float], ...] | None = None
    pooling_folds: int = 5
    seed: int = 0
    on_collinear: Literal["raise", "drop"] = "raise"
    n_classes: int = 10
    estimator_options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> None:
            raise ArgumentError(f"{name}={getattr(self, name)!r}: {rule}", argument=name)

        if self.estimator not in ESTIMATORS:
            bad("estimator", f"must be one of {tuple(ESTIMATORS)}")
        if not 0.0 < self.tau < 1.0:
            bad("tau", "must lie strictly between 0 and 1")
        if not 0.0 < self.truncate <= 1.0:
            bad("truncate", "the poorest share kept must lie in (0, 1]")
        if self.solver not in ("ipm", "highs"):
            bad("solver", "must be 'ipm' or 'highs'")
        if self.select not in (None, "stepwise"):
            bad("select", "must be None or 'stepwise'")
        if not 0.0 < self.p_enter <= self.p_remove <= 1.0:
            bad("p_enter", f"needs 0 < p_enter <= p_remove <= 1 (p_remove={self.p_remove})")
        if self.pooling not in POOLING:
            bad("pooling", f"must be one of {POOLING}")
        if self.min_households is not None and self.min_households < 1:
            bad("min_households", "must be at least 1")
        if self.min_psus < 1:
            bad("min_psus", "must be at least 1")
        if self.pooling_folds < 2:
            bad("pooling_folds", "cross-validation needs at least 2 folds")
        if self.on_collinear not in ("raise", "drop"):
            bad("on_collinear", "must be 'raise' or 'drop'")
        if not 2 <= self.n_classes <= 100:
            bad("n_classes", "must be from 2 to 100")
        if self.lambdas is not None:
            for level, lam, lam0 in self.lambdas:
                if level not in LEVEL_ORDER or not (lam >= 0 and lam0 >= 0):  # NaN too
                    bad(
                        "lambdas",
                        f"needs levels from {LEVEL_ORDER} and strengths >= 0 (a number or "
                        f"inf; not NaN); not so for {level!r}. Fix: pass e.g. "
                        "lambdas={'district_urban': (3000, 100)}, or leave lambdas=None to "
                        "choose them by cross-validation",
                    )
        est = ESTIMATORS[self.estimator]
        fields = {f.name for f in dataclasses.fields(self)}
        given = dict(self.estimator_options)
        shadowed = sorted(set(given) & fields)
        if shadowed:
            raise TypeError(
                f"estimator_options: {shadowed} are parameters of calibrate; pass "
                "them directly (e.g. tau=0.3)"
            )
        unknown = sorted(set(given) - set(est.options))
        if unknown:
            raise TypeError(
                f"estimator_options: {unknown} are not options of the estimator "
                f"{self.estimator!r}; it takes {sorted(est.options) or 'none'}"
            )
        est.check(self)

    def estimator_option(self, name: str) -> Any:
        """An option of the estimator: as given in ``estimator_options``, else its default."""
        given = dict(self.estimator_options)
        return given[name] if name in given else ESTIMATORS[self.estimator].options[name]

    def min_households_for(self, n_coef: int) -> int:
        """Households a node needs for a model of its own under this pooling."""
        if self.min_households is not None:
            return self.min_households
        return {"shrink": 30, "fallback": 5 * n_coef, "none": 30}[self.pooling]

    def record(self) -> dict[str, Any]:
        """The options as JSON-ready provenance (``estimator_options`` only when given)."""
        out = dataclasses.asdict(self)
        out["keep"] = list(self.keep)
        if self.lambdas is not None:
            out["lambdas"] = {lvl: [json_num(a), json_num(b)] for lvl, a, b in self.lambdas}
        del out["estimator_options"]
        if self.estimator_options:
            out["estimator_options"] = dict(self.estimator_options)
        return out


def json_num(x: float) -> float | str:
    """A float for JSON: ``"inf"`` for infinity."""
    return "inf" if math.isinf(x) else float(x)


def options_from(kw: Mapping[str, Any]) -> Options:
    """:class:`Options` from keyword arguments; unknown names are a TypeError.

    ``keep`` may be any iterable, ``lambdas`` a mapping ``level -> lambda`` or
    ``level -> (lambda, lambda_intercept)``, ``estimator_options`` a mapping.
    """
    kw = dict(kw)
    if "keep" in kw:
        kw["keep"] = tuple(kw["keep"] or ())
    lam = kw.get("lambdas")
    if lam is not None and not isinstance(lam, tuple):
        kw["lambdas"] = tuple(
            (lvl, float(v[0]), float(v[1]))
            if isinstance(v, (tuple, list))
            else (lvl, float(v), 0.0)
            for lvl, v in dict(lam).items()
        )
    if "estimator_options" in kw:
        kw["estimator_options"] = tuple(dict(kw["estimator_options"] or {}).items())
    names = {f.name for f in dataclasses.fields(Options)}
    unknown = sorted(set(kw) - names)
    if unknown:
        raise TypeError(f"unknown calibration options {unknown}; known: {sorted(names)}")
    return Options(**kw)
