"""Argument checks shared by the synthetic-data generators."""

from __future__ import annotations

import numpy as np

from ..spec import VariableSpec, default_spec


class _ArgumentTypeError(ValueError, TypeError):
    """A wrong argument type: a TypeError that ``except ValueError`` also catches."""


def _check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int, if it is an integer (not a bool) of at least ``minimum``.

    Raises
    ------
    TypeError
        If ``value`` is not an int or numpy integer (also a ValueError).
    ValueError
        If ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _ArgumentTypeError(
            f"{name} must be an int >= {minimum}; got {value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}")
    return int(value)


def _check_spec(spec: object) -> VariableSpec:
    """``spec``, or :func:`pmt.spec.default_spec` if it is None.

    Raises
    ------
    TypeError
        If ``spec`` is neither None nor a :class:`~pmt.spec.VariableSpec`.
    """
    if spec is None:
        return default_spec()
    if not isinstance(spec, VariableSpec):
        raise TypeError(f"spec must be a pmt.VariableSpec or None; got {type(spec).__name__}")
    return spec
