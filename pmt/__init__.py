"""pmt: Proxy Means Test scoring, ranking and desil for social-assistance targeting.

The flat public API; see ``docs/api.md``.
"""

from . import errors, synth
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

__version__ = "0.1.0"

__all__ = [
    "Calibration", "CrossValidation", "calibrate", "cross_validate",
    "Comparison", "Evaluation", "EvaluationError", "compare", "desil_confusion", "evaluate",
    "explain", "what_if",
    "DesilResult", "Derived", "Manifest", "RankResult", "Variable", "VariableSpec",
    "WeightSet", "WeightSetError", "assign_desil", "available_weights", "default_spec",
    "errors", "load_weights", "rank", "reference_cutoffs", "save_weights", "score", "synth",
    "__version__",
]
