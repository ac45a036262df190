"""LangChain and LangGraph instrumentation through LangChain's own callback system.

``instrument_langchain()`` wraps ``BaseCallbackManager.__init__`` so that every callback manager LangChain creates
carries one ESCAI callback handler (the hook OpenInference's LangChain instrumentor uses). Nothing else is patched:
chains, LangGraph graphs and nodes, chat models, tools and retrievers all report through that handler.

How LangChain runs become ESCAI events (opening events are the parents of everything inside the run; each closing
event is a child of its opening event and carries the duration):

==========================  ====================================================================================
LangChain run               ESCAI events
==========================  ====================================================================================
root chain / graph          ``agent_start`` (inputs) ... ``agent_end`` (outputs, or the error and status error)
nested chain, graph node    ``custom`` start and end; a LangGraph node is named after ``langgraph_node`` and every
                            event inside it has ``step_index = langgraph_step``
chat model / LLM            ``llm_request`` (rendered messages; name and ``gen_ai.request.model`` = model name,
                            ``gen_ai.system`` = ``ls_provider``) ... ``llm_response`` (text and tool calls, tokens
                            from ``usage_metadata`` or ``llm_output["token_usage"]``), or ``error``
tool                        ``tool_call`` (input) ... ``tool_result`` (output; status error with the error type and
                            message when the tool raised or returned an error ``ToolMessage``)
retriever                   ``tool_call`` (query) ... ``tool_result`` (the documents, summarised)
agent action / finish       ``decision``
``dispatch_custom_event``   ``custom`` named after the event
==========================  ====================================================================================

An exception is recorded once, where it starts: the run that raised it gets an ``error`` event (a tool's or
retriever's ``tool_result`` already is one), and the enclosing runs it propagates through close with status error
and no second ``error`` event. LangGraph's control-flow exceptions (interrupts, ``Command`` to a parent graph)
close their runs with status unset and ``escai.langchain.interrupted``, not as errors.

Sessions: events go to the session of the current :func:`escai.session`/:func:`~escai.sdk.context.scoped` block;
outside one, each root run (one ``invoke`` of a chain or graph) is its own session whose id is the root run's
LangChain run id (the LangSmith trace id). The agent is the scope's agent, else the recorder's default agent.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from escai.instrument.base import Instrumentor
from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.sdk.context import current_scope
from escai.sdk.errors import report_internal_error
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import get_recorder

if TYPE_CHECKING:
    from langchain_core.agents import AgentAction, AgentFinish
    from langchain_core.documents import Document
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import LLMResult
    from pydantic import BaseModel

__all__ = [
    "LANGCHAIN_DOCUMENT_COUNT",
    "LANGCHAIN_INTERRUPTED",
    "LANGCHAIN_PHASE",
    "LANGCHAIN_RUN_ID",
    "LANGCHAIN_RUN_TYPE",
    "LANGCHAIN_TOOLS",
    "LANGCHAIN_TOOL_CALLS",
    "LangChainInstrumentor",
    "instrument_langchain",
    "uninstrument_langchain",
]

FRAMEWORK = "langchain"
MAX_TRACKED_RUNS = 10_000
"""Open runs remembered for parent links; the oldest is forgotten beyond this (a run that never ended)."""
MAX_CONTENT_CHARS = 64_000
"""Event content longer than this is cut, so that one huge prompt cannot exhaust the buffer."""

LANGCHAIN_RUN_ID = "escai.langchain.run_id"
"""LangChain's run id of the run an opening event starts (the LangSmith run id)."""
LANGCHAIN_RUN_TYPE = "escai.langchain.run_type"
"""``chain``, ``graph_node``, ``prompt``, ``parser``, ``retriever``... on ``custom`` and retriever events."""
LANGCHAIN_PHASE = "escai.langchain.phase"
"""``start`` or ``end`` on the two ``custom`` events of a nested chain or graph node."""
LANGCHAIN_TOOLS = "escai.langchain.tools"
"""Names of the tools offered to a chat model in an ``llm_request``."""
LANGCHAIN_TOOL_CALLS = "escai.langchain.tool_calls"
"""The tool calls of an ``llm_response``: a list of ``{"name", "args", "id"}``."""
LANGCHAIN_DOCUMENT_COUNT = "escai.langchain.document_count"
"""How many documents a retriever returned."""
LANGCHAIN_INTERRUPTED = "escai.langchain.interrupted"
"""True on the end event of a run that a LangGraph interrupt or parent ``Command`` stopped."""

