"""ESCAI's AutoGen instrumentor: agents, teams, messages, tool calls and results, handoffs (autogen-agentchat 0.7).

    from escai.instrument.autogen import instrument_autogen

    instrument_autogen()
    await team.run(task="...")  # the run becomes an ESCAI session

Which hooks, and why. AutoGen's OpenTelemetry spans (``trace_invoke_agent_span``, ``trace_tool_span``) need the
user's tracer provider and carry neither message content nor token usage; its ``autogen_core.events`` logger gets
``LLMCallEvent`` from some model clients only, and logs runtime messages from the runtime's loop, out of order with
the agents' work. The message stream of each agent (``on_messages_stream``) carries everything: tool requests and
results, handoffs, thoughts, memory queries and each model call's ``models_usage``. ESCAI reads that stream where
AutoGen consumes it, wrapping at class level through :meth:`Instrumentor.patch`:

- ``BaseGroupChat.run_stream`` (``run`` goes through it): a team run;
- ``ChatAgentContainer.handle_request``: one agent's turn in a team (``agent_start`` .. ``agent_end``), whatever
  the agent's class;
- ``ChatAgentContainer._log_message``: each message of the turn, recorded on the turn's task before AutoGen
  publishes it, so the captured order is the order of the agent's work;
- ``BaseChatAgent.run`` / ``run_stream``: an agent run outside a team; ``run`` returns its messages only at the
  end, so the ``on_messages_stream`` of each agent class AutoGen ships is followed too (each class overrides it:
  wrapping ``BaseChatAgent``'s alone would miss ``AssistantAgent``), and the result fills in what was not seen.

A run becomes a session (``session_start`` with the task, ``session_end`` with the outcome) unless an ESCAI session
scope is already active; it then joins that session, a team appearing as an ``agent_start``/``agent_end`` pair. A
team stopped only by a budget (``MaxMessageTermination``, ``max_turns``, token or time limits) did not finish its
task: its outcome is failed. An agent's name is its ESCAI ``agent_id`` and ``agent_name``. Messages map to events:
``ToolCallRequestEvent`` to an ``llm_response`` (with the call's tokens) holding one ``tool_call`` per call;
``ToolCallExecutionEvent`` to one ``tool_result`` per call under its ``tool_call`` (an error result also gets an
``error`` event); ``HandoffMessage`` to ``handoff``; ``ThoughtEvent`` to ``thought``; ``MemoryQueryEvent`` to
``memory``; speaker selections to ``decision``; other chat messages to ``message`` (with tokens); other events to
``custom``. Streaming chunks are skipped (the whole message follows them), and a message relayed by several layers
(a nested team's) is recorded once, by its AutoGen id. Nothing here raises into AutoGen: recording failures go
through :func:`~escai.sdk.errors.report_internal_error`.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypedDict, Unpack

from escai.instrument.base import InstrumentationError, Instrumentor
from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.sdk.context import current_scope, scoped
from escai.sdk.errors import internal_errors_handled
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import get_recorder

if TYPE_CHECKING:
    from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage

    AgentChatMessage = BaseAgentEvent | BaseChatMessage

FRAMEWORK = "autogen"

# Stop reasons that mean "a budget ran out", as AutoGen 0.7 words them (conditions/_terminations.py and the group
# chat manager's max_turns). OrTerminationCondition joins several reasons with ", ".
_BUDGET_STOP_REASON = re.compile(
    r"Maximum number of messages \d+ reached, current message count: \d+"
    r"|Maximum number of turns \d+ reached\."
    r"|Token usage limit reached, total token count: \d+, prompt token count: \d+, completion token count: \d+\."
    r"|Timeout of [\d.]+ seconds reached"
)
_CONSUMER_STOPPED = "the caller stopped reading the run's stream"
# AutoGen events with an ESCAI kind of their own, by class name (other chat messages are messages; other events custom).
_EVENT_TYPES = {
    "ThoughtEvent": EventType.THOUGHT,
    "MemoryQueryEvent": EventType.MEMORY,
    "SelectSpeakerEvent": EventType.DECISION,
    "SelectorEvent": EventType.DECISION,
}


def budget_exhausted(stop_reason: str | None) -> bool:
    """Whether a team stopped only because a budget ran out (messages, turns, tokens, time), not by finishing."""
    if not stop_reason or not _BUDGET_STOP_REASON.search(stop_reason):
        return False
    return not _BUDGET_STOP_REASON.sub("", stop_reason).strip(" ,")


# AutoGen message ids recorded lately, so that a message relayed by several layers is recorded once.
_recorded_ids: OrderedDict[str, None] = OrderedDict()
_recorded_ids_lock = threading.Lock()
_MAX_RECORDED_IDS = 8192


def _first_sighting(message_id: str) -> bool:
    with _recorded_ids_lock:
        if message_id in _recorded_ids:
            return False
        _recorded_ids[message_id] = None
        if len(_recorded_ids) > _MAX_RECORDED_IDS:
            _recorded_ids.popitem(last=False)
        return True


# Step counters of the sessions that AutoGen runs opened: a nested run joining one of them continues its count.
_session_steps: dict[str, itertools.count[int]] = {}
# Team runs in progress by team id, which is also the key of the team's agent containers in the AutoGen runtime.
_team_runs: dict[str, _Run] = {}
_current_turn: ContextVar[_Turn | None] = ContextVar("escai_autogen_turn", default=None)


class _Tokens(TypedDict, total=False):
    tokens_input: int
    tokens_output: int


class _EventFields(_Tokens, total=False):
    """The event fields a run's events set themselves (the run supplies session, agent and framework)."""

    parent_id: str | None
    content: str | None
    name: str | None
    attributes: dict[str, Any] | None
    status: EventStatus | None
    step_index: int | None
    timestamp_ns: int | None
    duration_ms: float | None


