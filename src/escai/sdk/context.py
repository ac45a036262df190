"""What the current code is part of: the session, agent and parent event, carried in context variables.

Context variables follow asyncio tasks and can be copied into threads, so an event emitted deep inside a tool
call knows its session, its agent and the event it belongs under without anyone passing them along.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """The session, agent and parent event that new events belong to."""

    session_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    framework: str | None = None
    parent_id: str | None = None


_current: ContextVar[Scope] = ContextVar("escai_scope", default=Scope())  # noqa: B039 - Scope is frozen


def current_scope() -> Scope:
    """The scope new events are recorded in."""
    return _current.get()


read_scope = _current.get
""":func:`current_scope` without the Python call frame, for the capture hot path."""


def derive_scope(
    outer: Scope,
    *,
    session_id: str | None = None,
    agent_id: str | None = None,
    agent_name: str | None = None,
    framework: str | None = None,
    parent_id: str | None = None,
) -> Scope:
    """A scope inside ``outer``: the given fields replace, unset ones are inherited (a new agent drops the name)."""
    return Scope(
        session_id=session_id or outer.session_id,
        agent_id=agent_id or outer.agent_id,
        agent_name=agent_name or (outer.agent_name if agent_id is None else None),
        framework=framework or outer.framework,
        parent_id=parent_id or outer.parent_id,
    )


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
    inner = derive_scope(
        _current.get(),
        session_id=session_id,
        agent_id=agent_id,
        agent_name=agent_name,
        framework=framework,
        parent_id=parent_id,
    )
    token = _current.set(inner)
    try:
        yield inner
    finally:
        _current.reset(token)


def enter_scope(scope: Scope) -> Token[Scope]:
    """Make ``scope`` current (no inheritance) until :func:`exit_scope`; for code that cannot use ``with``."""
    return _current.set(scope)


def exit_scope(token: Token[Scope], fallback: Scope | None = None) -> None:
    """Undo :func:`enter_scope`. From another context (where the token is unknown) set ``fallback`` instead."""
    try:
        _current.reset(token)
    except ValueError:
        if fallback is not None:
            _current.set(fallback)
