"""CrewAI instrumentation through CrewAI's own event bus (``crewai.events.crewai_event_bus``).

    from escai.instrument.crewai import instrument_crewai

    instrument_crewai()
    crew.kickoff()

No CrewAI method is patched: ``instrument_crewai()`` registers handlers on the event bus and
``uninstrument_crewai()`` unregisters exactly those handlers. CrewAI events map to ESCAI events as follows:

=============================  ===================================================================================
CrewAI event                   ESCAI event
=============================  ===================================================================================
CrewKickoffStarted             ``session_start``; content and ``escai.task``: the crew's task descriptions
                               (inputs interpolated), one per line
CrewKickoffCompleted / Failed  ``session_end``, status ok / error, ``escai.outcome.success``
TaskStarted                    ``plan``: the task description (expected output and context as attributes)
TaskCompleted / Failed         ``observation``: the task's output, or its error (status error)
AgentExecutionStarted          ``agent_start``; the agent's role is the ESCAI agent id
AgentExecutionCompleted        ``agent_end`` (status ok)
AgentExecutionError            ``error`` and ``agent_end`` (both status error)
ToolUsageStarted               ``tool_call``: the arguments as JSON
ToolUsageFinished / Error      ``tool_result``; status error when the tool raised or reported a failure
LLMCallStarted                 ``llm_request``: the newest message sent to the model
LLMCallCompleted               ``llm_response``: the answer, with token counts when the provider reports them
LLMCallFailed                  ``error`` and ``llm_response`` (both status error)
LLMStreamChunk                 no event of its own: the response counts its chunks, and a failed stream's
                               partial text becomes the failed response's content
=============================  ===================================================================================

An ``error`` event marks where a failure that aborted work began (an agent execution or an LLM call); a tool that
raises is a failed ``tool_result``, because CrewAI hands the error to the model, which carries on.

Parents follow CrewAI's own scope nesting: session > plan (task) > agent > LLM and tool calls, and each end event
is a child of its start event. Scopes ESCAI does not record (the agent executor's flow) are transparent. A crew
kickoff is an ESCAI session whose id is CrewAI's kickoff event id, unless it runs inside an ESCAI session
(``escai.session``, ``scoped``): it then joins that one, as an ``agent_start``/``agent_end`` pair named after the
crew. ESCAI event ids are CrewAI's event ids, so the two can be correlated.

Handlers are registered as coroutines because CrewAI runs async handlers one at a time on its event-loop thread,
in emission order, whereas sync handlers race each other in a thread pool. They never raise into CrewAI (internal
failures go to :func:`escai.sdk.errors.report_internal_error`) and record nothing until a recorder is installed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from escai.instrument.base import InstrumentationError, Instrumentor
from escai.model import semconv
from escai.model.events import MAX_ID_LENGTH, MAX_NAME_LENGTH, EventStatus, EventType
from escai.sdk.context import Scope, current_scope
from escai.sdk.errors import internal_errors_handled
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import get_recorder

# CrewAI-specific attribute names (the shared ones come from escai.model.semconv).
CREWAI_CREW_NAME: Final = "crewai.crew.name"
CREWAI_CREW_AGENTS: Final = "crewai.crew.agents"
CREWAI_INPUTS: Final = "crewai.inputs"
CREWAI_TOTAL_TOKENS: Final = "crewai.total_tokens"
CREWAI_TASK_NAME: Final = "crewai.task.name"
CREWAI_TASK_EXPECTED_OUTPUT: Final = "crewai.task.expected_output"
CREWAI_TASK_CONTEXT: Final = "crewai.task.context"
CREWAI_AGENT_TOOLS: Final = "crewai.agent.tools"
CREWAI_TOOL_FROM_CACHE: Final = "crewai.tool.from_cache"
CREWAI_LLM_STREAM_CHUNKS: Final = "crewai.llm.stream_chunks"

# Scopes CrewAI opens around agent work that ESCAI does not record: what happens inside belongs to their parent.
_TRANSPARENT_STARTS: Final = ("FlowStartedEvent", "MethodExecutionStartedEvent")
_TRANSPARENT_ENDS: Final = tuple(
    f"{scope}{end}Event" for scope in ("Flow", "MethodExecution") for end in ("Finished", "Failed", "Paused")
)
_OPTIONAL_EVENTS: Final = frozenset({"LLMStreamChunkEvent", *_TRANSPARENT_STARTS, *_TRANSPARENT_ENDS})
_MAX_REMEMBERED: Final = 10_000
"""Open scopes (and ended LLM calls) remembered at most; the oldest go first, e.g. a scope that never ended."""
_MAX_STREAM_TEXT: Final = 65_536
_KICKOFF_SCOPE_WAIT_S: Final = 1.0
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_OK: Final = EventStatus.OK
_ERROR: Final = EventStatus.ERROR

_Handler = Callable[[Any, Any], Coroutine[Any, Any, None]]
_Method = Callable[[Recorder, Any, Any], None]


@dataclass(frozen=True, slots=True)
class _Span:
    """An open CrewAI scope that ESCAI recorded: the ESCAI event that started it, and what it belongs to."""

    event_id: str
    session_id: str | None
    agent_id: str | None
    name: str | None
    started_ns: int
    crew: str | None
    """The CrewAI kickoff event id of the crew run the scope belongs to."""


@dataclass(slots=True)
class _Stream:
    chunks: int = 0
    text: str = ""


def _timestamp_ns(moment: Any) -> int | None:
    """CrewAI's event time in integer nanoseconds (exact: no float round trip)."""
    if not isinstance(moment, datetime):
        return None
    aware: datetime = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return ((aware - _EPOCH) // timedelta(microseconds=1)) * 1000


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _text(value: Any) -> str | None:
    """Content for an event: strings as they are, CrewAI outputs by their ``raw`` text, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    raw = getattr(value, "raw", None)
    return raw if isinstance(raw, str) else _to_json(value)


def _last_message(messages: Any) -> str | None:
    """The newest message sent to a model: what this call adds to the conversation."""
    if not isinstance(messages, list):
        return _text(messages)
    content = messages[-1].get("content") if messages and isinstance(messages[-1], Mapping) else None
    if isinstance(content, list):  # multimodal parts: keep the text ones
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping)) or None
    return _text(content)


def _agent_id(role: Any) -> str | None:
    return str(role)[:MAX_ID_LENGTH] if role else None


def _error_attributes(error: Any, error_type: Any = None) -> dict[str, Any]:
    attributes = {semconv.ESCAI_ERROR_MESSAGE: str(error)}
    if isinstance(error_type, type):
        attributes[semconv.ESCAI_ERROR_TYPE] = error_type.__name__
    return attributes


def _token_counts(usage: Any) -> tuple[int | None, int | None]:
    """Input and output tokens from a usage dict in OpenAI or Anthropic naming."""
    if not isinstance(usage, Mapping):
        return None, None
    found = [
        next((usage[key] for key in keys if isinstance(usage.get(key), int) and usage[key] >= 0), None)
        for keys in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens"))
    ]
    return found[0], found[1]


def _remember(table: dict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    if len(table) > _MAX_REMEMBERED:
        del table[next(iter(table))]


class CrewAIInstrumentor(Instrumentor):
    """Records crews, tasks, agents, tool calls and LLM calls from CrewAI's event bus."""

    framework = "crewai"
    distribution = "crewai"
    extra = "crewai"
    min_version = "1.0.0"
    max_version = "2.0.0"

    def __init__(self) -> None:
        super().__init__()
        self._registered: list[tuple[Any, type[Any], Callable[..., Any]]] = []
        self._active = False
        self._state_lock = threading.Lock()
        self._spans: dict[str, _Span] = {}
        """Open scopes by CrewAI start-event id (transparent scopes point at their parent's span)."""
        self._agent_spans: dict[str, _Span] = {}
        """Open agent executions by CrewAI agent id: the parent of last resort for LLM and tool events."""
        self._llm_calls: dict[str, str | None] = {}
        """CrewAI LLM call id -> its open request's start-event id, or None once the call has ended."""
        self._streams: dict[str, _Stream] = {}
        self._crew_runs: dict[str, tuple[str, bool]] = {}
        """Running crews by ``id(crew)``: the kickoff event id, and whether the crew joined an ESCAI session."""
        self._kickoff_scopes: dict[str, Scope] = {}
        self._kickoff_scopes_ready = threading.Condition()
        self._interpolate: Callable[..., str] | None = None

    # --- registration ----------------------------------------------------------------------------------------------

    def _handlers(self) -> dict[str, _Method]:
        handlers: dict[str, _Method] = {
            "CrewKickoffStartedEvent": self._on_crew_started,
            "CrewKickoffCompletedEvent": self._on_crew_completed,
            "CrewKickoffFailedEvent": self._on_crew_failed,
            "TaskStartedEvent": self._on_task_started,
            "TaskCompletedEvent": self._on_task_completed,
            "TaskFailedEvent": self._on_task_failed,
            "AgentExecutionStartedEvent": self._on_agent_started,
            "AgentExecutionCompletedEvent": self._on_agent_completed,
            "AgentExecutionErrorEvent": self._on_agent_error,
            "ToolUsageStartedEvent": self._on_tool_started,
            "ToolUsageFinishedEvent": self._on_tool_finished,
            "ToolUsageErrorEvent": self._on_tool_error,
            "LLMCallStartedEvent": self._on_llm_started,
            "LLMCallCompletedEvent": self._on_llm_completed,
            "LLMCallFailedEvent": self._on_llm_failed,
            "LLMStreamChunkEvent": self._on_llm_chunk,
        }
        handlers.update(dict.fromkeys(_TRANSPARENT_STARTS, self._on_transparent_started))
        handlers.update(dict.fromkeys(_TRANSPARENT_ENDS, self._on_transparent_ended))
        return handlers

    def _instrument(self) -> None:
        events = self.import_module("crewai.events")
        handlers = self._handlers()
        classes = {name: getattr(events, name, None) for name in handlers}
        missing = [
            name for name, event_class in classes.items() if event_class is None and name not in _OPTIONAL_EVENTS
        ]
        if missing:
            raise InstrumentationError(f"crewai.events lacks {', '.join(missing)}: pip install -U 'escai[crewai]'")
        try:
            self._interpolate = getattr(self.import_module("crewai.utilities.string_utils"), "interpolate_only", None)
        except InstrumentationError:
            self._interpolate = None  # task descriptions are then recorded as templates
        bus = events.crewai_event_bus
        self._active = True
        try:
            for name, event_class in classes.items():
                if event_class is not None:
                    handler = self._async_handler(name, handlers[name])
                    bus.on(event_class)(handler)
                    self._registered.append((bus, event_class, handler))
            capture_scope, kickoff_started = self._scope_capturing_handler(), events.CrewKickoffStartedEvent
            bus.on(kickoff_started)(capture_scope)
            self._registered.append((bus, kickoff_started, capture_scope))
        except BaseException:
            self._uninstrument()
            raise

    def _uninstrument(self) -> None:
        self._active = False
        while self._registered:
            bus, event_class, handler = self._registered.pop()
            bus.off(event_class, handler)
        with self._state_lock, self._kickoff_scopes_ready:
            for table in (self._spans, self._agent_spans, self._llm_calls, self._streams, self._crew_runs):
                table.clear()
            self._kickoff_scopes.clear()

    def _async_handler(self, name: str, method: _Method) -> _Handler:
        where = f"CrewAIInstrumentor.{name}"

        async def handle(source: Any, event: Any) -> None:
            with internal_errors_handled(where):
                recorder = get_recorder()
                # A handler already scheduled when uninstrument() ran must not record anything.
                if recorder is None or not self._active:
                    return
                with self._state_lock:
                    method(recorder, source, event)

        handle.__name__ = handle.__qualname__ = f"escai_{name}"
        return handle

    def _scope_capturing_handler(self) -> Callable[[Any, Any], None]:
        """A sync handler for kickoff: CrewAI runs sync handlers in the context of the code that called ``kickoff``
        (async ones run in its loop's), so this one sees the ESCAI session the crew runs in."""

        def capture(crew: Any, event: Any) -> None:
            with internal_errors_handled("CrewAIInstrumentor.CrewKickoffStartedEvent"):
                if get_recorder() is None or not self._active:
                    return
                with self._kickoff_scopes_ready:
                    _remember(self._kickoff_scopes, str(event.event_id), current_scope())
                    self._kickoff_scopes_ready.notify_all()

        capture.__name__ = capture.__qualname__ = "escai_CrewKickoffStartedEvent_scope"
        return capture

    # --- scopes ----------------------------------------------------------------------------------------------------

    def _parent(self, event: Any) -> _Span | None:
        """The recorded scope enclosing ``event``: its CrewAI parent, else its agent's open execution."""
        span = self._spans.get(getattr(event, "parent_event_id", None) or "")
        return span or self._agent_spans.get(getattr(event, "agent_id", None) or "")

    def _emit(self, recorder: Recorder, kind: EventType, event: Any, parent: _Span | None, **fields: Any) -> None:
        """Record ``event`` as an ESCAI event of ``kind`` under ``parent``; ``fields`` go to ``Recorder.emit``."""
        fields.setdefault("agent_id", parent.agent_id if parent else None)
        fields.setdefault("session_id", parent.session_id if parent else None)
        if fields.get("name"):
            fields["name"] = str(fields["name"])[:MAX_NAME_LENGTH]
        recorder.emit(
            kind,
            event_id=fields.pop("event_id", None) or str(event.event_id),
            agent_name=fields["agent_id"],
            framework=self.framework,
            parent_id=parent.event_id if parent else None,
            timestamp_ns=_timestamp_ns(getattr(event, "timestamp", None)),
            **fields,
        )

    def _start(
        self, recorder: Recorder, kind: EventType, event: Any, content: str | None, name: Any, **fields: Any
    ) -> _Span:
        """Record the start of a scope and remember it as the parent of what happens inside."""
        parent = fields.pop("parent") if "parent" in fields else self._parent(event)
        crew = fields.pop("crew", None) or (parent.crew if parent else None)
        fields["agent_id"] = fields.get("agent_id") or (parent.agent_id if parent else None)
        fields["session_id"] = fields.get("session_id") or (parent.session_id if parent else None)
        name = str(name)[:MAX_NAME_LENGTH] if name else None
        started_ns = _timestamp_ns(getattr(event, "timestamp", None)) or 0
        span = _Span(str(event.event_id), fields["session_id"], fields["agent_id"], name, started_ns, crew)
        self._emit(recorder, kind, event, parent, content=content, name=name, **fields)
        _remember(self._spans, span.event_id, span)
        return span

    def _end(
        self, recorder: Recorder, kind: EventType, event: Any, content: str | None, status: EventStatus, **fields: Any
    ) -> _Span | None:
        """Record the end of a scope as a child of its start (else of the enclosing scope), with its duration."""
        started = fields.pop("started", None) or getattr(event, "started_event_id", None)
        span = (self._spans.pop(started, None) if started else None) or self._parent(event)
        ended_ns = _timestamp_ns(getattr(event, "timestamp", None))
        if span is not None:
            fields.setdefault("name", span.name)
            if fields.get("duration_ms") is None and span.started_ns and ended_ns:
                fields["duration_ms"] = max(0.0, (ended_ns - span.started_ns) / 1e6)
        if not fields.get("agent_id"):
            fields.pop("agent_id", None)
        self._emit(recorder, kind, event, span, content=content, status=status, **fields)
        return span

    def _error(self, recorder: Recorder, event: Any, started: str | None, error: Any, name: Any) -> None:
        """An ``error`` event under the failing scope: where in the tree a failure happened."""
        parent = self._spans.get(started or "") or self._parent(event)
        self._emit(
            recorder,
            EventType.ERROR,
            event,
            parent,
            event_id=f"{event.event_id}-error",
            content=str(error),
            name=name,
            attributes=_error_attributes(error),
            status=EventStatus.ERROR,
        )

    def _on_transparent_started(self, recorder: Recorder, source: Any, event: Any) -> None:
        parent = self._parent(event)
        if parent is not None:
            _remember(self._spans, str(event.event_id), parent)

    def _on_transparent_ended(self, recorder: Recorder, source: Any, event: Any) -> None:
        self._spans.pop(getattr(event, "started_event_id", None) or "", None)

    # --- crew ------------------------------------------------------------------------------------------------------

    def _task_descriptions(self, crew: Any, inputs: Any) -> list[str]:
        descriptions = []
        for task in getattr(crew, "tasks", None) or ():
            # Kickoff interpolates inputs after this event; the template is kept for repeated kickoffs.
            description = str(getattr(task, "_original_description", None) or getattr(task, "description", ""))
            if inputs and self._interpolate is not None:
                with internal_errors_handled("CrewAIInstrumentor.interpolate"):
                    description = self._interpolate(input_string=description, inputs=inputs)
            descriptions.append(description)
        return descriptions

    def _kickoff_scope(self, kickoff_id: str) -> Scope:
        """The ESCAI scope ``kickoff`` was called in. Kickoff waits for the async handlers of its start event, so
        blocking here briefly for the sync handler keeps the crew from running ahead of its session_start."""
        with self._kickoff_scopes_ready:
            self._kickoff_scopes_ready.wait_for(lambda: kickoff_id in self._kickoff_scopes, _KICKOFF_SCOPE_WAIT_S)
            return self._kickoff_scopes.pop(kickoff_id, None) or Scope()

    def _on_crew_started(self, recorder: Recorder, crew: Any, event: Any) -> None:
        kickoff_id, inputs = str(event.event_id), getattr(event, "inputs", None)
        task = "\n".join(self._task_descriptions(crew, inputs))
        crew_name = str(getattr(event, "crew_name", None) or getattr(crew, "name", None) or "crew")
        agents = [str(agent.role) for agent in getattr(crew, "agents", None) or ()]
        attributes = {semconv.ESCAI_TASK: task, CREWAI_CREW_NAME: crew_name, CREWAI_CREW_AGENTS: agents}
        if inputs:
            attributes[CREWAI_INPUTS] = json.loads(_to_json(inputs))
        scope = self._kickoff_scope(kickoff_id)
        # Inside an ESCAI session the crew joins it, as an agent_start/agent_end pair under the session's scope.
        joined = scope.session_id is not None
        parent = _Span(scope.parent_id, scope.session_id, scope.agent_id, None, 0, None) if scope.parent_id else None
        _remember(self._crew_runs, str(id(crew)), (kickoff_id, joined))
        kind = EventType.AGENT_START if joined else EventType.SESSION_START
        fields = {"parent": parent, "crew": kickoff_id, "session_id": scope.session_id or kickoff_id}
        self._start(
            recorder, kind, event, task, crew_name, agent_id=_agent_id(crew_name), attributes=attributes, **fields
        )

    def _end_crew(
        self, recorder: Recorder, crew: Any, event: Any, output: str | None, attributes: dict[str, Any]
    ) -> None:
        kickoff_id, joined = self._crew_runs.pop(str(id(crew)), (None, False))
        status = _OK if attributes[semconv.ESCAI_OUTCOME_SUCCESS] else _ERROR
        if joined:  # the outcome is the enclosing session's to state
            del attributes[semconv.ESCAI_OUTCOME_SUCCESS]
        kind = EventType.AGENT_END if joined else EventType.SESSION_END
        span = self._end(recorder, kind, event, output, status, started=kickoff_id, attributes=attributes)
        # A failed crew can leave scopes whose end events never came: forget everything of this crew run.
        crew_run = span.crew if span is not None else None
        for table in (self._spans, self._agent_spans) if crew_run else ():
            for key in [key for key, open_span in table.items() if open_span.crew == crew_run]:
                del table[key]

    def _on_crew_completed(self, recorder: Recorder, crew: Any, event: Any) -> None:
        attributes = {semconv.ESCAI_OUTCOME_SUCCESS: True, CREWAI_TOTAL_TOKENS: getattr(event, "total_tokens", 0)}
        self._end_crew(recorder, crew, event, _text(getattr(event, "output", None)), attributes)

    def _on_crew_failed(self, recorder: Recorder, crew: Any, event: Any) -> None:
        attributes = {semconv.ESCAI_OUTCOME_SUCCESS: False, **_error_attributes(event.error)}
        self._end_crew(recorder, crew, event, str(event.error), attributes)

    # --- tasks -----------------------------------------------------------------------------------------------------

    def _on_task_started(self, recorder: Recorder, source: Any, event: Any) -> None:
        task = getattr(event, "task", None) or source
        attributes = {CREWAI_TASK_EXPECTED_OUTPUT: str(getattr(task, "expected_output", ""))}
        if name := getattr(task, "name", None):
            attributes[CREWAI_TASK_NAME] = str(name)
        if getattr(event, "context", None):
            attributes[CREWAI_TASK_CONTEXT] = str(event.context)
        agent = _agent_id(getattr(getattr(task, "agent", None), "role", None))
        description = str(getattr(task, "description", ""))
        self._start(recorder, EventType.PLAN, event, description, name, agent_id=agent, attributes=attributes)

    def _on_task_completed(self, recorder: Recorder, source: Any, event: Any) -> None:
        self._end(recorder, EventType.OBSERVATION, event, _text(event.output), _OK)

    def _on_task_failed(self, recorder: Recorder, source: Any, event: Any) -> None:
        attributes = _error_attributes(event.error, getattr(event, "error_type", None))
        self._end(recorder, EventType.OBSERVATION, event, str(event.error), _ERROR, attributes=attributes)

    # --- agents ----------------------------------------------------------------------------------------------------

    def _on_agent_started(self, recorder: Recorder, source: Any, event: Any) -> None:
        agent, role = event.agent, _agent_id(event.agent.role)
        attributes = {
            semconv.GEN_AI_AGENT_NAME: str(agent.role),
            semconv.GEN_AI_AGENT_DESCRIPTION: str(getattr(agent, "goal", "")),
            CREWAI_AGENT_TOOLS: [str(getattr(tool, "name", tool)) for tool in event.tools or ()],
        }
        if model := getattr(getattr(agent, "llm", None), "model", None):
            attributes[semconv.GEN_AI_REQUEST_MODEL] = str(model)
        description = getattr(event.task, "description", None)
        span = self._start(
            recorder, EventType.AGENT_START, event, description, role, agent_id=role, attributes=attributes
        )
        _remember(self._agent_spans, str(agent.id), span)

    def _forget_agent(self, event: Any, span: _Span | None) -> None:
        if span is not None and self._agent_spans.get(str(event.agent.id)) == span:
            del self._agent_spans[str(event.agent.id)]

    def _on_agent_completed(self, recorder: Recorder, source: Any, event: Any) -> None:
        self._forget_agent(event, self._end(recorder, EventType.AGENT_END, event, _text(event.output), _OK))

    def _on_agent_error(self, recorder: Recorder, source: Any, event: Any) -> None:
        self._error(recorder, event, getattr(event, "started_event_id", None), event.error, event.agent.role)
        attributes = _error_attributes(event.error)
        span = self._end(recorder, EventType.AGENT_END, event, str(event.error), _ERROR, attributes=attributes)
        self._forget_agent(event, span)

    # --- tools -----------------------------------------------------------------------------------------------------

    def _on_tool_started(self, recorder: Recorder, source: Any, event: Any) -> None:
        fields = {
            "agent_id": _agent_id(event.agent_role),
            "attributes": {semconv.GEN_AI_TOOL_NAME: str(event.tool_name)},
        }
        self._start(recorder, EventType.TOOL_CALL, event, _text(event.tool_args), event.tool_name, **fields)

    def _on_tool_finished(self, recorder: Recorder, source: Any, event: Any) -> None:
        failure = getattr(event, "failure", None)  # the tool ran but reported that it did not succeed
        attributes: dict[str, Any] = {semconv.GEN_AI_TOOL_NAME: str(event.tool_name)}
        if getattr(event, "from_cache", False):
            attributes[CREWAI_TOOL_FROM_CACHE] = True
        if failure is not None:
            attributes.update(_error_attributes(getattr(failure, "message", failure)))
        started, finished = _timestamp_ns(event.started_at), _timestamp_ns(event.finished_at)
        duration = (finished - started) / 1e6 if started and finished and finished >= started else None
        fields = {"agent_id": _agent_id(event.agent_role), "attributes": attributes, "duration_ms": duration}
        self._end(recorder, EventType.TOOL_RESULT, event, _text(event.output), _ERROR if failure else _OK, **fields)

    def _on_tool_error(self, recorder: Recorder, source: Any, event: Any) -> None:
        attributes = {semconv.GEN_AI_TOOL_NAME: str(event.tool_name), **_error_attributes(event.error)}
        fields = {"agent_id": _agent_id(event.agent_role), "attributes": attributes}
        self._end(recorder, EventType.TOOL_RESULT, event, str(event.error), _ERROR, **fields)

    # --- LLM calls -------------------------------------------------------------------------------------------------

    def _llm_attributes(self, llm: Any, event: Any) -> dict[str, Any]:
        attributes: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: "chat"}
        if event.model:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = str(event.model)
        if isinstance(provider := getattr(llm, "provider", None), str) and provider:
            attributes[semconv.GEN_AI_SYSTEM] = provider
        return attributes

    def _on_llm_started(self, recorder: Recorder, llm: Any, event: Any) -> None:
        attributes = self._llm_attributes(llm, event)
        if isinstance(temperature := getattr(event, "temperature", None), int | float):
            attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] = temperature
        agent, content = _agent_id(event.agent_role), _last_message(getattr(event, "messages", None))
        self._start(recorder, EventType.LLM_REQUEST, event, content, event.model, agent_id=agent, attributes=attributes)
        _remember(self._llm_calls, str(event.call_id), str(event.event_id))

    def _on_llm_chunk(self, recorder: Recorder, llm: Any, event: Any) -> None:
        stream = self._streams.get(call_id := str(event.call_id))
        if stream is None:
            _remember(self._streams, call_id, stream := _Stream())
        stream.chunks += 1
        if len(stream.text) < _MAX_STREAM_TEXT:
            stream.text += str(event.chunk)

    def _end_llm_call(self, llm: Any, event: Any) -> tuple[dict[str, Any], _Stream | None] | None:
        """The response's fields and stream, or None when CrewAI reports an ended call again (failures are)."""
        call_id = str(event.call_id)
        if call_id in self._llm_calls and self._llm_calls[call_id] is None:
            return None
        started = self._llm_calls.get(call_id)
        _remember(self._llm_calls, call_id, None)
        stream = self._streams.pop(call_id, None)
        attributes = self._llm_attributes(llm, event)
        if stream is not None:
            attributes[CREWAI_LLM_STREAM_CHUNKS] = stream.chunks
        fields = {"started": started, "agent_id": _agent_id(event.agent_role), "attributes": attributes}
        return fields, stream

    def _on_llm_completed(self, recorder: Recorder, llm: Any, event: Any) -> None:
        if (ended := self._end_llm_call(llm, event)) is None:
            return
        fields, attributes = ended[0], ended[0]["attributes"]
        if event.finish_reason:
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [str(event.finish_reason)]
        fields["tokens_input"], fields["tokens_output"] = _token_counts(event.usage)
        for key, count in (
            ("tokens_input", semconv.GEN_AI_USAGE_INPUT_TOKENS),
            ("tokens_output", semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
        ):
            if fields[key] is not None:
                attributes[count] = fields[key]
        self._end(recorder, EventType.LLM_RESPONSE, event, _text(event.response), _OK, **fields)

    def _on_llm_failed(self, recorder: Recorder, llm: Any, event: Any) -> None:
        if (ended := self._end_llm_call(llm, event)) is None:
            return
        fields, stream = ended
        self._error(recorder, event, fields["started"], event.error, event.model)
        fields["attributes"].update(_error_attributes(event.error))
        # A stream that broke off keeps what the model had said so far.
        content = stream.text if stream is not None and stream.text else str(event.error)
        self._end(recorder, EventType.LLM_RESPONSE, event, content, _ERROR, **fields)


def instrument_crewai() -> bool:
    """Record CrewAI crews, tasks, agents, tools and LLM calls. Idempotent; True if it was not instrumented yet.

    Raises :class:`~escai.instrument.base.InstrumentationError` (with the ``pip install 'escai[crewai]'`` hint)
    when CrewAI is missing or its version is not supported.
    """
    return CrewAIInstrumentor.instance().instrument()


def uninstrument_crewai() -> bool:
    """Unregister ESCAI's CrewAI event handlers. Returns True if CrewAI was instrumented."""
    return CrewAIInstrumentor.instance().uninstrument()
