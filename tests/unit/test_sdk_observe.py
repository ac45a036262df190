"""@escai.observe: call/result event pairs with parent links, for sync, async and generator functions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import escai
from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.sdk.errors import swallow_internal_errors
from escai.sdk.observe import OBSERVE_PHASE, OBSERVE_YIELDED
from escai.sdk.render import MAX_CHARS
from escai.testing import capture_events


@escai.observe(kind="tool")
def search(query: str, limit: int = 2) -> list[str]:
    """A tool."""
    return [f"{query}-{index}" for index in range(limit)]


@escai.observe(kind="agent", name="planner")
def plan(task: str) -> list[str]:
    """An agent that calls a tool."""
    return search(task, limit=1)


class Failure(Exception):
    """The error observed functions raise."""


@escai.observe(kind="tool")
def broken(value: int) -> int:
    """A tool that fails."""
    raise Failure(f"cannot handle {value}")


def test_nested_calls_form_a_tree() -> None:
    """An agent calling a tool: start/end pairs, arguments and results as content, the tool under the agent."""
    with capture_events() as captured, escai.session("find hubble", agent_id="bot"):
        assert plan("hubble") == ["hubble-0"]
    session = {"agent": "bot", "name": None}
    planner = {"agent": "bot", "name": "planner"}
    tool = {"agent": "bot", "name": "search"}
    assert captured.tree() == [
        {**session, "type": "session_start", "parent": None, "status": "ok", "content": "find hubble"},
        {**planner, "type": "agent_start", "parent": 0, "status": "unset", "content": '{"task":"hubble"}'},
        {**tool, "type": "tool_call", "parent": 1, "status": "unset", "content": '{"query":"hubble","limit":1}'},
        {**tool, "type": "tool_result", "parent": 2, "status": "ok", "content": '["hubble-0"]'},
        {**planner, "type": "agent_end", "parent": 1, "status": "ok", "content": '["hubble-0"]'},
        {**session, "type": "session_end", "parent": 0, "status": "ok", "content": None},
    ]
    events = captured.events()
    assert events[2].attributes[semconv.GEN_AI_TOOL_NAME] == "search"
    assert events[2].attributes[semconv.OPENINFERENCE_SPAN_KIND] == "TOOL"
    assert events[3].duration_ms is not None and events[3].duration_ms >= 0


def test_errors_are_recorded_and_re_raised_unchanged() -> None:
    """A raising function emits an error event and a failed result, and the caller gets the very same exception."""
    with capture_events() as captured, pytest.raises(Failure) as raised:
        broken(7)
    assert str(raised.value) == "cannot handle 7"
    assert raised.traceback[-1].name == "broken"  # the original frame is still where it was raised
    call, error, result = captured.events()
    assert (call.type, error.type, result.type) == (EventType.TOOL_CALL, EventType.ERROR, EventType.TOOL_RESULT)
    assert error.parent_id == call.id and result.parent_id == call.id
    assert error.attributes[semconv.ESCAI_ERROR_TYPE] == "Failure"
    assert result.status is EventStatus.ERROR and result.content == "Failure: cannot handle 7"


async def test_async_functions_and_concurrent_tasks_keep_their_own_parents() -> None:
    """Two concurrent async agents: each tool call hangs under its own agent, whatever the interleaving."""

    @escai.observe(kind="tool")
    async def fetch(url: str) -> str:
        await asyncio.sleep(0.01)
        return url.upper()

    @escai.observe(kind="agent")
    async def worker(url: str) -> str:
        return await fetch(url)

    with capture_events() as captured:
        assert await asyncio.gather(worker("a"), worker("b")) == ["A", "B"]
    events = captured.events()
    by_id = {event.id: event for event in events}
    calls = [event for event in events if event.type is EventType.TOOL_CALL]
    assert {by_id[call.parent_id].content for call in calls if call.parent_id} == {'{"url":"a"}', '{"url":"b"}'}
    for call in calls:
        assert call.parent_id is not None
        assert by_id[call.parent_id].content == call.content  # the agent's argument is the tool's argument


def test_generators_last_until_exhausted_and_count_their_items() -> None:
    """A generator's call covers its iteration; events emitted while consuming are not under it."""

    @escai.observe(kind="chain")
    def numbers(count: int) -> Iterator[int]:
        yield from range(count)

    @escai.observe(kind="tool")
    def consume(value: int) -> int:
        return value * 10

    with capture_events() as captured:
        assert [consume(number) for number in numbers(2)] == [0, 10]
    tree = captured.tree(content=False)
    assert [(node["type"], node["parent"]) for node in tree] == [
        ("custom", None),
        ("tool_call", None),  # consumed outside the generator's scope: not a child of the chain
        ("tool_result", 1),
        ("tool_call", None),
        ("tool_result", 3),
        ("custom", 0),
    ]
    events = captured.events()
    assert events[0].attributes[OBSERVE_PHASE] == "start" and events[-1].attributes[OBSERVE_PHASE] == "end"
    assert events[-1].attributes[OBSERVE_YIELDED] == 2 and events[-1].content == "[0,1]"


