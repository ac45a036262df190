"""Storing and reading epistemic analysis: per-step states, belief revisions and explanations.

Writes are bulk inserts (one ``executemany`` per table); JSON columns hold each record's
``model_dump(mode="json")`` so rows read back into the same frozen records. A session's analysis is replaced as a
whole (:func:`replace_session_analysis`), so running the analysis again gives the same rows, not duplicates.
Nothing here is dialect-specific.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.model.records import (
    Belief,
    BeliefRevision,
    EpistemicState,
    Explanation,
    ExplanationKind,
    ExplanationSentence,
    Goal,
    KnowledgeFact,
    RevisionKind,
)
from escai.store.knowledge_store import delete_knowledge, load_knowledge_graph, save_knowledge
from escai.store.queries import MAX_PAGE_SIZE
from escai.store.tables import (
    agent_events,
    belief_revisions,
    epistemic_states,
    explanations,
    monitoring_sessions,
)

UNKNOWN_METHOD = "unknown"
"""The method of a timeline read back for a session that has no stored state."""


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_PAGE_SIZE)), max(0, offset)


# --- writing ---------------------------------------------------------------------------------------------------


async def save_states(connection: AsyncConnection, states: Sequence[EpistemicState]) -> int:
    """Insert epistemic states in one bulk statement; return how many were written."""
    if not states:
        return 0
    created = datetime.now(UTC)
    rows = [
        {
            "session_id": state.session_id,
            "agent_id": state.agent_id,
            "step_index": state.step_index,
            "event_id": state.event_id,
            "timestamp": state.timestamp,
            "beliefs": [belief.model_dump(mode="json") for belief in state.beliefs],
            "knowledge": [fact.model_dump(mode="json") for fact in state.knowledge],
            "goals": [goal.model_dump(mode="json") for goal in state.goals],
            "confidence": state.confidence,
            "uncertainty": state.uncertainty,
            "method": state.method,
            "signals": dict(state.signals),
            "created_at": created,
        }
        for state in states
    ]
    await connection.execute(insert(epistemic_states), rows)
    return len(rows)


async def save_revisions(connection: AsyncConnection, revisions: Sequence[BeliefRevision]) -> int:
    """Insert belief revisions in one bulk statement; return how many were written."""
    if not revisions:
        return 0
    created = datetime.now(UTC)
    rows = [
        {
            "session_id": revision.session_id,
            "agent_id": revision.agent_id,
            "step_index": revision.step_index,
            "statement": revision.statement,
            "kind": revision.kind.value,
            "previous_confidence": revision.previous_confidence,
            "new_confidence": revision.new_confidence,
            "reason": revision.reason,
            "evidence_event_ids": list(revision.evidence_event_ids),
            "timestamp": revision.timestamp,
            "created_at": created,
        }
        for revision in revisions
    ]
    await connection.execute(insert(belief_revisions), rows)
    return len(rows)


async def save_explanations(connection: AsyncConnection, found: Sequence[Explanation]) -> int:
    """Insert explanations (with their sentences and citations) in one bulk statement; return how many."""
    if not found:
        return 0
    created = datetime.now(UTC)
    rows = [
        {
            "session_id": explanation.session_id,
            "agent_id": explanation.agent_id,
            "kind": explanation.kind.value,
            "text": explanation.text,
            "evidence_event_ids": list(explanation.evidence_event_ids),
            "confidence": explanation.confidence,
            "sentences": [sentence.model_dump(mode="json") for sentence in explanation.sentences],
            "other_session_id": explanation.other_session_id,
            "generator": explanation.generator,
            "created_at": created,
        }
        for explanation in found
    ]
    await connection.execute(insert(explanations), rows)
    return len(rows)


async def delete_session_analysis(connection: AsyncConnection, session_id: str) -> None:
    """Remove a session's states, revisions, knowledge and own explanations (comparisons are kept)."""
    await connection.execute(delete(epistemic_states).where(epistemic_states.c.session_id == session_id))
    await connection.execute(delete(belief_revisions).where(belief_revisions.c.session_id == session_id))
    # A comparison belongs to a pair of sessions and is replaced by compare_sessions, not by re-analysis.
    await connection.execute(
        delete(explanations).where(explanations.c.session_id == session_id, explanations.c.other_session_id.is_(None))
    )
    await delete_knowledge(connection, session_id)


