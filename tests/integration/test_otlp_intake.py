"""``POST /v1/traces`` proven with clients ESCAI did not write: the OpenTelemetry SDK's OTLP/HTTP exporter and
OpenInference's LangChain instrumentor, sending to a real ``uvicorn`` server on both databases; OTLP/JSON over
httpx; the any-agent span dumps of seven frameworks; and bad input."""

from __future__ import annotations

import gzip
import json
import shlex
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi.testclient import TestClient
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from openinference.instrumentation import using_session
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from sqlalchemy.engine import make_url
from tests.integration.conftest import make_settings

from escai.ingest.otlp import map_span_dump
from escai.ingest.otlp.decode import decode_json
from escai.server.app import create_app
from escai.settings import Settings

SHARED = Path(__file__).parents[2].parent / "shared"
DATASETS = SHARED / "datasets"
LOAD_TOOL = SHARED / "tools" / "otlp_load.py"
ANY_AGENT_DUMPS = DATASETS / "framework_traces" / "any_agent_otel"
TRACE = "5b8efff798038103d269b633813fc60c"
JSON = "application/json"

ServerFactory = Callable[..., str]
# Counts stored spans the way docs/otlp.md tells users to: every span has exactly one "-start" event.
COUNT_SPANS = "select count(*) from agent_events where id like '%-start'"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def start_server(database_url: str, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start ``create_app(settings)`` under uvicorn in a background thread on a free port; returns its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: Any) -> str:
        settings = make_settings(database_url, tmp_path / f"home-{len(servers)}", **overrides)
        port = _free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, ws="none", lifespan="on"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)


