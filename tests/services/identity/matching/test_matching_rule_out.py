"""`Matcher.rule_out`: a candidate ruled out on its names, date and codes alone (`prepare_core`) is
one that the full comparison would also call a non-match, so the batch path may skip normalising
its guardians and address without changing a decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.identity.matcher import _matcher
from services.identity.matching import PersonFacts, blocking_keys, prepare
from services.identity.matching.features import compare, complete, prepare_core
from tests.services.identity.matching.test_matching_synthetic import State

BASE = PersonFacts(first_name="Ana", middle_name="Sofia", last_name="Ruiz", birth_date=date(2013, 2, 9), sex="F",
                   guardian_names=("Elena Ruiz",), address="8 Oak Ave", postal_code="87501", ssn_hash="a" * 64)


def _pairs() -> list[tuple[PersonFacts, PersonFacts]]:
    """Every pair that shares a blocking key in a small synthetic state (siblings, twins,
    namesakes), and resubmissions of its persons with errors against them."""
    state = State(seed=5)
    people: list[PersonFacts] = []
    while len(people) < 1500:
        people += state.family(state.r.choice((1, 2, 2, 3, 4)))
    index: dict[str, set[int]] = {}
    for i, person in enumerate(people):
        for key in blocking_keys(person):
            index.setdefault(key, set()).add(i)
    pairs = {(people[i], people[j]) for ids in index.values() for i in ids for j in ids if i != j}
    for i in state.r.sample(range(len(people)), 300):
        query = state.resubmit(people[i])
        for key in blocking_keys(query):
            pairs.update((query, people[j]) for j in index.get(key, ()))
    return sorted(pairs, key=repr)


def test_rule_out_only_rules_out_non_matches() -> None:
    matcher = _matcher(None, None, None)
    ruled_out = kept = 0
    for a, b in _pairs():
        incoming = prepare(a)
        full = matcher.compare_if_close(incoming, prepare(b))
        levels = compare(incoming, prepare_core(b))
        assert complete(levels, incoming, prepare(b)) == compare(incoming, prepare(b))
        if matcher.rule_out(levels):
            assert full is None, (a, b)
            ruled_out += 1
        else:
            kept += 1
    assert ruled_out > 100 and kept > 100  # both sides exercised


def test_shared_ssn_or_strong_household_is_never_ruled_out() -> None:
    matcher = _matcher(None, None, None)
    stranger = replace(BASE, first_name="Zed", middle_name="Quincy", last_name="Okafor",
                       birth_date=date(2008, 11, 30), sex="M")

    def rule_out(b: PersonFacts) -> bool:
        return matcher.rule_out(compare(prepare(BASE), prepare_core(b)))

    assert rule_out(replace(stranger, ssn_hash="b" * 64))
    assert not rule_out(stranger)  # one SSN: at least review
    # Names and date agree: the household fields could lift it, so it is compared in full.
    assert not rule_out(replace(BASE, guardian_names=(), ssn_hash=None))


def test_ceiling_is_never_below_the_weight() -> None:
    """For random levels of the known fields, no household levels weigh more than the ceiling
    (the sibling guard's cases included)."""
    import itertools
    import random

    from services.identity.matching import FIELDS, MatchModel
    from services.identity.matching.features import HOUSEHOLD_FIELDS

    model = MatchModel.load_default()
    rng = random.Random(3)
    household = [f for f in FIELDS if f.name in HOUSEHOLD_FIELDS]
    for _ in range(400):
        known = {f.name: rng.choice(f.levels) for f in FIELDS}
        ceiling, _ = model.ceiling(tuple(known[f.name] for f in FIELDS), HOUSEHOLD_FIELDS)
        for combo in itertools.product(*(f.levels for f in household)):
            levels = {**known, **{f.name: level for f, level in zip(household, combo, strict=True)}}
            assert model.explain(tuple(levels[f.name] for f in FIELDS)).weight <= ceiling + 1e-9