@dataclass(eq=False)
class _Run:
    """One agent or team run: the session it records into and the event that its turns hang under."""

    recorder: Recorder
    session_id: str
    agent_id: str
    kind: str
    """The AutoGen class that runs (``Swarm``, ``AssistantAgent``), the name of the run's start and end events."""
    steps: itertools.count[int] | None
    parent_id: str | None = None
    """Where the run's turns hang: its session_start, a joined team's agent_start, or the enclosing scope's parent."""
    session_start_id: str | None = None
    """The session_start event, when the run opened the session."""
    team_start_id: str | None = None
    """The team's agent_start event, when a team run joined an active session."""
    started_ns: int = field(default_factory=time.time_ns)
    error_recorded: bool = False

    def emit(self, kind: EventType, agent: str, **fields: Unpack[_EventFields]) -> str:
        """Record one event of this run's session, by ``agent``."""
        return self.recorder.emit(
            kind, session_id=self.session_id, agent_id=agent, agent_name=agent, framework=FRAMEWORK, **fields
        )

    def scope(self, agent: str, parent_id: str | None) -> AbstractContextManager[Any]:
        """The ESCAI scope for code running inside this run (nested runs, tools recording their own events)."""
        return scoped(
            session_id=self.session_id, agent_id=agent, agent_name=agent, framework=FRAMEWORK, parent_id=parent_id
        )


@dataclass(eq=False)
class _Turn:
    """One agent's turn: from receiving messages to its final response."""

    run: _Run
    agent: str
    kind: str
    event_id: str
    owner: object = None
    """Who runs the turn: the team's agent container, or the agent itself outside a team."""
    started_ns: int = field(default_factory=time.time_ns)
    tool_calls: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Open tool calls: AutoGen call id -> (tool_call event id, request time in ns)."""
    reply: str | None = None

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run code as part of this turn: the current turn, and the ESCAI scope under the turn's start event."""
        token = _current_turn.set(self)
        try:
            with self.run.scope(self.agent, self.event_id):
                yield
        finally:
            _current_turn.reset(token)