def stored_events(base_url: str, headers: dict[str, str] | None = None, **filters: str) -> list[dict[str, Any]]:
    """Every stored event matching the filters, read back through the REST API."""
    events: list[dict[str, Any]] = []
    cursor: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **filters}
        if cursor is not None:
            params["cursor"] = cursor
        page = httpx.get(f"{base_url}/api/v1/events", params=params, headers=headers).raise_for_status().json()
        events.extend(page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            return events


def tree(events: Sequence[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    """(type, name, parent's type:name) for each event in step order: the stored tree in a comparable form."""
    index = {event["id"]: event for event in events}
    rows = []
    for event in sorted(events, key=lambda item: (item["trace_id"] or "", item["step_index"] or 0)):
        parent = index.get(event["parent_id"] or "")
        rows.append((event["type"], event["name"], f"{parent['type']}:{parent['name']}" if parent else None))
    return rows


def test_opentelemetry_sdk_exporter_delivers_the_span_tree(start_server: ServerFactory) -> None:
    """The SDK's OTLP/HTTP protobuf exporter (gzip, API key) sends an agent run; it is stored as a linked tree."""
    base_url = start_server(api_keys="otlp-test-key-0123456789")
    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": "trip-service"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{base_url}/v1/traces",
        compression=Compression.Gzip,
        headers={"Authorization": "Bearer otlp-test-key-0123456789"},
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("escai.tests.otel_sdk", "1.0")
    agent_attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "trip_planner",
        "gen_ai.conversation.id": conversation,
    }
    with tracer.start_as_current_span("invoke_agent trip_planner", attributes=agent_attributes):
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 350,
                "gen_ai.usage.output_tokens": 42,
                "gen_ai.response.finish_reasons": ("tool_calls",),
                "gen_ai.input.messages": '[{"role": "user", "content": "Weather in Lisbon?"}]',
            },
        ):
            time.sleep(0.002)
        with (
            pytest.raises(TimeoutError),
            tracer.start_as_current_span(
                "execute_tool get_weather",
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
            ),
        ):
            raise TimeoutError("weather API timed out")
    assert provider.force_flush(30_000)
    provider.shutdown()

    headers = {"X-API-Key": "otlp-test-key-0123456789"}
    events = stored_events(base_url, headers, session_id=conversation)
    assert tree(events) == [
        ("agent_start", "trip_planner", None),
        ("llm_request", "gpt-4o", "agent_start:trip_planner"),
        ("llm_response", "gpt-4o", "llm_request:gpt-4o"),
        ("tool_call", "get_weather", "agent_start:trip_planner"),
        ("error", "TimeoutError", "tool_call:get_weather"),
        ("tool_result", "get_weather", "tool_call:get_weather"),
        ("agent_end", "trip_planner", "agent_start:trip_planner"),
    ]
    assert {(event["agent_id"], event["framework"]) for event in events} == {("trip_planner", "escai.tests.otel_sdk")}
    response = next(event for event in events if event["type"] == "llm_response")
    assert (response["tokens_input"], response["tokens_output"]) == (350, 42)
    assert response["attributes"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert response["duration_ms"] >= 2.0
    tool_result = next(event for event in events if event["type"] == "tool_result")
    assert tool_result["status"] == "error"
    assert "weather API timed out" in tool_result["attributes"]["otel.status_description"]
    request = next(event for event in events if event["type"] == "llm_request")
    assert request["content"] == '[{"role": "user", "content": "Weather in Lisbon?"}]'
    # The resource is kept once per subtree: on the top span's start event, not repeated below it.
    agent_start = next(event for event in events if event["type"] == "agent_start")
    assert agent_start["attributes"]["escai.otel.resource"]["service.name"] == "trip-service"
    assert "escai.otel.resource" not in request["attributes"]
    # Without the key the same endpoint refuses.
    refused = httpx.post(f"{base_url}/v1/traces", content=b"", headers={"Content-Type": "application/x-protobuf"})
    assert refused.status_code == 401


class _NamedFakeChatModel(GenericFakeChatModel):
    """A scripted chat model that reports a model name, as real provider integrations do."""

    model_name: str = "fake-gpt-4o-mini"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny in {city}"


# OpenInference's LangChain tracer calls a LangChain API that LangChain 1.x deprecates; the warning is theirs.
@pytest.mark.filterwarnings("ignore:Calling .text\\(\\) as a method is deprecated")
def test_openinference_langchain_instrumentor_exports_llm_and_tool_spans(start_server: ServerFactory) -> None:
    """A LangChain chain traced by openinference-instrumentation-langchain arrives with model, tokens, messages."""
    base_url = start_server()
    session = f"oi-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-bot"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base_url}/v1/traces")))
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        reply = AIMessage(
            content="Paris",
            usage_metadata={"input_tokens": 12, "output_tokens": 4, "total_tokens": 16},
            response_metadata={"finish_reason": "stop"},
        )
        model = _NamedFakeChatModel(messages=iter([reply]))
        chain = (
            ChatPromptTemplate.from_messages([("system", "Answer with a city."), ("user", "{question}")])
            | model
            | StrOutputParser()
            | RunnableLambda(lambda city: get_weather.invoke({"city": city}), name="check_weather")
        )
        with using_session(session):
            answer = chain.invoke({"question": "Where is the Louvre?"})
        assert answer == "sunny in Paris"
        assert provider.force_flush(30_000)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    events = stored_events(base_url, session_id=session)
    kinds = {(event["type"], event["name"]) for event in events}
    assert {
        ("agent_start", "RunnableSequence"),
        ("llm_request", "fake-gpt-4o-mini"),
        ("llm_response", "fake-gpt-4o-mini"),
        ("tool_call", "get_weather"),
        ("tool_result", "get_weather"),
    } <= kinds
    assert {event["framework"] for event in events} == {"langchain"}
    assert {event["agent_id"] for event in events} == {"weather-bot"}
    by_id = {event["id"]: event for event in events}
    request = next(event for event in events if event["type"] == "llm_request")
    response = next(event for event in events if event["type"] == "llm_response")
    assert by_id[request["parent_id"]]["name"] == "RunnableSequence"
    assert orjson.loads(request["content"]) == [
        {"role": "system", "content": "Answer with a city."},
        {"role": "user", "content": "Where is the Louvre?"},
    ]
    assert request["attributes"]["gen_ai.request.model"] == "fake-gpt-4o-mini"
    assert request["attributes"]["openinference.span.kind"] == "LLM"
    assert (response["tokens_input"], response["tokens_output"]) == (12, 4)
    assert orjson.loads(response["content"]) == [{"role": "assistant", "content": "Paris"}]
    tool_call = next(event for event in events if event["type"] == "tool_call")
    assert by_id[tool_call["parent_id"]]["name"] == "check_weather"
    assert tool_call["content"] == "Paris"


