"""POST /api/v1/events: acceptance, acknowledgement after commit, duplicates and every kind of bad input."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.integration.conftest import event, make_settings

from escai.server.app import create_app


def stored_ids(client: TestClient, session_id: str) -> list[str]:
    """Ids of the stored events of a session, in ingest order."""
    response = client.get("/api/v1/events", params={"session_id": session_id, "limit": 1000})
    assert response.status_code == 200
    return [item["id"] for item in response.json()["events"]]


def test_batch_is_stored_and_acknowledged(client: TestClient) -> None:
    """A valid batch is answered 200 with its count, and every event is readable right after."""
    events = [event(id=f"e{i}", step_index=i) for i in range(25)]
    response = client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200
    assert response.json() == {"accepted": 25, "duplicates": 0, "filtered": 0, "rejected": []}
    assert stored_ids(client, "s-1") == [f"e{i}" for i in range(25)]


def test_bare_array_is_accepted(client: TestClient) -> None:
    """A JSON array of events is the same as {"events": [...]}."""
    response = client.post("/api/v1/events", json=[event(id="only")])
    assert response.json()["accepted"] == 1


def test_duplicate_ids_are_stored_once(client: TestClient) -> None:
    """The same id sent twice, in one batch or in two, is stored once and acknowledged as a duplicate."""
    first = client.post("/api/v1/events", json=[event(id="dup"), event(id="dup")])
    assert first.json()["accepted"] == 1 and first.json()["duplicates"] == 1
    second = client.post("/api/v1/events", json=[event(id="dup"), event(id="new")])
    assert second.json()["accepted"] == 1 and second.json()["duplicates"] == 1
    assert stored_ids(client, "s-1") == ["dup", "new"]
    session = client.get("/api/v1/monitoring/sessions/s-1").json()
    assert session["event_count"] == 2


def test_invalid_events_are_refused_with_reasons_and_the_rest_stored(client: TestClient) -> None:
    """Wrong types, missing ids and unknown kinds get a reason each; valid events of the same batch are stored."""
    batch = [
        event(id="ok-1"),
        {"agent_id": "agent-1", "type": "message"},  # no session_id
        event(id="bad-type", type="teleport"),
        event(id="bad-step", step_index="three"),
        "not an object",
        event(id="ok-2"),
    ]
    response = client.post("/api/v1/events", json=batch)
    assert response.status_code == 422
    body = response.json()
    assert body["accepted"] == 2
    reasons = {item["index"]: item["reason"] for item in body["rejected"]}
    assert set(reasons) == {1, 2, 3, 4}
    assert reasons[1].startswith("session_id: Field required")
    assert "type: Input should be" in reasons[2]
    assert "step_index" in reasons[3]
    assert "must be a JSON object" in reasons[4]
    assert [item["id"] for item in body["rejected"]] == [None, "bad-type", "bad-step", None]
    assert stored_ids(client, "s-1") == ["ok-1", "ok-2"]
    letters = client.get("/api/v1/admin/dead-letters").json()
    assert sorted(letter["event_id"] or "-" for letter in letters) == ["-", "-", "bad-step", "bad-type"]
    assert all(letter["reason"] for letter in letters)


def test_malformed_json_is_answered_400_and_dead_lettered(client: TestClient) -> None:
    """A body that is not JSON gets 400 with where it broke; the body is kept as a dead letter."""
    response = client.post(
        "/api/v1/events", content=b'[{"session_id": "s", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    letters = client.get("/api/v1/admin/dead-letters").json()
    assert letters[0]["reason"].startswith("body is not valid JSON")
    assert '"session_id"' in letters[0]["payload"]


def test_invalid_utf8_is_answered_400(client: TestClient) -> None:
    """Bytes that are not UTF-8 are refused with a reason that says so."""
    response = client.post("/api/v1/events", content=b'[{"content": "\xff\xfe"}]')
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"] or "utf-8" in response.json()["detail"].lower()


def test_empty_body_and_wrong_shape(client: TestClient) -> None:
    """An empty body is 400; a JSON value that is not a list of events is 422 with the expected shape."""
    assert client.post("/api/v1/events", content=b"").status_code == 400
    response = client.post("/api/v1/events", json={"event": {}})
    assert response.status_code == 422
    assert "expected a JSON array" in response.json()["detail"]


def test_far_future_and_far_past_timestamps_are_refused(client: TestClient) -> None:
    """Timestamps beyond the allowed clock skew or before the earliest year are refused, the rest stored."""
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    response = client.post(
        "/api/v1/events",
        json=[
            event(id="future", timestamp=future),
            event(id="past", timestamp="1970-01-01T00:00:00Z"),
            event(id="now"),
        ],
    )
    assert response.status_code == 422
    reasons = {item["id"]: item["reason"] for item in response.json()["rejected"]}
    assert "in the future" in reasons["future"]
    assert "before 2000" in reasons["past"]
    assert stored_ids(client, "s-1") == ["now"]


def test_naive_timestamps_are_read_as_utc(client: TestClient) -> None:
    """A timestamp without a zone is stored as UTC and returned with one."""
    client.post("/api/v1/events", json=[event(id="naive", timestamp="2026-01-02T03:04:05.123456")])
    stored = client.get("/api/v1/events", params={"session_id": "s-1"}).json()["events"][0]
    assert stored["timestamp"] == "2026-01-02T03:04:05.123456Z"


def test_oversized_body_and_batch_are_answered_413(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Bodies and batches over the configured limits are refused with 413 and the server keeps serving."""
    settings = make_settings(database_url, tmp_path, max_body_bytes=4096, max_events_per_request=3)
    with TestClient(create_app(settings)) as client:
        big = client.post("/api/v1/events", json=[event(content="x" * 5000)])
        assert big.status_code == 413
        assert "4096" in big.json()["detail"]
        many = client.post("/api/v1/events", json=[event(id=f"m{i}") for i in range(4)])
        assert many.status_code == 413
        assert "limit of 3" in many.json()["detail"]
        bomb = gzip.compress(orjson.dumps([event(content="y" * 100_000)]))
        assert len(bomb) < 4096
        inflated = client.post("/api/v1/events", content=bomb, headers={"content-encoding": "gzip"})
        assert inflated.status_code == 413
        assert client.post("/api/v1/events", json=[event(id="fine")]).status_code == 200


