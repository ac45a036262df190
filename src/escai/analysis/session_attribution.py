"""Failure attribution of a stored session: read its events, rank (agent, step) candidates, store the result.

What ``POST /api/v1/sessions/{id}/attribution`` and ``escai analyze`` run. The label-free methods are used
(cues, dependency-graph blame, counterfactual support; :mod:`escai.analysis.causal.attribution`): a learned ranker
needs labelled logs, which ``escai eval attribution`` trains on the data it is given.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.causal.attribution import attribute_failure
from escai.bus.base import ChangeEvent, ChangeKind
from escai.exceptions import NotFoundError
from escai.model.records import FailureAttribution
from escai.store.attribution_store import save_attribution
from escai.store.queries import get_session, list_session_events

TOP_CANDIDATES = 10


async def attribute_session(engine: AsyncEngine, session_id: str, *, store: bool = True) -> FailureAttribution:
    """Rank the candidates for a session's failure (whatever its recorded status) and store the attribution."""
    async with engine.connect() as connection:
        session = await get_session(connection, session_id)
        if session is None:
            raise NotFoundError(f"no session with id {session_id!r}")
        events = await list_session_events(connection, session_id)
    if not events:
        raise NotFoundError(f"session {session_id!r} has no events to attribute")
    # CPU-bound: keep the server's loop serving while a long session is scored.
    attribution = await asyncio.to_thread(attribute_failure, events, top_k=TOP_CANDIDATES)
    if store:
        async with engine.begin() as connection:
            await save_attribution(connection, attribution)
    return attribution


def attribution_change(attribution: FailureAttribution, agent_id: str | None) -> ChangeEvent:
    """The bus change announcing an attribution to live subscribers of the session."""
    return ChangeEvent(
        ChangeKind.ANALYSIS_RESULT,
        session_id=attribution.session_id,
        agent_id=agent_id,
        payload={"analysis": "attribution", **attribution.model_dump(mode="json")},
        published_at=time.time(),
    )
