"""Recording of one OpenAI LLM call (chat completions or responses), streamed or not, for ``escai.instrument.openai``.

Kept apart from the patching code so that each module stays small: this one knows the SDK's request and response
shapes (dicts or SDK models, read duck-typed so that any 2.x/3.x model class works) and turns them into events.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.sdk.context import current_scope
from escai.sdk.errors import internal_errors_handled, report_internal_error
from escai.sdk.recorder import Recorder

# OpenTelemetry GenAI / HTTP names that escai.model.semconv does not define yet, and ESCAI's OpenAI-only keys.
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
ESCAI_LLM_STREAM = "escai.llm.stream"
ESCAI_LLM_STREAM_OUTCOME = "escai.llm.stream_outcome"
OPENAI_ERROR_CODE = "escai.openai.error_code"

SYSTEM = "openai"
_MEMORY = 10_000
"""How many tool-call ids and run/step ids are remembered (to link results and record each run state once)."""


def field(value: Any, name: str) -> Any:
    """Read ``name`` from a request dict (TypedDict params) or an SDK model (a message passed back in)."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def number(value: Any) -> float | int | None:
    """A real number, or None for unset parameters (the SDK's ``omit``/``NOT_GIVEN`` sentinels)."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def render_content(content: Any) -> str:
    """Message content as text: a string as is, the text of each part of a list, ``[type]`` for other parts."""
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content if isinstance(content, list) else [content]:
        text = field(part, "text") or field(part, "refusal")
        parts.append(text if isinstance(text, str) else f"[{field(part, 'type') or 'part'}]")
    return "".join(parts)


def _render_call(name: Any, arguments: Any) -> str:
    return f"-> {name}({arguments or ''})"


def _listed(value: Any) -> list[Any] | tuple[Any, ...]:
    """``value`` if it is a list or tuple, else nothing: a generator the caller passed must reach the SDK unread."""
    return value if isinstance(value, list | tuple) else []


def chat_tool_call(call: Any) -> tuple[Any, Any, Any]:
    """(id, name, arguments) of a chat tool call: a function call, or a custom tool call with free-form input."""
    function = field(call, "function")
    if function is not None:
        return field(call, "id"), field(function, "name"), field(function, "arguments")
    custom = field(call, "custom")
    return field(call, "id"), field(custom, "name") or field(call, "type"), field(custom, "input")


def tool_names(tools: Any) -> list[str]:
    """The names of the tools offered to the model (a hosted tool is named by its type)."""
    names = []
    for tool in _listed(tools):
        function = field(tool, "function")
        name = field(function, "name") if function is not None else field(tool, "name")
        names.append(str(name or field(tool, "type") or "tool"))
    return names


class Memory:
    """Bounded, thread-safe memory of ids this process has seen: tool calls, runs and steps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Any] = OrderedDict()

    def put(self, key: str, value: Any) -> None:
        """Remember ``key``; the oldest entry is forgotten past the bound."""
        with self._lock:
            self._entries[key] = value
            if len(self._entries) > _MEMORY:
                self._entries.popitem(last=False)

    def get(self, key: str) -> Any:
        """The value remembered for ``key``, or None."""
        with self._lock:
            return self._entries.get(key)

    def pop(self, key: str) -> Any:
        """Forget ``key``, returning its value or None."""
        with self._lock:
            return self._entries.pop(key, None)

    def first_time(self, key: str) -> bool:
        """True once per key: marks it seen."""
        with self._lock:
            if key in self._entries:
                return False
            self._entries[key] = True
            if len(self._entries) > _MEMORY:
                self._entries.popitem(last=False)
            return True


