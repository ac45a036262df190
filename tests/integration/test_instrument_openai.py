"""The OpenAI SDK instrumentor, tested by running the real SDK offline against a scripted fake API.

The clients are the real ``openai.OpenAI``/``AsyncOpenAI`` with an httpx ``MockTransport`` that answers each
request with the next scripted JSON body, SSE stream or HTTP error, exactly as the API would, so the SDK's own
request building, parsing, streaming and error raising all run. Each scenario's whole captured event tree
(kinds, names, parent links, content, tokens, status, attributes) is compared with a snapshot under
``snapshots/openai/``; ``ESCAI_UPDATE_SNAPSHOTS=1`` rewrites them.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.resources.beta.threads.runs.runs import AsyncRuns, Runs
from openai.resources.beta.threads.runs.steps import AsyncSteps, Steps
from openai.resources.beta.threads.threads import AsyncThreads, Threads
from openai.resources.chat.completions.completions import AsyncCompletions, Completions
from openai.resources.responses.responses import AsyncResponses, Responses

from escai.instrument.base import InstrumentationError
from escai.instrument.openai import OpenAIInstrumentor, instrument_openai, uninstrument_openai
from escai.sdk.errors import swallow_internal_errors
from escai.sdk.memory_exporter import InMemoryExporter
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import set_recorder
from escai.testing import CapturedEvents, capture_events

SNAPSHOTS = Path(__file__).parent / "snapshots" / "openai"
ASSISTANTS_DEPRECATED = pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning")
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
PATCHED = [
    (Completions, "create"),
    (Completions, "parse"),
    (AsyncCompletions, "create"),
    (AsyncCompletions, "parse"),
    (Responses, "create"),
    (Responses, "parse"),
    (AsyncResponses, "create"),
    (AsyncResponses, "parse"),
    (Runs, "create"),
    (Runs, "retrieve"),
    (Runs, "submit_tool_outputs"),
    (AsyncRuns, "create"),
    (AsyncRuns, "retrieve"),
    (AsyncRuns, "submit_tool_outputs"),
    (Threads, "create_and_run"),
    (AsyncThreads, "create_and_run"),
    (Steps, "retrieve"),
    (Steps, "list"),
    (AsyncSteps, "retrieve"),
    (AsyncSteps, "list"),
]


# --- the scripted fake API ---------------------------------------------------------------------------------------


class ScriptedAPI:
    """Answers each HTTP request with the next scripted reply and keeps the requests it saw."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The transport's handler: the next reply."""
        self.requests.append(request)
        return self.replies.pop(0)

    def client(self) -> openai.OpenAI:
        """A real sync client whose HTTP goes to this script (no retries, so an error surfaces at once)."""
        http_client = httpx.Client(transport=httpx.MockTransport(self))
        return openai.OpenAI(api_key="sk-test", base_url="http://api.test/v1", http_client=http_client, max_retries=0)

    def async_client(self) -> openai.AsyncOpenAI:
        """A real async client whose HTTP goes to this script."""
        http_client = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return openai.AsyncOpenAI(
            api_key="sk-test", base_url="http://api.test/v1", http_client=http_client, max_retries=0
        )


def reply(body: dict[str, Any], status: int = 200) -> httpx.Response:
    """A JSON reply."""
    return httpx.Response(status, json=body, headers={"x-request-id": "req_test"})


def sse(*events: dict[str, Any], named: bool = False, done: bool = True) -> httpx.Response:
    """A server-sent-event stream; ``named`` adds ``event:`` lines as the Responses and Assistants APIs send."""
    lines = [(f"event: {event['type']}\n" if named else "") + f"data: {json.dumps(event)}\n\n" for event in events]
    body = "".join(lines) + ("data: [DONE]\n\n" if done else "")
    return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})


def api_error(status: int, message: str, code: str) -> httpx.Response:
    """An API error body as OpenAI sends it."""
    return reply({"error": {"message": message, "type": "requests", "code": code, "param": None}}, status)


