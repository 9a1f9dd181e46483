"""Variable specs: which household characteristics a weight set uses, and how.

A :class:`VariableSpec` is data that travels with a weight set (inside its
``manifest.json``), not code: a researcher can recalibrate with other
variables without touching :mod:`pmt`. Each :class:`Variable` has a *kind*:

``binary``
    0/1. Scored by table lookup like a two-code categorical.
``categorical``
    One of a fixed set of integer codes, each with a meaning. Scored by table
    lookup: one coefficient per code and model (the first code is the
    reference and has coefficient 0 in a fitted model, but any value is
    allowed). No one-hot matrix is ever built.
``count``
    A whole number in ``[min, max]`` (and at most ``hh_size`` where
    ``max_hh_size`` is set). Scored as a number.
``continuous``
    A finite number in ``[min, max]``. Scored as a number.

A :class:`Derived` term is computed from columns once, at the boundary, and
scored as a number: ``log`` / ``log1p``, powers, piecewise-linear splines,
products (interactions, e.g. with ``urban``), ``per_capita`` and
``log_per_capita`` forms, of variables, ``hh_size``, ``urban`` or earlier
terms (see :mod:`pmt.terms`, the one implementation).

:func:`default_spec` returns the default catalogue, after the DTKS / Regsosek
2022 family form (see ``docs/variables.md``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from .terms import Derived, check_derived, term_names

__all__ = ["CANONICAL_COLUMNS", "Derived", "Variable", "VariableSpec", "default_spec"]

#: The columns every household table has besides the spec's variables.
CANONICAL_COLUMNS = ("hh_id", "district_code", "urban", "hh_size")

Kind = Literal["binary", "categorical", "count", "continuous"]

#: Most codes a categorical variable may have (one byte per code index; 255 is reserved).
MAX_CODES = 255
#: Widest range of code values (``max - min + 1``) of a categorical variable.
MAX_CODE_SPAN = 65_536


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Variable(_Frozen):
    """One household characteristic."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Kind
    label: str
    block: str = "other"
    #: Allowed codes and their meanings (categorical only), in code order.
    codes: dict[int, str] | None = None
    min: float | None = None
    max: float | None = None
    #: A count that can be at most the household size (members of a kind).
    max_hh_size: bool = False
    #: False when the variable enters the model only through derived features.
    in_model: bool = True

    @model_validator(mode="after")
    def _kind_fields(self) -> Variable:
        if self.kind == "categorical":
            if not self.codes or len(self.codes) < 2:
                raise ValueError(f"categorical variable {self.name!r} needs at least two codes")
            # the encoder stores a code's position in one byte (255 marks an invalid code)
            # and looks codes up in a table spanning min..max: both bounds keep every
            # index that reaches the scoring kernel provably in range
            if len(self.codes) > MAX_CODES:
                raise ValueError(
                    f"categorical variable {self.name!r} has {len(self.codes)} codes; at most "
                    f"{MAX_CODES} are allowed. Fix: group the codes, or make it a count or "
                    "continuous variable."
                )
            span = max(self.codes) - min(self.codes) + 1
            if span > MAX_CODE_SPAN:
                raise ValueError(
                    f"categorical variable {self.name!r}: codes span {min(self.codes)}.."
                    f"{max(self.codes)} ({span:,} values); at most {MAX_CODE_SPAN:,} are "
                    "allowed. Fix: recode to small integers."
                )
        elif self.codes is not None:
            raise ValueError(
                f"only categorical variables have codes ({self.name!r} is {self.kind})"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"variable {self.name!r}: min > max")
        return self

    @property
    def code_values(self) -> tuple[int, ...]:
        """The allowed codes in table order (binary: ``(0, 1)``)."""
        if self.kind == "binary":
            return (0, 1)
        return tuple(sorted(self.codes or {}))

    @property
    def is_lookup(self) -> bool:
        """Scored by table lookup (binary and categorical)."""
        return self.kind in ("binary", "categorical")


