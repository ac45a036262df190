"""PrefixSpan with gaps and closed/maximal filtering against brute force, and the significance maths."""

from __future__ import annotations

import itertools
import random

import pytest
from scipy.stats import fisher_exact

from escai.analysis.behaviour.prefixspan import (
    FrequentPattern,
    PatternKind,
    is_subsequence,
    mine_patterns,
    occurs,
)
from escai.analysis.behaviour.significance import (
    benjamini_hochberg,
    haldane_odds_ratio,
    lift_toward_failure,
    score_patterns,
)


def _brute_force(
    sequences: list[list[str]], min_support: int, max_gap: int | None, max_length: int, kind: PatternKind
) -> set[tuple[tuple[str, ...], frozenset[int]]]:
    alphabet = sorted({item for sequence in sequences for item in sequence})
    frequent = []
    for length in range(1, max_length + 1):
        for candidate in itertools.product(alphabet, repeat=length):
            found = frozenset(index for index, seq in enumerate(sequences) if occurs(candidate, seq, max_gap))
            if len(found) >= min_support:
                frequent.append((candidate, found))

    def dominated(pattern: tuple[str, ...], found: frozenset[int]) -> bool:
        return any(
            len(other) > len(pattern)
            and is_subsequence(pattern, other)
            and (kind is PatternKind.MAXIMAL or other_found == found)
            for other, other_found in frequent
        )

    if kind is PatternKind.ALL:
        return set(frequent)
    return {(pattern, found) for pattern, found in frequent if not dominated(pattern, found)}


@pytest.mark.parametrize("kind", list(PatternKind))
@pytest.mark.parametrize("max_gap", [None, 0, 1, 2])
def test_prefixspan_matches_brute_force(kind: PatternKind, max_gap: int | None) -> None:
    """On random small inputs the miner returns exactly the brute-force frequent, closed or maximal patterns."""
    generator = random.Random(f"{kind}-{max_gap}")
    for _ in range(15):
        sequences = [
            [generator.choice("abcd") for _ in range(generator.randint(0, 8))] for _ in range(generator.randint(3, 7))
        ]
        min_support = generator.randint(1, 3)
        mined = mine_patterns(sequences, min_support, max_gap=max_gap, max_length=3, kind=kind)
        expected = _brute_force(sequences, min_support, max_gap, 3, kind)
        assert {(pattern.items, pattern.sequence_ids) for pattern in mined} == expected


def test_gap_constraint_uses_later_occurrences() -> None:
    """A later occurrence of the prefix that is close enough counts even when the first one is too far."""
    mined = {
        pattern.items for pattern in mine_patterns([["a", "x", "x", "x", "a", "b"]], 1, max_gap=0, kind=PatternKind.ALL)
    }
    assert ("a", "b") in mined
    assert ("a", "b") not in {
        pattern.items for pattern in mine_patterns([["a", "x", "b"]], 1, max_gap=0, kind=PatternKind.ALL)
    }
    assert ("a", "b") in {
        pattern.items for pattern in mine_patterns([["a", "x", "b"]], 1, max_gap=1, kind=PatternKind.ALL)
    }


def test_closed_patterns_drop_subpatterns_with_the_same_sessions() -> None:
    """``a`` always comes with ``a b`` here, so only ``a b`` (and ``c``, seen elsewhere) are closed."""
    sequences = [["a", "b"], ["a", "b", "c"], ["c"]]
    closed = {pattern.items for pattern in mine_patterns(sequences, 2, kind=PatternKind.CLOSED)}
    assert closed == {("a", "b"), ("c",)}


def test_invalid_arguments_are_refused() -> None:
    """A negative gap or a zero maximum length is a caller error."""
    with pytest.raises(ValueError, match="max_gap"):
        mine_patterns([["a"]], 1, max_gap=-1)
    with pytest.raises(ValueError, match="max_length"):
        mine_patterns([["a"]], 1, max_length=0)


def test_lift_odds_ratio_and_fisher_follow_their_definitions() -> None:
    """Lift is P(fail|pattern)/P(fail); the p-value is scipy's two-sided Fisher test of the 2x2 table."""
    # 10 sessions, 4 failed; the pattern is in 5 sessions, 3 of them failed.
    pattern = FrequentPattern(("x",), frozenset({0, 1, 2, 5, 6}))
    outcomes: list[bool | None] = [False, False, False, False, True, True, True, True, True, True]
    (scored,) = score_patterns([pattern], outcomes)
    assert scored.failure_support == 3 and scored.success_support == 2
    assert scored.lift_toward_failure == pytest.approx((3 / 5) / (4 / 10))
    assert lift_toward_failure(3, 5, 4, 10) == pytest.approx(1.5)
    assert scored.success_rate == pytest.approx(0.4)
    assert scored.p_value == pytest.approx(fisher_exact([[3, 2], [1, 4]]).pvalue)
    assert scored.odds_ratio == pytest.approx(haldane_odds_ratio(((3, 2), (1, 4))))
    assert scored.direction == "failure"


def test_unlabelled_sessions_count_for_support_only() -> None:
    """Sessions without an outcome raise support but stay out of the test; with one class only, no test runs."""
    pattern = FrequentPattern(("x",), frozenset({0, 1, 2}))
    (scored,) = score_patterns([pattern], [True, False, None, True])
    assert scored.support == 3 and scored.failure_support + scored.success_support == 2
    (untested,) = score_patterns([pattern], [True, True, None, True])
    assert untested.p_value is None and untested.lift_toward_failure is None and untested.direction == "unknown"


def test_benjamini_hochberg_matches_the_step_up_formula() -> None:
    """Adjusted p-values equal min over larger ranks of p * m / rank, capped at 1, in input order."""
    p_values = [0.01, 0.04, 0.03, 0.2, 0.5]
    ranked = sorted(range(len(p_values)), key=lambda index: p_values[index])
    expected = [0.0] * len(p_values)
    running = 1.0
    for rank in range(len(p_values), 0, -1):
        index = ranked[rank - 1]
        running = min(running, p_values[index] * len(p_values) / rank)
        expected[index] = running
    assert benjamini_hochberg(p_values) == pytest.approx(expected)
    assert benjamini_hochberg([]) == []


def test_patterns_are_sorted_by_corrected_p_value() -> None:
    """The strongest separator comes first and every adjusted p-value is at least its raw p-value."""
    strong = FrequentPattern(("s",), frozenset(range(10)))
    weak = FrequentPattern(("w",), frozenset({0, 10, 11, 12}))
    outcomes: list[bool | None] = [*([False] * 10), *([True] * 10)]
    scored = score_patterns([weak, strong], outcomes)
    assert scored[0].items == ("s",)
    assert all(item.p_value is not None and (item.p_value_adjusted or 0) >= item.p_value for item in scored)