def completion(content: str | None = None, calls: Sequence[tuple[str, str, str]] = (), **usage: int) -> dict[str, Any]:
    """A chat.completion body with text and/or tool calls."""
    tool_calls = [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        for call_id, name, arguments in calls
    ]
    message = {"role": "assistant", "content": content, **({"tool_calls": tool_calls} if tool_calls else {})}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {
            "prompt_tokens": usage.get("prompt", 30),
            "completion_tokens": usage.get("completion", 9),
            "total_tokens": usage.get("prompt", 30) + usage.get("completion", 9),
        },
    }


def chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    """A chat.completion.chunk; ``delta=None`` is the final usage-only chunk of ``include_usage``."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o-mini"}
    return {**body, "choices": choices, "usage": usage}


STREAM_CHUNKS = [
    chunk({"role": "assistant", "content": "Let me "}),
    chunk({"content": "check."}),
    chunk(
        {
            "tool_calls": [
                {"index": 0, "id": "call_s1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
    chunk({}, finish="tool_calls"),
    chunk(None, usage={"prompt_tokens": 41, "completion_tokens": 17, "total_tokens": 58}),
]
STREAM_REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Weather in Oslo?"}],
    "tools": [WEATHER_TOOL],
    "stream": True,
    "stream_options": {"include_usage": True},
}


# --- fixtures and snapshot comparison ----------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[CapturedEvents]:
    """An in-memory recorder with the OpenAI SDK instrumented for the test, uninstrumented afterwards."""
    with capture_events() as events:
        instrument_openai()
        try:
            yield events
        finally:
            uninstrument_openai()


def assert_matches_snapshot(name: str, captured: CapturedEvents) -> list[dict[str, Any]]:
    """Compare the captured tree (with attributes) with ``snapshots/openai/<name>.json``; rewrite it on request."""
    tree = captured.tree()
    for node, event in zip(tree, captured.events(), strict=True):
        assert event.framework == "openai"
        node["attributes"] = event.attributes
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("ESCAI_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tree, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no snapshot {path}: run with ESCAI_UPDATE_SNAPSHOTS=1"
    assert json.loads(json.dumps(tree)) == json.loads(path.read_text())
    return tree


# --- chat completions --------------------------------------------------------------------------------------------


def test_chat_completion_records_request_response_and_tool_result(captured: CapturedEvents) -> None:
    """A tool-using exchange: request, response, its tool call, and the tool result the next request carries."""
    api = ScriptedAPI(
        reply(completion(None, [("call_1", "get_weather", '{"city": "Paris"}')], prompt=52, completion=18)),
        reply(completion("It is 18 °C and sunny in Paris.", prompt=80, completion=12)),
    )
    client = api.client()
    messages: list[Any] = [
        {"role": "system", "content": "You are a weather assistant."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    ]
    first = client.chat.completions.create(
        model="gpt-4o",
        messages=messages,
        tools=[WEATHER_TOOL],
        temperature=0.2,
        max_completion_tokens=256,
    )
    assert first.choices[0].message.tool_calls is not None
    messages += [first.choices[0].message, {"role": "tool", "tool_call_id": "call_1", "content": "18 °C, sunny"}]
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    final = raw.parse()
    assert final.choices[0].message.content == "It is 18 °C and sunny in Paris."
    assert json.loads(api.requests[0].content)["temperature"] == 0.2
    assert_matches_snapshot("chat_tool_exchange", captured)


async def test_async_chat_completion(captured: CapturedEvents) -> None:
    """The async client records the same request/response pair, with tokens and finish reason."""
    api = ScriptedAPI(reply(completion("Bonjour !", prompt=11, completion=3)))
    result = await api.async_client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hello in French"}], max_tokens=20
    )
    assert result.choices[0].message.content == "Bonjour !"
    assert_matches_snapshot("chat_async", captured)


def stream_reference() -> list[dict[str, Any]]:
    """The chunks the uninstrumented SDK yields for ``STREAM_CHUNKS``, as plain data."""
    with ScriptedAPI(sse(*STREAM_CHUNKS)).client().chat.completions.create(**STREAM_REQUEST) as stream:
        return [item.model_dump() for item in stream]


def test_chat_stream_hands_the_caller_the_same_chunks(captured: CapturedEvents) -> None:
    """A streamed call yields exactly the SDK's chunks, and the response is assembled from their deltas."""
    uninstrument_openai()
    expected = stream_reference()
    instrument_openai()
    client = ScriptedAPI(sse(*STREAM_CHUNKS)).client()
    produced: list[Any] = []
    parse_chunk = client._process_response_data

    def spy(**kwargs: Any) -> Any:
        """The SDK's own chunk parser, remembering each object it builds."""
        produced.append(parse_chunk(**kwargs))
        return produced[-1]

    client._process_response_data = spy  # type: ignore[method-assign]
    stream = client.chat.completions.create(**STREAM_REQUEST)
    assert type(stream) is openai.Stream
    received = list(stream)
    assert [item.model_dump() for item in received] == expected
    assert len(received) == len(produced) and all(got is made for got, made in zip(received, produced, strict=True))
    tree = assert_matches_snapshot("chat_stream", captured)
    assert tree[1]["content"] == 'Let me check.\n-> get_weather({"city": "Oslo"})'