async def replace_session_analysis(
    connection: AsyncConnection,
    session_id: str,
    timeline: EpistemicTimeline,
    found: Sequence[Explanation],
) -> int:
    """Replace everything stored for one session's analysis with ``timeline`` and ``found``.

    Run it inside one transaction (``engine.begin()``) so readers see either the old analysis or the new one.
    Returns how many knowledge facts were stored.
    """
    await delete_session_analysis(connection, session_id)
    await save_states(connection, timeline.states)
    await save_revisions(connection, timeline.revisions)
    await save_explanations(connection, [item for item in found if item.other_session_id is None])
    for comparison in (item for item in found if item.other_session_id is not None):
        await replace_comparison(connection, comparison)
    return await save_knowledge(connection, session_id, timeline.facts)


async def replace_comparison(connection: AsyncConnection, comparison: Explanation) -> None:
    """Store a comparison of two sessions, replacing an earlier comparison of the same pair in the same order."""
    await connection.execute(
        delete(explanations).where(
            explanations.c.session_id == comparison.session_id,
            explanations.c.other_session_id == comparison.other_session_id,
        )
    )
    await save_explanations(connection, [comparison])


# --- reading ---------------------------------------------------------------------------------------------------


def _state_from_row(row: Any) -> EpistemicState:
    # The rows were written from validated records, so they are rebuilt without validating again.
    return EpistemicState.model_construct(
        session_id=row.session_id,
        agent_id=row.agent_id,
        step_index=row.step_index,
        event_id=row.event_id,
        timestamp=row.timestamp,
        beliefs=[Belief.model_validate(item) for item in row.beliefs or []],
        knowledge=[KnowledgeFact.model_validate(item) for item in row.knowledge or []],
        goals=[Goal.model_validate(item) for item in row.goals or []],
        confidence=row.confidence,
        uncertainty=row.uncertainty,
        method=row.method,
        signals=dict(row.signals or {}),
    )


def _revision_from_row(row: Any) -> BeliefRevision:
    return BeliefRevision.model_construct(
        session_id=row.session_id,
        agent_id=row.agent_id,
        step_index=row.step_index,
        statement=row.statement,
        kind=RevisionKind(row.kind),
        previous_confidence=row.previous_confidence,
        new_confidence=row.new_confidence,
        reason=row.reason,
        evidence_event_ids=list(row.evidence_event_ids or []),
        timestamp=row.timestamp,
    )


def _explanation_from_row(row: Any) -> Explanation:
    return Explanation.model_construct(
        session_id=row.session_id,
        kind=ExplanationKind(row.kind),
        text=row.text,
        evidence_event_ids=list(row.evidence_event_ids or []),
        confidence=row.confidence,
        sentences=[ExplanationSentence.model_validate(item) for item in row.sentences or []],
        agent_id=row.agent_id,
        other_session_id=row.other_session_id,
        generator=row.generator,
    )


async def load_timeline(connection: AsyncConnection, session_id: str, agent_id: str | None = None) -> EpistemicTimeline:
    """The stored timeline of a session: states and revisions in step order (one agent's when ``agent_id``) and
    the session's knowledge facts (facts are the session's, not an agent's, so ``agent_id`` does not filter them).

    The method is the stored states' method, :data:`UNKNOWN_METHOD` when the session has not been analysed.
    """
    states_query = select(epistemic_states).where(epistemic_states.c.session_id == session_id)
    revisions_query = select(belief_revisions).where(belief_revisions.c.session_id == session_id)
    if agent_id is not None:
        states_query = states_query.where(epistemic_states.c.agent_id == agent_id)
        revisions_query = revisions_query.where(belief_revisions.c.agent_id == agent_id)
    # The id follows insertion order, which is event order within one analysis.
    states_query = states_query.order_by(epistemic_states.c.step_index, epistemic_states.c.id)
    revisions_query = revisions_query.order_by(belief_revisions.c.step_index, belief_revisions.c.id)
    states = [_state_from_row(row) for row in (await connection.execute(states_query)).all()]
    revisions = [_revision_from_row(row) for row in (await connection.execute(revisions_query)).all()]
    facts = (await load_knowledge_graph(connection, session_id)).facts()
    method = states[0].method if states else UNKNOWN_METHOD
    return EpistemicTimeline(session_id=session_id, method=method, states=states, revisions=revisions, facts=facts)


