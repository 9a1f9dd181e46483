"""pmt: Proxy Means Test scoring, ranking and desil for social-assistance targeting.

The flat public API; see ``docs/api.md``. The synthetic data generators
(``pmt.synth``) load on first use, so a service or the command line that only
ranks does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors
from ._version import __version__
from .calibrate import Calibration, CrossValidation, calibrate, cross_validate
from .errors import WeightSetError
from .evaluate import (
    Comparison,
    Evaluation,
    EvaluationError,
    compare,
    desil_confusion,
    evaluate,
    explain,
    what_if,
)
from .rank import DesilResult, RankResult, assign_desil, rank, reference_cutoffs, score
from .spec import Derived, Variable, VariableSpec, default_spec
from .weights import Manifest, WeightSet, available_weights, load_weights, save_weights


_LAZY = {"synth": (".synth", None)}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'pmt' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value: Any = importlib.import_module(module, __name__)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Calibration", "CrossValidation", "calibrate", "cross_validate",
    "Comparison", "Evaluation", "EvaluationError", "compare", "desil_confusion", "evaluate",
    "explain", "what_if",
    "DesilResult", "Derived", "Manifest", "RankResult", "Variable", "VariableSpec",
    "WeightSet", "WeightSetError", "assign_desil", "available_weights", "default_spec",
    "errors", "load_weights", "rank", "reference_cutoffs", "save_weights", "score", "synth",
    "__version__",
]