class Emitter:
    """Shared event emission: tool calls, tool results and errors, linked through the ids they carry."""

    def __init__(self) -> None:
        self.calls = Memory()
        """tool-call id -> (tool_call event id, tool name)."""

    def tool_call(self, recorder: Recorder, parent: str | None, call_id: Any, name: Any, arguments: Any) -> str:
        """Record a tool call the model requested (content: its arguments) and remember it for its result."""
        attributes = {semconv.GEN_AI_TOOL_NAME: str(name), semconv.GEN_AI_OPERATION_NAME: "execute_tool"}
        if call_id:
            attributes[semconv.GEN_AI_TOOL_CALL_ID] = str(call_id)
        event_id = recorder.emit(
            EventType.TOOL_CALL,
            name=str(name),
            content=arguments if isinstance(arguments, str) or arguments is None else json.dumps(arguments),
            attributes=attributes,
            framework=SYSTEM,
            parent_id=parent,
        )
        if call_id:
            self.calls.put(str(call_id), (event_id, str(name)))
        return event_id

    def tool_result(self, recorder: Recorder, call_id: Any, output: Any, *, default_parent: str | None) -> None:
        """Record the output of a call the model requested; each call's result is recorded once."""
        known = self.calls.pop(str(call_id)) if call_id else None
        if known is None and default_parent is None:
            return  # a call this process never saw: its request is not ours to describe
        parent, name = known if known is not None else (default_parent, None)
        recorder.emit(
            EventType.TOOL_RESULT,
            name=name,
            content=render_content(output) if not isinstance(output, str) else output,
            attributes={semconv.GEN_AI_TOOL_CALL_ID: str(call_id)} if call_id else None,
            framework=SYSTEM,
            parent_id=parent,
            status=EventStatus.OK,
        )

    def error(self, recorder: Recorder, parent: str | None, error: BaseException) -> None:
        """Record an exception the SDK raised, with the HTTP status and API error code when it has them."""
        attributes: dict[str, Any] = {
            semconv.ESCAI_ERROR_TYPE: type(error).__name__,
            semconv.ESCAI_ERROR_MESSAGE: str(error),
        }
        status_code = getattr(error, "status_code", None)
        if isinstance(status_code, int):
            attributes[HTTP_RESPONSE_STATUS_CODE] = status_code
        code = getattr(error, "code", None)
        if isinstance(code, str):
            attributes[OPENAI_ERROR_CODE] = code
        recorder.emit(
            EventType.ERROR,
            name=type(error).__name__,
            content=str(error),
            attributes=attributes,
            framework=SYSTEM,
            parent_id=parent,
            status=EventStatus.ERROR,
        )


