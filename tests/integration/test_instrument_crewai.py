"""ESCAI's CrewAI instrumentor, tested by running real CrewAI crews offline against a scripted model.

The model is CrewAI's own OpenAI provider (``crewai.LLM("gpt-4o-mini")``) whose OpenAI client talks to an
``httpx.MockTransport`` that answers from a script, so CrewAI's real agent loop, tool calling and event bus run
unchanged and no request leaves the process. Each scenario's whole captured event tree is compared with a
snapshot under ``snapshots/crewai/``; ``ESCAI_UPDATE_SNAPSHOTS=1`` rewrites them.

CrewAI is an optional extra that caps versions the shared venv needs newer, so these tests run in their own
venv (``scripts/test-crewai.sh``); elsewhere they are skipped, except the install-hint test, which then checks
the real missing-package case.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from escai.instrument.base import InstrumentationError
from escai.instrument.crewai import CrewAIInstrumentor, instrument_crewai, uninstrument_crewai
from escai.model import semconv
from escai.model.events import AgentEvent, EventType
from escai.sdk.context import scoped
from escai.sdk.errors import swallow_internal_errors
from escai.sdk.memory_exporter import InMemoryExporter
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import set_recorder
from escai.testing import capture_events

SNAPSHOTS = Path(__file__).parent / "snapshots" / "crewai"
# CrewAI reads its own deprecated fields internally (``function_calling_llm``); those warnings are CrewAI's.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai")


def import_crewai() -> str | None:
    """Import CrewAI with its home folders and telemetry isolated; return why it cannot be used, or None."""
    if importlib.util.find_spec("crewai") is None:
        return "crewai is not installed (an optional extra: run scripts/test-crewai.sh, which uses .venv-crewai)"
    # CrewAI writes settings, credentials and SQLite files under the home and XDG folders, and phones home unless
    # told not to; point all of it at a throwaway folder before CrewAI is first imported.
    home = tempfile.mkdtemp(prefix="escai-crewai-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(
        HOME=home,
        XDG_DATA_HOME=f"{home}/data",
        XDG_CONFIG_HOME=f"{home}/config",
        XDG_CACHE_HOME=f"{home}/cache",
        CREWAI_STORAGE_DIR="escai-tests",
        CREWAI_DISABLE_TELEMETRY="true",
        CREWAI_TRACING_ENABLED="false",
        OTEL_SDK_DISABLED="true",
    )
    try:
        # CrewAI's import trips an ImportWarning (its lazy crewai.rag module refuses a child attribute), which
        # filterwarnings=error would turn into a failure of whichever test imports it first.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportWarning)
            importlib.import_module("crewai")
    except Exception as error:
        return f"crewai cannot be imported: {error!r}"
    return None


CREWAI_UNUSABLE = import_crewai()
requires_crewai = pytest.mark.skipif(CREWAI_UNUSABLE is not None, reason=str(CREWAI_UNUSABLE))


# --- the scripted model -----------------------------------------------------------------------------------------


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    """A scripted assistant message that calls a tool (OpenAI's native function calling)."""
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def answer(text: str) -> dict[str, Any]:
    """A scripted assistant message with text in CrewAI's ReAct format."""
    return {"role": "assistant", "content": text}


Responder = Callable[[dict[str, Any]], dict[str, Any]]


class ScriptedModel:
    """Answers chat-completion requests from a script; counts tokens as 100 + 10 per message in, 20 out."""

    def __init__(self, replies: list[dict[str, Any]] | Responder) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []

    def respond(self, request: Any) -> Any:
        """The mock transport's handler: one scripted chat completion per request."""
        import httpx

        body = json.loads(request.content)
        if request.url.path.endswith("/input_tokens"):
            # CrewAI asks OpenAI's token counter whether the prompt fits the context window.
            return httpx.Response(200, json={"object": "response.input_tokens", "input_tokens": 100})
        assert request.url.path.endswith("/chat/completions"), request.url
        self.requests.append(body)
        if callable(self.replies):
            message = self.replies(body)
        else:
            assert self.replies, f"the model was called more often than scripted: {json.dumps(self.requests, indent=1)}"
            message = self.replies.pop(0)
        if message.get("status"):  # a scripted provider failure
            return httpx.Response(
                message["status"], json={"error": {"message": message["error"], "type": "server_error"}}
            )
        usage = {"prompt_tokens": 100 + 10 * len(body["messages"]), "completion_tokens": 20}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finish_reason = "tool_calls" if message.get("tool_calls") else "stop"
        head = {"id": f"chatcmpl-{len(self.requests)}", "created": 0, "model": body["model"]}
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": finish_reason}
            return httpx.Response(200, json={**head, "object": "chat.completion", "choices": [choice], "usage": usage})
        # Streamed: one chunk per word, then the finish reason, then the usage, as OpenAI sends them.
        words = message["content"].split(" ")
        deltas = [{"content": word if index == 0 else f" {word}"} for index, word in enumerate(words)]
        chunks = [{"index": 0, "delta": delta, "finish_reason": None} for delta in deltas]
        chunks.append({"index": 0, "delta": {}, "finish_reason": finish_reason})
        frames = [{**head, "object": "chat.completion.chunk", "choices": [choice]} for choice in chunks]
        frames.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        stream = "".join(f"data: {json.dumps(frame)}\n\n" for frame in frames) + "data: [DONE]\n\n"
        return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})

    def llm(self, stream: bool = False) -> Any:
        """CrewAI's real OpenAI provider, with its HTTP client swapped for one that answers from the script."""
        import httpx
        from crewai import LLM
        from openai import OpenAI

        llm = LLM(model="gpt-4o-mini", api_key="test-key", max_retries=0, temperature=0, stream=stream)
        # CrewAI builds its OpenAI clients eagerly and offers no public hook for the transport.
        llm._client = OpenAI(
            api_key="test-key", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(self.respond))
        )
        return llm