def _agent_states(agent_id: str, session_id: str | None) -> Select[Any]:
    query = select(epistemic_states).where(epistemic_states.c.agent_id == agent_id)
    if session_id is not None:
        query = query.where(epistemic_states.c.session_id == session_id)
    return query


async def list_agent_states(
    connection: AsyncConnection,
    agent_id: str,
    *,
    session_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[EpistemicState]:
    """An agent's states across sessions (or in one), oldest first."""
    limit, offset = _page(limit, offset)
    table = epistemic_states.c
    query = _agent_states(agent_id, session_id).order_by(table.timestamp, table.step_index, table.id)
    rows = (await connection.execute(query.limit(limit).offset(offset))).all()
    return [_state_from_row(row) for row in rows]


async def count_agent_states(connection: AsyncConnection, agent_id: str, *, session_id: str | None = None) -> int:
    """How many states are stored for an agent (in one session, when given)."""
    query = select(func.count()).select_from(_agent_states(agent_id, session_id).subquery())
    return int((await connection.execute(query)).scalar_one())


async def latest_agent_state(
    connection: AsyncConnection, agent_id: str, session_id: str | None = None
) -> EpistemicState | None:
    """An agent's most recent state (in one session, when given), or None when it has none."""
    table = epistemic_states.c
    query = _agent_states(agent_id, session_id).order_by(
        table.timestamp.desc(), table.step_index.desc(), table.id.desc()
    )
    row = (await connection.execute(query.limit(1))).first()
    return None if row is None else _state_from_row(row)


async def list_revisions(
    connection: AsyncConnection,
    *,
    session_id: str | None = None,
    agent_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[BeliefRevision]:
    """Belief revisions in time order, filtered by session and agent."""
    limit, offset = _page(limit, offset)
    table = belief_revisions.c
    query = select(belief_revisions)
    if session_id is not None:
        query = query.where(table.session_id == session_id)
    if agent_id is not None:
        query = query.where(table.agent_id == agent_id)
    query = query.order_by(table.timestamp, table.step_index, table.id).limit(limit).offset(offset)
    return [_revision_from_row(row) for row in (await connection.execute(query)).all()]


async def list_explanations(
    connection: AsyncConnection,
    *,
    agent_id: str | None = None,
    session_id: str | None = None,
    kind: ExplanationKind | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Explanation]:
    """Explanations, newest first.

    With ``agent_id``: those about that agent, and the session-wide ones of sessions the agent started or spoke in
    (no agent, or the session's own agent, which is how the explanation engine marks a whole session), because a
    session's explanation is about every agent in it.
    """
    limit, offset = _page(limit, offset)
    table = explanations.c
    query = select(explanations)
    if agent_id is not None:
        spoke_in = select(agent_events.c.session_id).where(agent_events.c.agent_id == agent_id)
        started = select(monitoring_sessions.c.id).where(monitoring_sessions.c.agent_id == agent_id)
        session_agent = (
            select(monitoring_sessions.c.agent_id).where(monitoring_sessions.c.id == table.session_id).scalar_subquery()
        )
        session_wide = or_(table.agent_id.is_(None), table.agent_id == session_agent) & or_(
            table.session_id.in_(spoke_in), table.session_id.in_(started)
        )
        query = query.where(or_(table.agent_id == agent_id, session_wide))
    if session_id is not None:
        query = query.where(or_(table.session_id == session_id, table.other_session_id == session_id))
    if kind is not None:
        query = query.where(table.kind == kind.value)
    query = query.order_by(table.created_at.desc(), table.id).limit(limit).offset(offset)
    return [_explanation_from_row(row) for row in (await connection.execute(query)).all()]