async def test_async_chat_stream_hands_the_caller_the_same_chunks(captured: CapturedEvents) -> None:
    """The async stream yields exactly the SDK's chunks and records one assembled response."""
    uninstrument_openai()
    expected = stream_reference()
    instrument_openai()
    stream = await ScriptedAPI(sse(*STREAM_CHUNKS)).async_client().chat.completions.create(**STREAM_REQUEST)
    assert type(stream) is openai.AsyncStream
    async with stream:
        received = [item.model_dump() async for item in stream]
    assert received == expected
    assert_matches_snapshot("chat_stream_async", captured)


def test_stream_left_early_records_the_partial_response(captured: CapturedEvents) -> None:
    """Breaking out of a stream inside its context manager records what arrived, marked closed_early."""
    with ScriptedAPI(sse(*STREAM_CHUNKS)).client().chat.completions.create(**STREAM_REQUEST) as stream:
        for item in stream:
            if item.choices and item.choices[0].delta.content == "check.":
                break
    events = captured.events()
    assert [event.type.value for event in events] == ["llm_request", "llm_response"]
    assert events[1].content == "Let me check."
    assert events[1].attributes["escai.llm.stream_outcome"] == "closed_early"
    assert events[1].tokens_input is None


def test_stream_abandoned_without_close_is_recorded_when_collected(captured: CapturedEvents) -> None:
    """A stream the caller breaks out of and drops (no close) still gets its partial response once collected."""
    stream = ScriptedAPI(sse(*STREAM_CHUNKS)).client().chat.completions.create(**STREAM_REQUEST)
    next(stream)
    assert [event.type.value for event in captured.events()] == ["llm_request"]
    del stream
    gc.collect()
    events = captured.events()
    assert [event.type.value for event in events] == ["llm_request", "llm_response"]
    assert events[1].content == "Let me " and events[1].attributes["escai.llm.stream_outcome"] == "closed_early"


class CityAnswer(pydantic.BaseModel):
    """A structured output for ``parse``."""

    city: str


def test_parse_and_stream_helpers_are_recorded(captured: CapturedEvents) -> None:
    """chat.completions.parse (which posts without create) and the stream() helper (which uses create) are recorded."""
    api = ScriptedAPI(reply(completion('{"city": "Paris"}')), sse(*STREAM_CHUNKS))
    client = api.client()
    parsed = client.chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "Capital of France?"}], response_format=CityAnswer
    )
    assert parsed.choices[0].message.parsed == CityAnswer(city="Paris")
    helper_request = {key: value for key, value in STREAM_REQUEST.items() if key != "stream"}
    with client.chat.completions.stream(**helper_request) as stream:
        assert stream.get_final_completion().choices[0].message.tool_calls
    events = captured.events()
    assert [event.type.value for event in events] == ["llm_request", "llm_response"] * 2 + ["tool_call"]
    assert events[1].content == '{"city": "Paris"}'
    assert events[3].content == 'Let me check.\n-> get_weather({"city": "Oslo"})'
    assert events[3].tokens_input == 41


