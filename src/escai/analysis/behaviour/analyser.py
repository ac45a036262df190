"""The behavioural analyser: sequences, patterns with outcome statistics, anomalies, loops and clusters at once.

:class:`BehaviourAnalyser` works on sessions in memory (:class:`LabelledSession`: events and outcome); the
functions in :mod:`escai.analysis.behaviour.stored` run it over the sessions stored in the database.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from escai.analysis.behaviour.anomalies import AnomalyScore, StepAnomaly, score_sessions, score_steps
from escai.analysis.behaviour.clusters import DEFAULT_K_RANGE, Clustering, cluster_sessions
from escai.analysis.behaviour.features import features_of_sequence, features_of_steps
from escai.analysis.behaviour.loops import Loop, detect_loops
from escai.analysis.behaviour.prefixspan import PatternKind, mine_patterns
from escai.analysis.behaviour.sequences import SessionSequence, abstract_session
from escai.analysis.behaviour.significance import PatternStatistics, score_patterns
from escai.model.events import AgentEvent
from escai.model.records import BehavioralPattern


@dataclass(frozen=True, slots=True)
class BehaviourConfig:
    """Settings of one analysis; the defaults are the ones the SWE-bench report uses."""

    min_support: float = 0.1
    """Minimum share of sessions a pattern must occur in (an absolute floor of 2 sessions applies)."""
    max_gap: int | None = 2
    """Other steps allowed between two consecutive pattern steps (None: unbounded)."""
    max_length: int = 5
    kind: PatternKind = PatternKind.CLOSED
    k_range: tuple[int, int] = DEFAULT_K_RANGE
    steps_per_session: int = 5
    """Most unusual steps kept for each session."""
    seed: int = 0

    def absolute_support(self, sessions: int) -> int:
        """The minimum support in sessions for a population of ``sessions``."""
        return max(2, round(self.min_support * sessions))


@dataclass(frozen=True, slots=True)
class LabelledSession:
    """One session's events in order and its outcome (None when unknown)."""

    session_id: str
    events: Sequence[AgentEvent]
    success: bool | None = None


@dataclass(frozen=True, slots=True)
class BehaviourReport:
    """Everything one analysis found, keyed by session id where it is per session."""

    config: BehaviourConfig
    sequences: tuple[SessionSequence, ...]
    patterns: tuple[PatternStatistics, ...]
    """Mined patterns with statistics, most significant first."""
    session_anomalies: dict[str, AnomalyScore]
    step_anomalies: dict[str, list[StepAnomaly]]
    loops: dict[str, list[Loop]]
    loop_shares: dict[str, float]
    clustering: Clustering | None
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each stage."""

    @property
    def session_ids(self) -> list[str]:
        """The analysed sessions in input order."""
        return [sequence.session_id for sequence in self.sequences]

    @property
    def outcomes(self) -> list[bool | None]:
        """Each analysed session's outcome, in input order."""
        return [sequence.success for sequence in self.sequences]

    def pattern_session_ids(self, pattern: PatternStatistics) -> list[str]:
        """The ids of the sessions a pattern occurs in."""
        return [self.sequences[index].session_id for index in sorted(pattern.sequence_ids)]

    def behavioral_patterns(self, agent_id: str | None = None) -> list[BehavioralPattern]:
        """The patterns as domain records, with stable ids derived from the scope and the sequence."""
        return [
            BehavioralPattern(
                id=pattern_id(agent_id, pattern.items),
                sequence=list(pattern.items),
                support=pattern.support,
                success_rate=pattern.success_rate,
                lift_toward_failure=pattern.lift_toward_failure,
                p_value=pattern.p_value,
                session_ids=self.pattern_session_ids(pattern),
                agent_id=agent_id,
            )
            for pattern in self.patterns
        ]

    def summary(self, agent_id: str | None = None, top: int = 5) -> dict[str, Any]:
        """A JSON-ready summary, published on the bus when an analysis finishes."""
        outcomes = [outcome for outcome in self.outcomes if outcome is not None]
        return {
            "analysis": "patterns",
            "agent_id": agent_id,
            "sessions": len(self.sequences),
            "labelled_sessions": len(outcomes),
            "failed_sessions": sum(not outcome for outcome in outcomes),
            "patterns": len(self.patterns),
            "significant_patterns": sum(
                pattern.p_value_adjusted is not None and pattern.p_value_adjusted < 0.05 for pattern in self.patterns
            ),
            "top_patterns": [pattern_json(pattern) for pattern in separating_patterns(self.patterns, top)],
            "anomalous_sessions": sum(score.is_anomalous for score in self.session_anomalies.values()),
            "clusters": 0 if self.clustering is None else self.clustering.k,
            "seconds": {stage: round(value, 3) for stage, value in self.seconds.items()},
        }