_MODEL_KEYS = ("model", "model_name")
_HIDDEN_TAG = "langsmith:hidden"  # LangGraph's internal runs (the START node, its routing) carry this tag
_NODE_TAG_PREFIX = "graph:step:"
_CONTROL_FLOW_ERRORS = frozenset({"GraphBubbleUp", "GraphInterrupt", "NodeInterrupt", "ParentCommand"})


@dataclass(slots=True)
class _Trace:
    """What all runs under one root run share."""

    session_id: str
    reported_errors: dict[int, BaseException] = field(default_factory=dict)
    """Exceptions already recorded, by id (holding them keeps the ids unique until the root run ends)."""


@dataclass(slots=True)
class _Run:
    """An open LangChain run: the ESCAI event its children hang under."""

    event_id: str | None
    trace: _Trace
    kind: str
    name: str
    step: int | None
    started_ns: int = field(default_factory=time.monotonic_ns)

    def duration_ms(self) -> float:
        """Milliseconds since the run started."""
        return (time.monotonic_ns() - self.started_ns) / 1e6


def _truncate(text: str) -> str:
    if len(text) <= MAX_CONTENT_CHARS:
        return text
    return f"{text[:MAX_CONTENT_CHARS]}... [{len(text) - MAX_CONTENT_CHARS} more characters]"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _render_tool_call(call: Mapping[str, Any]) -> str:
    return f"tool_call {call.get('name')}({_dumps(call.get('args', {}))})"


def _message_text(message: BaseMessage) -> str:
    """A message's text, followed by one line per tool call it makes."""
    content = message.content if isinstance(message.content, str) else str(message.text)
    lines = [content] if content else []
    lines.extend(_render_tool_call(call) for call in getattr(message, "tool_calls", None) or ())
    return "\n".join(lines)


def _render_message(message: BaseMessage) -> str:
    role = f"tool {message.name}" if message.type == "tool" and message.name else message.type
    return f"{role}: {_message_text(message)}"


@functools.cache
def _langchain_types() -> tuple[type[BaseMessage], type[Document], type[BaseModel]]:
    """LangChain's message and document classes, imported on first use (instrumenting has checked they exist)."""
    from langchain_core.documents import Document
    from langchain_core.messages import BaseMessage
    from pydantic import BaseModel

    return BaseMessage, Document, BaseModel


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Plain JSON data for chain inputs and outputs: messages become their rendered text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if depth > 12:
        return "..."
    message_type, document_type, model_type = _langchain_types()
    if isinstance(value, message_type):
        return _render_message(value)
    if isinstance(value, document_type):
        return {"page_content": value.page_content, "metadata": _jsonable(value.metadata, depth + 1)}
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item, depth + 1) for item in value]
    if isinstance(value, model_type):
        # Field by field rather than model_dump(), so that messages inside (a ChatPromptValue) are rendered.
        return {name: _jsonable(item, depth + 1) for name, item in value}
    return str(value)


def _render(value: Any) -> str:
    """Event content for any chain input or output."""
    if isinstance(value, str):
        return _truncate(value)
    if isinstance(value, _langchain_types()[0]):
        return _truncate(_message_text(value))
    return _truncate(_dumps(_jsonable(value)))


def _render_documents(documents: Sequence[Document]) -> str:
    lines = [f"{len(documents)} documents"]
    for number, document in enumerate(documents, start=1):
        text = document.page_content if len(document.page_content) <= 500 else document.page_content[:500] + "..."
        lines.append(f"[{number}] {_dumps(_jsonable(document.metadata))} {text}")
    return _truncate("\n".join(lines))


def _error_fields(error: BaseException) -> tuple[str, dict[str, Any]]:
    """Content and attributes describing an exception."""
    message = str(error)
    content = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return _truncate(content), {semconv.ESCAI_ERROR_TYPE: type(error).__name__, semconv.ESCAI_ERROR_MESSAGE: message}


