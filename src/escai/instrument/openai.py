"""Instrumentation of the OpenAI Python SDK: chat completions, responses, and assistants runs and run steps.

The SDK has no callback or event hooks, so resource methods are patched at class level with
:meth:`Instrumentor.patch` (every client, sync and async, created before or after ``instrument_openai()``).
What is recorded, all with ``framework="openai"``:

- ``chat.completions.create|parse`` and ``responses.create|parse`` (sync, async, streamed; the SDK's ``stream()``
  helpers go through ``create``): an ``llm_request`` (name: the requested model; content: the rendered messages or
  input; attributes: ``gen_ai.system``, operation, request model, temperature, max tokens, the tools offered),
  then an ``llm_response`` under it (name: the answering model; content: the text and the tool calls; tokens from
  the usage; finish reasons; duration).
- Each tool call the model requests: one ``tool_call`` event under the response (name: the tool; content: the
  arguments). It is a *request*: the instrumentor cannot see the caller run the tool. When a later request carries
  that call's output (a ``tool`` message, a ``function_call_output`` item), a ``tool_result`` is recorded under
  the ``tool_call``, so request → response → tool_call → tool_result reads as one chain.
- An API error the SDK raises (HTTP 4xx/5xx, a stream that fails): an ``error`` event (status error, HTTP status
  and API error code as attributes) under the request; the exception reaches the caller unchanged.
- Assistants (deprecated by OpenAI, still present in SDK 3.x): ``threads.runs.create|retrieve|submit_tool_outputs``,
  ``threads.create_and_run`` and ``threads.runs.steps.retrieve|list``, also when reached through
  ``create_and_poll``/``poll``/``submit_tool_outputs_and_poll`` or streamed. A run gives an ``agent_start``
  (name: the assistant id) the first time it is seen, a ``tool_call`` per required action, a ``tool_result`` per
  submitted output, a ``decision`` (tool-call step) or ``message`` (message-creation step) per finished run step
  with its tokens, an ``error`` if the run failed, and an ``agent_end`` with the run's usage at its terminal
  status. Each is recorded once however often the run is polled.

Streams are not replaced: the caller gets the SDK's own ``Stream``/``AsyncStream`` object, whose chunk iterator
is swapped for a pass-through generator that yields the same chunk objects in the same order and assembles the
``llm_response`` from the deltas (text, tool-call argument fragments, and usage when
``stream_options={"include_usage": True}``). The response is recorded when the stream ends or fails, when it is
closed (directly or by its context manager), or when it is garbage-collected after the caller broke out of it
(attribute ``escai.llm.stream_outcome``: completed, error or closed_early).

Not covered: the legacy ``completions`` endpoint, ``runs.stream``/``create_and_stream`` (they post without
``create``), pages of ``steps.list`` after the first, and the realtime/websocket APIs. A ``with_streaming_response``
call records an ``llm_response`` without content, because its body belongs to the caller, unread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from escai.instrument._openai_llm import (
    GEN_AI_TOOL_DEFINITIONS,
    SYSTEM,
    Emitter,
    LlmCall,
    Memory,
    field,
    number,
    observe_stream,
    record_result,
    tool_names,
)
from escai.instrument.base import InstrumentationError, Instrumentor
from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.sdk.errors import internal_errors_handled
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import get_recorder

__all__ = ["OpenAIInstrumentor", "instrument_openai", "uninstrument_openai"]

OPENAI_RUN_ID = "escai.openai.run_id"
OPENAI_RUN_STATUS = "escai.openai.run_status"
OPENAI_STEP_ID = "escai.openai.step_id"
OPENAI_MESSAGE_ID = "escai.openai.message_id"

_TERMINAL_RUN = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
_TERMINAL_STEP = frozenset({"completed", "failed", "cancelled", "expired"})

Begin = Callable[[Recorder, tuple[Any, ...], dict[str, Any]], Any]
End = Callable[[Any, Any], None]
Fail = Callable[[Any, BaseException], None]


class _Assistants:
    """Turns the runs and run steps the SDK returns into events, each recorded once however often it is polled."""

    def __init__(self, emitter: Emitter, stream_types: tuple[type, ...]) -> None:
        self.emitter = emitter
        self.stream_types = stream_types
        self.runs = Memory()
        """run id -> the run's agent_start event id."""
        self.seen = Memory()
        self._lock = threading.Lock()

    def run_start(self, recorder: Recorder, run: Any) -> str:
        """The run's agent_start event id, recording it the first time the run is seen."""
        run_id = str(field(run, "id"))
        with self._lock:
            known: str | None = self.runs.get(run_id)
            if known is not None:
                return known
            optional = {
                semconv.GEN_AI_REQUEST_MODEL: field(run, "model"),
                semconv.GEN_AI_REQUEST_TEMPERATURE: number(field(run, "temperature")),
                GEN_AI_TOOL_DEFINITIONS: tool_names(field(run, "tools")) or None,
            }
            event_id = recorder.emit(
                EventType.AGENT_START,
                name=field(run, "assistant_id"),
                content=field(run, "instructions") or None,
                attributes={
                    semconv.GEN_AI_SYSTEM: SYSTEM,
                    semconv.GEN_AI_OPERATION_NAME: "invoke_agent",
                    semconv.GEN_AI_AGENT_ID: field(run, "assistant_id"),
                    semconv.GEN_AI_CONVERSATION_ID: field(run, "thread_id"),
                    OPENAI_RUN_ID: run_id,
                    **{key: value for key, value in optional.items() if value is not None},
                },
                framework=SYSTEM,
                status=EventStatus.OK,
            )
            self.runs.put(run_id, event_id)
            return event_id

    def on_run(self, recorder: Recorder, run: Any) -> None:
        """A run object came back: record its start, the tool calls it requires, and its end."""
        start = self.run_start(recorder, run)
        run_id, status = str(field(run, "id")), field(run, "status")
        action = field(field(run, "required_action"), "submit_tool_outputs")
        for call in field(action, "tool_calls") or []:
            if self.seen.first_time(f"call:{field(call, 'id')}"):
                function = field(call, "function")
                self.emitter.tool_call(
                    recorder, start, field(call, "id"), field(function, "name"), field(function, "arguments")
                )
        if status not in _TERMINAL_RUN or not self.seen.first_time(f"end:{run_id}"):
            return
        error = field(run, "last_error")
        if error is not None:
            recorder.emit(
                EventType.ERROR,
                name=str(field(error, "code")),
                content=field(error, "message"),
                attributes={
                    semconv.ESCAI_ERROR_TYPE: str(field(error, "code")),
                    semconv.ESCAI_ERROR_MESSAGE: str(field(error, "message")),
                    OPENAI_RUN_ID: run_id,
                },
                framework=SYSTEM,
                parent_id=start,
                status=EventStatus.ERROR,
            )
        usage = field(run, "usage")
        ended = next(
            (field(run, key) for key in ("completed_at", "failed_at", "cancelled_at", "expired_at") if field(run, key)),
            None,
        )
        created = field(run, "created_at")
        recorder.emit(
            EventType.AGENT_END,
            name=field(run, "assistant_id"),
            content=field(error, "message") or field(field(run, "incomplete_details"), "reason"),
            attributes={OPENAI_RUN_ID: run_id, OPENAI_RUN_STATUS: status},
            framework=SYSTEM,
            parent_id=start,
            tokens_input=field(usage, "prompt_tokens"),
            tokens_output=field(usage, "completion_tokens"),
            duration_ms=(ended - created) * 1000.0 if isinstance(ended, int) and isinstance(created, int) else None,
            status=EventStatus.OK if status == "completed" else EventStatus.ERROR,
        )

    def on_step(self, recorder: Recorder, step: Any) -> None:
        """A finished run step: a message it created, or the tool calls it made (and their outputs, if known)."""
        status = field(step, "status")
        if status not in _TERMINAL_STEP or not self.seen.first_time(f"step:{field(step, 'id')}"):
            return
        parent: str | None = self.runs.get(str(field(step, "run_id")))
        details, usage = field(step, "step_details"), field(step, "usage")
        attributes = {OPENAI_RUN_ID: field(step, "run_id"), OPENAI_STEP_ID: field(step, "id")}
        common: dict[str, Any] = {
            "framework": SYSTEM,
            "parent_id": parent,
            "tokens_input": field(usage, "prompt_tokens"),
            "tokens_output": field(usage, "completion_tokens"),
            "status": EventStatus.OK if status == "completed" else EventStatus.ERROR,
        }
        if field(step, "type") == "message_creation":
            message_id = field(field(details, "message_creation"), "message_id")
            recorder.emit(
                EventType.MESSAGE,
                name="message_creation",
                attributes={**attributes, OPENAI_MESSAGE_ID: message_id},
                **common,
            )
            return
        calls = [_step_tool_call(call) for call in field(details, "tool_calls") or []]
        content = "\n".join(f"-> {name}({arguments or ''})" for _, name, arguments, _ in calls)
        recorder.emit(EventType.DECISION, name="tool_calls", content=content, attributes=attributes, **common)
        for call_id, name, arguments, output in calls:
            if self.seen.first_time(f"call:{call_id}"):
                self.emitter.tool_call(recorder, parent, call_id, name, arguments)
            if output is not None and self.seen.first_time(f"result:{call_id}"):
                self.emitter.tool_result(recorder, call_id, output, default_parent=parent)

    def on_tool_outputs(self, recorder: Recorder, run_id: Any, outputs: Any) -> None:
        """The caller submits tool outputs: each is the result of a call the run required."""
        for output in outputs if isinstance(outputs, list | tuple) else []:  # a generator must reach the SDK unread
            call_id = field(output, "tool_call_id")
            if self.seen.first_time(f"result:{call_id}"):
                self.emitter.tool_result(
                    recorder, call_id, field(output, "output"), default_parent=self.runs.get(str(run_id))
                )

    def on_result(self, recorder: Recorder, result: Any) -> None:
        """Dispatch whatever an assistants call returned: a run, a step, a page of steps, or a stream of events."""
        if isinstance(result, self.stream_types):
            observe_stream(
                result, lambda event: self.on_result(recorder, field(event, "data")), self._stream_end(recorder)
            )
            return
        kind = field(result, "object")
        if kind == "thread.run":
            self.on_run(recorder, result)
        elif kind == "thread.run.step":
            self.on_step(recorder, result)
        elif isinstance(field(result, "data"), list):
            for step in field(result, "data"):
                self.on_step(recorder, step)
        elif callable(getattr(result, "_get_page", None)):
            self._observe_paginator(recorder, result)

    def _stream_end(self, recorder: Recorder) -> Callable[[str, BaseException | None], None]:
        def on_end(outcome: str, error: BaseException | None) -> None:
            if error is not None:
                self.emitter.error(recorder, None, error)

        return on_end

    def _observe_paginator(self, recorder: Recorder, paginator: Any) -> None:
        # AsyncSteps.list returns an awaitable paginator, not a coroutine: observe the first page when awaited.
        get_page = paginator._get_page

        async def observed_get_page() -> Any:
            page = await get_page()
            with internal_errors_handled("openai.steps.list"):
                self.on_result(recorder, page)
            return page

        paginator._get_page = observed_get_page


