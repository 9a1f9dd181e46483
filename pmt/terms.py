"""Derived terms: numeric model terms built from a household's columns.

A :class:`Derived` entry of a :class:`~pmt.spec.VariableSpec` declares one
*op* over one or more *args*. Args name count, continuous or binary
variables of the spec, the canonical columns ``hh_size`` and ``urban``, or
a derived term declared earlier in the spec. The ops:

``value``
    The column itself (e.g. ``hh_size`` as a linear term).
``log``, ``log1p``
    ``log(a)`` (``a > 0``), ``log(1 + a)`` (``a > -1``).
``power``
    ``a ** power`` (``power`` is a field of the entry; 2 is a square).
``spline``
    A piecewise-linear spline: one hinge term ``max(0, a - knot)`` per knot
    (``knots``, increasing), named ``<name>_1`` ... ``<name>_k``. The linear
    part is the variable itself (or a ``value`` term).
``product``
    The product of the args: an interaction (a variable x ``urban``, or a
    variable x another variable).
``per_capita``, ``log_per_capita``
    ``sum(args) / hh_size`` and ``log(a / hh_size)`` (``a > 0``).

:func:`fill` computes every derived term from the validated columns; it is
the one implementation, called by :func:`pmt.encode.encode`, whose numeric
array both scoring and calibration's design matrix
(:func:`pmt.calibration.data.design`) read. Logs and powers are the C
library's, value by value (Python's ``math.log``, ``math.log1p`` and
``math.pow`` give the same bits), not numpy's, whose results depend on the
processor: so a household's welfare is the same on every machine with the
same C library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from . import errors as E
from ._kernels import libm
from .rejects import input_rows

if TYPE_CHECKING:
    from .spec import Variable

__all__ = ["OPS", "Derived", "check_derived", "fill", "term_names"]

#: The ops a derived term may use.
OPS = ("value", "log", "log1p", "power", "spline", "product", "per_capita", "log_per_capita")
_ONE_ARG = ("value", "log", "log1p", "power", "spline", "log_per_capita")


class Derived(BaseModel):
    """A numeric term computed from columns at the boundary (see :mod:`pmt.terms`).

    ``op`` is one of :data:`OPS`; ``args`` name numeric or binary variables of
    the spec, ``hh_size``, ``urban`` or an earlier derived term. ``power`` is
    for ``op: "power"`` only, ``knots`` for ``op: "spline"`` only; both are
    left out of the saved JSON when unset.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    op: Literal[
        "value", "log", "log1p", "power", "spline", "product", "per_capita", "log_per_capita"
    ]
    args: tuple[str, ...] = Field(min_length=1)
    label: str = ""
    #: The exponent of ``op: "power"``.
    power: float | None = None
    #: The knots of ``op: "spline"``, increasing: one hinge term per knot.
    knots: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _arity(self) -> Derived:
        where = f"derived feature {self.name!r}"
        if self.op in _ONE_ARG and len(self.args) != 1:
            raise ValueError(f"{where}: op {self.op!r} takes one argument")
        if self.op == "product" and len(self.args) < 2:
            raise ValueError(f"{where}: op 'product' takes two or more arguments")
        if (self.op == "power") != (self.power is not None):
            raise ValueError(f"{where}: 'power' is required with op 'power' and only there")
        if self.power is not None and not np.isfinite(self.power):
            raise ValueError(f"{where}: power must be a finite number")
        if (self.op == "spline") != (self.knots is not None):
            raise ValueError(f"{where}: 'knots' is required with op 'spline' and only there")
        if self.knots is not None:
            k = np.asarray(self.knots, dtype=np.float64)
            if k.size == 0 or not np.isfinite(k).all() or (np.diff(k) <= 0).any():
                raise ValueError(
                    f"{where}: knots must be one or more finite numbers, increasing; got "
                    f"{list(self.knots)}"
                )
        return self

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        # absent rather than null: specs saved before these fields keep their content hash
        for name in ("power", "knots"):
            if out.get(name) is None:
                out.pop(name, None)
        return out

    @property
    def outputs(self) -> tuple[str, ...]:
        """The model terms this entry makes: its name, or ``name_1..name_k`` for a spline."""
        if self.knots is not None:
            return tuple(f"{self.name}_{j}" for j in range(1, len(self.knots) + 1))
        return (self.name,)


def term_names(derived: Iterable[Derived]) -> tuple[str, ...]:
    """The numeric model terms of ``derived``, in order (splines expanded)."""
    return tuple(t for d in derived for t in d.outputs)