def _is_control_flow(error: BaseException) -> bool:
    """LangGraph's interrupts and parent commands travel as exceptions but are not failures."""
    return any(cls.__name__ in _CONTROL_FLOW_ERRORS for cls in type(error).__mro__)


def _control_flow_content(error: BaseException) -> str:
    payload = error.args[0] if error.args else None
    if isinstance(payload, list | tuple):
        # Interrupts carry Interrupt objects (a value and a generated id): the values are what matters.
        payload = [getattr(item, "value", item) for item in payload]
    return f"{type(error).__name__}: {_render(payload)}"


def _serialized_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if serialized:
        if isinstance(serialized.get("name"), str):
            return str(serialized["name"])
        identifier = serialized.get("id")
        if isinstance(identifier, list) and identifier:
            return str(identifier[-1])
    return default


def _model_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str:
    """The model's name: LangSmith's ``ls_model_name``, else the invocation or constructor parameters."""
    metadata = kwargs.get("metadata") or {}
    params = kwargs.get("invocation_params") or {}
    constructor = (serialized or {}).get("kwargs") or {}
    candidates = [
        metadata.get("ls_model_name"),
        *(source.get(key) for source in (params, constructor) for key in _MODEL_KEYS),
    ]
    found = next((name for name in candidates if isinstance(name, str) and name), None)
    return found or _serialized_name(serialized, {}, "llm")


def _llm_request_attributes(kwargs: Mapping[str, Any], model: str, operation: str) -> dict[str, Any]:
    metadata = kwargs.get("metadata") or {}
    attributes: dict[str, Any] = {semconv.GEN_AI_REQUEST_MODEL: model, semconv.GEN_AI_OPERATION_NAME: operation}
    if isinstance(metadata.get("ls_provider"), str):
        attributes[semconv.GEN_AI_SYSTEM] = metadata["ls_provider"]
    if isinstance(metadata.get("ls_temperature"), int | float):
        attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] = metadata["ls_temperature"]
    if isinstance(metadata.get("ls_max_tokens"), int):
        attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] = metadata["ls_max_tokens"]
    tools = (kwargs.get("invocation_params") or {}).get("tools")
    if isinstance(tools, list) and tools:
        # OpenAI-style schemas ({"type": "function", "function": {"name": ...}}) or bare {"name": ...}.
        names = [tool.get("function", tool).get("name") if isinstance(tool, Mapping) else str(tool) for tool in tools]
        attributes[LANGCHAIN_TOOLS] = [name for name in names if name]
    return attributes


def _llm_response_attributes(message: BaseMessage) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    calls = [
        {"name": call.get("name"), "args": _jsonable(call.get("args")), "id": call.get("id")}
        for call in getattr(message, "tool_calls", None) or ()
    ]
    if calls:
        attributes[LANGCHAIN_TOOL_CALLS] = calls
    metadata = message.response_metadata or {}
    model = metadata.get("model_name") or metadata.get("model")
    if isinstance(model, str):
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
    reason = metadata.get("finish_reason") or metadata.get("stop_reason")
    if isinstance(reason, str):
        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
    return attributes


def _token_counts(response: LLMResult, message: Any) -> tuple[int | None, int | None]:
    usage = getattr(message, "usage_metadata", None)
    if usage:
        return usage.get("input_tokens"), usage.get("output_tokens")
    output = response.llm_output or {}
    counts = output.get("token_usage") or output.get("usage") or {}
    if not isinstance(counts, Mapping):
        return None, None
    return (
        counts.get("prompt_tokens", counts.get("input_tokens")),
        counts.get("completion_tokens", counts.get("output_tokens")),
    )


