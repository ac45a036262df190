"""The goals of a session: the task, what system prompts ask for, and plan steps, each with status and progress.

Status follows what the agents say and what their actions return, never the recorded outcome of the run: the task
goal is *achieved* when an agent declares completion (a final answer, "TERMINATE", a satisfied ledger), *abandoned*
when it gives up, *blocked* after a streak of failed actions or a ledger that says it is looping, and active again
after a success. Plan steps are achieved when an agent later reports success on something similar, and abandoned
when a new plan replaces them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from escai.analysis.text.embedding import TextEmbedder, Vectors
from escai.model.records import Goal, GoalStatus

MAX_GOALS = 16
MAX_GOAL_CHARS = 240
BLOCKING_FAILURE_STREAK = 3
SUBGOAL_DONE_THRESHOLD = {"minilm": 0.6, "light": 0.45}
_SYSTEM_GOAL_RE = re.compile(
    r"[^.\n]*\b(?:your (?:task|goal|job|role|objective) is|you (?:must|should|need to|will|can help|are asked to)|"
    r"you are an? )[^.\n]*",
    re.IGNORECASE,
)
MAX_SYSTEM_GOALS = 2


@dataclass(slots=True)
class _Entry:
    goal: Goal
    vector: Vectors | None


@dataclass(slots=True)
class GoalBoard:
    """Goals of one session, shared by its agents."""

    embedder: TextEmbedder
    vectors: dict[str, Vectors]
    entries: list[_Entry] = field(default_factory=list)
    task_index: int | None = None
    failure_streak: int = 0
    successes: int = 0

    def set_task(self, text: str, event_id: str) -> None:
        """The session's task becomes its main goal (once)."""
        if self.task_index is not None or not text.strip():
            return
        self.task_index = self._add(_first_line(text), "task", event_id, embed=False)

    def add_system_goals(self, text: str, event_id: str) -> None:
        """Goals a system prompt states ("your task is ...", "you must ...")."""
        for match in _SYSTEM_GOAL_RE.finditer(text[:4000]):
            if sum(entry.goal.source == "system_prompt" for entry in self.entries) >= MAX_SYSTEM_GOALS:
                return
            sentence = match.group(0).strip(" -*#")
            if len(sentence) >= 12:
                self._add(sentence, "system_prompt", event_id, embed=False)

    def add_plan(self, steps: list[str], event_id: str, source: str = "plan") -> None:
        """A new plan: earlier plan steps still open are abandoned (superseded), the new steps become goals."""
        if not steps:
            return
        new_steps = [step for step in steps if not self._known(step)]
        if not new_steps:
            return
        if source == "plan":
            for position, entry in enumerate(self.entries):
                if entry.goal.source == "plan" and entry.goal.status in (GoalStatus.ACTIVE, GoalStatus.BLOCKED):
                    self._update(position, event_id, status=GoalStatus.ABANDONED)
        for step in new_steps:
            self._add(step, source, event_id, embed=True)
        self._refresh_task_progress(event_id)

    def completion_declared(self, event_id: str) -> None:
        """An agent declared the task complete."""
        if self.task_index is not None:
            self._update(self.task_index, event_id, status=GoalStatus.ACHIEVED, progress=1.0)

    def gave_up(self, event_id: str) -> None:
        """An agent said it cannot go on."""
        if self.task_index is not None and self.entries[self.task_index].goal.status is not GoalStatus.ACHIEVED:
            self._update(self.task_index, event_id, status=GoalStatus.ABANDONED)

    def reopened(self, event_id: str) -> None:
        """A ledger or an agent says the request is not satisfied after all."""
        if self.task_index is not None and self.entries[self.task_index].goal.status is GoalStatus.ACHIEVED:
            self._update(self.task_index, event_id, status=GoalStatus.ACTIVE, progress=0.8)

    def looping(self, event_id: str) -> None:
        """A ledger says the team is in a loop or makes no progress: the open goals are blocked."""
        for position, entry in enumerate(self.entries):
            if entry.goal.status is GoalStatus.ACTIVE and entry.goal.source in ("task", "plan"):
                self._update(position, event_id, status=GoalStatus.BLOCKED)

    def action_result(self, *, failed: bool, event_id: str) -> None:
        """A tool or command result: a failure streak blocks open goals, a success unblocks them."""
        if failed:
            self.failure_streak += 1
            if self.failure_streak == BLOCKING_FAILURE_STREAK:
                self.looping(event_id)
            return
        self.failure_streak = 0
        self.successes += 1
        for position, entry in enumerate(self.entries):
            if entry.goal.status is GoalStatus.BLOCKED:
                self._update(position, event_id, status=GoalStatus.ACTIVE)
        self._refresh_task_progress(event_id)

    def progress_reported(self, text: str, event_id: str) -> None:
        """An agent reports success on something: plan steps similar to it are achieved."""
        open_positions = [
            position
            for position, entry in enumerate(self.entries)
            if entry.vector is not None and entry.goal.status is not GoalStatus.ACHIEVED
        ]
        if not open_positions:
            return
        vector = self._vector(text)
        threshold = SUBGOAL_DONE_THRESHOLD.get(self.embedder.name, 0.5)
        for position in open_positions:
            entry_vector = self.entries[position].vector
            assert entry_vector is not None
            if float(entry_vector @ vector) >= threshold:
                self._update(position, event_id, status=GoalStatus.ACHIEVED, progress=1.0)
        self._refresh_task_progress(event_id)

    def goals(self) -> list[Goal]:
        """The goals now, task first."""
        return [entry.goal for entry in self.entries]

    def task_goal(self) -> Goal | None:
        """The main goal, when the session announced a task."""
        return None if self.task_index is None else self.entries[self.task_index].goal

    def _refresh_task_progress(self, event_id: str) -> None:
        if self.task_index is None:
            return
        task = self.entries[self.task_index].goal
        if task.status is GoalStatus.ACHIEVED:
            return
        steps = [
            entry.goal
            for entry in self.entries
            if entry.goal.source == "plan" and entry.goal.status is not GoalStatus.ABANDONED
        ]
        if steps:
            progress = 0.9 * sum(step.status is GoalStatus.ACHIEVED for step in steps) / len(steps)
        else:
            # Without a plan, successful actions are the only sign of progress; it saturates well below done.
            progress = 0.8 * (1 - float(np.exp(-0.15 * self.successes)))
        if abs(progress - task.progress) >= 0.01:
            self._update(self.task_index, event_id, progress=round(progress, 3))

    def _known(self, text: str) -> bool:
        return any(entry.goal.description == text[:MAX_GOAL_CHARS] for entry in self.entries)

    def _add(self, text: str, source: str, event_id: str, *, embed: bool) -> int:
        if len(self.entries) >= MAX_GOALS:
            # Drop the oldest finished plan step to make room; the task goal always stays.
            for position, entry in enumerate(self.entries):
                if position != self.task_index and entry.goal.status is not GoalStatus.ACTIVE:
                    del self.entries[position]
                    if self.task_index is not None and position < self.task_index:
                        self.task_index -= 1
                    break
            else:
                return len(self.entries) - 1
        goal = Goal(description=text[:MAX_GOAL_CHARS], source=source, evidence_event_ids=[event_id])
        self.entries.append(_Entry(goal, self._vector(goal.description) if embed else None))
        return len(self.entries) - 1

    def _update(
        self, position: int, event_id: str, *, status: GoalStatus | None = None, progress: float | None = None
    ) -> None:
        goal = self.entries[position].goal
        update: dict[str, object] = {
            "evidence_event_ids": list(dict.fromkeys([*goal.evidence_event_ids[:1], event_id]))
        }
        if status is not None:
            update["status"] = status
        if progress is not None:
            update["progress"] = progress
        self.entries[position].goal = goal.model_copy(update=update)

    def _vector(self, text: str) -> Vectors:
        if text not in self.vectors:
            self.vectors[text] = self.embedder.embed([text])[0]
        return self.vectors[text]


def _first_line(text: str) -> str:
    """The task's first meaningful line, as its description."""
    for line in text.strip().splitlines():
        cleaned = line.strip(" #*-<>")
        if len(cleaned) >= 8 and not cleaned.lower().startswith(("consider the following", "pr_description")):
            return cleaned[:MAX_GOAL_CHARS]
    return text.strip()[:MAX_GOAL_CHARS]
