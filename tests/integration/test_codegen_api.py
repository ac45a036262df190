"""``/api/v1/codegen/*``: the code generator's statistics over HTTP, on SQLite and PostgreSQL.

The app is the real one (service, migrations, database); the router is mounted under ``/api/v1`` as the server
does with the other routers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from escai.server.api.v1 import codegen
from escai.server.app import create_app
from escai.settings import Settings
from escai.store.engine import create_engine
from escai.store.seed_repository import (
    GenerationPhaseMetric,
    TemplateCacheStats,
    record_generation_metrics,
    record_pattern_feedback,
    record_template_cache_stats,
    update_mixin_compatibility,
)


async def _seed(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await record_generation_metrics(
                connection,
                [
                    GenerationPhaseMetric("run-1", "Scorer", "compute", "render", 40.0, True),
                    GenerationPhaseMetric("run-1", "Scorer", "compute", "render", 60.0, True),
                    GenerationPhaseMetric("run-1", "Sender", "effect", "typecheck", 4000.0, False, "1 error"),
                ],
            )
            await record_template_cache_stats(
                connection,
                TemplateCacheStats("node.py.j2", "a" * 64, 900, hits=3, misses=1, loads=1, total_load_ms=2.0),
            )
            await update_mixin_compatibility(connection, "effect", "retry", "timeout", True)
            await update_mixin_compatibility(connection, "effect", "caching", "retry", False, "caches a side effect")
            await record_pattern_feedback(connection, "bare-except", "true_positive", 0.9)
            await record_pattern_feedback(connection, "bare-except", "false_positive", 0.6)
    finally:
        await engine.dispose()


@pytest.fixture
def api(database_url: str, settings: Settings) -> Iterator[TestClient]:
    """A client of the ESCAI app (lifespan started) with the codegen router, on a seeded database."""
    asyncio.run(_seed(database_url))
    app = create_app(settings)
    # Until the server registers the router itself (create_app's router list), mount it the same way here.
    if not any(getattr(route, "path", "").startswith("/api/v1/codegen") for route in app.routes):
        app.include_router(codegen.router, prefix="/api/v1")
    with TestClient(app) as client:
        yield client


def test_stats_returns_all_four_views(api: TestClient) -> None:
    """``/codegen/stats`` carries the performance, cache, compatibility and feedback rows together."""
    response = api.get("/api/v1/codegen/stats")
    assert response.status_code == 200, response.text
    body = response.json()
    render = next(row for row in body["performance"] if row["phase"] == "render")
    assert (render["node_kind"], render["samples"], render["avg_duration_ms"]) == ("compute", 2, 50.0)
    assert body["template_cache"][0]["hit_rate"] == pytest.approx(0.75)
    assert len(body["mixin_compatibility"]) == 2
    assert body["pattern_feedback"][0]["precision"] == pytest.approx(0.5)


def test_performance_filters_by_node_kind(api: TestClient) -> None:
    """``node_kind`` narrows the performance summary, and the failure shows in the success rate."""
    rows = api.get("/api/v1/codegen/performance", params={"node_kind": "effect"}).json()["rows"]
    assert [(row["phase"], row["failures"], row["success_rate"]) for row in rows] == [("typecheck", 1, 0.0)]
    assert api.get("/api/v1/codegen/performance", params={"node_kind": "gadget"}).status_code == 422


def test_template_cache_reports_hits_misses_and_load_time(api: TestClient) -> None:
    """``/codegen/template-cache`` returns one row per template with its counters and derived rates."""
    [row] = api.get("/api/v1/codegen/template-cache").json()["rows"]
    assert (row["template_name"], row["lookups"], row["avg_load_ms"]) == ("node.py.j2", 4, 2.0)


def test_mixin_compatibility_filters_by_mixin(api: TestClient) -> None:
    """``mixin`` keeps only pairs with that mixin; the failed pair's score is below the successful one's."""
    rows = api.get("/api/v1/codegen/mixin-compatibility", params={"mixin": "caching"}).json()["rows"]
    assert [(row["mixin_a"], row["mixin_b"], row["last_error"]) for row in rows] == [
        ("caching", "retry", "caches a side effect")
    ]
    every = api.get("/api/v1/codegen/mixin-compatibility", params={"node_kind": "effect"}).json()["rows"]
    assert every[0]["compatibility_score"] > every[1]["compatibility_score"]


def test_pattern_feedback_filters_by_pattern(api: TestClient) -> None:
    """``pattern_id`` selects one pattern's analysis; an unknown one gives an empty list."""
    [row] = api.get("/api/v1/codegen/pattern-feedback", params={"pattern_id": "bare-except"}).json()["rows"]
    assert (row["true_positives"], row["false_positives"], row["false_positive_rate"]) == (1, 1, 0.5)
    assert api.get("/api/v1/codegen/pattern-feedback", params={"pattern_id": "nothing"}).json()["rows"] == []
