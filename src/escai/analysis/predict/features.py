"""Feature extraction for the performance predictor: pluggable feature groups over a stream of events.

A :class:`FeatureGroup` names its features and starts an :class:`FeatureAccumulator` per session; the accumulator
is fed one event at a time, so the same code serves training (whole runs and their prefixes, in one pass) and
live prediction (one update per incoming event, constant work). Other engines add their own signals (epistemic
states, patterns, anomalies) by registering a group with :func:`register_feature_group`; a trained model records
the group names it was trained with, and the predictor rebuilds the same extractor from them.

What the groups may read: every event up to the cut, never past it, and never the ground truth. The session_end
event is skipped entirely (its status and attributes are the outcome, its content often the final answer that was
scored), and of the session_start event only the task text is read (its ``escai.annotations`` attribute holds the
imported labels). Prefix cuts count *steps*: every event except session start and end.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from escai.model import semconv
from escai.model.events import AgentEvent, EventType

FloatMatrix = npt.NDArray[np.float64]

UNSEEN_EVENT_TYPES = frozenset({EventType.SESSION_END})
"""Event types no feature may read: the end event carries the outcome."""
BOUNDARY_EVENT_TYPES = frozenset({EventType.SESSION_START, EventType.SESSION_END})
"""Event types that are not steps (prefix cuts and step counts leave them out)."""
EVIDENCE_KEPT = 8
"""Event ids kept per feature as evidence for explanations (the most recent ones)."""


class Evidence:
    """The most recent event ids each feature's value was read from (:data:`EVIDENCE_KEPT` per feature)."""

    def __init__(self) -> None:
        self.ids: dict[str, deque[str]] = {}

    def add(self, feature: str, event_id: str) -> None:
        """Record that ``feature``'s value was read from ``event_id`` (older ids beyond the limit drop out)."""
        self.ids.setdefault(feature, deque(maxlen=EVIDENCE_KEPT)).append(event_id)

    def set_only(self, feature: str, event_id: str) -> None:
        """Make ``event_id`` the only evidence of ``feature`` (for values read from the latest event alone)."""
        self.ids[feature] = deque([event_id], maxlen=EVIDENCE_KEPT)

    def as_mapping(self) -> dict[str, Sequence[str]]:
        """Feature name -> event ids, oldest first: what accumulators return from ``evidence()``."""
        return {name: tuple(ids) for name, ids in self.ids.items()}


class FeatureAccumulator(Protocol):
    """The running feature values of one session, updated one event at a time."""

    def update(self, event: AgentEvent) -> None:
        """Take one more event into account (called in event order, never with a session_end event)."""
        ...

    def values(self) -> dict[str, float]:
        """The current value of every feature of the group."""
        ...

    def evidence(self) -> Mapping[str, Sequence[str]]:
        """Event ids each feature's value was read from (features without evidence may be missing)."""
        ...


class FeatureGroup(Protocol):
    """A named set of features with plain-language descriptions, computed by a fresh accumulator per session."""

    name: str
    """Stable name, stored with trained models (``events``, ``text``, ``actions``, ...)."""
    descriptions: Mapping[str, str]
    """Feature name -> what its value means, in the order features are laid out in a vector."""

    def start(self) -> FeatureAccumulator:
        """A fresh accumulator for one session."""
        ...


GroupFactory = Callable[[], FeatureGroup]
_GROUPS: dict[str, GroupFactory] = {}


def register_feature_group(name: str, factory: GroupFactory) -> None:
    """Make a feature group available by name to extractors (and so to stored models that list it)."""
    _GROUPS[name] = factory


def feature_group_names() -> tuple[str, ...]:
    """Names of the registered feature groups."""
    _load_builtin_groups()
    return tuple(_GROUPS)


def _load_builtin_groups() -> None:
    # The built-in groups register themselves on import; importing here avoids an import cycle at module load.
    from escai.analysis.predict import (  # noqa: F401
        feature_behaviour,
        feature_conduct,
        feature_epistemic,
        feature_groups,
        feature_text,
        feature_words,
    )


DEFAULT_GROUPS = ("events", "text", "actions", "conduct", "words")
"""The groups a model uses unless told otherwise: those that helped on both judged data sets (docs/prediction.md).

``epistemic`` and ``behaviour`` are registered too and can be named in :class:`TrainingOptions`, but did not."""


def task_text(events: Iterable[AgentEvent]) -> str | None:
    """The task the session set out to do (``escai.task`` on its session_start event), if recorded."""
    for event in events:
        if event.type is EventType.SESSION_START:
            value = event.attributes.get(semconv.ESCAI_TASK) or event.content
            return value if isinstance(value, str) and value.strip() else None
    return None


def task_group(events: Sequence[AgentEvent], fallback: str) -> str:
    """The cross-validation group of a session: a digest of its whitespace-normalised, lower-cased task text.

    Repeated trials of one task (same text) share a group, so grouped cross-validation never trains on one trial
    and tests on another. A session without task text is a group of its own (``fallback``, its session id).
    """
    text = task_text(events)
    if text is None:
        return f"session:{fallback}"
    normalised = " ".join(text.lower().split())
    return "task:" + hashlib.sha1(normalised.encode(), usedforsecurity=False).hexdigest()[:16]


def step_events(events: Iterable[AgentEvent]) -> list[AgentEvent]:
    """The steps of a session: its events without the session start and end."""
    return [event for event in events if event.type not in BOUNDARY_EVENT_TYPES]


