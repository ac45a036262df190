"""The AutoGen instrumentor against the real autogen-agentchat 0.7, offline, with scripted models.

Each scenario runs real agents and teams on ``ReplayChatCompletionClient`` (scripted replies with fixed token
usage) and compares the whole captured event tree with a snapshot under ``snapshots/autogen/``. Set
``ESCAI_UPDATE_SNAPSHOTS=1`` to rewrite the snapshots after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("autogen_agentchat")

from autogen_agentchat import agents as autogen_agents
from autogen_agentchat.agents import AssistantAgent, BaseChatAgent, SocietyOfMindAgent
from autogen_agentchat.base import Response, TaskResult
from autogen_agentchat.conditions import MaxMessageTermination, SourceMatchTermination, TextMentionTermination
from autogen_agentchat.messages import BaseChatMessage, ModelClientStreamingChunkEvent, TextMessage
from autogen_agentchat.teams import BaseGroupChat, RoundRobinGroupChat, Swarm
from autogen_agentchat.teams._group_chat._chat_agent_container import ChatAgentContainer
from autogen_agentchat.tools import AgentTool
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import CreateResult, ModelFamily, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from escai.instrument.autogen import (
    AutoGenInstrumentor,
    budget_exhausted,
    instrument_autogen,
    uninstrument_autogen,
)
from escai.instrument.base import InstrumentationError
from escai.model import semconv
from escai.model.events import AgentEvent, EventType
from escai.sdk.context import scoped
from escai.sdk.errors import swallow_internal_errors
from escai.sdk.memory_exporter import InMemoryExporter
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import get_recorder, set_recorder
from escai.testing import CapturedEvents, capture_events

SNAPSHOTS = Path(__file__).parent / "snapshots" / "autogen"
MODEL_INFO = ModelInfo(
    vision=False, function_calling=True, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
)
# Every agent class that AutoGen ships has its own on_messages_stream, and each is followed.
AGENT_STREAMS: list[tuple[type, str]] = [
    (agent_class, "on_messages_stream")
    for agent_class in vars(autogen_agents).values()
    if isinstance(agent_class, type)
    and issubclass(agent_class, BaseChatAgent)
    and "on_messages_stream" in vars(agent_class)
]
PATCHED: list[tuple[type, str]] = [
    (BaseGroupChat, "run_stream"),
    (ChatAgentContainer, "handle_request"),
    (ChatAgentContainer, "_log_message"),
    (BaseChatAgent, "run"),
    (BaseChatAgent, "run_stream"),
    *AGENT_STREAMS,
]


# --- scripted models and tools ------------------------------------------------------------------------------------


def say(text: str, tokens: tuple[int, int]) -> CreateResult:
    """A scripted text reply with the given (prompt, completion) token usage."""
    usage = RequestUsage(prompt_tokens=tokens[0], completion_tokens=tokens[1])
    return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)


def call(*calls: tuple[str, str, str], tokens: tuple[int, int]) -> CreateResult:
    """A scripted reply that requests tool calls, each given as (call id, tool name, JSON arguments)."""
    usage = RequestUsage(prompt_tokens=tokens[0], completion_tokens=tokens[1])
    requested = [FunctionCall(id=call_id, name=name, arguments=arguments) for call_id, name, arguments in calls]
    return CreateResult(finish_reason="function_calls", content=requested, usage=usage, cached=False)


def model(*replies: CreateResult | str) -> ReplayChatCompletionClient:
    """An offline model that answers with ``replies`` in order (a plain string streams word by word)."""
    return ReplayChatCompletionClient(list(replies), model_info=MODEL_INFO)


def get_weather(city: str) -> str:
    """Return the weather in a city."""
    return f"Sunny and 21 degrees in {city}."


def query_orders(customer: str) -> str:
    """Look up a customer's orders."""
    raise ConnectionError(f"orders database unreachable while looking up {customer}")


def weather_agent() -> AssistantAgent:
    """A single agent that calls the weather tool once and then answers from its result."""
    replies = model(
        call(("call-1", "get_weather", '{"city": "Paris"}'), tokens=(40, 12)),
        say("It is sunny and 21 degrees in Paris.", tokens=(61, 11)),
    )
    return AssistantAgent("forecaster", model_client=replies, tools=[get_weather], reflect_on_tool_use=True)