def _text(message: object) -> str:
    to_text = getattr(message, "to_text", None)
    return str(to_text()) if callable(to_text) else str(message)


def _task_items(task: object) -> list[Any]:
    """A run's task as a list: AutoGen takes a string, a message or a list of messages."""
    if task is None:
        return []
    return list(task) if isinstance(task, Sequence) and not isinstance(task, str) else [task]


def _joined_text(messages: Sequence[Any]) -> str | None:
    return "\n".join(_text(message) for message in messages) or None


def _summary(error: BaseException) -> str:
    """The first line of an error (AutoGen puts whole tracebacks into the errors it re-raises from a team)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _nanoseconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1_000_000_000) if moment is not None else None


def _elapsed_ms(started_ns: int, ended_ns: int | None = None) -> float:
    return max(0.0, ((ended_ns or time.time_ns()) - started_ns) / 1e6)


def _start_run(recorder: Recorder, *, name: str, kind: str, task: object, team: bool) -> _Run:
    """Open a session for the run, or join the active one (a team then gets an ``agent_start`` of its own)."""
    scope = current_scope()
    task_text = _joined_text(_task_items(task))
    attributes = {semconv.ESCAI_TASK: task_text} if task_text else None
    if scope.session_id is None:
        steps = itertools.count()
        run = _Run(recorder, uuid.uuid4().hex, name, kind, steps)
        run.session_start_id = run.parent_id = run.emit(
            EventType.SESSION_START, agent=name, parent_id=None, name=kind, content=task_text, attributes=attributes
        )
        _session_steps[run.session_id] = steps
        return run
    run = _Run(recorder, scope.session_id, name, kind, _session_steps.get(scope.session_id), scope.parent_id)
    if team:
        run.team_start_id = run.parent_id = run.emit(
            EventType.AGENT_START, agent=name, parent_id=scope.parent_id, name=kind, content=task_text
        )
    return run


def _end_run(run: _Run, *, success: bool | None, content: str | None, failure: BaseException | None) -> None:
    """Close what the run opened: its session, or a joined team's ``agent_start``, recording the outcome."""
    if failure is not None and not run.error_recorded:
        _record_error(run, run.agent_id, run.parent_id, failure)
    status = EventStatus.UNSET if success is None else EventStatus.OK if success else EventStatus.ERROR
    attributes = {semconv.ESCAI_OUTCOME_SUCCESS: success} if success is not None else None
    if run.session_start_id is not None:
        _session_steps.pop(run.session_id, None)
    # A joined agent run opened nothing but its turn, which has closed itself.
    start_id = run.session_start_id or run.team_start_id
    if start_id is not None:
        run.emit(
            EventType.SESSION_END if run.session_start_id else EventType.AGENT_END,
            agent=run.agent_id,
            parent_id=start_id,
            name=run.kind,
            content=content,
            status=status,
            attributes=attributes,
            duration_ms=_elapsed_ms(run.started_ns),
        )


def _record_error(run: _Run, agent: str, parent_id: str | None, error: BaseException) -> None:
    run.error_recorded = True
    run.emit(
        EventType.ERROR,
        agent=agent,
        parent_id=parent_id,
        name=type(error).__name__,
        content=_summary(error),
        status=EventStatus.ERROR,
        attributes={semconv.ESCAI_ERROR_TYPE: type(error).__name__, semconv.ESCAI_ERROR_MESSAGE: str(error)},
    )


def _start_turn(run: _Run, agent: Any, inputs: Sequence[Any], owner: object = None) -> _Turn:
    name = str(agent.name)
    attributes = {semconv.GEN_AI_AGENT_NAME: name, semconv.GEN_AI_AGENT_DESCRIPTION: str(agent.description)}
    event_id = run.emit(
        EventType.AGENT_START,
        agent=name,
        parent_id=run.parent_id,
        name=type(agent).__name__,
        content=_joined_text(inputs),
        attributes=attributes,
    )
    return _Turn(run, name, type(agent).__name__, event_id, owner)


