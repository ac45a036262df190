"""What the current code is part of: the session, agent and parent event, carried in context variables.

Context variables follow asyncio tasks and can be copied into threads, so an event emitted deep inside a tool
call knows its session, its agent and the event it belongs under without anyone passing them along.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """The session, agent and parent event that new events belong to."""

    session_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    framework: str | None = None
    parent_id: str | None = None


_current: ContextVar[Scope] = ContextVar("escai_scope", default=Scope())


def current_scope() -> Scope:
    """The scope new events are recorded in."""
    return _current.get()


@contextmanager
def scoped(
    *,
    session_id: str | None = None,
    agent_id: str | None = None,
    agent_name: str | None = None,
    framework: str | None = None,
    parent_id: str | None = None,
) -> Iterator[Scope]:
    """Record events inside the block under the given session/agent/parent (unset fields are inherited)."""
    outer = _current.get()
    inner = Scope(
        session_id=session_id or outer.session_id,
        agent_id=agent_id or outer.agent_id,
        agent_name=agent_name or (outer.agent_name if agent_id is None else None),
        framework=framework or outer.framework,
        parent_id=parent_id or outer.parent_id,
    )
    token = _current.set(inner)
    try:
        yield inner
    finally:
        _current.reset(token)