def test_gzip_body_is_accepted(client: TestClient) -> None:
    """SDK batches compressed with gzip are decompressed and stored."""
    body = gzip.compress(orjson.dumps([event(id=f"g{i}") for i in range(10)]))
    response = client.post("/api/v1/events", content=body, headers={"content-encoding": "gzip"})
    assert response.json()["accepted"] == 10


def test_invalid_gzip_is_answered_400(client: TestClient) -> None:
    """A body that claims gzip but is not is refused with a reason."""
    response = client.post("/api/v1/events", content=b"plain", headers={"content-encoding": "gzip"})
    assert response.status_code == 400
    assert "gzip" in response.json()["detail"]


def test_nul_characters_are_removed_so_both_engines_store_the_event(client: TestClient) -> None:
    """PostgreSQL cannot store NUL; the event is stored without it on both engines."""
    response = client.post("/api/v1/events", json=[event(id="nul", content="a\x00b", attributes={"k": "v\x00"})])
    assert response.json()["accepted"] == 1
    stored = client.get("/api/v1/events", params={"session_id": "s-1"}).json()["events"][0]
    assert stored["content"] == "ab"
    assert stored["attributes"] == {"k": "v"}


def test_pii_is_masked_before_storage(client: TestClient) -> None:
    """E-mails, card numbers and keys in content and attributes never reach the database."""
    secret = "sk-proj-" + "A1b2C3d4" * 4
    client.post(
        "/api/v1/events",
        json=[
            event(
                id="pii", content="write to jane@example.org, card 4111 1111 1111 1111", attributes={"api_key": secret}
            )
        ],
    )
    stored = client.get("/api/v1/events", params={"session_id": "s-1"}).json()["events"][0]
    assert "jane@example.org" not in stored["content"] and "4111" not in stored["content"]
    assert "[EMAIL]" in stored["content"] and "[CARD]" in stored["content"]
    assert secret not in orjson.dumps(stored["attributes"]).decode()
    assert stored["attributes"]["escai.pii.masked"]["email"] == 1