class VariableSpec(_Frozen):
    """The variables and derived features of a weight set, versioned."""

    name: str
    version: str
    variables: tuple[Variable, ...]
    derived: tuple[Derived, ...] = ()
    #: Households larger than this are rejected as absurd.
    max_household_size: int = Field(default=40, ge=1)
    #: Groups of count variables whose sum may not exceed ``hh_size`` (members of
    #: kinds that do not overlap, e.g. children and elderly). Unset (None): the rule
    #: of pmt 0.1, ``n_children + n_elderly <= hh_size`` when both are in the spec;
    #: ``[]`` declares no such rule. See :attr:`member_sum_rules`.
    at_most_hh_size: tuple[tuple[str, ...], ...] | None = None
    #: False: the models do not split urban and rural households (no ``urban``
    #: column is needed; models are keyed by district and province only). Left out
    #: of the saved JSON when true (the default), so older specs keep their hash.
    urban: bool = True

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        # absent rather than null: specs saved before the field keep their content hash
        if out.get("at_most_hh_size") is None:
            out.pop("at_most_hh_size", None)
        if out.get("urban") is True:
            out.pop("urban", None)
        return out

    @model_validator(mode="after")
    def _member_sums(self) -> VariableSpec:
        counts = {v.name for v in self.variables if v.kind == "count"}
        for group in self.at_most_hh_size or ():
            unknown = [g for g in group if g not in counts]
            if unknown or len(group) < 1 or len(set(group)) != len(group):
                raise ValueError(
                    f"at_most_hh_size: each group must name distinct count variables of the "
                    f"spec; {list(group)} has {unknown or 'a repeated or no name'}"
                )
        return self

    @property
    def member_sum_rules(self) -> tuple[tuple[str, ...], ...]:
        """The groups of counts whose sum the encoder checks against ``hh_size``."""
        if self.at_most_hh_size is not None:
            return self.at_most_hh_size
        names = {v.name for v in self.variables if not v.is_lookup}
        return (("n_children", "n_elderly"),) if {"n_children", "n_elderly"} <= names else ()

    @field_validator("variables")
    @classmethod
    def _unique(cls, variables: tuple[Variable, ...]) -> tuple[Variable, ...]:
        names = [v.name for v in variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variable names must be unique; repeated: {dupes}")
        clash = sorted(set(names) & set(CANONICAL_COLUMNS))
        if clash:
            raise ValueError(f"variables may not reuse the canonical columns {clash}")
        return variables

    @model_validator(mode="after")
    def _derived_args(self) -> VariableSpec:
        check_derived(self.variables, self.derived, urban=self.urban)
        return self

    # -- views used by the encoder and the weight set ------------------------------
    @property
    def lookup_variables(self) -> tuple[Variable, ...]:
        """Binary and categorical variables in the model, in spec order."""
        return tuple(v for v in self.variables if v.is_lookup and v.in_model)

    @property
    def numeric_terms(self) -> tuple[str, ...]:
        """Names of the numeric model terms: count/continuous variables, then derived.

        A spline entry gives one term per knot (``name_1`` ... ``name_k``).
        """
        own = tuple(v.name for v in self.variables if not v.is_lookup and v.in_model)
        return own + term_names(self.derived)

    @property
    def lookup_terms(self) -> tuple[str, ...]:
        """Names of the lookup terms, ``variable=code``, in table order."""
        return tuple(f"{v.name}={c}" for v in self.lookup_variables for c in v.code_values)

    @property
    def terms(self) -> tuple[str, ...]:
        """All coefficient names of one model: ``intercept``, lookup, numeric."""
        return ("intercept", *self.lookup_terms, *self.numeric_terms)

    def variable(self, name: str) -> Variable:
        """The variable called ``name`` (KeyError if none)."""
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)


def _cat(name: str, label: str, block: str, codes: dict[int, str]) -> Variable:
    return Variable(name=name, kind="categorical", label=label, block=block, codes=codes)


def _bin(name: str, label: str, block: str) -> Variable:
    return Variable(name=name, kind="binary", label=label, block=block)


def _count(name: str, label: str, block: str, max_: float, *, per_hh: bool = False) -> Variable:
    return Variable(
        name=name, kind="count", label=label, block=block, min=0, max=max_, max_hh_size=per_hh
    )