# --- crews ------------------------------------------------------------------------------------------------------------


def weather_tool(fail: bool = False) -> Any:
    """A CrewAI tool that reports the weather of a city, or raises as if its backend were down."""
    from crewai.tools import tool

    @tool("lookup_weather")
    def lookup_weather(city: str) -> str:
        """Look up today's weather in a city."""
        if fail:
            raise ConnectionError(f"weather service unreachable for {city}")
        return f"Sunny, 24 C in {city}"

    return lookup_weather


def make_crew(
    model: ScriptedModel, tool: Any = None, *, writer: bool = True, max_iter: int = 5, stream: bool = False
) -> Any:
    """A researcher (with ``tool`` when given) and, optionally, a writer who turns the finding into a sentence."""
    from crewai import Agent, Crew, Task

    common = {"llm": model.llm(stream), "verbose": False, "max_retry_limit": 0, "max_iter": max_iter}
    tools = [tool] if tool is not None else []
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Checks sources.", tools=tools, **common)
    agents = [researcher]
    tasks = [Task(description="Find the weather in {city}.", expected_output="One fact.", agent=researcher)]
    if writer:
        agents.append(Agent(role="Writer", goal="Write clearly", backstory="Writes short notes.", **common))
        tasks.append(Task(description="Write one sentence about it.", expected_output="A sentence.", agent=agents[1]))
    return Crew(agents=agents, tasks=tasks, verbose=False)


def run(crew: Any, city: str = "Paris") -> tuple[Any, list[dict[str, Any]], list[AgentEvent]]:
    """Kick the crew off in a capture block; return its output (or the exception), the tree and the events."""
    from crewai.events import crewai_event_bus

    with capture_events() as captured:
        try:
            output: Any = crew.kickoff(inputs={"city": city})
        except Exception as error:
            output = error
        assert crewai_event_bus.flush(timeout=10)
        return output, captured.tree(), captured.events()


def escai_handlers() -> int:
    """How many of ESCAI's handlers CrewAI's event bus holds."""
    from crewai.events import crewai_event_bus

    # The bus has no public listing; ESCAI names its handlers escai_<EventClass>.
    registered = [*crewai_event_bus._sync_handlers.values(), *crewai_event_bus._async_handlers.values()]
    return sum(1 for handlers in registered for handler in handlers if handler.__name__.startswith("escai_"))


