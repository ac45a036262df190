"""The matcher's records: a rule's declaration, a finding, and the per-rule tuning learned from feedback.

A rule reports each candidate with a *base confidence* (how sure the rule's own heuristics are). Feedback
changes two things per rule (see :mod:`escai.codegen.patterns.tuning`):

- the *reporting threshold* on the base confidence: a candidate is reported only when its base confidence
  reaches it; false positives push it up past their confidences, false negatives below it pull it down;
- the *precision posterior* Beta(alpha, beta) of the rule: the reported confidence is the base confidence
  shifted, on the log-odds scale, by how much the posterior's mean differs from the prior's.

User overrides silence one exact finding (its fingerprint: rule, normalised source line) wherever it recurs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

DEFAULT_THRESHOLD: Final = 0.5
"""Reporting threshold on base confidence before any feedback."""
PRIOR_ALPHA: Final = 4.0
PRIOR_BETA: Final = 1.0
"""Beta prior of a rule's precision: mean 0.8, worth five reviews, so a few reviews move it but one does not."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern the matcher detects: its stable id, what it means, and whether it is an anti-pattern."""

    pattern_id: str
    description: str
    anti_pattern: bool = True


@dataclass(frozen=True, slots=True)
class Finding:
    """One match of a rule in one source.

    ``base_confidence`` is the rule's own estimate; ``confidence`` is that estimate after tuning (what a user
    sees). ``reported`` is False for candidates under the rule's threshold (kept only on request).
    """

    pattern_id: str
    message: str
    line: int
    column: int
    base_confidence: float
    confidence: float
    snippet: str
    path: str | None = None
    reported: bool = True

    @property
    def fingerprint(self) -> str:
        """A location-independent identity: the rule and the whitespace-normalised source line."""
        return fingerprint_of(self.pattern_id, self.snippet)


def fingerprint_of(pattern_id: str, snippet: str) -> str:
    """The fingerprint of a finding of ``pattern_id`` on the source line ``snippet``."""
    normalised = " ".join(snippet.split())
    return hashlib.sha256(f"{pattern_id}\0{normalised}".encode()).hexdigest()[:16]


def _logit(probability: float) -> float:
    clipped = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(clipped / (1 - clipped))


def _sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-value))


@dataclass(frozen=True, slots=True)
class RuleTuning:
    """What feedback has taught about one rule (defaults: no feedback yet)."""

    threshold: float = DEFAULT_THRESHOLD
    alpha: float = PRIOR_ALPHA
    beta: float = PRIOR_BETA
    suppressed: frozenset[str] = frozenset()
    """Fingerprints of findings a user overrode."""

    @property
    def precision_mean(self) -> float:
        """Mean of the rule's precision posterior."""
        return self.alpha / (self.alpha + self.beta)

    def calibrate(self, base_confidence: float) -> float:
        """The confidence to report for a candidate: the base shifted by the posterior's change from the prior."""
        shift = _logit(self.precision_mean) - _logit(PRIOR_ALPHA / (PRIOR_ALPHA + PRIOR_BETA))
        return round(_sigmoid(_logit(base_confidence) + shift), 4)

    def reports(self, base_confidence: float, fingerprint: str) -> bool:
        """Whether a candidate with this base confidence and fingerprint is reported."""
        return base_confidence >= self.threshold and fingerprint not in self.suppressed


@dataclass(frozen=True, slots=True)
class Tuning:
    """Per-rule tuning; rules without an entry use the defaults."""

    rules: Mapping[str, RuleTuning] = field(default_factory=dict)

    def for_rule(self, pattern_id: str) -> RuleTuning:
        """The tuning of ``pattern_id`` (the defaults when feedback never mentioned it)."""
        return self.rules.get(pattern_id, RuleTuning())