def _step_tool_call(call: Any) -> tuple[Any, Any, Any, Any]:
    """(id, name, arguments, output) of a run step's tool call, whatever its kind."""
    kind = field(call, "type")
    if kind == "function":
        function = field(call, "function")
        return field(call, "id"), field(function, "name"), field(function, "arguments"), field(function, "output")
    if kind == "code_interpreter":
        interpreter = field(call, "code_interpreter")
        logs = [field(output, "logs") for output in field(interpreter, "outputs") or [] if field(output, "logs")]
        return field(call, "id"), kind, field(interpreter, "input"), "\n".join(logs) if logs else None
    return field(call, "id"), kind, None, None


class OpenAIInstrumentor(Instrumentor):
    """Records the OpenAI SDK's chat completions, responses and assistants runs (sync, async, streamed)."""

    framework: ClassVar[str] = "openai"
    distribution: ClassVar[str] = "openai"
    extra: ClassVar[str] = "openai"
    min_version: ClassVar[str] = "2.0"
    max_version: ClassVar[str | None] = "4"

    def _instrument(self) -> None:
        streaming = self.import_module("openai._streaming")
        legacy = self.import_module("openai._legacy_response")
        chat = self.import_module("openai.resources.chat.completions.completions")
        responses = self.import_module("openai.resources.responses.responses")
        stream_types = (streaming.Stream, streaming.AsyncStream)
        raw_type: Any = legacy.LegacyAPIResponse
        emitter = Emitter()

        def unwrap(result: Any) -> Any:
            # with_raw_response: parse() caches its result, so the caller later gets the very object we read.
            return result.parse() if isinstance(result, raw_type) else result

        def llm(operation: str) -> tuple[Begin, End, Fail]:
            def begin(recorder: Recorder, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LlmCall:
                return LlmCall(recorder, emitter, operation, kwargs)

            def end(call: LlmCall, result: Any) -> None:
                record_result(call, unwrap(result), stream_types)

            def fail(call: LlmCall, error: BaseException) -> None:
                call.fail(error)

            return begin, end, fail

        # parse() posts directly rather than through create(); the stream() helpers go through create().
        for name in ("create", "parse"):
            for owner, is_async in ((chat.Completions, False), (chat.AsyncCompletions, True)):
                self.patch(owner, name, _wrapper(self, "openai.chat.completions", *llm("chat"), is_async=is_async))
            for owner, is_async in ((responses.Responses, False), (responses.AsyncResponses, True)):
                self.patch(owner, name, _wrapper(self, "openai.responses", *llm("responses"), is_async=is_async))
        self._instrument_assistants(_Assistants(emitter, stream_types), unwrap)

    def _instrument_assistants(self, assistants: _Assistants, unwrap: Callable[[Any], Any]) -> None:
        try:
            runs = self.import_module("openai.resources.beta.threads.runs.runs")
            steps = self.import_module("openai.resources.beta.threads.runs.steps")
            threads = self.import_module("openai.resources.beta.threads.threads")
        except InstrumentationError:
            return  # an SDK without the (deprecated) Assistants API: chat and responses are still recorded

        def begin(recorder: Recorder, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Recorder, Any]:
            # retrieve, submit_tool_outputs and steps.list take the run id first; create and steps.retrieve do not.
            run_id = kwargs.get("run_id")
            if run_id is None and len(args) > 1 and isinstance(args[1], str) and args[1].startswith("run"):
                run_id = args[1]
            if "tool_outputs" in kwargs:
                assistants.on_tool_outputs(recorder, run_id, kwargs["tool_outputs"])
            return recorder, run_id

        def end(state: tuple[Recorder, Any], result: Any) -> None:
            assistants.on_result(state[0], unwrap(result))

        def fail(state: tuple[Recorder, Any], error: BaseException) -> None:
            recorder, run_id = state
            assistants.emitter.error(recorder, assistants.runs.get(str(run_id)) if run_id else None, error)

        targets = [
            (runs.Runs, ("create", "retrieve", "submit_tool_outputs"), False),
            (runs.AsyncRuns, ("create", "retrieve", "submit_tool_outputs"), True),
            (threads.Threads, ("create_and_run",), False),
            (threads.AsyncThreads, ("create_and_run",), True),
            (steps.Steps, ("retrieve", "list"), False),
            (steps.AsyncSteps, ("retrieve",), True),
            (steps.AsyncSteps, ("list",), False),  # returns an awaitable paginator synchronously
        ]
        for owner, names, is_async in targets:
            for name in names:
                self.patch(
                    owner, name, _wrapper(self, f"openai.assistants.{name}", begin, end, fail, is_async=is_async)
                )


def _wrapper(
    instrumentor: Instrumentor, where: str, begin: Begin, end: End, fail: Fail, *, is_async: bool
) -> Callable[[Any], Any]:
    """Build a method wrapper: record around the original call; the caller always gets its result or its error.

    The wrapper checks that instrumentation is still on because the SDK caches bound methods (``with_raw_response``
    keeps ``runs.retrieve``), so a wrapper can outlive ``uninstrument()`` on a client used before it.
    """

    def make(original: Any) -> Any:
        if is_async:

            @functools.wraps(original)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                recorder = get_recorder()
                if recorder is None or not instrumentor.is_instrumented:
                    return await original(*args, **kwargs)
                state = None
                with internal_errors_handled(where):
                    state = begin(recorder, args, kwargs)
                try:
                    result = await original(*args, **kwargs)
                except BaseException as error:
                    if state is not None:
                        with internal_errors_handled(where):
                            fail(state, error)
                    raise
                if state is not None:
                    with internal_errors_handled(where):
                        end(state, result)
                return result

            return async_wrapper

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder = get_recorder()
            if recorder is None or not instrumentor.is_instrumented:
                return original(*args, **kwargs)
            state = None
            with internal_errors_handled(where):
                state = begin(recorder, args, kwargs)
            try:
                result = original(*args, **kwargs)
            except BaseException as error:
                if state is not None:
                    with internal_errors_handled(where):
                        fail(state, error)
                raise
            if state is not None:
                with internal_errors_handled(where):
                    end(state, result)
            return result

        return wrapper

    return make


def instrument_openai() -> bool:
    """Record every OpenAI SDK call from now on (all clients). Idempotent; True if it was not instrumented yet.

    Raises :class:`~escai.instrument.base.InstrumentationError` with ``pip install 'escai[openai]'`` when the SDK
    is missing or its version is unsupported.
    """
    return OpenAIInstrumentor.instance().instrument()


def uninstrument_openai() -> bool:
    """Stop recording OpenAI SDK calls and restore the SDK's original methods. True if it was instrumented."""
    return OpenAIInstrumentor.instance().uninstrument()