def assert_snapshot(name: str, tree: list[dict[str, Any]]) -> None:
    """Compare ``tree`` with the stored snapshot, or store it when ESCAI_UPDATE_SNAPSHOTS=1."""
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("ESCAI_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tree, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with ESCAI_UPDATE_SNAPSHOTS=1 to record it"
    assert tree == json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def instrumented() -> Iterator[None]:
    """CrewAI instrumented for one test, uninstrumented afterwards."""
    instrument_crewai()
    yield
    uninstrument_crewai()


@pytest.fixture
def no_handler_errors(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Fail the test if CrewAI reported that one of ESCAI's handlers raised (CrewAI prints and swallows them)."""
    yield
    output = capfd.readouterr()
    assert "handler error" not in output.out + output.err


class BrokenRecorder(Recorder):
    """A recorder whose every ``emit`` raises ``error_type``, as if the SDK itself had a bug."""

    error_type: type[Exception] = RuntimeError

    def emit(self, *args: Any, **kwargs: Any) -> str:
        """Fail."""
        raise self.error_type("the recorder is broken")


@contextmanager
def broken_recorder(error_type: type[Exception]) -> Iterator[None]:
    """Install a :class:`BrokenRecorder` that raises ``error_type`` for the block."""
    recorder = BrokenRecorder(InMemoryExporter(), default_session_id="s", default_agent_id="a")
    recorder.error_type = error_type
    previous = set_recorder(recorder)
    try:
        yield
    finally:
        set_recorder(previous)
        recorder.shutdown(timeout=1)


# --- scenarios --------------------------------------------------------------------------------------------------------


@requires_crewai
@pytest.mark.usefixtures("instrumented", "no_handler_errors")
def test_two_agent_crew_with_a_tool_matches_snapshot() -> None:
    """A researcher calls a tool and answers, a writer answers: the whole event tree is as recorded."""
    model = ScriptedModel(
        [
            tool_call("lookup_weather", {"city": "Paris"}),
            answer("It is sunny, 24 C in Paris."),
            answer("Thought: I can write it now.\nFinal Answer: Paris enjoys a sunny 24 C today."),
        ]
    )
    output, tree, events = run(make_crew(model, weather_tool()))
    assert output.raw == "Paris enjoys a sunny 24 C today."
    assert_snapshot("two_agents_with_tool", tree)
    start = events[0]
    assert {event.session_id for event in events} == {start.session_id}
    assert {event.framework for event in events} == {"crewai"}
    assert start.attributes[semconv.ESCAI_TASK] == "Find the weather in Paris.\nWrite one sentence about it."
    assert start.attributes["crewai.inputs"] == {"city": "Paris"}
    assert events[-1].attributes[semconv.ESCAI_OUTCOME_SUCCESS] is True
    response = next(event for event in events if event.type is EventType.LLM_RESPONSE)
    assert response.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 120
    assert response.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    ends = [event for event in events if event.type in {EventType.TOOL_RESULT, EventType.AGENT_END}]
    assert all(event.duration_ms is not None and event.duration_ms >= 0 for event in ends)
    assert [event.timestamp for event in events] == sorted(event.timestamp for event in events)


@requires_crewai
@pytest.mark.usefixtures("instrumented", "no_handler_errors")
def test_tool_that_raises_is_a_failed_tool_result() -> None:
    """A tool raises; CrewAI hands the error to the model, which answers: the tool result carries status error."""
    model = ScriptedModel(
        [tool_call("lookup_weather", {"city": "Oslo"}), answer("The weather service is down; I cannot tell.")]
    )
    output, tree, _ = run(make_crew(model, weather_tool(fail=True), writer=False), city="Oslo")
    assert output.raw == "The weather service is down; I cannot tell."
    assert_snapshot("tool_raises", tree)
    results = [node for node in tree if node["type"] == "tool_result"]
    assert [node["status"] for node in results] == ["error"]
    assert "weather service unreachable for Oslo" in results[0]["content"]
    assert (tree[-1]["type"], tree[-1]["status"]) == ("session_end", "ok")


def looping_model(request: dict[str, Any]) -> dict[str, Any]:
    """A model stuck in a loop: it calls the same tool whenever it may, and has nothing to say when it may not."""
    if request.get("tools"):
        return tool_call("lookup_weather", {"city": "Rome"}, call_id=f"call_{len(request['messages'])}")
    return answer("")


@requires_crewai
@pytest.mark.usefixtures("instrumented", "no_handler_errors")
def test_model_that_loops_until_max_iter_fails_the_crew() -> None:
    """The agent hits max_iter, CrewAI forces a final answer, the model gives none: the failure is captured."""
    output, tree, events = run(make_crew(ScriptedModel(looping_model), weather_tool(), writer=False, max_iter=2))
    assert isinstance(output, ValueError)
    assert "Invalid response from LLM call" in str(output)
    assert_snapshot("model_loops", tree)
    assert [node["type"] for node in tree].count("tool_call") == 2
    failed = [(node["type"], node["status"]) for node in tree if node["status"] == "error"]
    assert failed == [("error", "error"), ("agent_end", "error"), ("observation", "error"), ("session_end", "error")]
    assert events[-1].attributes[semconv.ESCAI_OUTCOME_SUCCESS] is False


@requires_crewai
@pytest.mark.usefixtures("instrumented", "no_handler_errors")
def test_failed_model_call_is_an_error_and_a_failed_response() -> None:
    """The provider answers 500: the LLM call ends in an error event and a failed response, and the crew fails."""
    model = ScriptedModel([{"status": 500, "error": "the model is overloaded"}])
    output, tree, _ = run(make_crew(model, writer=False))
    assert isinstance(output, Exception)
    assert_snapshot("model_call_fails", tree)
    llm_nodes = [(node["type"], node["parent"]) for node in tree if node["type"] in {"llm_request", "llm_response"}]
    assert llm_nodes == [("llm_request", 2), ("llm_response", 3)]  # CrewAI reports the failure twice: kept once
    errors = [(node["parent"], node["content"]) for node in tree if node["type"] == "error"]
    assert errors[0][0] == 3 and "the model is overloaded" in errors[0][1]


@requires_crewai
@pytest.mark.usefixtures("instrumented", "no_handler_errors")
def test_streamed_answer_is_one_response_with_its_chunks_counted() -> None:
    """A streamed answer is recorded once, whole, with the number of chunks it came in."""
    model = ScriptedModel([answer("Thought: easy.\nFinal Answer: Sunny in Paris.")])
    output, tree, events = run(make_crew(model, writer=False, stream=True))
    assert output.raw == "Sunny in Paris."
    assert_snapshot("streamed_answer", tree)
    response = next(event for event in events if event.type is EventType.LLM_RESPONSE)
    assert response.content == "Thought: easy.\nFinal Answer: Sunny in Paris."
    assert response.attributes["crewai.llm.stream_chunks"] == 6


@requires_crewai
@pytest.mark.usefixtures("instrumented", "no_handler_errors")
def test_crew_kicked_off_inside_an_escai_session_joins_it() -> None:
    """Inside an ESCAI session scope the crew is an agent_start/agent_end pair of that session, not a session."""
    model = ScriptedModel([answer("Thought: known.\nFinal Answer: Sunny.")])
    crew = make_crew(model, writer=False)
    with capture_events() as captured:
        start = captured.recorder.emit(EventType.SESSION_START, content="plan a trip", session_id="trip", agent_id="me")
        with scoped(session_id="trip", agent_id="me", parent_id=start):
            output = crew.kickoff(inputs={"city": "Paris"})
        from crewai.events import crewai_event_bus

        assert crewai_event_bus.flush(timeout=10)
        tree, events = captured.tree(), captured.events()
    assert output.raw == "Sunny."
    assert_snapshot("joins_escai_session", tree)
    assert {event.session_id for event in events} == {"trip"}
    assert (tree[1]["type"], tree[1]["parent"], tree[-1]["type"], tree[-1]["parent"]) == (
        "agent_start",
        0,
        "agent_end",
        1,
    )
    assert semconv.ESCAI_OUTCOME_SUCCESS not in events[-1].attributes


# --- the instrumentor contract ----------------------------------------------------------------------------------------


@requires_crewai
def test_instrument_is_idempotent_and_uninstrument_removes_every_handler() -> None:
    """Instrumenting twice registers one set of handlers; uninstrumenting removes them all and records nothing."""

    def single_answer() -> Any:
        return make_crew(ScriptedModel([answer("Thought: known.\nFinal Answer: Sunny.")]), writer=False)

    assert escai_handlers() == 0
    assert instrument_crewai() is True
    try:
        registered = escai_handlers()
        assert instrument_crewai() is False
        assert escai_handlers() == registered >= 15
        _, tree, _ = run(single_answer())
        assert [node["type"] for node in tree] == [
            "session_start", "plan", "agent_start", "llm_request", "llm_response", "agent_end", "observation",
            "session_end",
        ]  # fmt: skip
    finally:
        assert uninstrument_crewai() is True
    assert uninstrument_crewai() is False
    assert escai_handlers() == 0
    output, tree, _ = run(single_answer())
    assert (output.raw, tree) == ("Sunny.", [])
    assert instrument_crewai() is True  # and it can be instrumented again
    assert escai_handlers() == registered
    assert uninstrument_crewai() is True


@requires_crewai
@pytest.mark.usefixtures("instrumented", "no_handler_errors")
def test_listener_never_raises_into_crewai_when_the_recorder_fails(caplog: pytest.LogCaptureFixture) -> None:
    """With a recorder whose every call fails, the crew runs exactly as without ESCAI and the failure is logged."""
    model = ScriptedModel([answer("Thought: known.\nFinal Answer: Sunny.")])

    # An error type of its own: the SDK logs an internal error once per place and type, and this test reads the log.
    class SwallowedRecorderError(RuntimeError):
        """This test's recorder failure."""

    with (
        swallow_internal_errors(),
        broken_recorder(SwallowedRecorderError),
        caplog.at_level(logging.WARNING, logger="escai.sdk"),
    ):
        output = make_crew(model, writer=False).kickoff(inputs={"city": "Paris"})
        from crewai.events import crewai_event_bus

        assert crewai_event_bus.flush(timeout=10)
    assert output.raw == "Sunny."
    assert any("internal error in CrewAIInstrumentor" in record.getMessage() for record in caplog.records)


@requires_crewai
@pytest.mark.usefixtures("instrumented")
def test_handler_failures_are_visible_to_escai_tests(capfd: pytest.CaptureFixture[str]) -> None:
    """Under pytest an internal error re-raises, and CrewAI reports it: the no_handler_errors guard can fail."""
    from crewai.events import crewai_event_bus

    class VisibleRecorderError(RuntimeError):
        """This test's recorder failure."""

    with broken_recorder(VisibleRecorderError):
        make_crew(ScriptedModel([answer("Thought: known.\nFinal Answer: Sunny.")]), writer=False).kickoff()
        assert crewai_event_bus.flush(timeout=10)
    assert "handler error" in capfd.readouterr().out


def test_missing_crewai_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CrewAI (real here when it is not installed, simulated otherwise) the error says how to install it."""
    if CREWAI_UNUSABLE is None:
        installed_version = importlib.metadata.version

        def version(distribution: str) -> str:
            if distribution == "crewai":
                raise importlib.metadata.PackageNotFoundError(distribution)
            return installed_version(distribution)

        monkeypatch.setattr(importlib.metadata, "version", version)
    instrumentor = CrewAIInstrumentor()
    with pytest.raises(InstrumentationError, match=re.escape("pip install 'escai[crewai]'")):
        instrumentor.instrument()
    assert not instrumentor.is_instrumented


def test_unsupported_crewai_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CrewAI version outside the tested range is refused with the supported range."""
    monkeypatch.setattr(importlib.metadata, "version", lambda distribution: "0.86.0")
    with pytest.raises(InstrumentationError, match=re.escape("crewai 0.86.0 is not supported")):
        CrewAIInstrumentor().instrument()


@requires_crewai
def test_unimportable_crewai_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed but unimportable CrewAI gives the install hint and registers nothing."""
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "crewai.events", None)  # makes the import raise ImportError
        with pytest.raises(InstrumentationError, match=re.escape("pip install 'escai[crewai]'")):
            CrewAIInstrumentor().instrument()
    assert escai_handlers() == 0


def test_importing_the_instrumentor_does_not_import_crewai() -> None:
    """CrewAI is imported only when instrumenting, so ``import escai.instrument.crewai`` stays cheap and safe."""
    code = "import sys, escai.instrument.crewai; assert 'crewai' not in sys.modules, 'crewai was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
