"""ESCAI's LangChain/LangGraph instrumentor, run against the real frameworks offline with a scripted chat model.

Each scenario's whole captured event tree (kinds, names, parent links, steps, statuses, content, tokens and
attributes) is compared with a snapshot under ``snapshots/langchain/``. Run with ``ESCAI_UPDATE_SNAPSHOTS=1`` to
rewrite the snapshots after an intended change, and review the diff.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.callbacks import BaseCallbackManager, CallbackManager, CallbackManagerForChainRun
from langchain_core.callbacks.manager import CallbackManagerForRetrieverRun, dispatch_custom_event
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import interrupt

from escai.instrument.base import InstrumentationError
from escai.instrument.langchain import (
    LANGCHAIN_RUN_ID,
    LangChainInstrumentor,
    instrument_langchain,
    uninstrument_langchain,
)
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.sdk.context import scoped
from escai.sdk.errors import swallow_internal_errors
from escai.sdk.memory_exporter import InMemoryExporter
from escai.sdk.recorder import Recorder
from escai.sdk.runtime import set_recorder
from escai.testing import CapturedEvents, capture_events

SNAPSHOTS = Path(__file__).parent / "snapshots" / "langchain"
UPDATE_SNAPSHOTS = os.environ.get("ESCAI_UPDATE_SNAPSHOTS") == "1"


# --- a scripted chat model, tools, a retriever, graphs --------------------------------------------------------------


class ChatScripted(BaseChatModel):
    """A chat model that answers with scripted messages; the last one repeats forever once the script runs out."""

    model: str = "scripted-1"
    script: list[Any]  # AIMessage answers, or exceptions to raise
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        """Offer tools the way provider integrations do: OpenAI-style schemas in the invocation parameters."""
        return self.bind(tools=[convert_to_openai_tool(item) for item in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(step, Exception):
            raise step
        # A fresh copy per call: LangGraph identifies messages by id, and a reused message would be replaced.
        return ChatResult(generations=[ChatGeneration(message=step.model_copy(deep=True))])


def ai(text: str = "", calls: Sequence[tuple[str, dict[str, Any]]] = (), tokens: tuple[int, int] = (0, 0)) -> AIMessage:
    """A scripted model answer with text, tool calls (ids ``call-1``, ``call-2``...) and token usage."""
    return AIMessage(
        content=text,
        tool_calls=[{"name": name, "args": args, "id": f"call-{n}"} for n, (name, args) in enumerate(calls, start=1)],
        usage_metadata={"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)},
    )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


class KeywordRetriever(BaseRetriever):
    """Returns the documents that contain a word of the query; raises on an empty query."""

    documents: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        if not query.strip():
            raise ValueError("empty query")
        words = set(query.lower().split())
        return [doc for doc in self.documents if words & set(doc.page_content.lower().rstrip(".").split())]


def react_graph(model: ChatScripted, tools: list[BaseTool], **tool_node_options: Any) -> CompiledStateGraph[Any]:
    """A ReAct-style LangGraph: an agent node calling the model with tools, and a ToolNode."""
    bound = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools, **tool_node_options))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile()


def lcel_chain(model: ChatScripted) -> Any:
    """prompt | model | parser."""
    prompt = ChatPromptTemplate.from_messages([("system", "Answer in one word."), ("human", "{question}")])
    return prompt | model | StrOutputParser()


SUCCESS_SCRIPT: list[AIMessage | Exception] = [
    ai("Let me add them.", [("add", {"a": 2, "b": 3})], tokens=(40, 12)),
    ai("2 + 3 = 5.", tokens=(60, 8)),
]
QUESTION = {"messages": [HumanMessage("What is 2 + 3?")]}


# --- snapshots ------------------------------------------------------------------------------------------------------


def event_tree(events: list[AgentEvent]) -> list[dict[str, Any]]:
    """The events as an id-free tree: parents by position; run ids, timestamps and durations left out."""
    position = {event.id: index for index, event in enumerate(events)}
    nodes = []
    for event in events:
        attributes = {key: value for key, value in sorted(event.attributes.items()) if key != LANGCHAIN_RUN_ID}
        node: dict[str, Any] = {
            "type": event.type.value,
            "name": event.name,
            "parent": position[event.parent_id] if event.parent_id else None,
            "step": event.step_index,
            "status": event.status.value,
            "content": event.content,
        }
        if event.tokens_input is not None or event.tokens_output is not None:
            node["tokens"] = [event.tokens_input, event.tokens_output]
        if attributes:
            node["attributes"] = attributes
        nodes.append(node)
    return nodes


def check_events(captured: CapturedEvents, snapshot: str, *, session_id: str | None = None) -> list[AgentEvent]:
    """Compare the captured tree with ``snapshot`` and check what the tree leaves out: sessions, ids, durations."""
    events = captured.events()
    assert events, "nothing was captured"
    assert {event.framework for event in events} == {"langchain"}
    if session_id is not None:
        assert {event.session_id for event in events} == {session_id}
    for event in events:
        if event.type in {EventType.AGENT_START, EventType.LLM_REQUEST, EventType.TOOL_CALL}:
            uuid.UUID(event.attributes[LANGCHAIN_RUN_ID])
        if event.type in {EventType.AGENT_END, EventType.LLM_RESPONSE, EventType.TOOL_RESULT}:
            assert event.duration_ms is not None and event.duration_ms >= 0
    assert_snapshot(snapshot, event_tree(events))
    return events


def assert_snapshot(name: str, tree: list[dict[str, Any]]) -> None:
    """Compare ``tree`` with the stored snapshot, or store it when ESCAI_UPDATE_SNAPSHOTS=1."""
    path = SNAPSHOTS / f"{name}.json"
    if UPDATE_SNAPSHOTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tree, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"no snapshot {path}; run with ESCAI_UPDATE_SNAPSHOTS=1 to create it"
    assert tree == json.loads(path.read_text(encoding="utf-8"))


# --- fixtures -------------------------------------------------------------------------------------------------------


@pytest.fixture
def instrumented() -> Iterator[LangChainInstrumentor]:
    """LangChain instrumented for one test, uninstrumented afterwards."""
    instrument_langchain()
    instrumentor = LangChainInstrumentor.instance()
    assert isinstance(instrumentor, LangChainInstrumentor)
    yield instrumentor
    uninstrument_langchain()


@pytest.fixture
def no_callback_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if ESCAI's handler failed inside LangChain (LangChain logs handler errors instead of raising)."""
    caplog.set_level(logging.WARNING)
    yield
    failures = [record.getMessage() for record in caplog.records if "Escai" in record.getMessage()]
    failures += [record.getMessage() for record in caplog.records if record.name == "escai.sdk"]
    assert not failures