def otlp_json_export(span_ids: Sequence[str]) -> dict[str, Any]:
    """An OTLP/JSON export: an agent span and one tool span per further id, the last one with an all-zero trace id."""
    now = time.time_ns()
    spans: list[dict[str, Any]] = [
        {
            "traceId": TRACE,
            "spanId": span_ids[0],
            "name": "invoke_agent json_agent",
            "kind": "SPAN_KIND_INTERNAL",
            "startTimeUnixNano": str(now),
            "endTimeUnixNano": str(now + 5_000_000),
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}],
        }
    ]
    for number, span_id in enumerate(span_ids[1:], start=1):
        spans.append(
            {
                "traceId": TRACE,
                "spanId": span_id,
                "parentSpanId": span_ids[0],
                "name": f"execute_tool step_{number}",
                "kind": 1,
                "startTimeUnixNano": now + number * 1_000_000,
                "endTimeUnixNano": str(now + number * 1_000_000 + 500_000),
                "attributes": [{"key": "gen_ai.tool.call.arguments", "value": {"stringValue": '{"n": 1}'}}],
                "status": {"code": 1},
            }
        )
    spans[-1]["traceId"] = "0" * 32
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "json-client"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "hand"}, "spans": spans}]}]}


def test_otlp_json_with_gzip_is_accepted_with_partial_success(start_server: ServerFactory) -> None:
    """OTLP/JSON posted gzip-compressed is stored; the span with a zero trace id is counted as rejected."""
    base_url = start_server()
    span_ids = ["a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "c3c3c3c3c3c3c3c3", "d4d4d4d4d4d4d4d4"]
    body = gzip.compress(orjson.dumps(otlp_json_export(span_ids)))
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = httpx.post(f"{base_url}/v1/traces", content=body, headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "trace id" in partial["errorMessage"]
    events = stored_events(base_url, session_id=TRACE)
    assert tree(events) == [
        ("agent_start", "json_agent", None),
        ("tool_call", "step_1", "agent_start:json_agent"),
        ("tool_result", "step_1", "tool_call:step_1"),
        ("tool_call", "step_2", "agent_start:json_agent"),
        ("tool_result", "step_2", "tool_call:step_2"),
        ("agent_end", "json_agent", "agent_start:json_agent"),
    ]
    assert {event["agent_id"] for event in events} == {"json_agent"}


def test_bad_input_is_refused_and_resent_spans_are_stored_once(start_server: ServerFactory) -> None:
    """Garbage protobuf: 400 and a dead letter; another content type: 415; too many spans: 413; the same export
    twice: stored once."""
    base_url = start_server(max_events_per_request=10)
    garbage = httpx.post(
        f"{base_url}/v1/traces",
        content=b"\x0a\xff\xff\xff\x00garbage",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert garbage.status_code == 400
    assert garbage.headers["content-type"] == "application/x-protobuf"
    assert b"ExportTraceServiceRequest" in garbage.content  # the google.rpc.Status message text
    letters = httpx.get(f"{base_url}/api/v1/admin/dead-letters").json()
    assert [(letter["source"], letter["payload"][:7]) for letter in letters] == [("otlp", "base64:")]
    wrong_type = httpx.post(f"{base_url}/v1/traces", content=b"<spans/>", headers={"Content-Type": "text/xml"})
    assert wrong_type.status_code == 415
    assert "application/x-protobuf" in wrong_type.json()["message"]

    export = otlp_json_export(["e5e5e5e5e5e5e5e5", "f6f6f6f6f6f6f6f6", "0707070707070707"])
    body = orjson.dumps(export)
    for _ in range(2):
        answer = httpx.post(f"{base_url}/v1/traces", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200
    assert len(stored_events(base_url, session_id=TRACE)) == 4

    # More spans than the per-request limit: 413, nothing stored.
    crowded = otlp_json_export([f"{number:016x}" for number in range(1, 12)])
    crowded["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "cd" * 16
    answer = httpx.post(f"{base_url}/v1/traces", content=orjson.dumps(crowded), headers={"Content-Type": JSON})
    assert (answer.status_code, answer.json()["code"]) == (413, 8)
    assert stored_events(base_url, session_id="cd" * 16) == []

    # A span the pipeline refuses (an impossible timestamp) is counted in partial_success and not stored.
    ancient = otlp_json_export(["1818181818181818", "2929292929292929"])
    ancient_span = ancient["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    ancient_span.update(traceId="ab" * 16, startTimeUnixNano="0", endTimeUnixNano="1000")
    answer = httpx.post(f"{base_url}/v1/traces", content=orjson.dumps(ancient), headers={"Content-Type": JSON})
    partial = answer.json()["partialSuccess"]
    assert (partial["rejectedSpans"], "before 2000" in partial["errorMessage"]) == ("2", True)
    assert stored_events(base_url, session_id="ab" * 16) == []

    # The same spans as protobuf are the same events: still stored once; the zero-id span is still refused.
    again = httpx.post(
        f"{base_url}/v1/traces",
        content=decode_json(body).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    parsed = ExportTraceServiceResponse.FromString(again.content)
    assert (again.status_code, parsed.partial_success.rejected_spans) == (200, 1)
    assert len(stored_events(base_url, session_id=TRACE)) == 4


@pytest.fixture
def any_agent_dumps() -> list[Path]:
    """The any-agent trace dumps, or a skip that says where they were looked for."""
    files = sorted(ANY_AGENT_DUMPS.glob("*_trace.json"))
    if not files:
        pytest.skip(f"any-agent span dumps not found under {ANY_AGENT_DUMPS} (the shared datasets folder)")
    return files


def test_any_agent_dumps_of_every_framework_keep_tree_and_kinds(
    any_agent_dumps: list[Path], settings: Settings
) -> None:
    """Each framework's real span dump is converted, ingested and read back as one tree with the right kinds."""
    with TestClient(create_app(settings)) as client:
        for path in any_agent_dumps:
            framework = path.name.removesuffix("_trace.json").lower()
            # The standard json module: any-agent writes 128-bit ids as integers, which orjson cannot hold.
            document = json.loads(path.read_bytes())
            mapped = map_span_dump(document, framework=framework)
            assert mapped.rejected == [], framework
            body = {"events": [event.model_dump(mode="json") for event in mapped.events]}
            assert client.post("/api/v1/events", json=body).json()["accepted"] == len(mapped.events), framework

            spans = document["spans"]
            trace_id = f"{spans[0]['context']['trace_id']:032x}"
            events = client.get("/api/v1/events", params={"session_id": trace_id, "limit": 1000}).json()["events"]
            by_id = {event["id"]: event for event in events}
            roots = [event for event in events if event["parent_id"] is None]
            assert [(root["type"], root["name"]) for root in roots] == [("agent_start", "any_agent")], framework
            assert all(event["parent_id"] is None or event["parent_id"] in by_id for event in events), framework
            operations = [span["attributes"]["gen_ai.operation.name"] for span in spans]
            counts = {
                kind: sum(1 for event in events if event["type"] == kind) for kind in ("llm_request", "tool_call")
            }
            assert counts == {
                "llm_request": operations.count("call_llm"),
                "tool_call": operations.count("execute_tool"),
            }, framework
            assert sorted(event["step_index"] for event in events) == list(range(len(events))), framework
            assert {event["framework"] for event in events} == {framework}
            responses = [event for event in events if event["type"] == "llm_response"]
            assert all(event["tokens_input"] and event["cost"] for event in responses), framework
            tool_calls = [event for event in events if event["type"] == "tool_call"]
            assert all(by_id[event["parent_id"]]["type"] == "agent_start" for event in tool_calls), framework


def test_the_shared_load_tool_sees_every_span_stored(start_server: ServerFactory, database_url: str) -> None:
    """``shared/tools/otlp_load.py`` (the peer comparison tool) gets 2xx answers and counts all its spans stored."""
    if not LOAD_TOOL.exists():
        pytest.skip(f"the OTLP load tool is not at {LOAD_TOOL} (the shared tools folder)")
    base_url = start_server()
    sync_url = make_url(database_url)
    sync_url = sync_url.set(drivername="sqlite" if sync_url.drivername.startswith("sqlite") else "postgresql+psycopg2")
    count_code = (
        "import sqlalchemy, sys; engine = sqlalchemy.create_engine(sys.argv[1]); "
        f"print(engine.connect().execute(sqlalchemy.text({COUNT_SPANS!r})).scalar())"
    )
    count_command = shlex.join([sys.executable, "-c", count_code, sync_url.render_as_string(hide_password=False)])
    run = subprocess.run(
        [sys.executable, str(LOAD_TOOL), "--endpoint", f"{base_url}/v1/traces", "--spans", "100",
         "--per-request", "25", "--connections", "2", "--timeout", "60", "--count-cmd", count_command],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "sent 100 spans in 4 requests" in run.stdout and "(0 failed requests); stored 100 " in run.stdout
