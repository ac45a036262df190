"""Runs with a recorded outcome, ready for training and evaluation: events, label and cross-validation group.

The outcome is read from the imported run's annotations (``labels.success``) or from a stored session's outcome;
it is kept beside the events and never given to the feature groups. The group is :func:`task_group` of the
session (its task text), so trials of one task stay together in cross-validation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from escai.analysis.predict.features import task_group
from escai.ingest.importers import ImportedRun, ImportItem
from escai.model.events import AgentEvent, EventType


@dataclass(frozen=True, slots=True)
class OutcomeRun:
    """One finished run: its events in order, whether it succeeded, and its cross-validation group."""

    session_id: str
    events: tuple[AgentEvent, ...]
    success: bool
    group: str


def outcome_run(session_id: str, events: Sequence[AgentEvent], success: bool) -> OutcomeRun:
    """An :class:`OutcomeRun`, grouped by its task text."""
    return OutcomeRun(session_id, tuple(events), success, task_group(events, session_id))


def collect_outcome_runs(items: Iterable[ImportItem]) -> tuple[list[OutcomeRun], int]:
    """Imported runs with a boolean ``success`` label, and how many items had none (or were skipped)."""
    runs: list[OutcomeRun] = []
    unlabelled = 0
    for item in items:
        labels = item.annotations.get("labels", {}) if isinstance(item, ImportedRun) else {}
        success = labels.get("success") if isinstance(labels, dict) else None
        if not isinstance(item, ImportedRun) or not isinstance(success, bool) or not item.events:
            unlabelled += 1
            continue
        runs.append(outcome_run(item.session_id, item.events, success))
    return runs, unlabelled


def step_times(events: Iterable[AgentEvent]) -> list[datetime]:
    """Timestamps of a run's steps (everything but session start and end), in order."""
    return [event.timestamp for event in events if event.type not in (EventType.SESSION_START, EventType.SESSION_END)]


def has_recorded_times(events: Iterable[AgentEvent]) -> bool:
    """Whether a run's timestamps look recorded rather than synthesised.

    Importers of data without times space events evenly (one second apart); recorded runs have uneven gaps. A run
    whose step gaps are all equal (or that has fewer than three steps) does not count as timed.
    """
    times = step_times(events)
    gaps = {round((later - earlier).total_seconds(), 6) for earlier, later in itertools.pairwise(times)}
    return len(gaps) > 1