def pattern_id(agent_id: str | None, items: Sequence[str]) -> str:
    """A stable id for a pattern in a scope (an agent, or all sessions when None)."""
    digest = hashlib.blake2b(json.dumps([agent_id, list(items)]).encode(), digest_size=12).hexdigest()
    return f"pat_{digest}"


def pattern_json(pattern: PatternStatistics) -> dict[str, Any]:
    """A pattern's statistics as JSON-ready values."""
    return {
        "sequence": list(pattern.items),
        "support": pattern.support,
        "failure_support": pattern.failure_support,
        "success_support": pattern.success_support,
        "success_rate": pattern.success_rate,
        "lift_toward_failure": pattern.lift_toward_failure,
        "odds_ratio": pattern.odds_ratio,
        "p_value": pattern.p_value,
        "p_value_adjusted": pattern.p_value_adjusted,
        "direction": pattern.direction,
    }


def _jaccard(first: frozenset[int], second: frozenset[int]) -> float:
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def separating_patterns(
    patterns: Iterable[PatternStatistics], limit: int, *, max_overlap: float = 0.8, direction: str | None = None
) -> list[PatternStatistics]:
    """The most significant patterns, skipping any whose sessions overlap a listed one's by more than
    ``max_overlap`` (Jaccard): variants of one behaviour are shown once. ``direction`` keeps only ``failure`` or
    ``success`` patterns."""
    chosen: list[PatternStatistics] = []
    for pattern in patterns:
        if pattern.p_value is None or (direction is not None and pattern.direction != direction):
            continue
        if all(_jaccard(pattern.sequence_ids, kept.sequence_ids) <= max_overlap for kept in chosen):
            chosen.append(pattern)
        if len(chosen) >= limit:
            break
    return chosen


class BehaviourAnalyser:
    """Mines patterns, scores anomalies, finds loops and clusters sessions; deterministic given the seed."""

    def __init__(self, config: BehaviourConfig | None = None) -> None:
        self.config = config or BehaviourConfig()

    def analyse(self, sessions: Iterable[LabelledSession]) -> BehaviourReport:
        """Analyse sessions (their events in order, with outcomes when known)."""
        config = self.config
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        sequences: list[SessionSequence] = []
        session_rows = []
        step_rows = {}
        for session in sessions:
            sequence = abstract_session(session.events, session_id=session.session_id, success=session.success)
            sequences.append(sequence)
            session_rows.append(features_of_sequence(sequence, session.events))
            step_rows[sequence.session_id] = features_of_steps(sequence.steps)
        seconds["abstract"] = time.perf_counter() - started

        started = time.perf_counter()
        outcomes = [sequence.success for sequence in sequences]
        mined = mine_patterns(
            [sequence.actions for sequence in sequences],
            config.absolute_support(len(sequences)),
            max_gap=config.max_gap,
            max_length=config.max_length,
            kind=config.kind,
        )
        patterns = score_patterns(mined, outcomes)
        seconds["patterns"] = time.perf_counter() - started

        started = time.perf_counter()
        session_ids = [sequence.session_id for sequence in sequences]
        session_scores = {score.key: score for score in score_sessions(session_ids, session_rows, config.seed)}
        steps = {sequence.session_id: sequence.steps for sequence in sequences}
        step_scores = score_steps(steps, step_rows, per_session=config.steps_per_session, seed=config.seed)
        loops = {sequence.session_id: detect_loops(sequence.steps) for sequence in sequences}
        loop_shares = {session_id: row["loop_share"] for session_id, row in zip(session_ids, session_rows, strict=True)}
        seconds["anomalies"] = time.perf_counter() - started

        started = time.perf_counter()
        clustering = cluster_sessions(
            session_ids, session_rows, outcomes, patterns, k_range=config.k_range, seed=config.seed
        )
        seconds["clusters"] = time.perf_counter() - started
        return BehaviourReport(
            config,
            tuple(sequences),
            tuple(patterns),
            session_scores,
            step_scores,
            loops,
            loop_shares,
            clustering,
            seconds,
        )
