"""How each pattern relates to outcomes: support, success rate, lift toward failure, Fisher's exact test, BH.

For a pattern, the sessions with a known outcome form a 2x2 table (pattern present or absent, run failed or
succeeded). Fisher's exact test (two-sided, ``scipy.stats.fisher_exact``) gives a p-value per pattern; because
hundreds of patterns are tested at once, the p-values are corrected with Benjamini-Hochberg
(``statsmodels.stats.multitest.multipletests``, false discovery rate), and only the corrected value says whether a
pattern separates outcomes. Lift toward failure is ``P(fail | pattern) / P(fail)``: above 1 the pattern is
over-represented in failed runs, below 1 in successful ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from escai.analysis.behaviour.prefixspan import FrequentPattern


@dataclass(frozen=True, slots=True)
class PatternStatistics:
    """A frequent pattern with its relation to outcomes over the labelled sessions."""

    items: tuple[str, ...]
    support: int
    """Sessions containing the pattern (labelled or not)."""
    sequence_ids: frozenset[int]
    failure_support: int
    """Failed sessions containing it."""
    success_support: int
    """Successful sessions containing it."""
    success_rate: float | None
    """P(success | pattern) over the labelled sessions that contain it."""
    lift_toward_failure: float | None
    odds_ratio: float | None
    """Odds of failure with the pattern over odds without (Haldane-corrected, so never infinite)."""
    p_value: float | None
    p_value_adjusted: float | None = None
    """Benjamini-Hochberg corrected p-value."""

    @property
    def direction(self) -> str:
        """``failure`` when the pattern is over-represented in failed runs, ``success`` when in successful ones."""
        if self.lift_toward_failure is None:
            return "unknown"
        return "failure" if self.lift_toward_failure > 1 else "success" if self.lift_toward_failure < 1 else "none"


def lift_toward_failure(failures_with: int, total_with: int, failures: int, total: int) -> float | None:
    """``P(fail | pattern) / P(fail)``; None when either probability is undefined or failures never happen."""
    if total_with == 0 or total == 0 or failures == 0:
        return None
    return (failures_with / total_with) / (failures / total)


def haldane_odds_ratio(table: tuple[tuple[int, int], tuple[int, int]]) -> float:
    """Odds ratio of a 2x2 table with 0.5 added to each cell, so empty cells give a finite value."""
    (top_left, top_right), (bottom_left, bottom_right) = table
    return ((top_left + 0.5) * (bottom_right + 0.5)) / ((top_right + 0.5) * (bottom_left + 0.5))


def fisher_p_value(table: tuple[tuple[int, int], tuple[int, int]]) -> float:
    """Two-sided Fisher exact test p-value of a 2x2 table."""
    result = fisher_exact([list(table[0]), list(table[1])], alternative="two-sided")
    return float(result.pvalue)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    if not p_values:
        return []
    adjusted = multipletests(list(p_values), method="fdr_bh")[1]
    return [float(value) for value in adjusted]


def score_patterns(patterns: Sequence[FrequentPattern], outcomes: Sequence[bool | None]) -> list[PatternStatistics]:
    """Each pattern's outcome statistics, with BH correction across all of them; most significant first.

    ``outcomes[i]`` is the success of sequence ``i`` (None when unknown: such sessions count toward support but not
    toward the statistics). Without both successes and failures among the labelled sessions no test is run and
    the outcome fields are None.
    """
    labelled = [index for index, outcome in enumerate(outcomes) if outcome is not None]
    failed = frozenset(index for index in labelled if outcomes[index] is False)
    succeeded = frozenset(labelled) - failed
    testable = bool(failed) and bool(succeeded)
    scored: list[PatternStatistics] = []
    for pattern in patterns:
        failures_with = len(pattern.sequence_ids & failed)
        successes_with = len(pattern.sequence_ids & succeeded)
        labelled_with = failures_with + successes_with
        success_rate = successes_with / labelled_with if labelled_with else None
        lift = odds = p_value = None
        if testable:
            table = (
                (failures_with, successes_with),
                (len(failed) - failures_with, len(succeeded) - successes_with),
            )
            lift = lift_toward_failure(failures_with, labelled_with, len(failed), len(labelled))
            odds = haldane_odds_ratio(table)
            p_value = fisher_p_value(table)
        scored.append(
            PatternStatistics(
                pattern.items,
                pattern.support,
                pattern.sequence_ids,
                failures_with,
                successes_with,
                success_rate,
                lift,
                odds,
                p_value,
            )
        )
    tested = [index for index, statistics in enumerate(scored) if statistics.p_value is not None]
    adjusted = benjamini_hochberg([scored[index].p_value or 0.0 for index in tested])
    for index, value in zip(tested, adjusted, strict=True):
        scored[index] = dataclasses.replace(scored[index], p_value_adjusted=value)
    return sorted(scored, key=_significance_order)


def _significance_order(statistics: PatternStatistics) -> tuple[float, float, int, tuple[str, ...]]:
    adjusted = statistics.p_value_adjusted if statistics.p_value_adjusted is not None else 2.0
    p_value = statistics.p_value if statistics.p_value is not None else 2.0
    return (adjusted, p_value, -statistics.support, statistics.items)
