"""pmt: Proxy Means Test scoring, ranking and desil for social-assistance targeting.

The flat public API; see ``docs/api.md``. Ranking, scoring and weight sets load
with ``import pmt``; evaluation, recalibration, the file helpers (``pmt.io``)
and the synthetic data generators (``pmt.synth``) load on first use, so a
service or the command line that only ranks does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors
from ._kernels import warmup
from ._version import __version__
from .errors import WeightSetError
from .rank import assign_desil, rank, reference_cutoffs, score
from .ranker import Ranker
from .results import DesilResult, RankResult
from .selection import desil_only
from .spec import Derived, Variable, VariableSpec, default_spec
from .weights import Manifest, WeightSet, available_weights, load_weights, save_weights

#: Public names loaded on first use: name -> (module, attribute or None for the module).
_LAZY: dict[str, tuple[str, str | None]] = {
    "synth": (".synth", None),
    "io": (".io", None),
    "calibration": (".calibration", None),
    "evaluation": (".evaluation", None),
    "report": (".report", None),
    "operations": (".operations", None),
    **{
        name: (".operations", name)
        for name in (
            "Snapshot",
            "adopt",
            "allocate",
            "load_snapshot",
            "transitions",
            "verification_list",
        )
    },
    **{
        name: (".calibration", name)
        for name in ("Calibration", "CrossValidation", "calibrate", "cross_validate")
    },
    **{
        name: (".evaluation", name)
        for name in (
            "Comparison",
            "Evaluation",
            "EvaluationError",
            "compare",
            "desil_confusion",
            "evaluate",
            "explain",
            "what_if",
        )
    },
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'pmt' has no attribute {name!r}")
    module_name = _LAZY[name][0]
    module = importlib.import_module(module_name, __name__)
    # importing a submodule binds it on the package under its own name (pmt.calibrate
    # the module): bind every public name of that module, so the functions win
    for other, (where, attr) in _LAZY.items():
        if where == module_name:
            globals()[other] = module if attr is None else getattr(module, attr)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Calibration",
    "Comparison",
    "CrossValidation",
    "Derived",
    "DesilResult",
    "Evaluation",
    "EvaluationError",
    "Manifest",
    "RankResult",
    "Ranker",
    "Snapshot",
    "Variable",
    "VariableSpec",
    "WeightSet",
    "WeightSetError",
    "__version__",
    "adopt",
    "allocate",
    "assign_desil",
    "available_weights",
    "calibrate",
    "compare",
    "cross_validate",
    "default_spec",
    "desil_confusion",
    "desil_only",
    "errors",
    "evaluate",
    "explain",
    "io",
    "load_snapshot",
    "load_weights",
    "operations",
    "rank",
    "reference_cutoffs",
    "save_weights",
    "score",
    "synth",
    "transitions",
    "verification_list",
    "warmup",
    "what_if",
]