def _end_turn(turn: _Turn, failure: BaseException | None, *, stopped: bool = False) -> None:
    """Close the turn: ok with its reply, error with the failure, or unset when the caller stopped reading."""
    content: str | None
    if failure is not None:
        _record_error(turn.run, turn.agent, turn.event_id, failure)
        status, content = EventStatus.ERROR, _summary(failure)
    elif stopped:
        status, content = EventStatus.UNSET, _CONSUMER_STOPPED
    else:
        status, content = EventStatus.OK, turn.reply
    turn.run.emit(
        EventType.AGENT_END,
        agent=turn.agent,
        parent_id=turn.event_id,
        name=turn.kind,
        content=content,
        status=status,
        duration_ms=_elapsed_ms(turn.started_ns),
    )


def _record_message(turn: _Turn, message: AgentChatMessage) -> None:
    """Turn one AutoGen message or event into ESCAI events under the turn."""
    from autogen_agentchat import messages as agentchat

    if isinstance(message, agentchat.ModelClientStreamingChunkEvent) or not _first_sighting(message.id):
        return
    at, steps, parent = _nanoseconds(message.created_at), turn.run.steps, turn.event_id
    emit = functools.partial(
        turn.run.emit, agent=message.source, step_index=next(steps) if steps is not None else None, timestamp_ns=at
    )
    kind, text, usage = type(message).__name__, message.to_text(), message.models_usage
    tokens: _Tokens = {"tokens_input": usage.prompt_tokens, "tokens_output": usage.completion_tokens} if usage else {}
    if isinstance(message, agentchat.ToolCallRequestEvent):
        # The model's decision to call tools, with its tokens; one tool_call per requested call under it.
        calls = "\n".join(f"{call.name}({call.arguments})" for call in message.content)
        decision = emit(
            EventType.LLM_RESPONSE, parent_id=parent, name=kind, content=calls, status=EventStatus.OK, **tokens
        )
        for call in message.content:
            attributes = {semconv.GEN_AI_TOOL_NAME: call.name, semconv.GEN_AI_TOOL_CALL_ID: call.id}
            call_id = emit(
                EventType.TOOL_CALL, parent_id=decision, name=call.name, content=call.arguments, attributes=attributes
            )
            turn.tool_calls[call.id] = (call_id, at or time.time_ns())
    elif isinstance(message, agentchat.ToolCallExecutionEvent):
        for result in message.content:
            call_event, requested = turn.tool_calls.pop(result.call_id, (parent, None))
            status = EventStatus.ERROR if result.is_error else EventStatus.OK
            attributes = {semconv.GEN_AI_TOOL_NAME: result.name, semconv.GEN_AI_TOOL_CALL_ID: result.call_id}
            duration = _elapsed_ms(requested, at) if requested is not None else None
            result_id = emit(
                EventType.TOOL_RESULT,
                parent_id=call_event,
                name=result.name,
                content=result.content,
                status=status,
                attributes=attributes,
                duration_ms=duration,
            )
            if result.is_error:
                # AutoGen's workbench turns the tool's exception into text; its type does not survive.
                error = {semconv.ESCAI_ERROR_TYPE: "ToolError", semconv.ESCAI_ERROR_MESSAGE: result.content}
                emit(
                    EventType.ERROR,
                    parent_id=result_id,
                    name=result.name,
                    content=result.content,
                    status=status,
                    attributes=error,
                )
    elif isinstance(message, agentchat.HandoffMessage):
        turn.reply = text
        target = {semconv.ESCAI_HANDOFF_TARGET: message.target}
        emit(EventType.HANDOFF, parent_id=parent, name=message.target, content=message.content, attributes=target)
    else:
        is_chat = isinstance(message, agentchat.BaseChatMessage)
        turn.reply = text if is_chat else turn.reply
        event_type = _EVENT_TYPES.get(kind, EventType.MESSAGE if is_chat else EventType.CUSTOM)
        emit(event_type, parent_id=parent, name=kind, content=text, **tokens)


