"""Re-estimating the model from the state's own data: EM over unlabelled candidate pairs, or counts
over the review queue's decisions. Both take comparison vectors (`compare(prepare(a), prepare(b))`),
so the caller decides where pairs come from and nothing here touches the database."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

from services.identity.matching.features import FIELDS, Comparison
from services.identity.matching.model import MatchModel

Table = dict[str, dict[str, float]]


def _zeros() -> Table:
    """A count per estimable (non-neutral) level of every field."""
    return {f.name: {level: 0.0 for level in f.levels if level not in f.neutral} for f in FIELDS}


def _check(vector: Comparison) -> None:
    if len(vector) != len(FIELDS) or any(level not in f.levels for f, level in zip(FIELDS, vector)):
        raise ValueError(f"not a comparison vector: {vector!r}")


def estimate_em(pairs: Iterable[Comparison], start: MatchModel, iterations: int = 100,
                tolerance: float = 1e-6, *, fix_u: bool = True) -> MatchModel:
    """Unsupervised EM (Fellegi-Sunter with conditional independence) over the comparison vectors of
    candidate pairs, typically the blocked pairs of a sample of persons. Starts from `start`, which
    also decides which class is "same person", and smooths each level toward it with the weight of
    one pair, so a level that never occurs keeps a small probability instead of an infinite weight.

    With `fix_u` (the default) only m is re-estimated; u and the prior stay as in `start`. They are
    the chance agreement of two random people and the chance that two random records are one
    person, and since blocking selects pairs by their values alone, P(same | comparison) computed
    with them is right for blocked pairs too. Estimated on blocked pairs, which were chosen for
    agreeing, u would count the blocking fields twice and EM would settle on "same birth date" or
    "same family" instead of "same person" as its second class. With `fix_u=False` m, u and the
    prior are all estimated, as a model of the pairs given (for pairs sampled at random, or for
    data whose two classes separate cleanly)."""
    counts = Counter(pairs)
    if not counts:
        raise ValueError("EM needs at least one pair")
    for vector in counts:
        _check(vector)
    total = sum(counts.values())
    prior = start.prior
    m: Table = {f.name: dict(start.m[f.name]) for f in FIELDS}
    u: Table = {f.name: dict(start.u[f.name]) for f in FIELDS}
    done = 0
    for done in range(1, iterations + 1):
        match_counts, other_counts = _zeros(), _zeros()
        expected_matches = 0.0
        log_prior, log_other = math.log(prior), math.log(1.0 - prior)
        for vector, n in counts.items():
            log_m, log_u = log_prior, log_other
            for f, level in zip(FIELDS, vector):
                if level not in f.neutral:
                    log_m += math.log(m[f.name][level])
                    log_u += math.log(u[f.name][level])
            posterior = 1.0 / (1.0 + math.exp(min(log_u - log_m, 700.0)))
            expected_matches += n * posterior
            for f, level in zip(FIELDS, vector):
                if level not in f.neutral:
                    match_counts[f.name][level] += n * posterior
                    other_counts[f.name][level] += n * (1.0 - posterior)
        new_m = _smoothed(match_counts, start.m)
        if fix_u:
            new_u, new_prior = u, prior
        else:
            new_u = _smoothed(other_counts, start.u)
            new_prior = min(max(expected_matches / total, 1e-12), 1.0 - 1e-12)
        change = max(abs(new_prior - prior), _largest_change(m, new_m), _largest_change(u, new_u))
        m, u, prior = new_m, new_u, new_prior
        if change < tolerance:
            break
    source = f"EM over {total} candidate pairs, {done} iterations" + (", u kept" if fix_u else "")
    return MatchModel(prior=prior, m=m, u=u, source=source)


def _smoothed(counts: Table, toward: Mapping[str, Mapping[str, float]]) -> Table:
    return {name: {level: (c + toward[name][level]) / (sum(levels.values()) + 1.0)
                   for level, c in levels.items()}
            for name, levels in counts.items()}


def _largest_change(old: Table, new: Table) -> float:
    return max(abs(old[name][level] - p) for name, levels in new.items() for level, p in levels.items())


def estimate_from_labels(labelled_pairs: Iterable[tuple[Comparison, bool]], *,
                         prior: float | None = None, smoothing: float = 1.0) -> MatchModel:
    """m from pairs a steward decided are the same person, u from pairs decided different, with
    Laplace smoothing (`smoothing` pseudo-pairs per level). The review queue over-represents hard
    pairs: its different-person pairs are siblings and namesakes, whose u values are far above
    those of random pairs (cautious weights, more reviews), and its share of same-person decisions
    is not the population prior, so the prior is the default model's unless given."""
    if smoothing <= 0:
        raise ValueError("smoothing must be positive: an unseen level would get an infinite weight")
    same, different = _zeros(), _zeros()
    n_same = n_different = 0
    for vector, is_same in labelled_pairs:
        _check(vector)
        table = same if is_same else different
        n_same, n_different = n_same + is_same, n_different + (not is_same)
        for f, level in zip(FIELDS, vector):
            if level not in f.neutral:
                table[f.name][level] += 1.0
    if not n_same or not n_different:
        raise ValueError("labels must include pairs of the same person and of different persons")

    def laplace(counts: Table) -> Table:
        return {name: {level: (c + smoothing) / (sum(levels.values()) + smoothing * len(levels))
                       for level, c in levels.items()} for name, levels in counts.items()}

    return MatchModel(prior=MatchModel.load_default().prior if prior is None else prior,
                      m=laplace(same), u=laplace(different),
                      source=f"labelled pairs: {n_same} same person, {n_different} different")