def handoff_team() -> Swarm:
    """A triage agent that checks the weather and hands off to a writer, who finishes the task."""
    triage = AssistantAgent(
        "triage",
        model_client=model(
            call(
                ("call-1", "get_weather", '{"city": "Oslo"}'),
                ("call-2", "transfer_to_writer", "{}"),
                tokens=(55, 20),
            )
        ),
        tools=[get_weather],
        handoffs=["writer"],
    )
    writer = AssistantAgent(
        "writer", model_client=model(say("Oslo: sunny, 21 degrees. Enjoy! TERMINATE", tokens=(80, 14)))
    )
    return Swarm([triage, writer], termination_condition=TextMentionTermination("TERMINATE"))


def looping_team(**budget: Any) -> RoundRobinGroupChat:
    """Two agents that keep revising a draft without ever saying TERMINATE."""
    writer = AssistantAgent(
        "drafter", model_client=model(*(say(f"Draft {n}: the launch slipped.", tokens=(20, 6)) for n in range(1, 6)))
    )
    critic = AssistantAgent(
        "critic", model_client=model(*(say(f"Revise draft {n}; too vague.", tokens=(30, 5)) for n in range(1, 6)))
    )
    return RoundRobinGroupChat([writer, critic], **budget)


# --- snapshot helpers ---------------------------------------------------------------------------------------------


def snapshot_tree(captured: CapturedEvents) -> list[dict[str, Any]]:
    """``captured.tree()`` plus session (as a position), agent name, step index and attributes of every event."""
    events: list[AgentEvent] = captured.events()
    sessions: dict[str, int] = {}
    tree = captured.tree()
    for node, event in zip(tree, events, strict=True):
        node["session"] = sessions.setdefault(event.session_id, len(sessions))
        node["agent_name"] = event.agent_name
        node["framework"] = event.framework
        node["step"] = event.step_index
        node["attributes"] = event.attributes
    return tree


