"""Demo agents built with LangGraph and a scripted chat model: a ReAct research agent that succeeds, and one
whose search tool keeps failing until the graph's recursion limit stops it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers with a fixed script of messages (no network, no API key)."""

    script: list[AIMessage]
    model_name: str = "scripted-gpt"
    position: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        """Tools are part of the script already; binding changes nothing."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Past the end of the script, the last message repeats: that is how a looping model behaves.
        # A fresh copy each time: LangChain stamps an id on the message it returns, and LangGraph's message
        # reducer would treat a repeated id as an update of the earlier message instead of a new turn.
        message = self.script[min(self.position, len(self.script) - 1)].model_copy(update={"id": None})
        self.position += 1
        return ChatResult(generations=[ChatGeneration(message=message)])


def _tool_call(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": arguments, "id": call_id, "type": "tool_call"}


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}


@tool
def web_search(query: str) -> str:
    """Search the web and return the best snippet."""
    return "Hubble was launched on 24 April 1990 aboard Space Shuttle Discovery (STS-31)."


@tool
def flaky_search(query: str) -> str:
    """Search the web through a backend that is down."""
    raise ConnectionError("search backend timed out after 5 s")


def _react_graph(model: ScriptedChatModel, tools: list[Any]) -> Any:
    def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools, handle_tool_errors=True))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile()


QUESTION = "What year did the Hubble Space Telescope launch, and on which shuttle?"


def run_research_agent() -> str:
    """A ReAct agent that searches once and answers."""
    model = ScriptedChatModel(
        script=[
            AIMessage(
                content="I should look up the launch record.",
                tool_calls=[_tool_call("web_search", {"query": "Hubble launch date shuttle"}, "call-1")],
                usage_metadata=_usage(212, 18),
            ),
            AIMessage(
                content="Hubble launched in 1990 aboard Space Shuttle Discovery (STS-31).",
                usage_metadata=_usage(268, 21),
            ),
        ]
    )
    result = _react_graph(model, [web_search]).invoke({"messages": [("user", QUESTION)]})
    return str(result["messages"][-1].content)


def run_looping_agent() -> None:
    """A ReAct agent whose tool keeps failing; it retries until LangGraph's recursion limit stops it."""
    model = ScriptedChatModel(
        script=[
            AIMessage(
                content="The search failed; I will try again.",
                tool_calls=[_tool_call("flaky_search", {"query": "Hubble launch"}, "call-x")],
                usage_metadata=_usage(240, 15),
            )
        ]
    )
    try:
        _react_graph(model, [flaky_search]).invoke({"messages": [("user", QUESTION)]}, {"recursion_limit": 8})
    except GraphRecursionError:
        raise RuntimeError("the agent looped on a failing tool until the recursion limit (8 steps)") from None


def scripts() -> Iterator[tuple[str, Any]]:
    """(label, callable) for each LangGraph demo run."""
    yield "LangGraph research agent (succeeds)", run_research_agent
    yield "LangGraph research agent (tool keeps failing, loops)", run_looping_agent