# --- responses API -----------------------------------------------------------------------------------------------


def response_body(output: list[dict[str, Any]], response_id: str, status: str = "completed") -> dict[str, Any]:
    """A Responses-API ``response`` object."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1700000000,
        "model": "gpt-4.1-2025-04-14",
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": 25, "output_tokens": 8, "total_tokens": 33},
    }


FUNCTION_CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_r1",
    "name": "get_weather",
    "arguments": '{"city": "Rome"}',
    "status": "completed",
}
ANSWER = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Rome: 24 °C.", "annotations": []}],
}


def response_stream(final: dict[str, Any]) -> httpx.Response:
    """The event stream the Responses API sends for a one-message answer ending with ``final``."""
    message = final["output"][0]
    location = {"item_id": message["id"], "output_index": 0, "content_index": 0}
    text = message["content"][0]["text"]
    events = [
        {"type": "response.created", "response": {**final, "status": "in_progress", "output": []}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            **location,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        *(
            {"type": "response.output_text.delta", **location, "delta": piece, "logprobs": []}
            for piece in (text[:6], text[6:])
        ),
        {"type": "response.output_text.done", **location, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **location, "part": message["content"][0]},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": final},
    ]
    return sse(*({**event, "sequence_number": number} for number, event in enumerate(events)), named=True, done=False)


def test_responses_api_with_function_call_and_stream(captured: CapturedEvents) -> None:
    """Responses: a function call, then a streamed answer to its output, recorded from the final event."""
    api = ScriptedAPI(
        reply(response_body([FUNCTION_CALL], "resp_1")), response_stream(response_body([ANSWER], "resp_2"))
    )
    client = api.client()
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    first = client.responses.create(model="gpt-4.1", instructions="Be brief.", input="Weather in Rome?", tools=tools)
    assert first.output[0].type == "function_call"
    follow_up: Any = [{"type": "function_call_output", "call_id": "call_r1", "output": "24 °C"}]
    stream = client.responses.create(model="gpt-4.1", input=follow_up, previous_response_id="resp_1", stream=True)
    kinds = [event.type for event in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed" and len(kinds) == 9
    assert_matches_snapshot("responses", captured)


async def test_async_responses_api_and_stream_helper(captured: CapturedEvents) -> None:
    """The async Responses resource records a plain call, and the SDK's stream() helper (which calls create)."""
    api = ScriptedAPI(reply(response_body([ANSWER], "resp_3")), response_stream(response_body([ANSWER], "resp_4")))
    client = api.async_client()
    result = await client.responses.create(model="gpt-4.1", input=[{"role": "user", "content": "Rome?"}])
    assert result.output_text == "Rome: 24 °C."
    async with client.responses.stream(model="gpt-4.1", input="Rome again?", temperature=0) as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        assert (await stream.get_final_response()).id == "resp_4"
    assert deltas == ["Rome: ", "24 °C."]
    assert_matches_snapshot("responses_async", captured)


# --- failures and loops ------------------------------------------------------------------------------------------


def test_failing_calls_record_errors_and_reraise_unchanged(captured: CapturedEvents) -> None:
    """A 429, then a stream that fails mid-way: errors are recorded under their request and reach the caller as is."""
    api = ScriptedAPI(
        api_error(429, "Rate limit reached for gpt-4o", "rate_limit_exceeded"),
        sse(
            chunk({"role": "assistant", "content": "Par"}),
            {"error": {"message": "The server is overloaded", "type": "server_error"}},
        ),
    )
    client = api.client()
    with pytest.raises(openai.RateLimitError) as rate_limited:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert rate_limited.value.status_code == 429
    assert "openai" in str(rate_limited.traceback[-1].path)  # raised by the SDK, not re-created by ESCAI
    with pytest.raises(openai.APIError, match="overloaded"):
        for _ in client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
        ):
            pass
    assert_matches_snapshot("failing_calls", captured)