def prefix_step_count(total_steps: int, fraction: float) -> int:
    """How many steps a prefix of ``fraction`` of a run of ``total_steps`` steps holds (at least one)."""
    if total_steps <= 0:
        return 0
    return min(total_steps, max(1, math.ceil(fraction * total_steps - 1e-9)))


def prefix_events(events: Sequence[AgentEvent], fraction: float) -> list[AgentEvent]:
    """The events a predictor may see at ``fraction`` of the run: the session start and the first steps.

    The session_end event is never part of a prefix, not even at fraction 1.0.
    """
    keep = prefix_step_count(len(step_events(events)), fraction)
    kept: list[AgentEvent] = []
    seen_steps = 0
    for event in events:
        if event.type is EventType.SESSION_END:
            continue
        if event.type is not EventType.SESSION_START:
            if seen_steps >= keep:
                break
            seen_steps += 1
        kept.append(event)
    return kept


@dataclass(frozen=True, slots=True)
class FeatureSnapshot:
    """Feature values of one session at one moment, with the evidence behind them."""

    vector: npt.NDArray[np.float64]
    steps: int
    """Steps seen so far."""
    evidence: Mapping[str, Sequence[str]]


class SessionFeatures:
    """The running features of one session under one extractor: feed events, read the vector at any moment."""

    def __init__(self, extractor: FeatureExtractor) -> None:
        self._extractor = extractor
        self._accumulators = [group.start() for group in extractor.groups]
        self.steps = 0
        self.last_event_id: str | None = None

    def update(self, event: AgentEvent) -> None:
        """Take one event into account; session_end events are ignored (they carry the outcome)."""
        if event.type in UNSEEN_EVENT_TYPES:
            return
        if event.type not in BOUNDARY_EVENT_TYPES:
            self.steps += 1
            self.last_event_id = event.id
        for accumulator in self._accumulators:
            accumulator.update(event)

    def vector(self) -> npt.NDArray[np.float64]:
        """The current feature vector, laid out as :attr:`FeatureExtractor.names` (unreported features are 0)."""
        result = np.zeros(len(self._extractor.names), dtype=np.float64)
        position = self._extractor.position
        for accumulator in self._accumulators:
            for name, value in accumulator.values().items():
                index = position.get(name)
                if index is not None:
                    result[index] = value
        return result

    def snapshot(self) -> FeatureSnapshot:
        """The current vector with the evidence of every feature."""
        evidence: dict[str, Sequence[str]] = {}
        for accumulator in self._accumulators:
            evidence.update(accumulator.evidence())
        return FeatureSnapshot(self.vector(), self.steps, evidence)


class FeatureExtractor:
    """Turns events into feature vectors using the named feature groups, in a fixed layout."""

    def __init__(self, group_names: Sequence[str] = DEFAULT_GROUPS) -> None:
        _load_builtin_groups()
        unknown = [name for name in group_names if name not in _GROUPS]
        if unknown:
            raise KeyError(f"unknown feature groups {unknown}; registered: {', '.join(_GROUPS)}")
        self.group_names = tuple(group_names)
        self.groups = tuple(_GROUPS[name]() for name in group_names)
        self.descriptions: dict[str, str] = {}
        for group in self.groups:
            self.descriptions.update(group.descriptions)
        self.names: tuple[str, ...] = tuple(self.descriptions)
        self.position = {name: index for index, name in enumerate(self.names)}

    def start(self) -> SessionFeatures:
        """Running features for one new session."""
        return SessionFeatures(self)

    def extract(self, events: Iterable[AgentEvent]) -> npt.NDArray[np.float64]:
        """The feature vector of a whole run (everything but its session_end event)."""
        running = self.start()
        for event in events:
            running.update(event)
        return running.vector()

    def extract_at(self, events: Sequence[AgentEvent], step_counts: Sequence[int]) -> FloatMatrix:
        """One feature row per requested step count (steps seen so far), computed in one pass over the events.

        Row ``i`` reads the session start and the first ``step_counts[i]`` steps only: nothing after the cut.
        """
        wanted = sorted(set(step_counts))
        rows: dict[int, npt.NDArray[np.float64]] = {}
        running = self.start()
        if 0 in wanted:
            rows[0] = running.vector()
        pending = [count for count in wanted if count > 0]
        for event in events:
            if not pending:
                break
            if event.type is EventType.SESSION_END:
                continue
            if event.type is not EventType.SESSION_START and running.steps >= pending[0]:
                rows[pending.pop(0)] = running.vector()
                if not pending:
                    break
            running.update(event)
        for count in pending:
            rows[count] = running.vector()
        return np.vstack([rows[count] for count in step_counts]) if step_counts else np.zeros((0, len(self.names)))


def columns_except(width: int, excluded: Iterable[int]) -> list[int]:
    """Positions ``0 .. width - 1`` without ``excluded`` (the dense features, when ``excluded`` is the word bag)."""
    skipped = set(excluded)
    return [column for column in range(width) if column not in skipped]


def model_value(value: float) -> float:
    """Signed ``log1p``: heavy-tailed counts on a scale linear models can use; shares in [0, 1] barely move."""
    return math.copysign(math.log1p(abs(value)), value)


def model_matrix(matrix: FloatMatrix) -> FloatMatrix:
    """:func:`model_value` applied to a whole feature matrix."""
    result: FloatMatrix = np.sign(matrix) * np.log1p(np.abs(matrix))
    return result