def assert_matches_snapshot(name: str, tree: list[dict[str, Any]]) -> None:
    """Compare ``tree`` with ``snapshots/autogen/<name>.json``; rewrite it when ESCAI_UPDATE_SNAPSHOTS=1."""
    path = SNAPSHOTS / f"{name}.json"
    rendered = json.dumps(tree, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("ESCAI_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing snapshot {path}; run with ESCAI_UPDATE_SNAPSHOTS=1 to create it"
    assert json.loads(path.read_text(encoding="utf-8")) == tree


def of_type(captured: CapturedEvents, kind: EventType) -> list[AgentEvent]:
    """The captured events of one kind, in order."""
    return [event for event in captured.events() if event.type is kind]


@pytest.fixture
def instrumented() -> Iterator[None]:
    """AutoGen instrumented for the test, restored afterwards."""
    instrument_autogen()
    yield
    uninstrument_autogen()


# --- scenarios ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["run", "run_stream"])
@pytest.mark.usefixtures("instrumented")
async def test_agent_with_a_tool_becomes_a_session(method: str) -> None:
    """An AssistantAgent calling a tool records one session: the tool call, its result and the answer with tokens."""
    agent = weather_agent()
    with capture_events() as captured:
        if method == "run":
            last: object = await agent.run(task="What is the weather in Paris?")
        else:
            last = [item async for item in agent.run_stream(task="What is the weather in Paris?")][-1]
    assert isinstance(last, TaskResult)
    # run() and run_stream() describe the same run, so both match one snapshot.
    assert_matches_snapshot("agent_tool_success", snapshot_tree(captured))


@pytest.mark.usefixtures("instrumented")
async def test_streaming_chunks_are_skipped_for_the_whole_message() -> None:
    """A streaming model's chunks are not events; the complete message they build is recorded once."""
    agent = AssistantAgent("streamer", model_client=model("Three little words"), model_client_stream=True)
    with capture_events() as captured:
        items = [item async for item in agent.run_stream(task="Say three words.")]
    assert sum(isinstance(item, ModelClientStreamingChunkEvent) for item in items) == 3
    events = captured.events()
    assert [event.type.value for event in events] == [
        "session_start", "agent_start", "message", "agent_end", "session_end"
    ]  # fmt: skip
    assert events[2].content == "Three little words"


@pytest.mark.usefixtures("instrumented")
async def test_swarm_handoff_is_recorded_turn_by_turn() -> None:
    """A Swarm run is a session whose agents' turns hold their tool calls, the handoff and the final answer."""
    with capture_events() as captured:
        result = await handoff_team().run(task="Write a one-line weather note for Oslo.")
    assert result.stop_reason == "Text 'TERMINATE' mentioned"
    assert_matches_snapshot("swarm_handoff", snapshot_tree(captured))
    (handoff,) = of_type(captured, EventType.HANDOFF)
    assert handoff.agent_id == "triage" and handoff.attributes[semconv.ESCAI_HANDOFF_TARGET] == "writer"
    (end,) = of_type(captured, EventType.SESSION_END)
    assert end.attributes[semconv.ESCAI_OUTCOME_SUCCESS] is True


@pytest.mark.usefixtures("instrumented")
async def test_tool_that_raises_is_an_error_result() -> None:
    """A tool that raises shows as an error tool_result with an error event under it; the agent carries on."""
    agent = AssistantAgent(
        "support",
        model_client=model(
            call(("call-7", "query_orders", '{"customer": "ACME"}'), tokens=(33, 9)),
            say("I could not reach the orders database; please try again later.", tokens=(58, 13)),
        ),
        tools=[query_orders],
        reflect_on_tool_use=True,
    )
    with capture_events() as captured:
        await agent.run(task="Where is ACME's last order?")
    assert_matches_snapshot("tool_raises", snapshot_tree(captured))
    (result,) = of_type(captured, EventType.TOOL_RESULT)
    (error,) = of_type(captured, EventType.ERROR)
    assert result.status.value == "error" and error.parent_id == result.id
    assert "orders database unreachable" in (error.content or "")


@pytest.mark.usefixtures("instrumented")
async def test_looping_team_that_hits_its_message_budget_failed() -> None:
    """A team stopped by MaxMessageTermination, never having said TERMINATE, is a failed session."""
    team = looping_team(termination_condition=TextMentionTermination("TERMINATE") | MaxMessageTermination(5))
    with capture_events() as captured:
        result = await team.run(task="Write a two-sentence press note about the launch.")
    assert result.stop_reason is not None and result.stop_reason.startswith("Maximum number of messages 5")
    assert_matches_snapshot("team_loops_until_budget", snapshot_tree(captured))
    (end,) = of_type(captured, EventType.SESSION_END)
    assert end.status.value == "error" and end.attributes[semconv.ESCAI_OUTCOME_SUCCESS] is False


@pytest.mark.usefixtures("instrumented")
async def test_team_stopped_by_max_turns_failed() -> None:
    """A team stopped by ``max_turns`` is failed too, with AutoGen's stop reason as the session's last word."""
    with capture_events() as captured:
        await looping_team(max_turns=3).run(task="Write a press note.")
    (end,) = of_type(captured, EventType.SESSION_END)
    assert end.content == "Maximum number of turns 3 reached."
    assert end.attributes[semconv.ESCAI_OUTCOME_SUCCESS] is False
    assert [event.agent_id for event in of_type(captured, EventType.AGENT_START)] == ["drafter", "critic", "drafter"]


@pytest.mark.usefixtures("instrumented")
async def test_agent_that_fails_inside_a_team_fails_the_session() -> None:
    """A model that gives out mid-run fails the agent's turn and the session, and the error reaches the caller."""
    writer = AssistantAgent("drafter", model_client=model(say("Draft 1.", tokens=(10, 3))))
    critic = AssistantAgent("critic", model_client=model())  # no scripted replies: its first call raises
    team = RoundRobinGroupChat([writer, critic], termination_condition=MaxMessageTermination(4))
    with capture_events() as captured, pytest.raises(RuntimeError, match="No more mock responses"):
        await team.run(task="Write a press note.")
    assert_matches_snapshot("team_agent_error", snapshot_tree(captured))
    (error,) = of_type(captured, EventType.ERROR)
    assert error.agent_id == "critic" and error.attributes[semconv.ESCAI_ERROR_TYPE] == "ValueError"


@pytest.mark.usefixtures("instrumented")
async def test_team_joins_an_active_escai_session() -> None:
    """Inside an active ESCAI session the team adds its events there, as an agent_start/agent_end pair."""
    with capture_events() as captured:
        recorder = get_recorder()
        assert recorder is not None
        host = recorder.emit(EventType.SESSION_START, session_id="host-session", agent_id="host", content="host task")
        with scoped(session_id="host-session", agent_id="host", parent_id=host):
            await handoff_team().run(task="Write a one-line weather note for Oslo.")
    tree = snapshot_tree(captured)
    assert_matches_snapshot("team_joins_session", tree)
    assert {node["session"] for node in tree} == {0}
    assert [node["type"] for node in tree].count("session_start") == 1


@pytest.mark.usefixtures("instrumented")
async def test_caller_stopping_the_stream_early_leaves_the_outcome_unknown() -> None:
    """A run whose caller stops reading before the result ends with status unset, not a made-up outcome."""
    stream = looping_team(max_turns=4).run_stream(task="Write a press note.")
    with capture_events() as captured:
        async for item in stream:
            if getattr(item, "source", None) == "drafter":
                break
        await stream.aclose()
    (end,) = of_type(captured, EventType.SESSION_END)
    assert end.status.value == "unset" and semconv.ESCAI_OUTCOME_SUCCESS not in end.attributes


class EchoAgent(BaseChatAgent):
    """A custom agent class (not one AutoGen ships) that answers by echoing what it received."""

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        """It answers with text."""
        return (TextMessage,)

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        """Echo the last message."""
        return Response(chat_message=TextMessage(content=f"echo: {messages[-1].to_text()}", source=self.name))

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Nothing to reset."""


@pytest.mark.usefixtures("instrumented")
async def test_custom_agent_classes_are_recorded_alone_and_in_teams() -> None:
    """An agent class ESCAI does not know is recorded from its result alone and from its container in a team."""
    with capture_events() as captured:
        await EchoAgent("echo", "echoes").run(task="ping")
        writer = AssistantAgent("drafter", model_client=model(say("Draft 1.", tokens=(10, 3))))
        team = RoundRobinGroupChat(
            [writer, EchoAgent("echo", "echoes")], termination_condition=SourceMatchTermination(["echo"])
        )
        await team.run(task="Write.")
    assert_matches_snapshot("custom_agent", snapshot_tree(captured))


@pytest.mark.usefixtures("instrumented")
async def test_nested_runs_join_the_outer_session_once() -> None:
    """An agent used as a tool and a team inside a SocietyOfMindAgent join the outer run; each message is kept once."""
    helper = AssistantAgent("helper", model_client=model(say("42", tokens=(5, 1))), description="Answers questions.")
    boss = AssistantAgent(
        "boss",
        model_client=model(call(("call-1", "helper", '{"task": "What is six times seven?"}'), tokens=(12, 8))),
        tools=[AgentTool(helper)],
    )
    inner = RoundRobinGroupChat(
        [
            AssistantAgent("ideas", model_client=model(say("Idea: a lighthouse.", tokens=(7, 4)))),
            AssistantAgent("edits", model_client=model(say("Make it a red lighthouse.", tokens=(9, 5)))),
        ],
        termination_condition=MaxMessageTermination(3),
    )
    society = SocietyOfMindAgent("society", team=inner, model_client=model(say("A red lighthouse.", tokens=(20, 4))))
    with capture_events() as captured:
        await boss.run(task="Ask the helper what six times seven is.")
        await RoundRobinGroupChat([society], termination_condition=SourceMatchTermination(["society"])).run(
            task="Pick a logo."
        )
    tree = snapshot_tree(captured)
    assert_matches_snapshot("nested_runs", tree)
    contents = [node["content"] for node in tree if node["type"] == "message"]
    assert len(contents) == len(set(contents)), "a relayed message was recorded twice"


# --- contract -----------------------------------------------------------------------------------------------------


def test_instrument_is_idempotent_and_uninstrument_restores_every_original() -> None:
    """instrument_autogen() patches once; uninstrument_autogen() puts back the very same function objects."""
    originals = {(owner, name): vars(owner)[name] for owner, name in PATCHED}
    assert AssistantAgent in {owner for owner, _ in AGENT_STREAMS} and len(AGENT_STREAMS) >= 5
    assert instrument_autogen() is True
    try:
        assert instrument_autogen() is False
        for (owner, name), original in originals.items():
            assert vars(owner)[name] is not original, f"{owner.__name__}.{name} is not instrumented"
            assert vars(owner)[name].__wrapped__ is original
    finally:
        assert uninstrument_autogen() is True
    assert uninstrument_autogen() is False
    for (owner, name), original in originals.items():
        assert vars(owner)[name] is original, f"{owner.__name__}.{name} was not restored"


async def test_uninstrumented_autogen_records_nothing() -> None:
    """After uninstrument_autogen() runs record nothing, even through agent containers created while instrumented."""
    team = looping_team(max_turns=2)
    instrument_autogen()
    try:
        with capture_events() as first:
            await team.run(task="Write a press note.")  # creates the team's containers with wrapped handlers
    finally:
        uninstrument_autogen()
    with capture_events() as second:
        result = await team.run(task="Shorter, please.")
    assert result.stop_reason == "Maximum number of turns 2 reached."
    assert len(first.events()) == 8 and second.events() == []


class FailingRecorder(Recorder):
    """A recorder that raises on the event kinds it is told to fail, standing in for a broken SDK."""

    def __init__(self, failing: set[EventType]) -> None:
        super().__init__(InMemoryExporter(), default_session_id="s", default_agent_id="a")
        self.failing = failing
        self.failures = 0

    def emit(self, *args: Any, **kwargs: Any) -> str:
        """Raise for a failing kind; record the others."""
        if args[0] in self.failing:
            self.failures += 1
            raise RuntimeError("recorder is broken")
        return super().emit(*args, **kwargs)


STARTS = {EventType.SESSION_START, EventType.AGENT_START}


@pytest.mark.parametrize("failing", [set(EventType), set(EventType) - STARTS], ids=["every-event", "after-starts"])
@pytest.mark.usefixtures("instrumented")
async def test_a_failing_recorder_never_breaks_autogen(failing: set[EventType]) -> None:
    """With a recorder that raises at the start of runs, or on everything after it, AutoGen runs as uninstrumented."""
    recorder = FailingRecorder(failing)
    previous = set_recorder(recorder)
    try:
        with swallow_internal_errors():
            team_result = await handoff_team().run(task="Write a one-line weather note for Oslo.")
            agent_result = await weather_agent().run(task="What is the weather in Paris?")
            streamed = [item async for item in weather_agent().run_stream(task="What is the weather in Paris?")]
    finally:
        set_recorder(previous)
        recorder.shutdown(timeout=1)
    assert recorder.failures >= 3, "the instrumentation never reached the failing recorder"
    assert team_result.stop_reason == "Text 'TERMINATE' mentioned"
    assert [type(message).__name__ for message in team_result.messages] == [
        "TextMessage",
        "ToolCallRequestEvent",
        "ToolCallExecutionEvent",
        "HandoffMessage",
        "TextMessage",
    ]
    assert agent_result.messages[-1].to_text() == "It is sunny and 21 degrees in Paris."
    assert (
        isinstance(streamed[-1], TaskResult)
        and streamed[-1].messages[-1].to_text() == agent_result.messages[-1].to_text()
    )


def test_unsupported_or_missing_autogen_is_refused_with_a_hint() -> None:
    """A version outside the tested range, or a missing package, raises InstrumentationError saying what to do."""

    class FutureAutoGen(AutoGenInstrumentor):
        min_version = "99.0"

    class MissingAutoGen(AutoGenInstrumentor):
        distribution = "autogen-agentchat-not-installed"

    with pytest.raises(InstrumentationError, match=r"supported: >=99\.0"):
        FutureAutoGen().instrument()
    with pytest.raises(InstrumentationError, match=r"pip install 'escai\[autogen\]'"):
        MissingAutoGen().instrument()
    assert vars(BaseChatAgent)["run"].__name__ == "run" and not hasattr(vars(BaseChatAgent)["run"], "__wrapped__")


@pytest.mark.parametrize(
    ("stop_reason", "exhausted"),
    [
        ("Maximum number of messages 5 reached, current message count: 5", True),
        ("Maximum number of turns 3 reached.", True),
        ("Timeout of 30 seconds reached", True),
        ("Text 'TERMINATE' mentioned, Maximum number of messages 5 reached, current message count: 5", False),
        ("Text 'TERMINATE' mentioned", False),
        ("Handoff to user from agent detected.", False),
        (None, False),
    ],
)
def test_only_a_budget_stop_counts_as_exhausted(stop_reason: str | None, exhausted: bool) -> None:
    """A stop is a budget exhaustion only when every reason AutoGen gives is a budget running out."""
    assert budget_exhausted(stop_reason) is exhausted