async def test_async_server_error_is_recorded(captured: CapturedEvents) -> None:
    """An HTTP 500 on the async client raises InternalServerError and records it with its status code."""
    api = ScriptedAPI(api_error(500, "The server had an error", "server_error"))
    with pytest.raises(openai.InternalServerError):
        await api.async_client().responses.create(model="gpt-4.1", input="Hi")
    events = captured.events()
    assert [(event.type.value, event.status.value) for event in events] == [
        ("llm_request", "unset"),
        ("error", "error"),
    ]
    assert events[1].parent_id == events[0].id
    assert events[1].attributes["http.response.status_code"] == 500


def run_weather_agent(client: openai.OpenAI, question: str, max_turns: int = 5) -> str | None:
    """A tiny agent loop: call the model, run the tools it asks for, stop at an answer or after ``max_turns``."""
    messages: list[Any] = [{"role": "user", "content": question}]
    for _ in range(max_turns):
        message = (
            client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL]).choices[0].message
        )
        if not message.tool_calls:
            return message.content
        messages.append(message)
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "no data for that city"})
    return None


def test_looping_model_shows_five_identical_tool_calls(captured: CapturedEvents) -> None:
    """A model that asks for the same tool call five times in a row: each turn is recorded, none merged away."""
    looping = completion(None, [("call_loop", "get_weather", '{"city": "Atlantis"}')], prompt=40, completion=10)
    api = ScriptedAPI(*(reply(looping) for _ in range(5)))
    assert run_weather_agent(api.client(), "Weather in Atlantis?") is None
    tree = assert_matches_snapshot("looping_model", captured)
    calls = [node for node in tree if node["type"] == "tool_call"]
    assert len(calls) == 5 and len({node["content"] for node in calls}) == 1
    assert [node["type"] for node in tree].count("tool_result") == 4


# --- assistants (deprecated in the SDK, still present in 3.x) ----------------------------------------------------


def run_body(status: str, **extra: Any) -> dict[str, Any]:
    """An Assistants ``thread.run`` object."""
    body = {
        "id": "run_1",
        "object": "thread.run",
        "created_at": 1700000000,
        "assistant_id": "asst_weather",
        "thread_id": "thread_1",
        "status": status,
        "model": "gpt-4o",
        "instructions": "You answer weather questions.",
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": True,
        "temperature": 0.5,
    }
    return {**body, **extra}


def step_body(step_id: str, details: dict[str, Any], status: str = "completed", **usage: int) -> dict[str, Any]:
    """A ``thread.run.step`` object."""
    return {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": 1700000001,
        "assistant_id": "asst_weather",
        "thread_id": "thread_1",
        "run_id": "run_1",
        "status": status,
        "type": details["type"],
        "step_details": details,
        "usage": {
            "prompt_tokens": usage.get("prompt", 0),
            "completion_tokens": usage.get("completion", 0),
            "total_tokens": 0,
        },
    }


REQUIRED_ACTION = {
    "type": "submit_tool_outputs",
    "submit_tool_outputs": {
        "tool_calls": [
            {"id": "call_a1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'}}
        ]
    },
}


@ASSISTANTS_DEPRECATED
def test_assistants_run_with_polling_tool_outputs_and_steps(captured: CapturedEvents) -> None:
    """A polled run: one start, the required tool call once, its submitted output, the steps, one end with usage."""
    tool_step = {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": "call_a1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Lima"}', "output": "19 °C"},
            }
        ],
    }
    message_step = {"type": "message_creation", "message_creation": {"message_id": "msg_9"}}
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    api = ScriptedAPI(
        reply(run_body("queued")),
        reply(run_body("in_progress")),
        reply(run_body("requires_action", required_action=REQUIRED_ACTION)),
        reply(run_body("requires_action", required_action=REQUIRED_ACTION)),  # polled again: nothing new
        reply(run_body("queued")),
        reply(run_body("completed", completed_at=1700000004, usage=usage)),
        reply(
            {
                "object": "list",
                "data": [
                    step_body("step_1", tool_step, prompt=70, completion=20),
                    step_body("step_2", message_step, prompt=50, completion=10),
                ],
                "first_id": "step_1",
                "last_id": "step_2",
                "has_more": False,
            }
        ),
    )
    runs = api.client().beta.threads.runs
    run = runs.create_and_poll(thread_id="thread_1", assistant_id="asst_weather", poll_interval_ms=0)
    assert run.status == "requires_action"
    assert runs.retrieve("run_1", thread_id="thread_1").status == "requires_action"
    run = runs.submit_tool_outputs_and_poll(
        run_id="run_1",
        thread_id="thread_1",
        tool_outputs=[{"tool_call_id": "call_a1", "output": "19 °C"}],
        poll_interval_ms=0,
    )
    assert run.status == "completed"
    assert [step.id for step in runs.steps.list("run_1", thread_id="thread_1")] == ["step_1", "step_2"]
    assert_matches_snapshot("assistants_run", captured)


