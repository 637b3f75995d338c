"""Re-estimation: EM recovers m (and, when asked, u and the prior) from unlabelled pairs drawn from
a known model; labelled pairs give smoothed counts."""

from __future__ import annotations

import random

import pytest

from services.identity.matching import FIELDS, Comparison, MatchModel, estimate_em, estimate_from_labels

DEFAULT = MatchModel.load_default()

# The truth differs from the defaults in several m values: more nicknames and typos, fewer exact
# birth dates, more moves.
TRUE_M = {f.name: dict(DEFAULT.m[f.name]) for f in FIELDS}
TRUE_M["first_name"].update(exact=0.75, nickname=0.12, typo=0.08, different=0.032)
TRUE_M["birth_date"].update(exact=0.83, typo=0.12, day_month_swapped=0.03)
TRUE_M["address"].update(exact=0.3, different=0.5)
TRUE = MatchModel(prior=0.05, m=TRUE_M, u=DEFAULT.u)


def _draw(r: random.Random, probabilities: dict[str, float]) -> str:
    return r.choices(list(probabilities), list(probabilities.values()))[0]


def _pairs(n: int, seed: int) -> tuple[list[Comparison], list[bool]]:
    r = random.Random(seed)
    vectors, labels = [], []
    for _ in range(n):
        same = r.random() < TRUE.prior
        table = TRUE.m if same else TRUE.u
        vectors.append(tuple("missing" if r.random() < 0.1 else _draw(r, dict(table[f.name])) for f in FIELDS))
        labels.append(same)
    return vectors, labels


def _m_error(model: MatchModel) -> float:
    return sum(abs(model.m[f][level] - TRUE.m[f][level]) for f in TRUE.m for level in TRUE.m[f])


def test_em_moves_m_toward_the_truth_and_keeps_u_and_prior() -> None:
    vectors, labels = _pairs(30_000, seed=1)
    estimated = estimate_em(vectors, DEFAULT)
    assert _m_error(estimated) < 0.4 * _m_error(DEFAULT)
    # as close as counting the labels would get on the same sample
    supervised = estimate_from_labels(zip(vectors, labels))
    assert all(abs(estimated.m[f][level] - supervised.m[f][level]) < 0.01 for f in TRUE.m for level in TRUE.m[f])
    assert abs(estimated.m["first_name"]["nickname"] - 0.12) < 0.02
    assert abs(estimated.m["birth_date"]["exact"] - 0.83) < 0.02
    assert estimated.u == DEFAULT.u and estimated.prior == DEFAULT.prior
    assert "EM over 30000" in estimated.source


def test_em_can_estimate_u_and_the_prior() -> None:
    vectors, _ = _pairs(30_000, seed=2)
    start = MatchModel(prior=0.2, m=DEFAULT.m, u={**DEFAULT.u, "sex": {"equal": 0.8, "different": 0.2}})
    estimated = estimate_em(vectors, start, fix_u=False)
    assert abs(estimated.prior - 0.05) < 0.005
    assert abs(estimated.u["sex"]["equal"] - 0.5) < 0.02
    assert _m_error(estimated) < 0.4 * _m_error(DEFAULT)


def test_em_rejects_what_is_not_a_comparison() -> None:
    with pytest.raises(ValueError):
        estimate_em([], DEFAULT)
    with pytest.raises(ValueError):
        estimate_em([("exact",) * len(FIELDS)], DEFAULT)  # "exact" is not a sex level


def test_labels_give_laplace_smoothed_frequencies() -> None:
    vectors, labels = _pairs(20_000, seed=3)
    model = estimate_from_labels(zip(vectors, labels))
    assert _m_error(model) < 0.4 * _m_error(DEFAULT)
    assert model.prior == DEFAULT.prior
    assert estimate_from_labels(zip(vectors, labels), prior=0.01).prior == 0.01

    # one same-person pair and one different: (count + 1) / (present pairs + levels)
    same = ("exact",) + tuple("missing" for _ in FIELDS[1:])
    other = ("different",) + tuple("missing" for _ in FIELDS[1:])
    tiny = estimate_from_labels([(same, True), (other, False)])
    first_levels = len(DEFAULT.m["first_name"])
    assert tiny.m["first_name"]["exact"] == pytest.approx(2 / (1 + first_levels))
    assert tiny.u["first_name"]["exact"] == pytest.approx(1 / (1 + first_levels))
    assert tiny.m["sex"]["equal"] == pytest.approx(0.5)  # never observed: uniform


def test_labels_need_both_kinds() -> None:
    vectors, _ = _pairs(10, seed=4)
    with pytest.raises(ValueError):
        estimate_from_labels([(v, True) for v in vectors])
    with pytest.raises(ValueError):
        estimate_from_labels([(vectors[0], True), (vectors[1], False)], smoothing=0)