def check_derived(
    variables: tuple[Variable, ...], derived: tuple[Derived, ...], *, urban: bool = True
) -> None:
    """Raise ValueError unless each derived term's args exist and are numeric.

    An arg is a count, continuous or binary variable, ``hh_size``, ``urban``
    (when the spec has an urban split) or a term of an earlier entry; term
    names must not reuse a variable, canonical column or ``intercept``.
    """
    names = {v.name for v in variables}
    usable = {v.name for v in variables if v.kind != "categorical"} | {"hh_size"}
    reserved = names | {"hh_id", "district_code", "urban", "hh_size", "intercept"}
    if urban:
        usable.add("urban")
    seen: set[str] = set()
    for d in derived:
        for t in d.outputs:
            if t in reserved or t in seen:
                raise ValueError(f"derived feature {d.name!r} reuses a column name ({t!r})")
        known = names | usable | seen
        missing = [a for a in d.args if a not in known]
        if missing:
            hint = (
                " (the spec has no urban split: urban is false)"
                if "urban" in missing and not urban
                else ""
            )
            raise ValueError(f"derived feature {d.name!r} uses unknown columns {missing}{hint}")
        if any(a not in usable and a not in seen for a in d.args):
            raise ValueError(
                f"derived feature {d.name!r} must use numeric columns (count, continuous or "
                "binary variables, hh_size, urban, or an earlier derived term); a categorical "
                "variable enters by its codes"
            )
        seen.update(d.outputs)


def fill(
    derived: tuple[Derived, ...],
    columns: MutableMapping[str, np.ndarray],
    out: Mapping[str, np.ndarray],
) -> None:
    """Compute every derived term into its column of ``out``: the one implementation.

    Parameters
    ----------
    derived : tuple of Derived
        The spec's entries, in order.
    columns : dict of str to ndarray
        The validated columns by name: ``hh_size`` (int64), ``urban`` (int64,
        when the spec has it), count and continuous variables (float64), binary
        variables (0/1). Each term computed is added to it, for later entries.
    out : mapping of str to ndarray
        Term name -> the (n,) float64 array to write (e.g. a column of the
        encoder's numeric array).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for d in derived:
            a = columns[d.args[0]]
            if d.op == "spline":
                assert d.knots is not None
                for name, knot in zip(d.outputs, d.knots, strict=True):
                    col = out[name]
                    np.subtract(a, knot, out=col)
                    np.maximum(col, 0.0, out=col)
                    columns[name] = col
                continue
            col = out[d.name]
            if d.op == "value":
                np.copyto(col, a)
            elif d.op == "log":
                np.copyto(col, a)
                libm.log(col, col)
            elif d.op == "log1p":
                np.copyto(col, a)
                libm.log1p(col, col)
            elif d.op == "power":
                assert d.power is not None
                np.copyto(col, a)
                libm.power(col, d.power, col)
            elif d.op == "product":
                np.multiply(a, columns[d.args[1]], out=col)
                for name in d.args[2:]:
                    np.multiply(col, columns[name], out=col)
            elif d.op == "per_capita":
                np.copyto(col, a)
                for name in d.args[1:]:
                    np.add(col, columns[name], out=col)
                np.divide(col, columns["hh_size"], out=col)  # int64 hh_size: cast exactly
            else:  # log_per_capita
                np.divide(a, columns["hh_size"], out=col)
                libm.log(col, col)
            columns[d.name] = col


def check_finite(
    derived: tuple[Derived, ...],
    out: Mapping[str, np.ndarray],
    rows: np.ndarray,
    row_offset: int | np.ndarray,
) -> None:
    """Raise :class:`~pmt.errors.InvalidValueError` if a term is not finite at ``rows``.

    ``rows`` are ascending positions; when they are every row, the columns are
    read as they are (no copy).
    """
    for d in derived:
        for name in d.outputs:
            col = out[name]
            finite = np.isfinite(col if rows.size == col.shape[0] else col[rows])
            if not finite.all():
                bad = input_rows(rows[~finite][:5], row_offset)
                raise E.InvalidValueError(
                    f"derived feature {d.name!r} ({d.op} of {list(d.args)}) is not finite at "
                    f"{E.format_examples(bad)}. Fix: its inputs must be in "
                    "the op's domain (positive for log, above -1 for log1p); set the "
                    "variable's min in the spec accordingly.",
                    column=d.args[0],
                    rows=bad,
                )
