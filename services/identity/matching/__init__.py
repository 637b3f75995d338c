"""Probabilistic record linkage for identity: is a submitted person one the state already has?

Pure functions over `PersonFacts`; the identity service stores persons and blocking keys, looks up
candidates and acts on the decision. Typical use:

    keys = lookup_keys(facts)                         # look these up to get candidates
                                                      # (blocking_keys(facts): the keys to store)
    explanation = score(prepare(facts), prepare(candidate), model)
    decision = decide(explanation, thresholds)        # "match" | "review" | "non_match"
"""

from services.identity.matching.blocking import blocking_keys, lookup_keys
from services.identity.matching.estimate import estimate_em, estimate_from_labels
from services.identity.matching.features import FIELDS, Comparison, PreparedPerson, compare, prepare
from services.identity.matching.model import (
    Contribution,
    Decision,
    MatchExplanation,
    MatchModel,
    Thresholds,
    decide,
    score,
)
from services.identity.matching.normalize import (
    given_name_equivalents,
    is_blank_name,
    normalize_name,
    surname_parts,
)
from services.identity.matching.record import PersonFacts

__all__ = [
    "FIELDS", "Comparison", "Contribution", "Decision", "MatchExplanation", "MatchModel",
    "PersonFacts", "PreparedPerson", "Thresholds", "blocking_keys", "compare", "decide",
    "estimate_em", "estimate_from_labels", "given_name_equivalents", "is_blank_name", "lookup_keys",
    "normalize_name", "prepare", "score", "surname_parts",
]
