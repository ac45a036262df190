"""Incremental epistemic state of one session: feed events in order, get each agent's state after each step.

The same tracker serves live analysis (one event at a time, from the bus) and batch extraction of imported traces
(:func:`escai.analysis.epistemic.extractor.extract_timeline`, which pre-embeds a session's sentences in one batch).
What it deliberately ignores: the recorded outcome of a run (the ``session_end`` event of imported data carries the
ground truth), so the states say what the agents knew, never what the evaluator later decided.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from escai.analysis.epistemic.beliefs import BeliefBook
from escai.analysis.epistemic.calibration import ConfidenceCalibrator
from escai.analysis.epistemic.confidence import ConfidenceSignals, action_failed
from escai.analysis.epistemic.cues import COMPLETION_RE, split_sentences
from escai.analysis.epistemic.knowledge import extract_facts
from escai.analysis.epistemic.sections import SectionKind
from escai.analysis.epistemic.statements import (
    Statements,
    is_agent_text,
    is_human,
    read_statements,
    role_of,
    task_text,
)
from escai.analysis.epistemic.timeline import EpistemicTimeline, EpistemicUpdate
from escai.analysis.text.embedding import HashingEmbedder, TextEmbedder, Vectors
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import BeliefRevision, EpistemicState, KnowledgeFact, RevisionKind
from escai.model.semconv import GEN_AI_TOOL_CALL_ID, SYSTEM_PROMPTS
from escai.model.semconv_otlp import GEN_AI_TOOL_CALL_ARGUMENTS

STATE_FACTS = 10
STATE_BELIEFS = 10
_RESULT_TYPES = frozenset({EventType.TOOL_RESULT, EventType.OBSERVATION, EventType.ERROR})
_CONFLICTS = frozenset({RevisionKind.CONTRADICTED, RevisionKind.RETRACTED})


class EpistemicTracker:
    """Tracks beliefs, knowledge, goals and confidence of every agent of one session."""

    def __init__(
        self,
        session_id: str,
        embedder: TextEmbedder | None = None,
        *,
        vectors: dict[str, Vectors] | None = None,
        statements: dict[str, Statements] | None = None,
        calibrator: ConfidenceCalibrator | None = None,
    ) -> None:
        from escai.analysis.epistemic.goals import GoalBoard

        self.session_id = session_id
        self._calibrator = calibrator
        self.embedder: TextEmbedder = embedder or HashingEmbedder()
        self._vectors: dict[str, Vectors] = vectors if vectors is not None else {}
        self._statements = statements if statements is not None else {}
        self._books: dict[str, BeliefBook] = {}
        self._signals: dict[str, ConfidenceSignals] = defaultdict(ConfidenceSignals)
        self._goals = GoalBoard(self.embedder, self._vectors)
        self._facts: list[KnowledgeFact] = []
        self._calls_by_id: dict[str, AgentEvent] = {}
        """Tool-call events by event id and by tool-call id (the latest call of a reused call id wins)."""
        self._last_caller: str | None = None
        self._pending_action: dict[str, str] = {}
        self._failures_by_action: dict[str, int] = defaultdict(int)
        self._next_step = 0
        self._root_agent: str | None = None
        self._timeline = EpistemicTimeline(session_id=session_id, method=self.embedder.name)

    def observe(self, event: AgentEvent) -> EpistemicUpdate:
        """Take in the session's next event; return what it changed."""
        step = event.step_index if event.step_index is not None else self._next_step
        self._next_step = max(self._next_step, step + 1)
        update = self._dispatch(event, step)
        self._timeline.add(update)
        return update

    def timeline(self) -> EpistemicTimeline:
        """Everything observed so far."""
        return self._timeline

    def _dispatch(self, event: AgentEvent, step: int) -> EpistemicUpdate:
        role = role_of(event)
        if event.type is EventType.SESSION_START:
            self._goals.set_task(task_text(event) or "", event.id)
            prompts = event.attributes.get(SYSTEM_PROMPTS)
            if isinstance(prompts, dict):
                for prompt in prompts.values():
                    if isinstance(prompt, str):
                        self._goals.add_system_goals(prompt, event.id)
            # The starting state of the session's agent: its goals known, nothing believed yet.
            return self._update(event, event.agent_id, step, [], [])
        if event.type is EventType.SESSION_END:
            return EpistemicUpdate(state=None)
        if event.type is EventType.AGENT_START and self._root_agent is None:
            self._root_agent = event.agent_id
        if event.type is EventType.AGENT_END and event.agent_id == self._root_agent:
            # The top-level agent finished its run by itself (ok) or stopped on an error: its own verdict at run time.
            if event.status is EventStatus.OK:
                self._goals.completion_declared(event.id)
            elif event.status is EventStatus.ERROR:
                self._goals.gave_up(event.id)
            return self._update(event, event.agent_id, step, [], [])
        if event.type in _RESULT_TYPES or (event.type is EventType.MESSAGE and role == "tool"):
            return self._on_result(event, step)
        if event.type is EventType.TOOL_CALL:
            return self._on_call(event, step)
        if event.type is EventType.MESSAGE and role == "system" and event.content:
            self._goals.add_system_goals(event.content, event.id)
            return EpistemicUpdate(state=None)
        if is_human(event) and event.content:
            # The person the agents serve: their first words are the task when none was announced.
            self._goals.set_task(event.content, event.id)
            return EpistemicUpdate(state=None)
        if is_agent_text(event):
            if self._goals.task_goal() is None and event.content and role == "user":
                self._goals.set_task(event.content, event.id)
                return EpistemicUpdate(state=None)
            return self._on_text(event, step)
        return EpistemicUpdate(state=None)

    def _on_text(self, event: AgentEvent, step: int) -> EpistemicUpdate:
        statements = self._statements.get(event.id) or read_statements(event)
        agent = event.agent_id
        signals = self._signals[agent]
        signals.said(statements.cues.certainty, statements.cues.hedge_rate)
        notes = statements.notes
        plan = notes.of_kind(SectionKind.PLAN)
        if event.type is EventType.PLAN and not plan and event.content:
            plan = split_sentences(event.content)[:8]
        self._goals.add_plan(plan, event.id)
        self._goals.add_plan(notes.of_kind(SectionKind.OPEN_QUESTIONS), event.id, source="open_question")
        if notes.ledger is not None:
            if notes.ledger.request_satisfied is True:
                self._goals.completion_declared(event.id)
            elif notes.ledger.request_satisfied is False:
                self._goals.reopened(event.id)
            if notes.ledger.in_loop is True or notes.ledger.progress_being_made is False:
                self._goals.looping(event.id)
        if statements.cues.completion:
            self._goals.completion_declared(event.id)
        if statements.cues.giving_up:
            self._goals.gave_up(event.id)
        for candidate in statements.beliefs:
            if candidate.confidence >= 0.7:
                self._goals.progress_reported(candidate.text, event.id)
        revisions = self._book(agent).state(
            statements.beliefs,
            retraction=statements.cues.retraction,
            event_id=event.id,
            step=step,
            timestamp=event.timestamp,
        )
        signals.revised(sum(revision.kind in _CONFLICTS for revision in revisions), len(revisions))
        return self._update(event, agent, step, revisions, [])

    def _on_call(self, event: AgentEvent, step: int) -> EpistemicUpdate:
        agent = event.agent_id
        call_id = event.attributes.get(GEN_AI_TOOL_CALL_ID)
        self._calls_by_id[event.id] = event
        if isinstance(call_id, str):
            self._calls_by_id[call_id] = event
        self._last_caller = agent
        action = _action_key(event)
        self._signals[agent].acted(action)
        self._pending_action[agent] = action
        if event.content and COMPLETION_RE.search(event.content[:500]):
            self._goals.completion_declared(event.id)
        return self._update(event, agent, step, [], [])

    def _on_result(self, event: AgentEvent, step: int) -> EpistemicUpdate:
        call = self._call_answered_by(event)
        agent = call.agent_id if call is not None else self._last_caller or event.agent_id
        failed = action_failed(event)
        action = self._pending_action.pop(agent, None)
        repeated_failure = failed and action is not None and self._failures_by_action[action] > 0
        if failed and action is not None:
            self._failures_by_action[action] += 1
        book = self._book(agent)
        revisions = book.after_action(
            failed=failed, repeated_failure=repeated_failure, event_id=event.id, step=step, timestamp=event.timestamp
        )
        book.last_stated = []
        facts = extract_facts(event, call=call)
        revisions += book.check_facts(facts, event.id, step, event.timestamp)
        signals = self._signals[agent]
        signals.action_returned(failed)
        signals.revised(sum(revision.kind in _CONFLICTS for revision in revisions), len(revisions))
        self._goals.action_result(failed=failed, event_id=event.id)
        self._facts.extend(facts)
        del self._facts[:-STATE_FACTS]
        return self._update(event, agent, step, revisions, facts)

    def _call_answered_by(self, result: AgentEvent) -> AgentEvent | None:
        """The tool call a result answers: its parent event first (call ids get reused), else its call id."""
        if result.parent_id is not None and result.parent_id in self._calls_by_id:
            return self._calls_by_id[result.parent_id]
        call_id = result.attributes.get(GEN_AI_TOOL_CALL_ID)
        return self._calls_by_id.get(call_id) if isinstance(call_id, str) else None

    def _update(
        self,
        event: AgentEvent,
        agent: str,
        step: int,
        revisions: list[BeliefRevision],
        facts: list[KnowledgeFact],
    ) -> EpistemicUpdate:
        book = self._book(agent)
        signals = self._signals[agent]
        task = self._goals.task_goal()
        progress = task.progress if task is not None else 0.0
        entropy = book.mean_entropy()
        signals_now = signals.components(progress, entropy)
        confidence = signals.confidence(progress)
        if self._calibrator is not None:
            signals_now["raw_confidence"] = confidence
            confidence = self._calibrator.calibrate(signals_now)
        state = EpistemicState(
            session_id=self.session_id,
            agent_id=agent,
            step_index=step,
            event_id=event.id,
            timestamp=event.timestamp,
            beliefs=book.snapshot(STATE_BELIEFS),
            knowledge=list(self._facts),
            goals=self._goals.goals(),
            confidence=confidence,
            uncertainty=signals.uncertainty(entropy),
            method=self.embedder.name,
            signals=signals_now,
        )
        return EpistemicUpdate(state=state, revisions=revisions, facts=facts)

    def _book(self, agent: str) -> BeliefBook:
        book = self._books.get(agent)
        if book is None:
            book = self._books[agent] = BeliefBook(self.session_id, agent, self.embedder, self._vectors)
        return book


def _action_key(event: AgentEvent) -> str:
    """Identity of an action: the tool and a digest of its arguments (or command text)."""
    arguments = event.attributes.get(GEN_AI_TOOL_CALL_ARGUMENTS)
    payload = repr(arguments) if arguments is not None else (event.content or "")
    digest = hashlib.blake2b(payload.encode("utf-8", "replace"), digest_size=8).hexdigest()
    return f"{event.name or 'action'}:{digest}"
