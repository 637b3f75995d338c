"""The identity service's view of the matching core (`services/identity/matching`): one model and
its thresholds per process, and results shaped for the API."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from services.identity import matching
from services.identity.matching.features import HOUSEHOLD_FIELDS
from shared.settings import Settings

_MARGIN = 1e-6  # bits: float sums in another order must not rule out a pair at the threshold


@dataclass(frozen=True, slots=True)
class MatchResult:
    decision: Literal["match", "review", "non_match"]
    probability: float
    match_weight: float
    contributions: tuple[dict[str, Any], ...]

    def held_for_review(self, rule: str) -> MatchResult:
        """The same scores, capped at review by a rule the service knows and the model does not."""
        guard = {"field": rule, "level": "capped_at_review", "weight": 0.0}
        return replace(self, decision="review", contributions=(*self.contributions, guard))

    def explanation(self) -> dict[str, Any]:
        return {"rule": "probabilistic", "probability": round(self.probability, 6),
                "match_weight": round(self.match_weight, 3), "contributions": list(self.contributions)}


class Matcher:
    def __init__(self, model: matching.MatchModel, thresholds: matching.Thresholds) -> None:
        self.model = model
        self.thresholds = thresholds
        # Under this weight a pair's probability is under the lower threshold: a non-match.
        self._lower_weight = math.log2(thresholds.lower / (1.0 - thresholds.lower))

    prepare = staticmethod(matching.prepare)
    blocking_keys = staticmethod(matching.blocking_keys)  # stored for a person
    lookup_keys = staticmethod(matching.lookup_keys)  # looked up for a submission

    def compare(self, incoming: matching.PreparedPerson, candidate: matching.PreparedPerson) -> MatchResult:
        return self._result(matching.score(incoming, candidate, self.model))

    def compare_if_close(self, incoming: matching.PreparedPerson,
                         candidate: matching.PreparedPerson) -> MatchResult | None:
        """`compare`, or None when the decision is "non_match" (decided on the same numbers
        without building the explanation: most blocked candidates are not close)."""
        return self.compare_lazily(incoming, candidate)[0]

    def compare_lazily(self, incoming: matching.PreparedPerson, candidate: matching.PreparedPerson
                       ) -> tuple[MatchResult | None, float, matching.Comparison]:
        """(result or None for a non-match, the probability, the levels): `explain(levels)`
        gives a non-match's full result if it is wanted after all."""
        levels = matching.compare(incoming, candidate)
        bounds = self.model.bounds(levels)
        if matching.decide(bounds, self.thresholds) == "non_match":
            return None, bounds.probability, levels
        return self._result(self.model.explain(levels)), bounds.probability, levels

    def rule_out(self, levels: matching.Comparison) -> bool:
        """True when a pair whose `levels` were compared on `prepare_core` of the stored person
        (household fields "missing") is certainly a non-match whatever its guardians, birthplace
        and address: then `compare_if_close` on the fully prepared person would give None.
        False says nothing: `complete` the levels and decide on them."""
        weight, ssn_equal = self.model.ceiling(levels, HOUSEHOLD_FIELDS)
        return not ssn_equal and weight + _MARGIN < self._lower_weight

    def levels_if_close(self, levels: matching.Comparison) -> MatchResult | None:
        """`compare_if_close` for levels already compared."""
        if matching.decide(self.model.bounds(levels), self.thresholds) == "non_match":
            return None
        return self._result(self.model.explain(levels))

    def explain(self, levels: matching.Comparison) -> MatchResult:
        return self._result(self.model.explain(levels))

    @staticmethod
    @lru_cache(maxsize=50_000)
    def prepare_stored(facts: matching.PersonFacts) -> matching.PreparedPerson:
        """`prepare` for stored persons, cached: the same candidates come back for every
        submission with a common name (a person's facts never change once stored)."""
        return matching.prepare(facts)

    def _result(self, explanation: matching.MatchExplanation) -> MatchResult:
        return MatchResult(
            decision=matching.decide(explanation, self.thresholds),
            probability=explanation.probability,
            match_weight=explanation.weight,
            contributions=tuple(
                {"field": c.field, "level": c.level, "weight": round(c.weight, 3)}
                for c in explanation.contributions
            ),
        )


@lru_cache(maxsize=4)
def _matcher(model_path: str | None, upper: float | None, lower: float | None) -> Matcher:
    model = (matching.MatchModel.from_toml(Path(model_path).read_text()) if model_path
             else matching.MatchModel.load_default())
    defaults = matching.Thresholds()
    thresholds = matching.Thresholds(
        upper=upper if upper is not None else defaults.upper,
        lower=lower if lower is not None else defaults.lower,
    )
    return Matcher(model, thresholds)


def get_matcher(settings: Settings) -> Matcher:
    return _matcher(settings.match_model_path, settings.match_upper_threshold, settings.match_lower_threshold)

