"""``escai.session(...)``: one monitored run of an agent, as a sync or async context manager.

    with escai.session("refund order 4411", agent_id="support-bot") as run:
        answer = agent.invoke(...)
        run.set_outcome(success=answer.ok, score=answer.score)

Entering emits ``session_start`` (the task as content and ``escai.task``); every event inside the block, in this
thread and in asyncio tasks started from it, belongs to the session and hangs under its start event; leaving emits
``session_end`` with status ``ok`` or ``error``. An exception inside the block marks the session failed with the
error's type and message and propagates unchanged. Without a configured recorder the block just runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from contextvars import Token
from types import TracebackType
from typing import Any

from escai.sdk.context import Scope, current_scope, enter_scope, exit_scope
from escai.sdk.errors import internal_errors_handled
from escai.sdk.monitor import session_end_event, session_start_event
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import get_recorder


class Session:
    """A monitoring session bound to a ``with`` / ``async with`` block; see the module docstring."""

    def __init__(
        self,
        task: Any = None,
        *,
        agent_id: str | None = None,
        agent_name: str | None = None,
        framework: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.id = session_id or uuid.uuid4().hex
        """The session id: every event inside the block carries it."""
        self.task = task
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.framework = framework
        self.metadata = metadata
        self.start_event_id: str | None = None
        """Id of the ``session_start`` event (the parent of top-level events in the block)."""
        self.success: bool | None = None
        self.score: float | None = None
        self._recorder: Recorder | None = None
        self._token: Token[Scope] | None = None
        self._outer: Scope | None = None
        self._started = 0.0

    def set_outcome(self, success: bool, score: float | None = None) -> None:
        """Record whether the run achieved its task (and a score), sent with ``session_end``."""
        self.success = success
        self.score = score

    def __enter__(self) -> Session:
        self._recorder = get_recorder()
        if self._recorder is None:
            return self
        self._started = time.monotonic()
        with internal_errors_handled("session start"):
            self._outer = current_scope()
            self.start_event_id = session_start_event(
                self._recorder,
                self.id,
                self.task,
                agent_id=self.agent_id,
                agent_name=self.agent_name,
                framework=self.framework,
                metadata=self.metadata,
            )
            # A fresh scope: the session's events do not hang under an outer session's events.
            self._token = enter_scope(
                Scope(
                    session_id=self.id,
                    agent_id=self.agent_id,
                    agent_name=self.agent_name if self.agent_id else None,
                    framework=self.framework,
                    parent_id=self.start_event_id,
                )
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        with internal_errors_handled("session end"):
            session_end_event(
                recorder,
                self.id,
                self.start_event_id,
                agent_id=self.agent_id,
                duration_s=time.monotonic() - self._started,
                success=self.success,
                score=self.score,
                error=exc,
            )
        if self._token is not None:
            token, self._token = self._token, None
            with internal_errors_handled("session end"):
                exit_scope(token, self._outer)

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


def session(
    task: Any = None,
    *,
    agent_id: str | None = None,
    agent_name: str | None = None,
    framework: str | None = None,
    session_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Session:
    """A monitored run of an agent: ``with escai.session(task) as run:`` (or ``async with``).

    ``task`` becomes the session's task; ``metadata`` (JSON-like values) is stored on its ``session_start``;
    ``run.set_outcome(success, score)`` records the outcome. See :mod:`escai.sdk.session`.
    """
    return Session(
        task, agent_id=agent_id, agent_name=agent_name, framework=framework, session_id=session_id, metadata=metadata
    )