def test_pii_masking_can_be_switched_off(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With ESCAI_PII_MASKING=false the content is stored as sent."""
    with TestClient(create_app(make_settings(database_url, tmp_path, pii_masking=False))) as client:
        client.post("/api/v1/events", json=[event(id="raw", content="jane@example.org")])
        stored = client.get("/api/v1/events", params={"session_id": "s-1"}).json()["events"][0]
        assert stored["content"] == "jane@example.org"


def test_sessions_and_agents_are_derived_from_events(client: TestClient) -> None:
    """Session start/end events set the task, owner, status and outcome; every speaker is listed."""
    sid = f"sess-{uuid.uuid4().hex[:6]}"
    client.post(
        "/api/v1/events",
        json=[
            event(sid, "planner", id="a", type="session_start", content="fix the bug", framework="AutoGen"),
            event(sid, "coder", id="b", type="tool_call", name="run_tests"),
            event(
                sid,
                "planner",
                id="c",
                type="session_end",
                status="error",
                attributes={"escai.outcome.success": False, "escai.outcome.score": 0.0},
            ),
        ],
    )
    session = client.get(f"/api/v1/monitoring/sessions/{sid}").json()
    assert session["task"] == "fix the bug"
    assert session["framework"] == "autogen"
    assert session["agent_ids"] == ["planner", "coder"]
    assert session["status"] == "failed" and session["outcome_success"] is False
    assert session["ended_at"] is not None and session["event_count"] == 3
    coder_sessions = client.get("/api/v1/agents/coder/sessions").json()
    assert [item["id"] for item in coder_sessions["sessions"]] == [sid]
    agents = {agent["id"]: agent for agent in client.get("/api/v1/agents").json()}
    assert agents["planner"]["event_count"] == 2 and agents["coder"]["session_count"] == 1
    assert client.get("/api/v1/monitoring/sessions/nope").status_code == 404
    assert client.get("/api/v1/agents/nope").status_code == 404


def test_event_pagination_and_filters(client: TestClient) -> None:
    """Keyset pages cover every event once; type and agent filters narrow the result."""
    events = [
        event(id=f"p{i:03d}", type="tool_call" if i % 3 == 0 else "message", agent_id=f"a{i % 2}") for i in range(50)
    ]
    client.post("/api/v1/events", json=events)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"session_id": "s-1", "limit": 7}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/api/v1/events", params=params).json()
        seen.extend(item["id"] for item in page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{i:03d}" for i in range(50)]
    tools = client.get("/api/v1/events", params={"type": "tool_call", "agent_id": "a0", "limit": 100}).json()
    assert [item["id"] for item in tools["events"]] == [f"p{i:03d}" for i in range(50) if i % 3 == 0 and i % 2 == 0]


def test_session_list_filters_and_pages(client: TestClient) -> None:
    """Sessions list newest first with a total, filtered by status."""
    for index in range(5):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=index)
        client.post(
            "/api/v1/events",
            json=[
                event(f"L{index}", id=f"L{index}-s", type="session_start", timestamp=start.isoformat()),
                event(
                    f"L{index}",
                    id=f"L{index}-e",
                    type="session_end",
                    status="ok" if index % 2 else "error",
                    timestamp=(start + timedelta(minutes=1)).isoformat(),
                ),
            ],
        )
    page = client.get("/api/v1/monitoring/sessions", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and [item["id"] for item in page["sessions"]] == ["L3", "L2"]
    failed = client.get("/api/v1/monitoring/sessions", params={"status": "failed"}).json()
    assert [item["id"] for item in failed["sessions"]] == ["L4", "L2", "L0"]


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_api_key_is_required_when_configured(database_url: str, tmp_path, header: str) -> None:  # type: ignore[no-untyped-def]
    """With API keys configured, requests without a valid key get 401; with one, they are served."""
    key = "k" * 24
    settings = make_settings(database_url, tmp_path, api_keys=key)
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/v1/events", json=[event()]).status_code == 401
        assert client.get("/api/v1/monitoring/sessions", headers={header: "wrong"}).status_code == 401
        value = f"Bearer {key}" if header == "authorization" else key
        assert client.post("/api/v1/events", json=[event()], headers={header: value}).status_code == 200
        assert client.get("/health").status_code == 200  # liveness stays open for probes
        assert client.get("/metrics").status_code == 401


def test_health_ready_metrics_and_openapi(client: TestClient) -> None:
    """Probes answer, Prometheus metrics count ingest, and the OpenAPI schema validates."""
    client.post("/api/v1/events", json=[event(id="m1"), event(id="m2"), {"bad": True}])
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready").json()
    assert ready["checks"]["database"] == "ok" and ready["checks"]["ingest_writer"] == "ok"
    text = client.get("/metrics").text
    assert "escai_ingest_events_stored_total 2.0" in text
    assert 'escai_ingest_events_rejected_total{source="api"} 1.0' in text
    assert "escai_ingest_batch_write_seconds_bucket" in text
    assert "escai_ingest_queue_depth" in text
    schema = client.get("/openapi.json").json()
    from openapi_spec_validator import validate

    validate(schema)
    assert schema["paths"]["/api/v1/events"]["post"]["operationId"] == "ingest_events"
    assert "requestBody" in schema["paths"]["/api/v1/events"]["post"]


def test_processing_health_gives_percentiles(client: TestClient) -> None:
    """Every written batch is recorded, and the admin API reports p50/p95/p99 per stage."""
    for index in range(5):
        client.post("/api/v1/events", json=[event(id=f"h{index}")])
    rows = client.get("/api/v1/admin/metrics").json()
    batch_rows = [row for row in rows if row["stage"] == "batch_write"]
    assert sum(row["batches"] for row in batch_rows) >= 5
    assert sum(row["events"] for row in batch_rows) >= 5
    assert all(row["p50_duration_ms"] <= row["p95_duration_ms"] <= row["p99_duration_ms"] for row in batch_rows)


def test_config_hides_secrets(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The admin config endpoint never shows API keys or passwords."""
    key = "s3cr3t-key-" + "x" * 10
    with TestClient(create_app(make_settings(database_url, tmp_path, api_keys=key))) as client:
        text = client.get("/api/v1/admin/config", headers={"x-api-key": key}).text
        assert key not in text
        assert '"authentication":true' in text.replace(" ", "")


def test_correlation_id_is_echoed_or_created(client: TestClient) -> None:
    """A client's X-Correlation-ID is returned on the response; without one the server makes a new one."""
    given = client.get("/health", headers={"x-correlation-id": "trace-abc-123"})
    assert given.headers["x-correlation-id"] == "trace-abc-123"
    created = client.get("/health")
    assert len(created.headers["x-correlation-id"]) >= 32
    assert created.headers["x-correlation-id"] != client.get("/health").headers["x-correlation-id"]