class LlmCall:
    """One chat-completions or responses call: its request event, and the response assembled for it."""

    def __init__(self, recorder: Recorder, emitter: Emitter, operation: str, kwargs: dict[str, Any]) -> None:
        self.recorder = recorder
        self.emitter = emitter
        self.operation = operation
        self.started = time.perf_counter()
        self.done = False
        scope_parent = current_scope().parent_id
        if operation == "chat":
            lines, outputs = self._chat_input(kwargs.get("messages"))
            max_tokens = number(kwargs.get("max_completion_tokens")) or number(kwargs.get("max_tokens"))
        else:
            lines, outputs = self._responses_input(kwargs.get("instructions"), kwargs.get("input"))
            max_tokens = number(kwargs.get("max_output_tokens"))
        for call_id, output in outputs:
            emitter.tool_result(recorder, call_id, output, default_parent=None)
        model = kwargs.get("model")
        attributes: dict[str, Any] = {semconv.GEN_AI_SYSTEM: SYSTEM, semconv.GEN_AI_OPERATION_NAME: operation}
        optional = {
            semconv.GEN_AI_REQUEST_MODEL: model if isinstance(model, str) else None,
            semconv.GEN_AI_REQUEST_TEMPERATURE: number(kwargs.get("temperature")),
            semconv.GEN_AI_REQUEST_MAX_TOKENS: max_tokens,
            GEN_AI_TOOL_DEFINITIONS: tool_names(kwargs.get("tools")) or None,
            ESCAI_LLM_STREAM: True if kwargs.get("stream") is True else None,
        }
        attributes.update({key: value for key, value in optional.items() if value is not None})
        self.request_id = recorder.emit(
            EventType.LLM_REQUEST,
            name=model if isinstance(model, str) else None,
            content="\n".join(lines),
            attributes=attributes,
            framework=SYSTEM,
            parent_id=scope_parent,
        )

    @staticmethod
    def _chat_input(messages: Any) -> tuple[list[str], list[tuple[Any, Any]]]:
        lines, outputs = [], []
        for message in _listed(messages):
            role = field(message, "role") or "user"
            if role == "tool":
                call_id = field(message, "tool_call_id")
                outputs.append((call_id, field(message, "content")))
                lines.append(f"tool[{call_id}]: {render_content(field(message, 'content'))}")
                continue
            text = render_content(field(message, "content"))
            calls = [_render_call(*chat_tool_call(call)[1:]) for call in _listed(field(message, "tool_calls"))]
            lines.append(f"{role}: " + "\n".join(part for part in [text, *calls] if part))
        return lines, outputs

    @staticmethod
    def _responses_input(instructions: Any, items: Any) -> tuple[list[str], list[tuple[Any, Any]]]:
        lines = [f"system: {instructions}"] if isinstance(instructions, str) else []
        outputs = []
        for item in [{"role": "user", "content": items}] if isinstance(items, str) else _listed(items):
            kind = field(item, "type")
            if kind == "function_call_output":
                outputs.append((field(item, "call_id"), field(item, "output")))
                lines.append(f"tool[{field(item, 'call_id')}]: {render_content(field(item, 'output'))}")
            elif kind == "function_call":
                lines.append(f"assistant: {_render_call(field(item, 'name'), field(item, 'arguments'))}")
            elif field(item, "role") is not None:
                lines.append(f"{field(item, 'role')}: {render_content(field(item, 'content'))}")
            else:
                lines.append(f"[{kind or 'item'}]")
        return lines, outputs

    def respond(
        self,
        *,
        text: str,
        calls: list[tuple[Any, Any, Any]],
        usage: Any,
        finish_reasons: list[str],
        model: Any,
        response_id: Any,
        status: EventStatus = EventStatus.OK,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Record the llm_response (once) and one tool_call under it per call the model requested."""
        if self.done:
            return
        self.done = True
        attributes: dict[str, Any] = {semconv.GEN_AI_SYSTEM: SYSTEM, **(extra or {})}
        if isinstance(model, str):
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
        if isinstance(response_id, str):
            attributes[GEN_AI_RESPONSE_ID] = response_id
        if finish_reasons:
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons
        prompt = field(usage, "prompt_tokens") if self.operation == "chat" else field(usage, "input_tokens")
        completion = field(usage, "completion_tokens") if self.operation == "chat" else field(usage, "output_tokens")
        response_event = self.recorder.emit(
            EventType.LLM_RESPONSE,
            name=model if isinstance(model, str) else None,
            content="\n".join(part for part in [text, *(_render_call(n, a) for _, n, a in calls)] if part) or None,
            attributes=attributes,
            framework=SYSTEM,
            parent_id=self.request_id,
            tokens_input=prompt if isinstance(prompt, int) else None,
            tokens_output=completion if isinstance(completion, int) else None,
            duration_ms=(time.perf_counter() - self.started) * 1000,
            status=status,
        )
        for call_id, name, arguments in calls:
            self.emitter.tool_call(self.recorder, response_event, call_id, name, arguments)

    def fail(self, error: BaseException) -> None:
        """The SDK raised: record the error under the request."""
        self.done = True
        self.emitter.error(self.recorder, self.request_id, error)

    def respond_chat(
        self, completion: Any, extra: dict[str, Any] | None = None, status: EventStatus = EventStatus.OK
    ) -> None:
        """Record a ChatCompletion (or a ChatCompletionChunk-assembled equivalent)."""
        texts: list[str] = []
        calls: list[tuple[Any, Any, Any]] = []
        reasons: list[str] = []
        for choice in field(completion, "choices") or []:
            message = field(choice, "message")
            texts.append(render_content(field(message, "content")) or render_content(field(message, "refusal")))
            calls.extend(chat_tool_call(call) for call in field(message, "tool_calls") or [])
            if field(choice, "finish_reason"):
                reasons.append(str(field(choice, "finish_reason")))
        self.respond(
            text="\n".join(text for text in texts if text),
            calls=calls,
            usage=field(completion, "usage"),
            finish_reasons=reasons,
            model=field(completion, "model"),
            response_id=field(completion, "id"),
            status=status,
            extra=extra,
        )

    def respond_responses(
        self, response: Any, extra: dict[str, Any] | None = None, status: EventStatus = EventStatus.OK
    ) -> None:
        """Record a Responses-API ``Response`` (final object, streamed or not)."""
        texts, calls = [], []
        for item in field(response, "output") or []:
            kind = field(item, "type")
            if kind == "message":
                texts.append(render_content(field(item, "content")))
            elif kind == "function_call":
                calls.append((field(item, "call_id"), field(item, "name"), field(item, "arguments")))
            elif isinstance(kind, str) and kind.endswith("_call"):
                texts.append(f"[{kind}]")  # a hosted tool (web search, file search, ...) the API ran itself
        state = field(response, "status")
        reason = field(field(response, "incomplete_details"), "reason")
        error = field(response, "error")
        if error is not None:
            texts.append(f"error {field(error, 'code')}: {field(error, 'message')}")
        self.respond(
            text="\n".join(text for text in texts if text),
            calls=calls,
            usage=field(response, "usage"),
            finish_reasons=[str(reason or state)] if state else [],
            model=field(response, "model"),
            response_id=field(response, "id"),
            status=EventStatus.ERROR if state == "failed" else status,
            extra=extra,
        )


class ChatAssembler:
    """Builds a ChatCompletion-shaped dict from streamed chunks: text, tool-call argument fragments, usage."""

    def __init__(self) -> None:
        self.model: Any = None
        self.response_id: Any = None
        self.usage: Any = None
        self.choices: dict[int, dict[str, Any]] = {}

    def add(self, chunk: Any) -> None:
        """Fold one ChatCompletionChunk in (an SDK model: read with getattr, this runs once per streamed chunk)."""
        self.model = getattr(chunk, "model", None) or self.model
        self.response_id = getattr(chunk, "id", None) or self.response_id
        self.usage = getattr(chunk, "usage", None) or self.usage
        for choice in getattr(chunk, "choices", None) or ():
            state = self.choices.get(choice.index)
            if state is None:
                state = self.choices[choice.index] = {"text": [], "calls": {}, "reason": None}
            delta = choice.delta
            if delta.content:
                state["text"].append(delta.content)
            for call in delta.tool_calls or ():
                slot = state["calls"].setdefault(call.index, {"id": None, "name": "", "arguments": []})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"].append(call.function.arguments or "")
            if choice.finish_reason:
                state["reason"] = choice.finish_reason

    def completion(self) -> dict[str, Any]:
        """The completion the chunks so far add up to."""
        choices = []
        for index in sorted(self.choices):
            state = self.choices[index]
            calls = [
                {"id": slot["id"], "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])}}
                for _, slot in sorted(state["calls"].items())
            ]
            message = {"content": "".join(state["text"]), "tool_calls": calls}
            choices.append({"message": message, "finish_reason": state["reason"]})
        return {"choices": choices, "model": self.model, "id": self.response_id, "usage": self.usage}


class ResponsesAssembler:
    """Keeps the final ``Response`` of a Responses-API stream, or the text and items seen before it ended."""

    def __init__(self) -> None:
        self.final: Any = None
        self.text: list[str] = []
        self.items: list[Any] = []
        self.errors: list[str] = []

    def add(self, event: Any) -> None:
        """Fold one ResponseStreamEvent in."""
        kind = field(event, "type")
        if kind in ("response.created", "response.completed", "response.incomplete", "response.failed"):
            self.final = field(event, "response")
        elif kind == "response.output_text.delta":
            self.text.append(field(event, "delta") or "")
        elif kind == "response.output_item.done":
            self.items.append(field(event, "item"))
        elif kind == "error":
            self.errors.append(f"error {field(event, 'code')}: {field(event, 'message')}")

    def response(self) -> Any:
        """The final Response, or a Response-shaped dict of what arrived before the stream stopped."""
        if self.final is not None and field(self.final, "status") != "in_progress":
            return self.final
        # The stream stopped before its final event: describe what arrived.
        output = [item for item in self.items if field(item, "type") == "function_call"]
        text = "".join(self.text) + "".join(f"\n{error}" for error in self.errors)
        return {
            "output": [{"type": "message", "content": text}, *output],
            "model": field(self.final, "model"),
            "id": field(self.final, "id"),
            "status": "failed" if self.errors else "incomplete",
        }


def observe_stream(
    stream: Any, on_item: Callable[[Any], None], on_end: Callable[[str, BaseException | None], None]
) -> None:
    """Swap the SDK stream's chunk iterator for a pass-through that reports chunks and the end of the stream."""
    original_iterator = stream._iterator

    def finish(outcome: str, error: BaseException | None = None) -> None:
        with internal_errors_handled("openai.stream.end"):
            on_end(outcome, error)

    if hasattr(original_iterator, "__anext__"):

        async def observed_async() -> AsyncIterator[Any]:
            try:
                async for item in original_iterator:
                    try:
                        on_item(item)
                    except Exception as error:  # a plain try: this runs once per chunk, a context manager costs more
                        report_internal_error("openai.stream.chunk", error)
                    yield item
            except GeneratorExit:
                finish("closed_early")
                raise
            except BaseException as error:
                finish("error", error)
                raise
            finish("completed")

        original_aclose = stream.close

        async def close_async() -> None:
            try:
                await original_aclose()
            finally:
                finish("closed_early")

        stream._iterator = observed_async()
        stream.close = close_async
        return

    def observed() -> Iterator[Any]:
        try:
            for item in original_iterator:
                try:
                    on_item(item)
                except Exception as error:  # a plain try: this runs once per chunk, a context manager costs more
                    report_internal_error("openai.stream.chunk", error)
                yield item
        except GeneratorExit:
            finish("closed_early")
            raise
        except BaseException as error:
            finish("error", error)
            raise
        finish("completed")

    original_close = stream.close

    def close() -> None:
        try:
            original_close()
        finally:
            finish("closed_early")

    stream._iterator = observed()
    stream.close = close


def record_result(call: LlmCall, result: Any, stream_types: tuple[type, ...]) -> None:
    """Record what the SDK returned: a model now, a stream when it ends (observed in place), else no content."""
    if isinstance(result, stream_types):
        assembler: ChatAssembler | ResponsesAssembler = (
            ChatAssembler() if call.operation == "chat" else ResponsesAssembler()
        )

        def on_end(outcome: str, error: BaseException | None) -> None:
            if call.done:
                return
            extra = {ESCAI_LLM_STREAM_OUTCOME: outcome}
            status = EventStatus.ERROR if error is not None else EventStatus.OK
            if isinstance(assembler, ChatAssembler):
                call.respond_chat(assembler.completion(), extra, status)
            else:
                call.respond_responses(assembler.response(), extra, status)
            if error is not None:
                call.emitter.error(call.recorder, call.request_id, error)

        observe_stream(result, assembler.add, on_end)
    elif field(result, "choices") is not None:
        call.respond_chat(result)
    elif field(result, "output") is not None:
        call.respond_responses(result)
    else:
        # A with_streaming_response body that the caller has not read yet: reading it here would disturb them.
        call.respond(text="", calls=[], usage=None, finish_reasons=[], model=None, response_id=None)