class _RunObserver:
    """Follows one run's stream: skips the echoed task, records messages, and closes the run at the end."""

    def __init__(self, run: _Run, turn: _Turn, kwargs: dict[str, Any], *, team_id: str | None = None) -> None:
        self.run = run
        self.turn = turn
        """The agent's turn, or for a team a stand-in for the team itself (its own events hang under it)."""
        self.team_id = team_id
        self.is_team = team_id is not None
        # AutoGen echoes the task messages first (unless told not to); they are the run's task, not its work.
        echoed = kwargs.get("output_task_messages", True)
        self.task_messages = len(_task_items(kwargs.get("task"))) if echoed else 0
        self.result: Any = None

    def scope(self) -> AbstractContextManager[Any]:
        return self.turn.entered()

    def on_item(self, item: Any) -> None:
        from autogen_agentchat.base import TaskResult

        if isinstance(item, TaskResult):
            self.result = item
        elif self.task_messages > 0:
            self.task_messages -= 1
            _first_sighting(item.id)  # recorded as the run's task; an outer agent relaying it must not repeat it
        else:
            # Messages recorded live by a turn are skipped by id; this catches the rest (a team's own events, agent
            # classes whose stream is not followed).
            _record_message(self.turn, item)

    def on_end(self, failure: BaseException | None) -> None:
        if self.team_id is not None:
            _team_runs.pop(self.team_id, None)
        # A caller that stops reading after the final result has seen a complete run.
        stopped = isinstance(failure, GeneratorExit) and self.result is None
        failure = None if isinstance(failure, GeneratorExit) else failure
        if not self.is_team:
            _end_turn(self.turn, failure, stopped=stopped)
        stop_reason = getattr(self.result, "stop_reason", None)
        if stopped:
            _end_run(self.run, success=None, content=_CONSUMER_STOPPED, failure=None)
        elif failure is not None:
            _end_run(self.run, success=False, content=_summary(failure), failure=failure)
        else:  # a team says why it stopped; an agent's run ends with its reply
            content = stop_reason if self.is_team else self.turn.reply
            _end_run(self.run, success=not budget_exhausted(stop_reason), content=content, failure=None)


class _StreamObserver(Protocol):
    def scope(self) -> AbstractContextManager[Any]: ...
    def on_item(self, item: Any) -> None: ...
    def on_end(self, failure: BaseException | None) -> None: ...


class _TurnObserver:
    """Follows an agent's own message stream during a run outside a team, so its work is recorded as it happens."""

    def __init__(self, turn: _Turn) -> None:
        self.turn = turn

    def scope(self) -> AbstractContextManager[Any]:
        return nullcontext()  # the run already entered the turn

    def on_item(self, item: Any) -> None:
        _record_message(self.turn, getattr(item, "chat_message", item))  # a Response carries the final message

    def on_end(self, failure: BaseException | None) -> None:
        """The run closes the turn."""


async def _relay(stream: AsyncGenerator[Any, None], start: Callable[[], _StreamObserver | None]) -> AsyncIterator[Any]:
    """Yield what ``stream`` yields, letting an observer record it; the observer's failures never reach AutoGen."""
    observer: _StreamObserver | None = None
    with internal_errors_handled("AutoGenInstrumentor: run start"):
        observer = start()
    failure: BaseException | None = None
    try:
        while True:
            with observer.scope() if observer is not None else nullcontext():
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    return
            if observer is not None:
                with internal_errors_handled("AutoGenInstrumentor: message"):
                    observer.on_item(item)
            yield item
    except BaseException as error:
        failure = error
        raise
    finally:
        try:
            await stream.aclose()
        finally:
            if observer is not None:
                with internal_errors_handled("AutoGenInstrumentor: run end"):
                    observer.on_end(failure)