def test_generator_closed_early_and_failing_generator() -> None:
    """Closing a generator early ends its call ok; a generator that raises ends it with an error, re-raised."""

    @escai.observe
    def endless() -> Iterator[int]:
        number = 0
        while True:
            yield number
            number += 1

    @escai.observe
    def failing() -> Iterator[int]:
        yield 1
        raise Failure("mid-stream")

    with capture_events() as captured:
        stream = endless()
        assert [next(stream), next(stream)] == [0, 1]
        stream.close()
        with pytest.raises(Failure, match="mid-stream"):
            list(failing())
    events = captured.events()
    assert [(event.type.value, event.status.value) for event in events] == [
        ("custom", "unset"),
        ("custom", "ok"),
        ("custom", "unset"),
        ("error", "error"),
        ("custom", "error"),
    ]
    assert events[1].attributes[OBSERVE_YIELDED] == 2


def test_generator_send_and_throw_reach_the_wrapped_generator() -> None:
    """send() and throw() on the observed generator are passed through unchanged."""

    @escai.observe
    def echo() -> Iterator[Any]:
        received = None
        while True:
            try:
                received = yield received
            except KeyError:
                received = "caught"

    with capture_events():
        generator = echo()
        assert next(generator) is None
        assert generator.send("hello") == "hello"
        assert generator.throw(KeyError("x")) == "caught"
        generator.close()


async def test_async_generators() -> None:
    """An async generator's items pass through; its call ends when it is exhausted."""

    @escai.observe(kind="llm", name="stream")
    async def tokens() -> AsyncIterator[str]:
        for token in ("a", "b", "c"):
            await asyncio.sleep(0)
            yield token

    with capture_events() as captured:
        assert [token async for token in tokens()] == ["a", "b", "c"]
    request, response = captured.events()
    assert (request.type, response.type) == (EventType.LLM_REQUEST, EventType.LLM_RESPONSE)
    assert response.parent_id == request.id and response.attributes[OBSERVE_YIELDED] == 3
    assert response.content == '["a","b","c"]'


def test_llm_calls_record_model_and_token_usage() -> None:
    """An llm function's model argument and OpenAI-style usage become attributes and token counts."""

    @escai.observe(kind="llm")
    def complete(prompt: str, model: str) -> dict[str, Any]:
        return {"text": "hi", "usage": {"prompt_tokens": 12, "completion_tokens": 3}}

    with capture_events() as captured:
        complete("hello", model="gpt-test")
    request, response = captured.events()
    assert request.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-test"
    assert (response.tokens_input, response.tokens_output) == (12, 3)


def test_methods_hide_self_and_capture_can_be_turned_off() -> None:
    """A method's self is not rendered; capture_args/capture_result=False leave the content empty."""

    class Agent:
        @escai.observe(kind="tool")
        def lookup(self, key: str, *extra: int) -> str:
            return key

        @escai.observe(kind="tool", capture_args=False, capture_result=False)
        def secret(self, password: str) -> str:
            return password

    with capture_events() as captured:
        Agent().lookup("k", 1, 2)
        Agent().secret("hunter2")
    events = captured.events()
    assert events[0].content == '{"key":"k","extra":[1,2]}'
    assert events[0].name is not None and events[0].name.endswith("<locals>.Agent.lookup")
    assert events[2].content is None and events[3].content is None


def test_huge_and_hostile_values_are_rendered_within_bounds() -> None:
    """A huge list, a huge string and an object whose repr raises: bounded content, and the call still works."""

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @escai.observe(kind="tool")
    def take(items: list[int], text: str, thing: Hostile) -> str:
        return text

    with capture_events() as captured:
        take(list(range(1_000_000)), "x" * 1_000_000, Hostile())
    call, result = captured.events()
    assert call.content is not None and len(call.content) <= MAX_CHARS + 100
    assert "more" in call.content and "repr failed" in call.content
    assert result.content is not None and len(result.content) <= MAX_CHARS + 100


def test_unconfigured_observe_just_runs_the_function() -> None:
    """Without a recorder the decorated function runs untouched, errors included."""
    assert search("q", limit=1) == ["q-0"]
    with pytest.raises(Failure):
        broken(1)


def test_unknown_kind_falls_back_to_chain() -> None:
    """A wrong kind is an internal error (raised under pytest), and outside tests falls back to chain."""
    with pytest.raises(ValueError, match="unknown kind"):
        escai.observe(kind="bogus")  # type: ignore[call-overload]
    with swallow_internal_errors():
        decorated = escai.observe(kind="bogus")(lambda: 1)  # type: ignore[call-overload]
    with capture_events() as captured:
        assert decorated() == 1
    assert [event.type for event in captured.events()] == [EventType.CUSTOM, EventType.CUSTOM]


def test_agent_id_attributes_the_call_to_another_agent() -> None:
    """observe(agent_id=...) puts the call and everything inside it on that agent."""

    @escai.observe(kind="agent", agent_id="reviewer")
    def review() -> str:
        return search("x", limit=1)[0]

    with capture_events() as captured:
        review()
    assert {event.agent_id for event in captured.events()} == {"reviewer"}
