"""The data dictionary: every field of the student and staff records, with its access level.

It is data (`data/data_dictionary.toml`, `data/code_sets.toml`) so policy staff can review it
without reading code, and it is validated on load so a typo cannot silently widen access.

Field names are dotted paths of record keys: `state_student_id` is a key at the record root,
`enrollment.entry_date` is the key `entry_date` inside the `enrollment` section, and
`special_education.services.service_type` goes one level deeper. A section may hold a mapping or
a list of sub-records; a name then applies to every element (see `access.project`). Names are
unique within an entity ("student" or "staff").
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, computed_field, model_validator

DATA_DIR = Path(__file__).parent / "data"

Entity = Literal["student", "staff"]
PiiClass = Literal["direct", "indirect", "none"]
FieldType = Literal["string", "date", "integer", "decimal", "boolean", "code", "code_list"]

_NAME = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


class FieldSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    entity: Entity
    category: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    pii: PiiClass
    level: int = Field(ge=1, le=4)
    type: FieldType
    code_set: str | None = None
    description: str = Field(min_length=1)
    sensitive: bool = False
    never_returned: bool = False
    # FERPA 34 CFR 99.3/99.37 directory information: released to outside parties without consent
    # unless the parent or eligible student has opted the student out.
    directory: bool = False

    @model_validator(mode="after")
    def _code_set_matches_type(self) -> FieldSpec:
        if (self.type in ("code", "code_list")) != (self.code_set is not None):
            raise ValueError(f"{self.name}: a code_set is required for, and only for, code types")
        return self


class CodeSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = Field(min_length=1)
    values: dict[str, str] = Field(default_factory=dict)
    standard: str | None = None  # an external standard the values come from (e.g. ISO 639-3)

    @model_validator(mode="after")
    def _values_or_standard(self) -> CodeSet:
        if not self.values and not self.standard:
            raise ValueError(f"code set {self.name}: needs values or a standard")
        return self


class DataDictionary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    release: str = Field(min_length=1)  # the editors' `version` key in the TOML, e.g. "2026.1"
    sha256: str  # of the TOML sources, so two deployments can tell they serve the same content
    fields: tuple[FieldSpec, ...]
    code_sets: tuple[CodeSet, ...]

    _by_name: dict[tuple[str, str], FieldSpec] = PrivateAttr(default_factory=dict)
    _code_sets: dict[str, CodeSet] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> DataDictionary:
        for spec in self.fields:
            key = (spec.entity, spec.name)
            if key in self._by_name:
                raise ValueError(f"duplicate {spec.entity} field {spec.name}")
            self._by_name[key] = spec
        for code_set in self.code_sets:
            if code_set.name in self._code_sets:
                raise ValueError(f"duplicate code set {code_set.name}")
            self._code_sets[code_set.name] = code_set
        for spec in self.fields:
            if spec.code_set is not None and spec.code_set not in self._code_sets:
                raise ValueError(f"{spec.name}: unknown code set {spec.code_set}")
            # A name that is also a section of another name would make projection ambiguous.
            parts = spec.name.split(".")
            for depth in range(1, len(parts)):
                if (spec.entity, ".".join(parts[:depth])) in self._by_name:
                    raise ValueError(f"{spec.name}: a prefix of it is itself a field")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> str:
        """What an API reports (and may use as an ETag): the release plus a content hash, so an
        edit that forgets to bump the release still changes it."""
        return f"{self.release}+sha256.{self.sha256[:12]}"

    def field(self, entity: Entity, name: str) -> FieldSpec:
        return self._by_name[(entity, name)]

    def has_field(self, entity: Entity, name: str) -> bool:
        return (entity, name) in self._by_name

    def fields_for(self, entity: Entity, category: str | None = None) -> tuple[FieldSpec, ...]:
        return tuple(
            f for f in self.fields if f.entity == entity and category in (None, f.category)
        )

    def categories(self, entity: Entity) -> frozenset[str]:
        return frozenset(f.category for f in self.fields if f.entity == entity)

    def code_set(self, name: str) -> CodeSet:
        return self._code_sets[name]

    @classmethod
    def from_toml(cls, dictionary_toml: str, code_sets_toml: str) -> DataDictionary:
        """Parse and validate; raises `ValueError` (pydantic's `ValidationError`) on bad data."""
        raw = tomllib.loads(dictionary_toml)
        code_sets = tomllib.loads(code_sets_toml)
        digest = hashlib.sha256()
        for text in (dictionary_toml, code_sets_toml):
            digest.update(text.encode() + b"\0")
        return cls(
            release=raw.get("version", ""),
            sha256=digest.hexdigest(),
            fields=raw.get("fields", []),
            code_sets=[{"name": name, **body} for name, body in code_sets.items()],
        )


@cache
def load_data_dictionary() -> DataDictionary:
    """The packaged dictionary, parsed once per process."""
    return DataDictionary.from_toml(
        (DATA_DIR / "data_dictionary.toml").read_text(encoding="utf-8"),
        (DATA_DIR / "code_sets.toml").read_text(encoding="utf-8"),
    )