class AutoGenInstrumentor(Instrumentor):
    """Records AutoGen AgentChat runs as ESCAI sessions (see the module docstring for what and how)."""

    framework: ClassVar[str] = FRAMEWORK
    distribution: ClassVar[str] = "autogen-agentchat"
    extra: ClassVar[str] = "autogen"
    min_version: ClassVar[str] = "0.7.0"
    max_version: ClassVar[str | None] = "0.8.0"

    def _instrument(self) -> None:
        agents = self.import_module("autogen_agentchat.agents")
        teams = self.import_module("autogen_agentchat.teams")
        containers = self.import_module("autogen_agentchat.teams._group_chat._chat_agent_container")
        container = containers.ChatAgentContainer
        for attribute in ("handle_request", "_log_message"):
            if attribute not in vars(container):
                raise InstrumentationError(
                    f"autogen-agentchat's ChatAgentContainer has no {attribute}; this version is not supported"
                )
        self.patch(teams.BaseGroupChat, "run_stream", self._stream_wrapper(_start_team_observer))
        self.patch(container, "handle_request", self._wrap_handle_request)
        self.patch(container, "_log_message", self._wrap_log_message)
        self.patch(agents.BaseChatAgent, "run", self._wrap_agent_run)
        self.patch(agents.BaseChatAgent, "run_stream", self._stream_wrapper(_start_agent_observer))
        # Each agent class has its own on_messages_stream: following the ones AutoGen ships makes a run outside a
        # team live (run() only returns messages at the end, and then serves as the fallback for other classes).
        for exported in list(vars(agents).values()):
            if (
                isinstance(exported, type)
                and issubclass(exported, agents.BaseChatAgent)
                and "on_messages_stream" in vars(exported)
            ):
                self.patch(exported, "on_messages_stream", self._wrap_on_messages_stream)

    def _recorder(self) -> Recorder | None:
        # Agent containers bind their handlers when created, so a stale wrapper can outlive uninstrument().
        return get_recorder() if self.is_instrumented else None

    def _stream_wrapper(
        self, start_observer: Callable[[Recorder, Any, dict[str, Any]], _RunObserver]
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A wrapper for a ``run_stream`` method (team or agent) that relays its stream through an observer."""
        instrumentor = self

        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def run_stream(runner: Any, *args: Any, **kwargs: Any) -> Any:
                stream = original(runner, *args, **kwargs)
                if not instrumentor.is_instrumented:
                    return stream

                def start() -> _RunObserver | None:
                    # Decided when the caller starts reading: that is when the run starts.
                    recorder = instrumentor._recorder()
                    return start_observer(recorder, runner, kwargs) if recorder is not None else None

                return _relay(stream, start)

            return run_stream

        return wrap

    def _wrap_agent_run(self, original: Callable[..., Any]) -> Callable[..., Any]:
        instrumentor = self

        @functools.wraps(original)
        async def run(agent: Any, *args: Any, **kwargs: Any) -> Any:
            recorder = instrumentor._recorder()
            observer: _RunObserver | None = None
            if recorder is not None:
                with internal_errors_handled("AutoGenInstrumentor: agent run start"):
                    observer = _start_agent_observer(recorder, agent, kwargs)
            if observer is None:
                return await original(agent, *args, **kwargs)
            try:
                with observer.scope():
                    result = await original(agent, *args, **kwargs)
            except BaseException as error:
                with internal_errors_handled("AutoGenInstrumentor: agent run end"):
                    observer.on_end(error)
                raise
            with internal_errors_handled("AutoGenInstrumentor: agent run end"):
                # Messages not seen live (an agent class whose stream is not followed) are recorded from the result,
                # stamped with their creation times.
                for message in result.messages:
                    observer.on_item(message)
                observer.on_item(result)
                observer.on_end(None)
            return result

        return run

    def _wrap_handle_request(self, original: Callable[..., Any]) -> Callable[..., Any]:
        instrumentor = self

        @functools.wraps(original)  # keeps AutoGen's handler markers (target_types, router, ...)
        async def handle_request(container: Any, message: Any, ctx: Any) -> Any:
            turn: _Turn | None = None
            scope: AbstractContextManager[Any] = nullcontext()
            if instrumentor._recorder() is not None:
                with internal_errors_handled("AutoGenInstrumentor: turn start"):
                    turn, scope = _start_container_turn(container)
            failure: BaseException | None = None
            try:
                with scope:
                    return await original(container, message, ctx)
            except BaseException as error:
                failure = error
                raise
            finally:
                if turn is not None:
                    with internal_errors_handled("AutoGenInstrumentor: turn end"):
                        _end_turn(turn, failure)

        return handle_request

    def _wrap_on_messages_stream(self, original: Callable[..., Any]) -> Callable[..., Any]:
        instrumentor = self

        @functools.wraps(original)
        def on_messages_stream(agent: Any, *args: Any, **kwargs: Any) -> Any:
            stream = original(agent, *args, **kwargs)
            turn = _current_turn.get()
            if turn is None or turn.owner is not agent or not instrumentor.is_instrumented:
                return stream  # in a team, the agent's container records the turn
            observer = _TurnObserver(turn)
            return _relay(stream, lambda: observer)

        return on_messages_stream

    def _wrap_log_message(self, original: Callable[..., Any]) -> Callable[..., Any]:
        instrumentor = self

        @functools.wraps(original)
        async def log_message(container: Any, message: Any) -> Any:
            turn = _current_turn.get()
            if turn is not None and turn.owner is container and instrumentor.is_instrumented:
                # Recorded before AutoGen publishes it, so the team's output stream finds it already recorded.
                with internal_errors_handled("AutoGenInstrumentor: message"):
                    _record_message(turn, message)
            return await original(container, message)

        return log_message


def _start_team_observer(recorder: Recorder, team: Any, kwargs: dict[str, Any]) -> _RunObserver:
    run = _start_run(recorder, name=str(team.name), kind=type(team).__name__, task=kwargs.get("task"), team=True)
    # The team id keys the team's agent containers in the AutoGen runtime (BaseGroupChat._init), which is how a
    # turn finds its run even when the runtime was started outside this run's context.
    team_id = str(team._team_id)
    _team_runs[team_id] = run
    assert run.parent_id is not None  # a team run always hangs under its session_start or its own agent_start
    return _RunObserver(run, _Turn(run, run.agent_id, run.kind, run.parent_id), kwargs, team_id=team_id)


def _start_agent_observer(recorder: Recorder, agent: Any, kwargs: dict[str, Any]) -> _RunObserver:
    task = kwargs.get("task")
    run = _start_run(recorder, name=str(agent.name), kind=type(agent).__name__, task=task, team=False)
    return _RunObserver(run, _start_turn(run, agent, _task_items(task), owner=agent), kwargs)


def _start_container_turn(container: Any) -> tuple[_Turn | None, AbstractContextManager[Any]]:
    """The turn an agent container is about to run, and the scope to run it in (None: not part of a run)."""
    from autogen_agentchat.base import Team

    run = _team_runs.get(str(container.id.key))
    if run is None:
        return None, nullcontext()
    agent = container._agent
    if isinstance(agent, Team):
        # A nested team records itself (joining this session); it only needs to know where it belongs.
        return None, run.scope(str(agent.name), run.parent_id)
    turn = _start_turn(run, agent, list(getattr(container, "_message_buffer", [])), owner=container)
    return turn, turn.entered()


def instrument_autogen() -> bool:
    """Record AutoGen AgentChat runs, teams, messages and tool calls. Idempotent; True if newly instrumented.

    Raises :class:`~escai.instrument.base.InstrumentationError` (with the ``pip install 'escai[autogen]'`` hint)
    when autogen-agentchat is missing or outside the supported versions.
    """
    return AutoGenInstrumentor.instance().instrument()


def uninstrument_autogen() -> bool:
    """Stop recording AutoGen and restore every patched method. True if it was instrumented."""
    return AutoGenInstrumentor.instance().uninstrument()