@ASSISTANTS_DEPRECATED
async def test_async_assistants_failed_run(captured: CapturedEvents) -> None:
    """An async run that fails: its code-interpreter step, the run's error, and an agent_end with status error."""
    interpreter = {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": "ci_1",
                "type": "code_interpreter",
                "code_interpreter": {"input": "2 + 2", "outputs": [{"type": "logs", "logs": "4"}]},
            }
        ],
    }
    error = {"code": "rate_limit_exceeded", "message": "Rate limit reached during the run"}
    api = ScriptedAPI(
        reply(run_body("queued")),
        reply(run_body("failed", failed_at=1700000002, last_error=error)),
        reply(
            {
                "object": "list",
                "data": [step_body("step_ci", interpreter, prompt=30, completion=5)],
                "first_id": "step_ci",
                "last_id": "step_ci",
                "has_more": False,
            }
        ),
    )
    beta = api.async_client().beta
    await beta.threads.create_and_run(
        assistant_id="asst_weather", thread={"messages": [{"role": "user", "content": "2+2?"}]}
    )
    failed = await beta.threads.runs.retrieve("run_1", thread_id="thread_1")
    assert failed.last_error is not None
    page = await beta.threads.runs.steps.list("run_1", thread_id="thread_1")
    assert [step.id for step in page.data] == ["step_ci"]
    assert_matches_snapshot("assistants_failed_run_async", captured)


def assistant_stream(*events: tuple[str, dict[str, Any]]) -> httpx.Response:
    """An Assistants event stream: ``event:`` names the event, ``data:`` carries the run or step."""
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    return httpx.Response(
        200, content=(body + "event: done\ndata: [DONE]\n\n").encode(), headers={"content-type": "text/event-stream"}
    )


@ASSISTANTS_DEPRECATED
def test_streamed_assistants_run(captured: CapturedEvents) -> None:
    """A streamed run and a streamed tool-output submission: runs and steps are read from the events in passing."""
    tool_step = {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": "call_a1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Lima"}', "output": "19 °C"},
            }
        ],
    }
    usage = {"prompt_tokens": 90, "completion_tokens": 25, "total_tokens": 115}
    api = ScriptedAPI(
        assistant_stream(
            ("thread.run.created", run_body("queued")),
            ("thread.run.in_progress", run_body("in_progress")),
            ("thread.run.step.created", step_body("step_1", tool_step, status="in_progress")),
            ("thread.run.requires_action", run_body("requires_action", required_action=REQUIRED_ACTION)),
        ),
        assistant_stream(
            ("thread.run.queued", run_body("queued")),
            ("thread.run.step.completed", step_body("step_1", tool_step, prompt=60, completion=15)),
            ("thread.run.completed", run_body("completed", completed_at=1700000003, usage=usage)),
        ),
    )
    runs = api.client().beta.threads.runs
    first = [event.event for event in runs.create("thread_1", assistant_id="asst_weather", stream=True)]
    assert first == [
        "thread.run.created",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.requires_action",
    ]
    outputs: Any = [{"tool_call_id": "call_a1", "output": "19 °C"}]
    with runs.submit_tool_outputs("run_1", thread_id="thread_1", tool_outputs=outputs, stream=True) as stream:
        assert [event.event for event in stream][-1] == "thread.run.completed"
    assert_matches_snapshot("assistants_streamed_run", captured)


# --- the instrumentor contract -----------------------------------------------------------------------------------


