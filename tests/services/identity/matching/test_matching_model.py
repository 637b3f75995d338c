"""The model as data: explanations that add up and serialise, TOML that round-trips, parameters
that are checked when loaded."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import replace
from datetime import date
from importlib.resources import files

import pytest

from services.identity.matching import FIELDS, MatchModel, PersonFacts, prepare, score

A = PersonFacts(first_name="Ana", middle_name="Sofia", last_name="Ruiz", birth_date=date(2013, 2, 9), sex="F",
                guardian_names=("Elena Ruiz",), address="8 Oak Ave", postal_code="87501")
PAIRS = [
    (A, A),
    (A, replace(A, first_name="Anna", birth_date=date(2013, 9, 2), middle_name=None)),
    (A, replace(A, first_name="Lucia")),
    (A, PersonFacts(first_name="Zed", last_name="Quincy", birth_date=None)),
]


@pytest.mark.parametrize("a,b", PAIRS)
def test_contributions_add_up_and_serialise(a: PersonFacts, b: PersonFacts) -> None:
    explanation = score(prepare(a), prepare(b))
    assert math.isclose(sum(c.weight for c in explanation.contributions), explanation.weight, abs_tol=1e-9)
    assert math.isclose(explanation.probability, 1 / (1 + 2 ** -explanation.weight), rel_tol=1e-12)
    fields = [c.field for c in explanation.contributions]
    assert fields == ["prior", *(f.name for f in FIELDS), "sibling_guard"]

    data = json.loads(json.dumps(explanation.to_json()))
    assert data["rule"] == "probabilistic" and data["probability"] == explanation.probability
    assert [c["field"] for c in data["contributions"]] == fields
    assert math.isclose(sum(c["weight"] for c in data["contributions"]), data["weight"], abs_tol=1e-9)


def test_weights_are_log2_bayes_factors() -> None:
    model = MatchModel.load_default()
    for f in FIELDS:
        for level in f.levels:
            if level in f.neutral:
                assert model.weight(f.name, level) == 0.0
            else:
                assert model.weight(f.name, level) == pytest.approx(
                    math.log2(model.m[f.name][level] / model.u[f.name][level]))
    assert model.prior_weight == pytest.approx(math.log2(model.prior / (1 - model.prior)))
    # agreement counts for, disagreement against
    assert model.weight("first_name", "exact") > model.weight("first_name", "nickname") > 0
    assert model.weight("birth_date", "exact") > model.weight("birth_date", "day_month_swapped") > 0
    assert model.weight("ssn", "equal") > 15 and model.weight("ssn", "different") < -4


def test_toml_round_trips() -> None:
    model = MatchModel.load_default()
    assert MatchModel.from_toml(model.to_toml()) == model
    changed = MatchModel(prior=0.002, m=model.m, u=model.u, source='EM "run" 1')
    again = MatchModel.from_toml(changed.to_toml())
    assert again == changed and again.source == 'EM "run" 1'


def test_default_file_documents_every_level() -> None:
    text = files("services.identity.matching").joinpath("data/default_model.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    for f in FIELDS:
        assert set(data[f.name]) == set(f.levels) - f.neutral
    level_lines = [line for line in text.splitlines() if " = { m = " in line]
    assert len(level_lines) == sum(len(set(f.levels) - f.neutral) for f in FIELDS)
    assert all("#" in line for line in level_lines)  # each says where its numbers come from


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace("nickname = { m = 0.04, u = 0.0015 }", ""), "first_name"),
    (lambda t: t.replace("equal = { m = 0.98, u = 0.5 }", "equal = { m = 0.5, u = 0.5 }"), "sum to 1"),
    (lambda t: t.replace("prior = 1.0e-6", "prior = 0"), "prior"),
    (lambda t: t + "\n[shoe_size]\nequal = { m = 1.0, u = 1.0 }\n", "unknown"),
    (lambda t: t.replace("equal = { m = 0.98, u = 0.5 }", "equal = { m = 0.98 }"), "m and u"),
    (lambda t: t.replace("prior = 1.0e-6", ""), "prior"),
])
def test_bad_parameters_are_refused(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    text = files("services.identity.matching").joinpath("data/default_model.toml").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        MatchModel.from_toml(edit(text))


def test_models_are_immutable() -> None:
    model = MatchModel.load_default()
    with pytest.raises(TypeError):
        model.m["first_name"]["exact"] = 0.5  # type: ignore[index]