pytestmark = pytest.mark.usefixtures("no_callback_errors")


# --- scenarios ------------------------------------------------------------------------------------------------------


def test_lcel_chain_prompt_model_parser(instrumented: LangChainInstrumentor) -> None:
    """prompt | model | parser becomes agent_start, the prompt and parser steps, one LLM exchange and agent_end."""
    model = ChatScripted(script=[ai("Paris.", tokens=(21, 2))])
    run_id = uuid.uuid4()
    with capture_events() as captured:
        answer = lcel_chain(model).invoke({"question": "Capital of France?"}, {"run_id": run_id})
    assert answer == "Paris."
    check_events(captured, "lcel_chain", session_id=str(run_id))
    assert not instrumented.handler._runs  # every run was closed and forgotten


def test_model_error_is_recorded_once(instrumented: LangChainInstrumentor) -> None:
    """A model that raises gives one error event under its request, and the chain closes with status error."""
    model = ChatScripted(script=[TimeoutError("model timed out")])
    with capture_events() as captured, pytest.raises(TimeoutError):
        lcel_chain(model).invoke({"question": "Capital of France?"})
    events = check_events(captured, "lcel_chain_model_error")
    assert [event.type for event in events].count(EventType.ERROR) == 1


def test_react_graph_that_succeeds(instrumented: LangChainInstrumentor) -> None:
    """A LangGraph ReAct loop: nodes named after the graph's nodes with their steps, model calls, a tool call."""
    graph = react_graph(ChatScripted(script=SUCCESS_SCRIPT), [add])
    with capture_events() as captured:
        result = graph.invoke(QUESTION)
    assert result["messages"][-1].content == "2 + 3 = 5."
    check_events(captured, "react_graph")