def test_instrument_is_idempotent_and_uninstrument_restores_every_original() -> None:
    """instrument twice patches once; uninstrument puts the very same function objects back and records nothing."""
    originals = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}
    assert instrument_openai() is True
    try:
        assert instrument_openai() is False
        for (owner, name), original in originals.items():
            assert owner.__dict__[name] is not original
            assert owner.__dict__[name].__wrapped__ is original
        # No recorder installed: the wrappers call straight through.
        assert ScriptedAPI(reply(completion("ok"))).client().chat.completions.create(model="m", messages=[]).id
        cached_raw = ScriptedAPI(reply(completion("ok"))).client().chat.completions.with_raw_response
    finally:
        assert uninstrument_openai() is True
    assert uninstrument_openai() is False
    for (owner, name), original in originals.items():
        assert owner.__dict__[name] is original
    with capture_events() as captured:
        ScriptedAPI(reply(completion("ok"))).client().chat.completions.create(model="m", messages=[])
        # A raw-response helper cached while instrumented still holds the wrapper: it must now pass straight through.
        cached_raw.create(model="m", messages=[])
        assert captured.events() == []


def test_unsupported_or_missing_sdk_is_refused_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A version outside the range, or a missing package, raises InstrumentationError and patches nothing."""
    original = Completions.__dict__["create"]
    monkeypatch.setattr(OpenAIInstrumentor, "min_version", "99.0")
    with pytest.raises(InstrumentationError, match=r"supported: >=99\.0"):
        instrument_openai()
    monkeypatch.setattr(OpenAIInstrumentor, "distribution", "openai-not-installed")
    with pytest.raises(InstrumentationError, match=r"pip install 'escai\[openai\]'"):
        instrument_openai()
    assert Completions.__dict__["create"] is original
    assert not OpenAIInstrumentor.instance().is_instrumented


class ExplodingRecorder(Recorder):
    """A recorder whose emit fails for some event types, to prove the wrappers never raise into the caller."""

    def __init__(self, failing: set[str]) -> None:
        super().__init__(InMemoryExporter(), default_session_id="s", default_agent_id="a")
        self.failing = failing

    def emit(self, type: Any, **kwargs: Any) -> str:
        """Fail for the chosen types, record the others."""
        if str(type) in self.failing:
            raise RuntimeError("recorder is broken")
        return super().emit(type, **kwargs)


@pytest.mark.parametrize("failing", [{"llm_request"}, {"llm_response", "error"}, {"tool_call", "tool_result"}])
async def test_a_failing_recorder_never_reaches_the_caller(failing: set[str]) -> None:
    """With a broken recorder, results, streamed chunks and API errors reach the caller exactly as without ESCAI."""
    recorder = ExplodingRecorder(failing)
    previous = set_recorder(recorder)
    instrument_openai()
    try:
        with swallow_internal_errors():
            api = ScriptedAPI(
                reply(completion(None, [("call_1", "get_weather", "{}")])),
                sse(*STREAM_CHUNKS),
                api_error(429, "slow down", "rate_limit_exceeded"),
            )
            client = api.client()
            assert client.chat.completions.create(model="m", messages=[]).choices[0].message.tool_calls
            assert len(list(client.chat.completions.create(**STREAM_REQUEST))) == len(STREAM_CHUNKS)
            with pytest.raises(openai.RateLimitError, match="slow down"):
                client.chat.completions.create(
                    model="m", messages=[{"role": "tool", "tool_call_id": "call_1", "content": "x"}]
                )
            async_api = ScriptedAPI(sse(*STREAM_CHUNKS))
            stream = await async_api.async_client().chat.completions.create(**STREAM_REQUEST)
            assert len([item async for item in stream]) == len(STREAM_CHUNKS)
    finally:
        uninstrument_openai()
        set_recorder(previous)
        recorder.shutdown()


def test_importing_the_instrumentor_does_not_import_openai() -> None:
    """The SDK is imported only by instrument_openai(), so ESCAI works without the openai extra installed."""
    code = "import sys, escai.instrument.openai; assert 'openai' not in sys.modules, 'openai imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)