def _handled(method: Callable[..., None]) -> Callable[..., None]:
    """Run a callback only while instrumented and with a recorder; never let it raise into LangChain."""
    where = f"langchain.{method.__name__}"

    @functools.wraps(method)
    def callback(self: EscaiCallbacks, *args: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        recorder = get_recorder()
        if recorder is None:
            return
        try:
            method(self, recorder, *args, **kwargs)
        except Exception as error:
            report_internal_error(where, error)

    return callback


class EscaiCallbacks:
    """The LangChain callback methods that turn runs into ESCAI events (see the module docstring).

    Mixed into a ``BaseCallbackHandler`` subclass when instrumenting, so that this module imports without
    LangChain installed. ``run_inline`` makes async callback managers call it directly in the event loop (it only
    appends to the recorder's buffer), which keeps the order of events and the caller's context variables. Each
    callback reads ``parent_run_id``, ``tags`` and ``metadata`` from LangChain's keyword arguments.
    """

    run_inline: ClassVar[bool] = True
    raise_error: ClassVar[bool] = False

    def __init__(self) -> None:
        self.enabled = True
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    # --- run bookkeeping ---------------------------------------------------------------------------------------

    def _parent(self, kwargs: Mapping[str, Any]) -> _Run | None:
        parent_run_id = kwargs.get("parent_run_id")
        return self._runs.get(parent_run_id) if parent_run_id is not None else None

    def _remember(self, run_id: UUID, run: _Run) -> None:
        with self._lock:
            self._runs[run_id] = run
            while len(self._runs) > MAX_TRACKED_RUNS:
                del self._runs[next(iter(self._runs))]

    def _open(
        self,
        recorder: Recorder,
        event_type: EventType,
        run_id: UUID,
        kwargs: Mapping[str, Any],
        kind: str,
        name: str,
        content: str,
        attributes: dict[str, Any],
    ) -> None:
        """Emit a run's opening event under its parent's (a root run starts a trace) and remember the run."""
        parent = self._parent(kwargs)
        step = (kwargs.get("metadata") or {}).get("langgraph_step")
        step = step if isinstance(step, int) and step >= 0 else None
        trace = parent.trace if parent else _Trace(current_scope().session_id or str(run_id))
        attributes[LANGCHAIN_RUN_ID] = str(run_id)
        run = _Run(None, trace, kind, name, step)
        fields = {"parent_id": parent.event_id if parent else None, "content": content, "attributes": attributes}
        run.event_id = self._emit(recorder, run, event_type, **fields)
        self._remember(run_id, run)

    def _emit(self, recorder: Recorder, run: _Run, event_type: EventType, **fields: Any) -> str:
        """Emit one event of ``run``'s trace (its session, step and name unless given); returns the event id."""
        fields.setdefault("name", run.name)
        session_id, step_index = run.trace.session_id, run.step
        return recorder.emit(event_type, session_id=session_id, framework=FRAMEWORK, step_index=step_index, **fields)

    def _close(
        self,
        recorder: Recorder,
        run: _Run,
        event_type: EventType,
        status: EventStatus,
        content: str | None,
        attributes: dict[str, Any] | None = None,
        tokens: tuple[int | None, int | None] = (None, None),
    ) -> None:
        """Emit a run's closing event as a child of its opening event, with the run's duration."""
        duration_ms = run.duration_ms()
        fields = {"content": content, "attributes": attributes, "tokens_input": tokens[0], "tokens_output": tokens[1]}
        self._emit(recorder, run, event_type, parent_id=run.event_id, status=status, duration_ms=duration_ms, **fields)

    def _fail(self, recorder: Recorder, run_id: UUID, error: BaseException, event_type: EventType) -> None:
        """Close a model, tool or retriever run that raised; the exception counts as recorded for its trace."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        run.trace.reported_errors[id(error)] = error
        content, attributes = _error_fields(error)
        if event_type is EventType.TOOL_RESULT:
            attributes[semconv.GEN_AI_TOOL_NAME] = run.name
        self._close(recorder, run, event_type, EventStatus.ERROR, content, attributes)

    # --- chains, LangGraph graphs and nodes ---------------------------------------------------------------------

    @_handled
    def on_chain_start(self, recorder: Recorder, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A chain, graph or graph node started: ``agent_start`` for a root run, else a ``custom`` start event."""
        parent = self._parent(kwargs)
        tags: list[str] = kwargs.get("tags") or []
        metadata: Mapping[str, Any] = kwargs.get("metadata") or {}
        if parent is not None and _HIDDEN_TAG in tags:
            # LangGraph's internal plumbing: its children hang under the nearest visible ancestor.
            self._remember(run_id, _Run(parent.event_id, parent.trace, "hidden", "", parent.step))
            return
        name = _serialized_name(serialized, kwargs, "chain")
        if parent is None:
            attributes: dict[str, Any] = {}
            if isinstance(metadata.get("thread_id"), str | int):
                attributes[semconv.GEN_AI_CONVERSATION_ID] = str(metadata["thread_id"])
            self._open(recorder, EventType.AGENT_START, run_id, kwargs, "root", name, _render(inputs), attributes)
            return
        node = metadata.get("langgraph_node")
        is_node = node is not None and (node == name or any(tag.startswith(_NODE_TAG_PREFIX) for tag in tags))
        run_type = "graph_node" if is_node else str(kwargs.get("run_type") or "chain")
        attributes = {LANGCHAIN_RUN_TYPE: run_type, LANGCHAIN_PHASE: "start"}
        name = str(node) if is_node else name
        self._open(recorder, EventType.CUSTOM, run_id, kwargs, "chain", name, _render(inputs), attributes)

    @_handled
    def on_chain_end(self, recorder: Recorder, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A chain ended: ``agent_end`` or the ``custom`` end event, with its outputs."""
        run = self._runs.pop(run_id, None)
        if run is None or run.kind == "hidden":
            return
        if run.kind == "root":
            self._close(recorder, run, EventType.AGENT_END, EventStatus.OK, _render(outputs))
        else:
            self._close(recorder, run, EventType.CUSTOM, EventStatus.OK, _render(outputs), {LANGCHAIN_PHASE: "end"})

    @_handled
    def on_chain_error(self, recorder: Recorder, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A chain failed: an ``error`` event if the failure starts here, then its end event with status error."""
        run = self._runs.pop(run_id, None)
        if run is None or run.kind == "hidden":
            return
        end_type = EventType.AGENT_END if run.kind == "root" else EventType.CUSTOM
        phase = {} if run.kind == "root" else {LANGCHAIN_PHASE: "end"}
        if _is_control_flow(error):
            attributes = {**phase, LANGCHAIN_INTERRUPTED: True}
            self._close(recorder, run, end_type, EventStatus.UNSET, _control_flow_content(error), attributes)
            return
        content, attributes = _error_fields(error)
        if id(error) not in run.trace.reported_errors:
            run.trace.reported_errors[id(error)] = error
            fields = {"parent_id": run.event_id, "content": content, "attributes": attributes}
            self._emit(recorder, run, EventType.ERROR, status=EventStatus.ERROR, **fields)
        # A fresh dict per event: the recorder owns what it is given.
        self._close(recorder, run, end_type, EventStatus.ERROR, content, {**attributes, **phase})

    # --- models -------------------------------------------------------------------------------------------------

    @_handled
    def on_chat_model_start(
        self, recorder: Recorder, serialized: Any, messages: list[list[BaseMessage]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """A chat model was called: ``llm_request`` with the rendered conversation."""
        model = _model_name(serialized, kwargs)
        content = "\n\n".join("\n".join(_render_message(message) for message in prompt) for prompt in messages)
        attributes = _llm_request_attributes(kwargs, model, "chat")
        self._open(recorder, EventType.LLM_REQUEST, run_id, kwargs, "llm", model, _truncate(content), attributes)

    @_handled
    def on_llm_start(
        self, recorder: Recorder, serialized: Any, prompts: list[str], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """A text-completion model was called: ``llm_request`` with its prompts."""
        model = _model_name(serialized, kwargs)
        attributes = _llm_request_attributes(kwargs, model, "text_completion")
        content = _truncate("\n\n".join(prompts))
        self._open(recorder, EventType.LLM_REQUEST, run_id, kwargs, "llm", model, content, attributes)

    @_handled
    def on_llm_end(self, recorder: Recorder, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """A model answered: ``llm_response`` with its text, tool calls and token counts."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        generation = response.generations[0][0] if response.generations and response.generations[0] else None
        message = getattr(generation, "message", None)
        content = generation.text if generation is not None else ""
        attributes: dict[str, Any] = {}
        if message is not None:
            content = _message_text(message)
            attributes = _llm_response_attributes(message)
        tokens = _token_counts(response, message)
        self._close(recorder, run, EventType.LLM_RESPONSE, EventStatus.OK, _truncate(content), attributes, tokens)

    @_handled
    def on_llm_error(self, recorder: Recorder, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A model call failed: an ``error`` event under its request."""
        self._fail(recorder, run_id, error, EventType.ERROR)

    # --- tools and retrievers -----------------------------------------------------------------------------------

    @_handled
    def on_tool_start(
        self, recorder: Recorder, serialized: Any, input_str: str, *, run_id: UUID, **kwargs: Any
    ) -> None:
        """A tool was called: ``tool_call`` with its arguments (as JSON when LangChain passes them parsed)."""
        name = _serialized_name(serialized, kwargs, "tool")
        attributes: dict[str, Any] = {semconv.GEN_AI_TOOL_NAME: name}
        if kwargs.get("tool_call_id"):
            attributes[semconv.GEN_AI_TOOL_CALL_ID] = str(kwargs["tool_call_id"])
        inputs = kwargs.get("inputs")
        content = _render(inputs) if isinstance(inputs, dict) else _truncate(input_str)
        self._open(recorder, EventType.TOOL_CALL, run_id, kwargs, "tool", name, content, attributes)

    @_handled
    def on_tool_end(self, recorder: Recorder, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool returned: ``tool_result``; an error ``ToolMessage`` (a tool error it handled) has status error."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        status = EventStatus.ERROR if getattr(output, "status", None) == "error" else EventStatus.OK
        content = _render(getattr(output, "content", output))
        self._close(recorder, run, EventType.TOOL_RESULT, status, content, {semconv.GEN_AI_TOOL_NAME: run.name})

    @_handled
    def on_tool_error(self, recorder: Recorder, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool raised: ``tool_result`` with status error, the error type and message."""
        self._fail(recorder, run_id, error, EventType.TOOL_RESULT)

    @_handled
    def on_retriever_start(
        self, recorder: Recorder, serialized: Any, query: str, *, run_id: UUID, **kwargs: Any
    ) -> None:
        """A retriever was queried: ``tool_call`` with the query."""
        name = _serialized_name(serialized, kwargs, "retriever")
        attributes = {semconv.GEN_AI_TOOL_NAME: name, LANGCHAIN_RUN_TYPE: "retriever"}
        self._open(recorder, EventType.TOOL_CALL, run_id, kwargs, "retriever", name, _truncate(query), attributes)

    @_handled
    def on_retriever_end(
        self, recorder: Recorder, documents: Sequence[Document], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """A retriever answered: ``tool_result`` summarising the documents."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        attributes = {semconv.GEN_AI_TOOL_NAME: run.name, LANGCHAIN_DOCUMENT_COUNT: len(documents)}
        self._close(recorder, run, EventType.TOOL_RESULT, EventStatus.OK, _render_documents(documents), attributes)

    @_handled
    def on_retriever_error(self, recorder: Recorder, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A retriever raised: ``tool_result`` with status error."""
        self._fail(recorder, run_id, error, EventType.TOOL_RESULT)

    # --- agent decisions and custom events ----------------------------------------------------------------------

    def _emit_in_run(self, recorder: Recorder, run_id: UUID, event_type: EventType, name: str, content: str) -> None:
        """An event inside a run that LangChain reports without a run of its own."""
        run = self._runs.get(run_id)
        if run is not None:
            self._emit(recorder, run, event_type, parent_id=run.event_id, content=_truncate(content), name=name)

    @_handled
    def on_agent_action(self, recorder: Recorder, action: AgentAction, *, run_id: UUID, **kwargs: Any) -> None:
        """An agent chose a tool: ``decision`` named after the tool, with the agent's reasoning."""
        content = action.log.strip() or f"{action.tool}({_render(action.tool_input)})"
        self._emit_in_run(recorder, run_id, EventType.DECISION, action.tool, content)

    @_handled
    def on_agent_finish(self, recorder: Recorder, finish: AgentFinish, *, run_id: UUID, **kwargs: Any) -> None:
        """An agent decided to stop: ``decision`` named ``finish`` with its reasoning or return values."""
        content = finish.log.strip() or _render(finish.return_values)
        self._emit_in_run(recorder, run_id, EventType.DECISION, "finish", content)

    @_handled
    def on_custom_event(self, recorder: Recorder, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """``dispatch_custom_event`` inside a run: a ``custom`` event with the event's name and data."""
        self._emit_in_run(recorder, run_id, EventType.CUSTOM, name, _render(data))


_handler_class: type[EscaiCallbacks] | None = None


def _create_handler() -> EscaiCallbacks:
    """A LangChain callback handler running :class:`EscaiCallbacks` (LangChain is imported here, lazily)."""
    global _handler_class
    if _handler_class is None:
        from langchain_core.callbacks import BaseCallbackHandler

        class EscaiCallbackHandler(EscaiCallbacks, BaseCallbackHandler):
            """ESCAI's LangChain callback handler."""

            def __init__(self) -> None:
                EscaiCallbacks.__init__(self)

        _handler_class = EscaiCallbackHandler
    return _handler_class()


def _add_handler_on_init(original: Callable[..., None], handler: EscaiCallbacks) -> Callable[..., None]:
    """Wrap ``BaseCallbackManager.__init__`` so that every new manager carries ``handler`` (once)."""
    handler_type = type(handler)

    @functools.wraps(original)
    def __init__(manager: Any, *args: Any, **kwargs: Any) -> None:
        original(manager, *args, **kwargs)
        try:
            # Switched off, the wrapper passes through (it may outlive uninstrument, see LangChainInstrumentor).
            # Managers are copied and merged; a handler already inherited must not be added twice.
            if handler.enabled and not any(isinstance(existing, handler_type) for existing in manager.handlers):
                manager.add_handler(handler, True)
        except Exception as error:
            report_internal_error("langchain.BaseCallbackManager.__init__", error)

    return __init__


class LangChainInstrumentor(Instrumentor):
    """Records LangChain and LangGraph runs through one callback handler added to every callback manager."""

    framework = "langchain"
    distribution = "langchain-core"
    extra = "langchain"
    min_version = "1.0"
    max_version = "2.0"

    def __init__(self) -> None:
        super().__init__()
        self._handler: EscaiCallbacks | None = None
        self._manager_class: Any = None
        self._original_init: Any = None
        self._wrapped_init: Any = None

    @property
    def handler(self) -> EscaiCallbacks | None:
        """The LangChain callback handler (a ``BaseCallbackHandler``), created by the first ``instrument()``."""
        return self._handler

    def _instrument(self) -> None:
        self._manager_class = self.import_module("langchain_core.callbacks").BaseCallbackManager
        if self._handler is None:
            self._handler = _create_handler()
        self._original_init = self._manager_class.__dict__["__init__"]
        self._wrapped_init = _add_handler_on_init(self._original_init, self._handler)
        self._manager_class.__init__ = self._wrapped_init
        self._handler.enabled = True

    def _uninstrument(self) -> None:
        # Managers created while instrumented may outlive this call (a stored config) and keep the handler, so it
        # is switched off rather than hunted down.
        if self._handler is not None:
            self._handler.enabled = False
        # Put the original back only if nobody wrapped ours since (OpenInference wraps the same method): restoring
        # would remove their wrapper too. Ours then stays in their chain as a pass-through.
        if self._manager_class.__dict__.get("__init__") is self._wrapped_init:
            self._manager_class.__init__ = self._original_init
        self._manager_class = self._original_init = self._wrapped_init = None


def instrument_langchain() -> bool:
    """Record every LangChain/LangGraph run in this process. Idempotent; True if it was not instrumented yet.

    Raises :class:`~escai.instrument.base.InstrumentationError` with the install hint
    (``pip install 'escai[langchain]'``) when ``langchain-core`` is missing or outside the supported versions.
    """
    return LangChainInstrumentor.instance().instrument()


def uninstrument_langchain() -> bool:
    """Stop recording LangChain runs and restore ``BaseCallbackManager.__init__``. True if it was instrumented."""
    return LangChainInstrumentor.instance().uninstrument()
