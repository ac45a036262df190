"""ESCAI plugins: node classes published by installed distributions under the ``escai.plugins`` entry point.

A distribution registers ``name = "package.module:NodeClass"`` in ``[project.entry-points."escai.plugins"]``. A node
with ``hook = "session"`` takes :class:`SessionInput` and ESCAI runs it on every analysed session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from escai.model import AgentEvent, MonitoringSession
from escai.nodes.base import AnyNodeClass, Node
from escai.nodes.context import NodeContext
from escai.nodes.errors import PluginError
from escai.nodes.kinds import NodeKind
from escai.ops.logging import get_logger

__all__ = [
    "PLUGIN_GROUP",
    "SESSION_HOOK",
    "LoadedPlugin",
    "SessionInput",
    "load_plugins",
    "run_session_plugins",
    "session_input",
]

PLUGIN_GROUP = "escai.plugins"
SESSION_HOOK = "session"

_logger = get_logger(__name__, component="nodes")


class SessionInput(BaseModel):
    """What a ``session`` plugin receives: one session's identity, events and outcome."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=False)

    session_id: str
    agent_id: str | None = None
    events: list[AgentEvent | dict[str, Any]] = Field(default_factory=list)
    """Events as ``AgentEvent`` records or as their JSON form (dicts with the same keys)."""
    outcome: str | None = None
    """``success``, ``failure`` or None when unknown."""

    def event_dicts(self) -> list[dict[str, Any]]:
        """Return every event in its JSON form, so a plugin reads records and dicts the same way."""
        return [event.model_dump(mode="json") if isinstance(event, AgentEvent) else event for event in self.events]


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """One loaded entry point."""

    name: str
    node_class: AnyNodeClass
    kind: NodeKind
    hook: str | None
    distribution: str | None
    value: str
    """The entry point's ``module:attribute``."""


def _load_one(entry: Any) -> LoadedPlugin:
    try:
        loaded = entry.load()
    except Exception as error:
        raise PluginError(f"plugin {entry.name!r} ({entry.value}) does not import: {error}") from error
    if not (isinstance(loaded, type) and issubclass(loaded, Node)):
        raise PluginError(f"plugin {entry.name!r} ({entry.value}) is not a node class")
    if loaded.hook == SESSION_HOOK and not issubclass(loaded.input_model, SessionInput):
        raise PluginError(
            f"plugin {entry.name!r} has hook 'session' but its input model {loaded.input_model.__name__} is not "
            "escai.nodes.plugins.SessionInput (or a subclass)"
        )
    distribution = entry.dist.name if entry.dist is not None else None
    return LoadedPlugin(entry.name, loaded, loaded.kind, loaded.hook, distribution, entry.value)


def load_plugins(*, group: str = PLUGIN_GROUP, strict: bool = False) -> list[LoadedPlugin]:
    """Load every node registered in ``group``, sorted by name.

    A plugin that fails to load is logged and skipped, so one broken distribution cannot stop ESCAI; with
    ``strict`` the first failure raises :class:`PluginError` instead.
    """
    plugins: list[LoadedPlugin] = []
    seen: set[str] = set()
    for entry in sorted(entry_points(group=group), key=lambda item: item.name):
        # The same distribution can be visible twice on sys.path (e.g. editable and built); keep the first.
        if entry.name in seen:
            continue
        seen.add(entry.name)
        try:
            plugins.append(_load_one(entry))
        except PluginError as error:
            if strict:
                raise
            _logger.warning("plugin.load_failed", plugin=entry.name, error=str(error))
    return plugins


def session_input(
    session: SessionInput | MonitoringSession | Mapping[str, Any] | str,
    events: Sequence[AgentEvent | Mapping[str, Any]],
) -> SessionInput:
    """Build the input of session plugins from a session (record, mapping or id) and its events."""
    event_list: list[AgentEvent | dict[str, Any]] = [
        event if isinstance(event, AgentEvent) else dict(event) for event in events
    ]
    if isinstance(session, SessionInput):
        return session.model_copy(update={"events": event_list})
    if isinstance(session, MonitoringSession):
        outcome = None if session.outcome_success is None else ("success" if session.outcome_success else "failure")
        return SessionInput(session_id=session.id, agent_id=session.agent_id, events=event_list, outcome=outcome)
    if isinstance(session, str):
        agent_id = next((event.agent_id for event in event_list if isinstance(event, AgentEvent)), None)
        return SessionInput(session_id=session, agent_id=agent_id, events=event_list)
    fields = dict(session)
    session_id = fields.get("session_id", fields.get("id"))
    return SessionInput(
        session_id=str(session_id), agent_id=fields.get("agent_id"), events=event_list, outcome=fields.get("outcome")
    )


async def run_session_plugins(
    session: SessionInput | MonitoringSession | Mapping[str, Any] | str,
    events: Sequence[AgentEvent | Mapping[str, Any]],
    *,
    plugins: Sequence[LoadedPlugin] | None = None,
    context: NodeContext | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every ``session`` plugin on one session; return each plugin's output (JSON form) by plugin name.

    ``plugins`` defaults to :func:`load_plugins`. A plugin that fails does not stop the others: its entry is
    ``{"error": "<type>: <message>"}`` and the failure is logged.
    """
    chosen = load_plugins() if plugins is None else plugins
    data = session_input(session, events)
    results: dict[str, dict[str, Any]] = {}
    for plugin in chosen:
        if plugin.hook != SESSION_HOOK:
            continue
        try:
            node = plugin.node_class(context=context)
            output = await node.run(data)
            results[plugin.name] = output.model_dump(mode="json")
        except Exception as error:
            _logger.warning("plugin.failed", plugin=plugin.name, session_id=data.session_id, error=str(error))
            results[plugin.name] = {"error": f"{type(error).__name__}: {error}"}
    return results
