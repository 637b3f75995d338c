"""Configuration of the synthetic state: sizes, demographic rates and submission error rates.

Every knob that changes the output lives here so a manifest (which records `asdict(config)`)
is enough to regenerate a run byte for byte with the same code and Faker version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

GENERATOR_VERSION = "1"


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """Probability of each error in a submission that is not a student's first one.

    Each rate applies among the submissions where the error is possible (its "eligible"
    rows, see `bench.synth.errors.is_eligible`): a day/month swap only when the day is <= 12,
    a hyphen change only for a hyphenated surname, a nickname only for a name that has one.
    First submissions carry none of these (they are the true record), so every difference a
    matcher sees between two rows of one person comes from a recorded error or a move.
    """

    typo: float = 0.04  # one edit (substitute/insert/delete/transpose) in the first, middle or last name
    nickname: float = 0.05  # given name replaced by a nickname (Bill for William)
    name_swap: float = 0.01  # first and last name exchanged
    dob_day_month_swap: float = 0.02  # 2014-03-07 -> 2014-07-03 (only when day <= 12 and day != month)
    dob_digit_typo: float = 0.01  # one digit of the birth date changed (still a valid date)
    middle_dropped: float = 0.15  # middle name missing
    middle_initial: float = 0.05  # middle name reduced to its initial (when not dropped)
    hyphen_surname: float = 0.30  # "Garcia-Lopez" -> "Garcia" or "Lopez"
    compound_spacing: float = 0.20  # "de la Cruz" -> "Delacruz", "O'Brien" -> "OBrien", "Garcia Lopez" -> "Garcia-Lopez"
    case_accents: float = 0.10  # "José" -> "JOSE" / "Jose" / "JOSÉ" (all names, guardians too)
    missing_sex: float = 0.02
    missing_races: float = 0.08
    missing_guardians: float = 0.15
    missing_address: float = 0.05  # address and postal code both missing
    ssn_missing: float = 0.10  # the district did not send the SSN it had
    ssn_typo: float = 0.005  # one SSN digit wrong (when sent)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def scaled(self, factor: float) -> ErrorRates:
        """All rates multiplied by `factor` (capped at 1): for quick harder/easier benches."""
        return replace(self, **{n: min(1.0, getattr(self, n) * factor) for n in self.names()})

    def with_rates(self, **rates: float) -> ErrorRates:
        """Set some rates by name; `all=x` sets every rate first."""
        base = self
        if "all" in rates:
            value = rates.pop("all")
            base = replace(self, **{n: value for n in self.names()})
        unknown = set(rates) - set(self.names())
        if unknown:
            raise ValueError(f"unknown error type(s): {', '.join(sorted(unknown))}; known: {', '.join(self.names())}")
        return replace(base, **rates)


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """One synthetic state. Defaults aim at a realistic US state, ~500 students per school."""

    students: int = 1000
    seed: int = 0
    school_year: int = 2025  # the fall of the school year: ages and grades are as of Sept 1 of it
    state_code: str = "ST"
    students_per_school: int = 500
    schools_per_district: float = 8.0  # mean; district sizes are skewed (lognormal)

    # People.
    ssn_share: float = 0.30  # students whose SSN the state receives
    twin_rate: float = 0.025  # share of students who are a twin (~1.5-3% of births in the US)
    similar_twin_names: float = 0.35  # twin pairs given near-identical names (Aiden/Aidan)
    held_back_rate: float = 0.04  # one grade below the grade for their age
    accelerated_rate: float = 0.01  # one grade above
    sex_x_rate: float = 0.005
    suffix_rate: float = 0.03  # boys with Jr / II / III / IV (named after their father)
    single_guardian_rate: float = 0.30

    # Submission stream.
    transfer_rate: float = 0.08  # families who move to another district during the year
    second_transfer_rate: float = 0.10  # of those, families who move again
    reentry_rate: float = 0.02  # students who leave and re-enroll in their district under a new local id
    resubmission_rate: float = 0.15  # enrollments sent again (same district and local id); a quarter twice
    birthplace_reported: float = 0.60  # share of submissions that carry the birthplace at all
    errors: ErrorRates = field(default_factory=ErrorRates)

    def __post_init__(self) -> None:
        if self.students < 1:
            raise ValueError("students must be >= 1")
        if self.students_per_school < 10:
            raise ValueError("students_per_school must be >= 10")
        if self.schools_per_district < 3:
            raise ValueError("schools_per_district must be >= 3 (every district has an elementary, middle and high school)")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith(("_rate", "_share", "_names", "_reported")) and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be within [0, 1], got {value}")
        for name in ErrorRates.names():
            value = getattr(self.errors, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"error rate {name} must be within [0, 1], got {value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthConfig:
        """Rebuild a config from a manifest's "config" entry."""
        data = dict(data)
        errors = ErrorRates(**data.pop("errors", {}))
        return cls(**data, errors=errors)