def default_spec() -> VariableSpec:
    """The default catalogue, after the DTKS / Regsosek 2022 family form.

    Code sets paraphrase the form's answer categories (``docs/variables.md``); where the
    form has more detail (26 industries) the catalogue uses a documented grouping.
    It is the spec the ``demo`` weight set and :func:`pmt.synth.registry` use.
    """
    H, U, A, M, K = "housing", "utilities", "assets", "members", "head"
    v = [
        _cat(
            "tenure",
            "Building tenure",
            H,
            {
                1: "own",
                2: "contract / lease",
                3: "rent",
                4: "rent-free",
                5: "official housing",
                6: "other",
            },
        ),
        _cat(
            "land_title",
            "Land ownership of the building plot",
            H,
            {
                1: "own, certificate (SHM) in a member's name",
                2: "own, SHM not in a member's name",
                3: "own, other document",
                4: "own, no document",
                5: "not own land",
                6: "other",
            },
        ),
        Variable(
            name="floor_area",
            kind="continuous",
            label="Floor area of the dwelling (m²)",
            block=H,
            min=1,
            max=2000,
            in_model=False,
        ),
        _cat(
            "floor_material",
            "Widest floor material",
            H,
            {
                1: "marble / granite",
                2: "ceramic",
                3: "parquet / vinyl / carpet",
                4: "tiles / terrazzo",
                5: "good-quality wood / board",
                6: "cement / red brick",
                7: "bamboo",
                8: "low-quality wood / board",
                9: "earth",
            },
        ),
        _cat(
            "wall_material",
            "Widest wall material",
            H,
            {
                1: "masonry / brick",
                2: "plastered woven bamboo / wire",
                3: "wood / board",
                4: "woven bamboo",
                5: "log / timber trunk",
                6: "bamboo",
                7: "other",
            },
        ),
        _cat(
            "roof_material",
            "Widest roof material",
            H,
            {
                1: "concrete",
                2: "clay tile",
                3: "asbestos",
                4: "zinc / metal sheet",
                5: "bamboo",
                6: "wood / shingle",
                7: "straw / palm fibre",
                8: "other",
            },
        ),
        _cat(
            "water_source",
            "Main source of drinking water",
            U,
            {
                1: "bottled water",
                2: "refill water",
                3: "metered tap",
                4: "retail tap",
                5: "drilled well / pump",
                6: "protected well",
                7: "unprotected well",
                8: "protected spring",
                9: "unprotected spring",
                10: "surface water",
                11: "rain water",
                12: "PDAM piped water",
                13: "PAMDES village piped water",
            },
        ),
        _cat(
            "water_septic_distance",
            "Distance from drinking-water source to waste disposal",
            U,
            {1: "under 10 m", 2: "10 m or more", 3: "does not know"},
        ),
        _cat(
            "lighting",
            "Main source of lighting",
            U,
            {
                1: "PLN, metered",
                2: "PLN, not metered",
                3: "non-PLN electricity",
                4: "no electricity",
            },
        ),
        _cat(
            "power_va",
            "Installed power of the PLN meter",
            U,
            {
                0: "no PLN meter",
                1: "450 VA",
                2: "900 VA",
                3: "1,300 VA",
                4: "2,200 VA",
                5: "over 2,200 VA",
            },
        ),
        _cat(
            "cooking_fuel",
            "Main cooking fuel",
            U,
            {
                1: "electricity",
                2: "LPG 5.5 kg",
                3: "LPG 12 kg",
                4: "LPG 3 kg",
                5: "city gas",
                6: "biogas",
                7: "kerosene",
                8: "briquette",
                9: "charcoal",
                10: "firewood",
                11: "other",
                12: "does not cook",
            },
        ),
        _cat(
            "toilet_ownership",
            "Use of a toilet facility",
            U,
            {
                1: "own",
                2: "shared with certain households",
                3: "communal (MCK komunal)",
                4: "public",
                5: "other",
                6: "none",
            },
        ),
        _cat(
            "toilet_type",
            "Type of toilet",
            U,
            {
                1: "goose-neck (leher angsa)",
                2: "plengsengan with cover",
                3: "pit (cemplung / cubluk)",
                4: "none",
            },
        ),
        _cat(
            "faecal_disposal",
            "Final disposal of faeces",
            U,
            {
                1: "septic tank",
                2: "wastewater treatment (IPAL)",
                3: "pond / rice field",
                4: "river / lake / sea",
                5: "hole in the ground",
                6: "open field / beach / other",
            },
        ),
        _bin("has_gas_tank", "Gas tank of 5.5 kg or more", A),
        _bin("has_refrigerator", "Refrigerator", A),
        _bin("has_ac", "Air conditioner", A),
        _bin("has_water_heater", "Water heater", A),
        _bin("has_landline", "Landline telephone", A),
        _bin("has_flat_tv", "Flat-screen television (30 inch or more)", A),
        _bin("has_gold", "Gold / jewellery of 10 g or more", A),
        _bin("has_computer", "Computer / laptop", A),
        _bin("has_motorcycle", "Motorcycle", A),
        _bin("has_bicycle", "Bicycle", A),
        _bin("has_car", "Car", A),
        _bin("has_boat", "Boat", A),
        _bin("has_motor_boat", "Motor boat", A),
        _bin("has_smartphone", "Smartphone", A),
        _bin("has_internet", "Internet access at home", A),
        _bin("has_bank_account", "Bank or e-wallet account", A),
        _bin("owns_other_land", "Owns land other than the dwelling plot", A),
        _bin("owns_house_elsewhere", "Owns a house elsewhere", A),
        _count("n_cattle", "Cattle owned", A, 500),
        _count("n_buffalo", "Buffalo owned", A, 500),
        _count("n_horse", "Horses owned", A, 200),
        _count("n_pig", "Pigs owned", A, 1000),
        _count("n_goat", "Goats / sheep owned", A, 1000),
        _count("n_children", "Members aged under 15", M, 30, per_hh=True),
        _count("n_elderly", "Members aged 65 or over", M, 20, per_hh=True),
        _count("n_working", "Members who worked last week", M, 30, per_hh=True),
        _count("n_disabled", "Members with a disability", M, 30, per_hh=True),
        _count("n_chronic_ill", "Members with a chronic illness", M, 30, per_hh=True),
        _count("n_school_dropout", "Members aged 7-18 not in school", M, 20, per_hh=True),
        _bin("head_female", "Head of household is a woman", K),
        Variable(
            name="head_age", kind="count", label="Age of the head (years)", block=K, min=10, max=110
        ),
        _cat(
            "head_education",
            "Highest certificate of the head",
            K,
            {
                0: "none",
                1: "primary (SD / MI / Paket A)",
                2: "junior secondary (SMP / Paket B)",
                3: "senior secondary (SMA / SMK / Paket C)",
                4: "diploma (D1-D3)",
                5: "bachelor (D4 / S1)",
                6: "postgraduate (S2 / S3)",
            },
        ),
        _cat(
            "head_sector",
            "Industry of the head's main work (grouped)",
            K,
            {
                0: "not working",
                1: "agriculture, forestry, fishing",
                2: "mining and quarrying",
                3: "manufacturing",
                4: "construction",
                5: "trade",
                6: "transport and storage",
                7: "accommodation and food",
                8: "public administration, education, health",
                9: "other services",
            },
        ),
        _cat(
            "head_status",
            "Employment status of the head",
            K,
            {
                0: "not working",
                1: "own-account worker",
                2: "employer with temporary / unpaid workers",
                3: "employer with permanent workers",
                4: "employee",
                5: "casual worker",
                6: "unpaid family worker",
            },
        ),
    ]
    derived = (
        Derived(
            name="log_floor_area_pc",
            op="log_per_capita",
            args=("floor_area",),
            label="log of floor area per person (m²)",
        ),
        Derived(name="log_hh_size", op="log", args=("hh_size",), label="log of household size"),
        Derived(
            name="share_dependents",
            op="per_capita",
            args=("n_children", "n_elderly"),
            label="share of members under 15 or 65 and over",
        ),
        Derived(
            name="share_working",
            op="per_capita",
            args=("n_working",),
            label="share of members who worked last week",
        ),
    )
    return VariableSpec(
        name="dtks-regsosek-default", version="1.0", variables=tuple(v), derived=derived
    )