async def test_async_invocation_gives_the_same_tree(instrumented: LangChainInstrumentor) -> None:
    """ainvoke of the same graph records exactly the tree that invoke records."""
    graph = react_graph(ChatScripted(script=SUCCESS_SCRIPT), [add])
    with capture_events() as captured:
        result = await graph.ainvoke(QUESTION)
    assert result["messages"][-1].content == "2 + 3 = 5."
    check_events(captured, "react_graph")


def test_hidden_langgraph_runs_are_left_out(instrumented: LangChainInstrumentor) -> None:
    """LangGraph's hidden START node and entry routing record nothing; a model called while routing hangs under the
    graph."""
    model = ChatScripted(script=[ai("billing", tokens=(15, 1)), ai("Your invoice is attached.", tokens=(30, 6))])

    def route(state: MessagesState) -> str:
        return str(model.invoke([HumanMessage("Classify: billing or other?"), *state["messages"]]).content)

    def billing(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("billing", billing)
    graph.add_conditional_edges(START, route, ["billing"])
    with capture_events() as captured:
        graph.compile().invoke({"messages": [HumanMessage("Where is my invoice?")]})
    events = check_events(captured, "hidden_runs")
    assert events[1].type is EventType.LLM_REQUEST and events[1].parent_id == events[0].id


def test_tool_that_raises_fails_the_run(instrumented: LangChainInstrumentor) -> None:
    """A tool that raises gives an error tool_result; the node and the graph close with status error, no duplicate."""
    script: list[AIMessage | Exception] = [ai(calls=[("divide", {"a": 1, "b": 0})], tokens=(30, 9))]
    graph = react_graph(ChatScripted(script=script), [divide])
    with capture_events() as captured, pytest.raises(ZeroDivisionError):
        graph.invoke({"messages": [HumanMessage("What is 1 / 0?")]})
    events = check_events(captured, "tool_raises")
    failed = [event for event in events if event.status is EventStatus.ERROR]
    assert [event.type for event in failed] == [EventType.TOOL_RESULT, EventType.CUSTOM, EventType.AGENT_END]
    assert failed[0].attributes[semconv.ESCAI_ERROR_TYPE] == "ZeroDivisionError"


def test_tool_error_handled_by_tool_node(instrumented: LangChainInstrumentor) -> None:
    """With handle_tool_errors the tool's failure is still an error tool_result, and the model recovers."""
    script: list[AIMessage | Exception] = [
        ai(calls=[("divide", {"a": 1, "b": 0})], tokens=(30, 9)),
        ai("Division by zero is undefined.", tokens=(70, 7)),
    ]
    graph = react_graph(ChatScripted(script=script), [divide], handle_tool_errors=True)
    with capture_events() as captured:
        graph.invoke({"messages": [HumanMessage("What is 1 / 0?")]})
    events = check_events(captured, "tool_error_handled")
    assert events[-1].type is EventType.AGENT_END and events[-1].status is EventStatus.OK


def test_model_that_loops_hits_the_recursion_limit(instrumented: LangChainInstrumentor) -> None:
    """A model that keeps calling the same tool ends in GraphRecursionError, recorded as one error on the graph."""
    script: list[AIMessage | Exception] = [ai(calls=[("add", {"a": 1, "b": 1})], tokens=(25, 9))]
    graph = react_graph(ChatScripted(script=script), [add])
    with capture_events() as captured, pytest.raises(GraphRecursionError):
        graph.invoke({"messages": [HumanMessage("Add 1 and 1 until you are sure.")]}, {"recursion_limit": 5})
    events = check_events(captured, "recursion_limit")
    errors = [event for event in events if event.type is EventType.ERROR]
    assert len(errors) == 1 and errors[0].attributes[semconv.ESCAI_ERROR_TYPE] == "GraphRecursionError"
    assert errors[0].parent_id == events[0].id
    assert [event.name for event in events if event.type is EventType.TOOL_CALL] == ["add", "add"]


def test_retriever_documents_and_failure(instrumented: LangChainInstrumentor) -> None:
    """A retriever is a tool_call with the query and a tool_result summarising the documents, or an error."""
    retriever = KeywordRetriever(
        documents=[
            Document("Paris is the capital of France.", metadata={"source": "atlas.md"}),
            Document("Berlin is the capital of Germany.", metadata={"source": "atlas.md"}),
        ]
    )
    with capture_events() as captured:
        documents = retriever.invoke("capital of France")
        with pytest.raises(ValueError, match="empty query"):
            retriever.invoke(" ")
    assert len(documents) == 2
    check_events(captured, "retriever")


def test_agent_decisions_and_custom_events(instrumented: LangChainInstrumentor) -> None:
    """Agent actions and finishes become decision events, dispatch_custom_event a custom event, inside their run."""

    def legacy_agent(question: str, config: RunnableConfig, run_manager: CallbackManagerForChainRun) -> str:
        run_manager.on_agent_action(AgentAction("search", {"query": question}, "I should search for it."))
        dispatch_custom_event("progress", {"done": 1, "total": 2}, config=config)
        run_manager.on_agent_finish(AgentFinish({"output": "Paris"}, ""))
        return "Paris"

    with capture_events() as captured:
        RunnableLambda(legacy_agent).invoke("capital of France")
    check_events(captured, "decisions_and_custom_events")


def test_interrupt_is_not_an_error(instrumented: LangChainInstrumentor) -> None:
    """A LangGraph interrupt closes the node and graph with status unset, and the thread id is the conversation."""

    def ask_human(state: MessagesState) -> dict[str, Any]:
        answer = interrupt("Approve the transfer?")
        return {"messages": [HumanMessage(str(answer))]}

    graph = StateGraph(MessagesState)
    graph.add_node("ask_human", ask_human)
    graph.add_edge(START, "ask_human")
    app = graph.compile(checkpointer=InMemorySaver())
    with capture_events() as captured:
        app.invoke({"messages": [HumanMessage("Send 100 EUR to Bob.")]}, {"configurable": {"thread_id": "thread-7"}})
    events = check_events(captured, "interrupt")
    assert all(event.status is not EventStatus.ERROR for event in events)


def test_session_comes_from_the_escai_scope(instrumented: LangChainInstrumentor) -> None:
    """Inside an escai scope, runs join its session and agent and hang under its parent event."""
    model = ChatScripted(script=[ai("Paris.")])
    with capture_events() as captured, scoped(session_id="s-42", agent_id="planner", parent_id="outer-event"):
        lcel_chain(model).invoke({"question": "Capital of France?"})
        lcel_chain(model).invoke({"question": "Capital of France?"})
    events = captured.events()
    assert {(event.session_id, event.agent_id) for event in events} == {("s-42", "planner")}
    roots = [event for event in events if event.type is EventType.AGENT_START]
    assert len(roots) == 2 and {event.parent_id for event in roots} == {"outer-event"}


def test_each_root_run_is_its_own_session_by_default(instrumented: LangChainInstrumentor) -> None:
    """Outside a scope, each invoke is one session named after its root run id."""
    model = ChatScripted(script=[ai("Paris.")])
    first, second = uuid.uuid4(), uuid.uuid4()
    with capture_events() as captured:
        lcel_chain(model).invoke({"question": "Capital of France?"}, {"run_id": first})
        lcel_chain(model).invoke({"question": "Capital of France?"}, {"run_id": second})
    sessions = [event.session_id for event in captured.events()]
    assert sessions == [str(first)] * (len(sessions) // 2) + [str(second)] * (len(sessions) // 2)


# --- instrumentor lifecycle -----------------------------------------------------------------------------------------


def test_instrument_twice_records_once_and_uninstrument_restores() -> None:
    """instrument is idempotent (no duplicate events); uninstrument removes the hook and stops all recording."""
    original_init = BaseCallbackManager.__dict__["__init__"]
    assert instrument_langchain() is True
    assert instrument_langchain() is False
    try:
        with capture_events() as captured:
            lcel_chain(ChatScripted(script=[ai("Paris.", tokens=(21, 2))])).invoke({"question": "Capital of France?"})
        check_events(captured, "lcel_chain")
        kept_manager = CallbackManager(handlers=[])
        assert len(kept_manager.handlers) == 1
    finally:
        assert uninstrument_langchain() is True
    assert uninstrument_langchain() is False
    assert BaseCallbackManager.__dict__["__init__"] is original_init
    assert CallbackManager(handlers=[]).handlers == []
    with capture_events() as captured:
        lcel_chain(ChatScripted(script=[ai("Paris.")])).invoke({"question": "Capital of France?"})
        # A manager created while instrumented still holds the handler, which is now switched off.
        lcel_chain(ChatScripted(script=[ai("Paris.")])).invoke(
            {"question": "Capital of France?"}, {"callbacks": kept_manager}
        )
    assert captured.events() == []


def test_without_a_recorder_nothing_is_recorded(instrumented: LangChainInstrumentor) -> None:
    """With no recorder configured the handler does nothing and the chain works."""
    previous = set_recorder(None)
    try:
        answer = lcel_chain(ChatScripted(script=[ai("Paris.")])).invoke({"question": "Capital of France?"})
    finally:
        set_recorder(previous)
    assert answer == "Paris."
    assert not instrumented.handler._runs


class ExplodingRecorder(Recorder):
    """A recorder whose emit raises, standing in for any internal failure of the SDK."""

    def emit(self, *args: Any, **kwargs: Any) -> str:
        """Fail."""
        raise RuntimeError("recorder is broken")


@pytest.mark.usefixtures("instrumented")
def test_handler_never_raises_into_langchain(caplog: pytest.LogCaptureFixture) -> None:
    """When the recorder fails, the graph still runs to its normal result and LangChain sees no handler error."""
    recorder = ExplodingRecorder(InMemoryExporter(), default_session_id="s", default_agent_id="a")
    previous = set_recorder(recorder)
    try:
        with swallow_internal_errors():
            result = react_graph(ChatScripted(script=SUCCESS_SCRIPT), [add]).invoke(QUESTION)
    finally:
        set_recorder(previous)
        recorder.shutdown()
    assert result["messages"][-1].content == "2 + 3 = 5."
    assert not [record for record in caplog.records if "Error in" in record.getMessage()]
    caplog.clear()  # the SDK's own warning about the broken recorder is expected here


def test_missing_or_unsupported_langchain_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing langchain-core names the exact extra to install; an unsupported version names the range."""
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name == "langchain-core":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(InstrumentationError, match=r"pip install 'escai\[langchain\]'"):
        LangChainInstrumentor().instrument()
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.3.9")
    with pytest.raises(InstrumentationError, match=r"supported: >=1\.0,<2\.0"):
        LangChainInstrumentor().instrument()
    assert not hasattr(BaseCallbackManager.__dict__["__init__"], "__wrapped__")


def test_importing_the_instrumentor_does_not_import_langchain() -> None:
    """The framework is imported lazily, when instrumenting, not when ESCAI's module is imported."""
    code = "import sys, escai.instrument.langchain; assert 'langchain_core' not in sys.modules, 'imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_coexists_with_openinference_instrumentation() -> None:
    """OpenInference wrapping the same hook after ESCAI keeps working when ESCAI uninstruments, and vice versa."""
    from openinference.instrumentation.langchain import LangChainInstrumentor as OpenInferenceInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    openinference = OpenInferenceInstrumentor()
    original_init = BaseCallbackManager.__dict__["__init__"]
    instrument_langchain()
    openinference.instrument(tracer_provider=provider)
    try:
        with capture_events() as captured:
            lcel_chain(ChatScripted(script=[ai("Paris.", tokens=(21, 2))])).invoke({"question": "Capital of France?"})
        check_events(captured, "lcel_chain")
        assert len(spans.get_finished_spans()) == 4
        uninstrument_langchain()
        spans.clear()
        with capture_events() as captured:
            lcel_chain(ChatScripted(script=[ai("Paris.")])).invoke({"question": "Capital of France?"})
        assert captured.events() == []
        assert len(spans.get_finished_spans()) == 4
    finally:
        uninstrument_langchain()
        openinference.uninstrument()
    # OpenInference put back what it wrapped, ESCAI's switched-off wrapper: a pass-through that adds no handler.
    assert CallbackManager(handlers=[]).handlers == []
    with capture_events() as captured:
        lcel_chain(ChatScripted(script=[ai("Paris.")])).invoke({"question": "Capital of France?"})
    assert captured.events() == []
    BaseCallbackManager.__init__ = original_init  # type: ignore[method-assign]  # leave LangChain pristine
