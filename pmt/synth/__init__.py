"""Synthetic household registries and surveys with realistic joint structure.

Everything this package makes is SYNTHETIC: no row describes a real
household, district codes follow the BPS convention (kabupaten ``PP01``-``PP69``,
kota ``PP71``-``PP99``) but are numbered here, not taken from the official
list, and every share, probability and model is illustrative. The data serve
tests, demos and benchmarks.

:func:`registry`
    A household table in the canonical columns (``hh_id``, ``district_code``,
    ``urban``, ``hh_size``) plus every variable of a
    :class:`~pmt.spec.VariableSpec`, deterministic by seed.
:func:`survey`
    A SUSENAS-like stratified two-stage sample of such households (PSUs,
    survey weights) with a per-capita consumption from KNOWN regional models,
    for recalibration (:func:`pmt.calibrate`) and its tests.
:func:`districts`
    The 514 synthetic districts and the illustrative shares both use.

The package is laid out by job; its modules are private, and only the three
functions above are its API:

``_geography``
    province tables, province tilts of single variables, the district table;
``_catalogue``
    base probabilities of the built-in variables, as ordinal-probit cut points;
``_households``
    the joint model that draws households (shared by registry and survey);
``_registry``
    the registry: blocks of rows with their own random streams;
``_survey``
    the survey design, its weights and consumption;
``_truth``
    the survey's true consumption models and illustrative poverty lines;
``_args``
    argument checks shared by the generators.

The modules carry a leading underscore because the public functions
``registry`` and ``survey`` share their jobs' names: a submodule
``pmt.synth.registry`` would make ``import pmt.synth.registry as r`` give the
function, not the module.
"""

from __future__ import annotations

from ._geography import districts
from ._registry import registry
from ._survey import survey

__all__ = ["districts", "registry", "survey"]
