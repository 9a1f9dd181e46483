"""Old module paths kept for one release, with a DeprecationWarning.

A module that moved (``pmt.calibrate`` -> ``pmt.calibration``) keeps a file at
its old path that calls :func:`deprecated_module`: importing it warns, names
from it still resolve to the new module, and where the old module shared its
name with a public function (``pmt.calibrate``, the module, and
``pmt.calibrate()``, the function) the module stays callable as that function,
so ``pmt.calibrate(...)`` keeps working after the old module was imported.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import Any

__all__ = ["deprecated_module"]


def deprecated_module(
    name: str, new: str, *, call: str | None = None, removed_in: str = "0.3"
) -> None:
    """Make the module ``name`` a deprecated alias of the module ``new``.

    Parameters
    ----------
    name : str
        The old module's ``__name__`` (the caller passes ``__name__``).
    new : str
        Where its contents live now.
    call : str, optional
        A function of ``new`` that calling the old module calls.
    removed_in : str
        The release that removes the old path (said in the warning).
    """
    warnings.warn(
        f"the module {name} is deprecated and will be removed in pmt {removed_in}; "
        f"import from {new} (or from pmt) instead",
        DeprecationWarning,
        stacklevel=3,
    )
    target = importlib.import_module(new)

    class _Alias(types.ModuleType):
        def __getattr__(self, attr: str) -> Any:
            return getattr(target, attr)

        def __dir__(self) -> list[str]:
            return sorted(set(dir(target)))

        if call is not None:

            def __call__(self, *args: Any, **kwargs: Any) -> Any:
                return getattr(target, call)(*args, **kwargs)

    sys.modules[name].__class__ = _Alias
