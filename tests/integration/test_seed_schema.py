"""The code generator's seed schema (migration 0002) on SQLite and PostgreSQL: tables, views, functions.

Most tests take ``database_url`` and so run once per engine; the cross-engine tests take ``sqlite_url`` and
``postgres_url`` together and compare the two engines' answers to the same calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, func, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escai.store import seed_sql
from escai.store.engine import create_engine
from escai.store.migrate import current_revision, downgrade, head_revision, upgrade
from escai.store.seed_repository import (
    CONFIDENCE_PRIOR_WEIGHT,
    GenerationPhaseMetric,
    InvalidCodegenRecordError,
    TemplateCacheStats,
    UnknownFeedbackTypeError,
    compatibility_confidence,
    compatibility_score,
    get_mixin_compatibility,
    list_event_processing_health,
    list_mixin_compatibility,
    list_pattern_feedback_analysis,
    list_performance_summary,
    list_template_cache_efficiency,
    record_generation_metrics,
    record_pattern_feedback,
    record_template_cache_stats,
    update_mixin_compatibility,
)
from escai.store.seed_tables import (
    FEEDBACK_TYPES,
    GENERATION_PHASES,
    NODE_KINDS,
    generation_performance_metrics,
    mixin_compatibility_matrix,
    pattern_feedback_log,
    template_cache_metadata,
)
from escai.store.tables import event_processing_metrics, metadata

SEED_TABLES = (
    "generation_performance_metrics",
    "template_cache_metadata",
    "mixin_compatibility_matrix",
    "pattern_feedback_log",
)
SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
UNKNOWN_TYPE_MESSAGE = (
    'unknown feedback_type "bogus"; expected one of: true_positive, false_positive, false_negative, user_override'
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated test database, disposed after the test."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose uncommitted work is rolled back at the end of the test."""
    async with engine.connect() as connection:
        yield connection


# --- Reference implementations and datasets ----------------------------------------------------------------


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont, written out: linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def event_metric_rows(seed: int = 7) -> list[dict[str, Any]]:
    """Batches for two stages over three hours, with group sizes 1, 2, 7, 20, 37 and 101 and a few ties."""
    rng = random.Random(seed)
    sizes = {("validate", 0): 7, ("validate", 1): 37, ("validate", 2): 1, ("write", 0): 20, ("write", 1): 2}
    sizes[("write", 2)] = 101  # 0.99 * 100 is a whole rank: the interpolation weight is exactly 0
    rows = []
    for (stage, hour), count in sizes.items():
        for index in range(count):
            duration = round(rng.uniform(1, 500), 3) if index % 5 else 42.0  # every 5th is a tie
            rows.append(
                {
                    "batch_id": f"{stage}-{hour}-{index}",
                    "stage": stage,
                    "source": "http",
                    "batch_size": rng.randint(1, 500),
                    "duration_ms": duration,
                    "queue_wait_ms": round(rng.uniform(0, 50), 3),
                    "retries": rng.randint(0, 2),
                    "success": rng.random() > 0.15,
                    "error": None,
                    "recorded_at": T0 + timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=index % 60),
                }
            )
    return rows


MIXIN_SCRIPT: list[tuple[Any, str, str, bool, str | None]] = [
    ("effect", "retry", "logging", True, None),
    ("effect", "logging", "retry", False, "ImportError: retry wrapper"),
    ("effect", "retry", "logging", True, None),
    ("compute", "caching", "metrics", True, None),
    ("compute", "metrics", "caching", True, None),
    ("compute", "caching", "metrics", True, None),
    ("orchestrator", "timeout", "circuit_breaker", False, "deadlock"),
    ("orchestrator", "circuit_breaker", "timeout", False, "deadlock"),
    # Upper case sorts before lower case by code point: stored as ("Zeta", "alpha") on both engines.
    ("reducer", "alpha", "Zeta", True, None),
    ("effect", "retry", "caching", True, None),  # same pair names as compute's, another node kind
]

FEEDBACK_SCRIPT: list[tuple[str, Any, float | None]] = [
    *[("p.bare_except", "true_positive", 0.9)] * 6,
    *[("p.bare_except", "false_positive", 0.6)] * 2,
    ("p.bare_except", "false_negative", None),
    ("p.bare_except", "user_override", 0.7),
    ("p.mutable_default", "false_negative", None),
    ("p.mutable_default", "user_override", 0.5),
]


async def apply_scripts(conn: AsyncConnection) -> list[float]:
    """Run MIXIN_SCRIPT and FEEDBACK_SCRIPT through the repository and insert the event metric batches."""
    scores = [await update_mixin_compatibility(conn, *step) for step in MIXIN_SCRIPT]
    for pattern_id, feedback_type, confidence in FEEDBACK_SCRIPT:
        await record_pattern_feedback(conn, pattern_id, feedback_type, confidence)
    await conn.execute(insert(event_processing_metrics), event_metric_rows())
    return scores


def without(record: Any, *names: str) -> dict[str, Any]:
    """A view record as a dict, minus the columns that depend on the wall clock."""
    values: dict[str, Any] = dataclasses.asdict(record)
    for name in names:
        values.pop(name)
    return values


# --- Mixin compatibility -----------------------------------------------------------------------------------


async def test_reversed_pair_updates_the_canonical_row(conn: AsyncConnection) -> None:
    """Calling with (b, a) after (a, b) updates the one row stored as (a, b)."""
    await update_mixin_compatibility(conn, "effect", "caching", "retry", True)
    await update_mixin_compatibility(conn, "effect", "retry", "caching", False, "TypeError")

    rows = (await conn.execute(select(mixin_compatibility_matrix))).mappings().all()
    assert [(row["mixin_a"], row["mixin_b"]) for row in rows] == [("caching", "retry")]
    assert (rows[0]["success_count"], rows[0]["failure_count"]) == (1, 1)
    assert (rows[0]["last_outcome"], rows[0]["last_error"]) == ("failure", "TypeError")
    pair = await get_mixin_compatibility(conn, "effect", "retry", "caching")
    assert pair is not None
    assert (pair.mixin_a, pair.mixin_b, pair.observations) == ("caching", "retry", 2)


@pytest.mark.parametrize(
    ("mixin_a", "mixin_b", "constraint"),
    [("retry", "caching", "pair_in_canonical_order"), ("retry", "retry", "distinct_mixins")],
)
async def test_check_constraint_rejects_non_canonical_rows(
    engine: AsyncEngine, mixin_a: str, mixin_b: str, constraint: str
) -> None:
    """A direct INSERT of a reversed or self pair is refused by the table's CHECK constraint."""
    row = {
        "node_kind": "effect",
        "mixin_a": mixin_a,
        "mixin_b": mixin_b,
        "success_count": 1,
        "failure_count": 0,
        "compatibility_score": 0.5,
        "confidence": 0.1,
        "updated_at": T0,
    }
    async with engine.connect() as connection:
        with pytest.raises(IntegrityError, match=f"ck_mixin_compatibility_matrix_{constraint}"):
            await connection.execute(insert(mixin_compatibility_matrix), row)


async def test_scores_and_confidences_follow_the_formulas(conn: AsyncConnection) -> None:
    """After each scripted outcome the score is (s + 1) / (n + 2) and the confidence n / (n + 5)."""
    outcomes = [True, True, False, True, False, False, True, True, True, False, True, True]
    successes = failures = 0
    for outcome in outcomes:
        score = await update_mixin_compatibility(conn, "compute", "validation", "caching", outcome)
        successes += outcome
        failures += not outcome
        observations = successes + failures
        assert score == (successes + 1) / (observations + 2) == compatibility_score(successes, failures)
        pair = await get_mixin_compatibility(conn, "compute", "caching", "validation")
        assert pair is not None
        assert (pair.success_count, pair.failure_count) == (successes, failures)
        assert pair.compatibility_score == score
        assert pair.confidence == observations / (observations + CONFIDENCE_PRIOR_WEIGHT)
        assert pair.confidence == compatibility_confidence(observations)
        assert pair.observed_success_rate == pytest.approx(successes / observations)
        assert pair.last_outcome == ("success" if outcome else "failure")
    assert CONFIDENCE_PRIOR_WEIGHT == 5


@pytest.mark.parametrize(
    ("node_kind", "mixin_a", "mixin_b", "message"),
    [
        ("effect", "retry", "retry", 'a mixin cannot be paired with itself: "retry"'),
        ("effect", "", "retry", "mixin names must be non-empty"),
        (
            "widget",
            "retry",
            "caching",
            'unknown node_kind "widget"; expected one of: effect, compute, reducer, orchestrator',
        ),
    ],
)
async def test_mixin_update_rejects_invalid_arguments(
    conn: AsyncConnection, node_kind: Any, mixin_a: str, mixin_b: str, message: str
) -> None:
    """An impossible pair or node kind raises InvalidCodegenRecordError with the same message on both engines."""
    with pytest.raises(InvalidCodegenRecordError) as raised:
        await update_mixin_compatibility(conn, node_kind, mixin_a, mixin_b, True)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)
    assert (await conn.execute(select(func.count()).select_from(mixin_compatibility_matrix))).scalar() == 0


async def test_concurrent_updates_of_one_pair_lose_no_outcome(engine: AsyncEngine) -> None:
    """Twelve concurrent transactions updating one pair leave exactly twelve outcomes counted."""

    async def record(success: bool) -> None:
        async with engine.begin() as connection:
            await update_mixin_compatibility(connection, "effect", "retry", "timeout", success)

    await asyncio.gather(*(record(index % 3 != 0) for index in range(12)))
    async with engine.connect() as connection:
        pair = await get_mixin_compatibility(connection, "effect", "timeout", "retry")
    assert pair is not None
    assert (pair.success_count, pair.failure_count) == (8, 4)
    assert pair.compatibility_score == compatibility_score(8, 4)


# --- Pattern feedback --------------------------------------------------------------------------------------


async def test_unknown_feedback_type_is_rejected_and_earlier_rows_kept(engine: AsyncEngine) -> None:
    """An unknown type raises a clear UnknownFeedbackTypeError; rows written before and after in the same
    transaction are committed."""
    async with engine.connect() as connection:
        first = await record_pattern_feedback(connection, "p.eval", "true_positive", 0.9, user="ana")
        second = await record_pattern_feedback(connection, "p.eval", "false_positive", 0.4)
        with pytest.raises(UnknownFeedbackTypeError) as raised:
            await record_pattern_feedback(connection, "p.eval", "bogus", 0.5)  # type: ignore[arg-type]
        third = await record_pattern_feedback(connection, "p.eval", "false_negative")
        await connection.commit()

    assert str(raised.value) == UNKNOWN_TYPE_MESSAGE
    assert raised.value.feedback_type == "bogus"
    assert isinstance(raised.value, ValueError)
    async with engine.connect() as connection:
        stored = (await connection.execute(select(pattern_feedback_log.c.id).order_by("id"))).scalars().all()
    assert list(stored) == [first, second, third]
    assert first < second < third


async def test_record_pattern_feedback_stores_every_field(conn: AsyncConnection) -> None:
    """Every argument lands in its column, metadata as JSON, recorded_at as an aware UTC timestamp."""
    row_id = await record_pattern_feedback(
        conn,
        "p.bare_except",
        "user_override",
        0.25,
        "intentional: re-raised below",
        "ana",
        {"threshold": 0.3, "tags": ["style"]},
        file_path="nodes/effect_fetch/node.py",
        line_number=41,
        snippet="except:\n    raise",
    )
    row = (await conn.execute(select(pattern_feedback_log))).mappings().one()
    assert row["id"] == row_id
    assert dict(row) | {"recorded_at": None} == {
        "id": row_id,
        "pattern_id": "p.bare_except",
        "feedback_type": "user_override",
        "confidence_before": 0.25,
        "file_path": "nodes/effect_fetch/node.py",
        "line_number": 41,
        "snippet": "except:\n    raise",
        "note": "intentional: re-raised below",
        "user_name": "ana",
        "metadata": {"threshold": 0.3, "tags": ["style"]},
        "recorded_at": None,
    }
    assert row["recorded_at"].tzinfo is UTC
    assert abs(row["recorded_at"] - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"confidence_before": 1.5}, "confidence_before must be between 0 and 1, got 1.5"),
        ({"line_number": 0}, "line_number must be 1 or more, got 0"),
        ({"pattern_id": ""}, "pattern_id must be non-empty"),
    ],
)
async def test_record_pattern_feedback_rejects_invalid_arguments(
    conn: AsyncConnection, arguments: dict[str, Any], message: str
) -> None:
    """Out-of-range arguments raise InvalidCodegenRecordError with the same message on both engines."""
    call: dict[str, Any] = {"pattern_id": "p.x", "feedback_type": "true_positive"} | arguments
    with pytest.raises(InvalidCodegenRecordError) as raised:
        await record_pattern_feedback(conn, **call)
    assert str(raised.value) == message
    assert not isinstance(raised.value, UnknownFeedbackTypeError)


# --- CHECK constraints match what the code writes ------------------------------------------------------------


def valid_row(table_name: str) -> dict[str, Any]:
    """One row of ``table_name`` that passes every CHECK constraint."""
    rows: dict[str, dict[str, Any]] = {
        "generation_performance_metrics": {
            "run_id": "r1",
            "node_name": "fetch",
            "node_kind": "effect",
            "phase": "render",
            "duration_ms": 1.0,
            "success": True,
            "parallel": False,
            "metadata": {},
            "recorded_at": T0,
        },
        "template_cache_metadata": {
            "template_name": "node.py.j2",
            "content_sha256": SHA_A,
            "size_bytes": 10,
            "hits": 0,
            "misses": 0,
            "evictions": 0,
            "loads": 0,
            "total_load_ms": 0.0,
            "updated_at": T0,
        },
        "pattern_feedback_log": {
            "pattern_id": "p",
            "feedback_type": "true_positive",
            "metadata": {},
            "recorded_at": T0,
        },
        "mixin_compatibility_matrix": {
            "node_kind": "effect",
            "mixin_a": "caching",
            "mixin_b": "retry",
            "success_count": 0,
            "failure_count": 0,
            "compatibility_score": 0.5,
            "confidence": 0.0,
            "updated_at": T0,
        },
    }
    return rows[table_name]


@pytest.mark.parametrize(
    ("table_name", "column", "bad_value"),
    [
        ("generation_performance_metrics", "node_kind", "widget"),
        ("generation_performance_metrics", "phase", "deploy"),
        ("generation_performance_metrics", "duration_ms", -0.5),
        ("template_cache_metadata", "content_sha256", "A" * 64),
        ("template_cache_metadata", "content_sha256", "a" * 63),
        ("template_cache_metadata", "content_sha256", "g" * 64),
        ("template_cache_metadata", "size_bytes", -1),
        ("template_cache_metadata", "hits", -1),
        ("template_cache_metadata", "misses", -1),
        ("template_cache_metadata", "evictions", -1),
        ("template_cache_metadata", "loads", -1),
        ("template_cache_metadata", "total_load_ms", -1.0),
        ("pattern_feedback_log", "feedback_type", "bogus"),
        ("pattern_feedback_log", "confidence_before", 1.01),
        ("pattern_feedback_log", "line_number", 0),
        ("mixin_compatibility_matrix", "node_kind", "widget"),
        ("mixin_compatibility_matrix", "compatibility_score", 1.2),
        ("mixin_compatibility_matrix", "confidence", -0.1),
        ("mixin_compatibility_matrix", "success_count", -1),
        ("mixin_compatibility_matrix", "failure_count", -1),
        ("mixin_compatibility_matrix", "last_outcome", "maybe"),
    ],
)
async def test_check_constraints_refuse_invalid_values(
    engine: AsyncEngine, table_name: str, column: str, bad_value: Any
) -> None:
    """Each CHECK constraint refuses a value just outside what the repository writes, on both engines."""
    table = metadata.tables[table_name]
    async with engine.begin() as connection:
        await connection.execute(insert(table), valid_row(table_name))  # the baseline row is accepted
    # A second row: the template table's primary key is the name, so that one needs a new name.
    key = {"template_name": "other.j2"} if table_name == "template_cache_metadata" else {}
    async with engine.connect() as connection:
        with pytest.raises(IntegrityError, match=f"ck_{table_name}_{column}"):
            await connection.execute(insert(table), valid_row(table_name) | key | {column: bad_value})


async def test_every_allowed_node_kind_and_phase_is_accepted(conn: AsyncConnection) -> None:
    """The CHECK lists accept every value of the NodeKind and GenerationPhase literals."""
    metrics = [
        GenerationPhaseMetric("r1", f"node_{kind}", kind, phase, 1.5, True)  # type: ignore[arg-type]
        for kind in NODE_KINDS
        for phase in GENERATION_PHASES
    ]
    assert await record_generation_metrics(conn, metrics) == len(NODE_KINDS) * len(GENERATION_PHASES)
    for feedback_type in FEEDBACK_TYPES:
        await record_pattern_feedback(conn, "p", feedback_type)  # type: ignore[arg-type]
    assert len(await list_performance_summary(conn)) == len(NODE_KINDS) * len(GENERATION_PHASES)


async def test_reflected_check_constraints_match_metadata(conn: AsyncConnection) -> None:
    """The migrated tables carry exactly the named CHECK constraints that seed_tables declares."""

    def reflected(sync_connection: Connection) -> dict[str, set[str | None]]:
        inspector = inspect(sync_connection)
        return {name: {ck["name"] for ck in inspector.get_check_constraints(name)} for name in SEED_TABLES}

    declared = {
        name: {ck.name for ck in metadata.tables[name].constraints if isinstance(ck, CheckConstraint)}
        for name in SEED_TABLES
    }
    assert await conn.run_sync(reflected) == declared


# --- Writers with dataclass validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GenerationPhaseMetric("r", "n", "widget", "render", 1, True), 'unknown node_kind "widget"'),  # type: ignore[arg-type]
        (lambda: GenerationPhaseMetric("r", "n", "effect", "deploy", 1, True), 'unknown phase "deploy"'),  # type: ignore[arg-type]
        (lambda: GenerationPhaseMetric("r", "n", "effect", "test", -1, True), "duration_ms must be 0 or more"),
        (lambda: TemplateCacheStats("t", "A" * 64, 1), "content_sha256 must be 64 lowercase hex digits"),
        (lambda: TemplateCacheStats("t", SHA_A, 1, misses=-2), "misses must be 0 or more"),
    ],
)
def test_input_records_refuse_what_the_schema_would_refuse(build: Any, message: str) -> None:
    """Input records raise InvalidCodegenRecordError up front instead of a database IntegrityError later."""
    with pytest.raises(InvalidCodegenRecordError, match=message):
        build()


# --- Views on a fixture dataset ----------------------------------------------------------------------------


async def test_pattern_feedback_analysis_view(conn: AsyncConnection) -> None:
    """Precision, false-positive rate and recall per pattern, NULL (None) when there is nothing to divide."""
    for pattern_id, feedback_type, confidence in FEEDBACK_SCRIPT:
        await record_pattern_feedback(conn, pattern_id, feedback_type, confidence)

    bare, mutable = await list_pattern_feedback_analysis(conn)
    assert (bare.pattern_id, bare.feedback_count) == ("p.bare_except", 10)
    assert (bare.true_positives, bare.false_positives, bare.false_negatives, bare.user_overrides) == (6, 2, 1, 1)
    assert bare.precision == pytest.approx(0.75)
    assert bare.false_positive_rate == pytest.approx(0.25)
    assert bare.recall == pytest.approx(6 / 7)
    assert bare.avg_confidence_before == pytest.approx((6 * 0.9 + 2 * 0.6 + 0.7) / 9)
    assert bare.first_recorded_at <= bare.last_recorded_at
    assert bare.last_recorded_at.tzinfo is UTC

    assert (mutable.pattern_id, mutable.feedback_count, mutable.false_negatives) == ("p.mutable_default", 2, 1)
    assert (mutable.precision, mutable.false_positive_rate) == (None, None)
    assert mutable.recall == 0.0
    assert await list_pattern_feedback_analysis(conn, "p.mutable_default") == [mutable]


async def test_performance_metrics_summary_view(conn: AsyncConnection) -> None:
    """Count, average, minimum, maximum, total and success rate per node kind and phase."""
    durations = [(10.0, True), (20.0, True), (30.0, False), (40.0, True)]
    metrics = [
        GenerationPhaseMetric(
            "run-1",
            f"node{index}",
            "effect",
            "render",
            duration,
            success,
            error=None if success else "UndefinedError",
            worker=f"worker-{index % 2}",
            parallel=True,
            metadata={"template": "node.py.j2"},
            recorded_at=T0 + timedelta(seconds=index),
        )
        for index, (duration, success) in enumerate(durations)
    ]
    metrics.append(GenerationPhaseMetric("run-1", "agg", "reducer", "total", 500.0, True, recorded_at=T0))
    assert await record_generation_metrics(conn, metrics) == 5
    assert await record_generation_metrics(conn, []) == 0

    render, total = await list_performance_summary(conn)
    assert (render.node_kind, render.phase, render.samples) == ("effect", "render", 4)
    assert (render.successes, render.failures, render.success_rate) == (3, 1, 0.75)
    assert (render.min_duration_ms, render.max_duration_ms) == (10.0, 40.0)
    assert render.avg_duration_ms == pytest.approx(25.0)
    assert render.total_duration_ms == pytest.approx(100.0)
    assert render.last_recorded_at == T0 + timedelta(seconds=3)
    assert (total.node_kind, total.phase, total.samples, total.success_rate) == ("reducer", "total", 1, 1.0)
    assert await list_performance_summary(conn, "reducer") == [total]

    stored = (
        await conn.execute(select(generation_performance_metrics).where(generation_performance_metrics.c.id == 3))
    ).mappings()
    row = stored.one()
    assert (row["error"], row["worker"], row["parallel"]) == ("UndefinedError", "worker-0", True)
    assert row["metadata"] == {"template": "node.py.j2"}


async def test_template_cache_efficiency_view(conn: AsyncConnection) -> None:
    """Flushed counters add up; hit rate and average load time are computed, None without lookups or loads."""
    loaded_at = T0 + timedelta(minutes=1)
    first = TemplateCacheStats("node.py.j2", SHA_A, 2048, hits=8, misses=2, evictions=1, loads=2, total_load_ms=30.0)
    await record_template_cache_stats(conn, dataclasses.replace(first, last_loaded_at=loaded_at), now=T0)
    second = TemplateCacheStats(
        "node.py.j2",
        SHA_B,
        4096,
        hits=7,
        misses=3,
        loads=1,
        total_load_ms=15.0,
        last_accessed_at=T0 + timedelta(minutes=5),
    )
    await record_template_cache_stats(conn, second, now=T0 + timedelta(minutes=6))
    await record_template_cache_stats(conn, TemplateCacheStats("unused.j2", SHA_A, 0), now=T0)

    node, unused = await list_template_cache_efficiency(conn)
    assert (node.template_name, node.content_sha256, node.size_bytes) == ("node.py.j2", SHA_B, 4096)
    assert (node.hits, node.misses, node.lookups, node.evictions, node.loads) == (15, 5, 20, 1, 3)
    assert node.hit_rate == pytest.approx(0.75)
    assert node.avg_load_ms == pytest.approx(15.0)
    assert node.last_loaded_at == loaded_at  # kept: the second flush loaded nothing
    assert node.last_accessed_at == T0 + timedelta(minutes=5)
    assert node.updated_at == T0 + timedelta(minutes=6)
    assert (unused.lookups, unused.hit_rate, unused.avg_load_ms) == (0, None, None)

    stored = (await conn.execute(select(template_cache_metadata.c.hits))).scalars().all()
    assert sorted(stored) == [0, 15]


async def test_mixin_compatibility_summary_view(conn: AsyncConnection) -> None:
    """The summary lists each pair once per node kind, best score first, filterable by kind and mixin."""
    scores = [await update_mixin_compatibility(conn, *step) for step in MIXIN_SCRIPT]
    assert scores[-1] == compatibility_score(1, 0)

    pairs = await list_mixin_compatibility(conn)
    summary = {(p.node_kind, p.mixin_a, p.mixin_b): (p.success_count, p.failure_count) for p in pairs}
    assert summary == {
        ("compute", "caching", "metrics"): (3, 0),
        ("effect", "caching", "retry"): (1, 0),
        ("effect", "logging", "retry"): (2, 1),
        ("orchestrator", "circuit_breaker", "timeout"): (0, 2),
        ("reducer", "Zeta", "alpha"): (1, 0),
    }
    effect = await list_mixin_compatibility(conn, "effect")
    assert [(p.mixin_a, p.mixin_b) for p in effect] == [("caching", "retry"), ("logging", "retry")]
    assert effect[0].compatibility_score == pytest.approx(2 / 3)
    assert effect[1].compatibility_score == pytest.approx(3 / 5)
    assert effect[1].observed_success_rate == pytest.approx(2 / 3)
    assert [p.node_kind for p in await list_mixin_compatibility(conn, mixin="retry")] == ["effect", "effect"]
    orchestrator = await get_mixin_compatibility(conn, "orchestrator", "timeout", "circuit_breaker")
    assert orchestrator is not None
    assert (orchestrator.compatibility_score, orchestrator.last_error) == (0.25, "deadlock")
    assert await get_mixin_compatibility(conn, "compute", "retry", "caching") is None


async def test_event_processing_health_view(conn: AsyncConnection) -> None:
    """Batches, events, failures, averages and p50/p95/p99 per stage and UTC hour match a Python reference."""
    rows = event_metric_rows()
    await conn.execute(insert(event_processing_metrics), rows)
    groups: dict[tuple[str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["stage"], row["recorded_at"].replace(minute=0, second=0))].append(row)

    health = await list_event_processing_health(conn)
    assert [(h.stage, h.hour_bucket) for h in health] == sorted(groups, key=lambda key: (key[1], key[0]))
    for bucket in health:
        assert bucket.hour_bucket.tzinfo is UTC
        members = groups[(bucket.stage, bucket.hour_bucket)]
        durations = [member["duration_ms"] for member in members]
        failures = sum(not member["success"] for member in members)
        assert bucket.batches == len(members)
        assert bucket.events == sum(member["batch_size"] for member in members)
        assert bucket.failures == failures
        assert bucket.failure_rate == pytest.approx(failures / len(members))
        assert bucket.total_retries == sum(member["retries"] for member in members)
        assert bucket.avg_duration_ms == pytest.approx(statistics.fmean(durations), rel=1e-12)
        assert bucket.max_duration_ms == max(durations)
        assert bucket.avg_queue_wait_ms == pytest.approx(
            statistics.fmean(member["queue_wait_ms"] for member in members), rel=1e-12
        )
        for column, fraction in seed_sql.PERCENTILES:
            expected = percentile_cont(durations, fraction)
            assert getattr(bucket, f"{column}_duration_ms") == pytest.approx(expected, rel=1e-12, abs=1e-12)

    write_late = [h for h in health if h.stage == "write" and h.hour_bucket == T0 + timedelta(hours=2)]
    assert write_late[0].batches == 101
    since = await list_event_processing_health(conn, stage="validate", since=T0 + timedelta(hours=1))
    assert [(h.stage, h.hour_bucket) for h in since] == [
        ("validate", T0 + timedelta(hours=1)),
        ("validate", T0 + timedelta(hours=2)),
    ]


def test_percentile_reference_is_the_inclusive_linear_method() -> None:
    """The reference the views are checked against equals statistics.quantiles(method="inclusive")."""
    values = [float(value) for value in random.Random(3).sample(range(1000), 37)]
    quantiles = statistics.quantiles(values, n=100, method="inclusive")
    for percent in (50, 95, 99):
        assert percentile_cont(values, percent / 100) == pytest.approx(quantiles[percent - 1], rel=1e-12)
    assert percentile_cont([4.0], 0.99) == 4.0
    assert percentile_cont([1.0, 3.0], 0.5) == 2.0


# --- Both engines agree ------------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_sqlite_and_postgresql_give_the_same_answers(sqlite_url: str, postgres_url: str) -> None:
    """The same scripted calls and batches give the same scores and view rows on SQLite and PostgreSQL."""
    answers: dict[str, dict[str, Any]] = {}
    for url in (sqlite_url, postgres_url):
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                answers[connection.dialect.name] = {
                    "scores": await apply_scripts(connection),
                    "mixins": [without(p, "updated_at") for p in await list_mixin_compatibility(connection)],
                    "feedback": [
                        without(f, "first_recorded_at", "last_recorded_at")
                        for f in await list_pattern_feedback_analysis(connection)
                    ],
                    "health": [dataclasses.asdict(h) for h in await list_event_processing_health(connection)],
                }
        finally:
            await engine.dispose()

    sqlite, postgresql = answers["sqlite"], answers["postgresql"]
    assert sqlite["scores"] == pytest.approx(postgresql["scores"], rel=1e-12)
    for view in ("mixins", "feedback", "health"):
        assert len(sqlite[view]) == len(postgresql[view])
        for lite, pg in zip(sqlite[view], postgresql[view], strict=True):
            assert lite.keys() == pg.keys()
            for column, value in lite.items():
                if isinstance(value, float):
                    assert pg[column] == pytest.approx(value, rel=1e-9, abs=1e-12), (view, column)
                else:
                    assert pg[column] == value, (view, column)


@pytest.mark.postgres
async def test_postgresql_functions_validate_by_themselves(postgres_url: str) -> None:
    """The PL/pgSQL functions, called in plain SQL, canonicalise pairs and RAISE on unknown feedback types."""
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            score = await connection.scalar(
                text("SELECT update_mixin_compatibility('effect', 'retry', 'caching', true)")
            )
            assert score == pytest.approx(2 / 3)
            pair = (await connection.execute(select(mixin_compatibility_matrix))).mappings().one()
            assert (pair["mixin_a"], pair["mixin_b"], pair["confidence"]) == ("caching", "retry", 1 / 6)
            row_id = await connection.scalar(text("SELECT record_pattern_feedback('p', 'true_positive')"))
            assert isinstance(row_id, int)
            with pytest.raises(DBAPIError, match=UNKNOWN_TYPE_MESSAGE) as raised:
                await connection.execute(text("SELECT record_pattern_feedback('p', 'bogus', 0.5)"))
            assert getattr(raised.value.orig, "sqlstate", None) == seed_sql.UNKNOWN_FEEDBACK_TYPE_SQLSTATE
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgresql_mixin_columns_compare_by_code_point(postgres_url: str) -> None:
    """On PostgreSQL the mixin columns use the "C" collation, so the CHECK agrees with Python's ordering."""
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            collations = await connection.execute(
                text(
                    "SELECT column_name, collation_name FROM information_schema.columns "
                    "WHERE table_name = 'mixin_compatibility_matrix' AND column_name LIKE 'mixin_%' "
                    "ORDER BY column_name"
                )
            )
            assert collations.all() == [("mixin_a", "C"), ("mixin_b", "C")]
    finally:
        await engine.dispose()


# --- Migrations --------------------------------------------------------------------------------------------


async def relation_names(engine: AsyncEngine) -> tuple[set[str], set[str], set[str]]:
    """The tables, views and (on PostgreSQL) ESCAI functions in the database."""

    def read(sync_connection: Connection) -> tuple[set[str], set[str]]:
        inspector = inspect(sync_connection)
        return set(inspector.get_table_names()), set(inspector.get_view_names())

    async with engine.connect() as connection:
        tables, views = await connection.run_sync(read)
        functions: set[str] = set()
        if connection.dialect.name == "postgresql":
            result = await connection.execute(
                text(
                    "SELECT proname FROM pg_proc "
                    "WHERE proname IN ('update_mixin_compatibility', 'record_pattern_feedback')"
                )
            )
            functions = set(result.scalars())
    return tables, views, functions


async def test_downgrade_to_0001_and_upgrade_again(database_url: str, engine: AsyncEngine) -> None:
    """Downgrading to 0001 removes the seed tables, views and functions; upgrading restores working ones."""
    tables, views, functions = await relation_names(engine)
    assert set(SEED_TABLES) <= tables
    assert views >= set(seed_sql.SEED_VIEW_NAMES)
    postgres = engine.dialect.name == "postgresql"
    assert functions == ({"update_mixin_compatibility", "record_pattern_feedback"} if postgres else set())

    await asyncio.to_thread(downgrade, database_url, "0001")
    assert await current_revision(database_url) == "0001"
    tables, views, functions = await relation_names(engine)
    assert not set(SEED_TABLES) & tables
    assert "event_processing_metrics" in tables  # 0001's table stays
    assert not views & set(seed_sql.SEED_VIEW_NAMES)
    assert functions == set()

    await asyncio.to_thread(upgrade, database_url)
    assert await current_revision(database_url) == head_revision()
    async with engine.begin() as connection:
        assert await update_mixin_compatibility(connection, "effect", "b", "a", True) == pytest.approx(2 / 3)
        await record_pattern_feedback(connection, "p", "true_positive")
        await connection.execute(insert(event_processing_metrics), event_metric_rows()[:3])
    async with engine.connect() as connection:
        assert len(await list_pattern_feedback_analysis(connection)) == 1
        assert len(await list_event_processing_health(connection)) == 1


async def test_migrated_schema_matches_metadata(conn: AsyncConnection) -> None:
    """Alembic's autogenerate comparison finds no difference between the migrated database and metadata."""

    def differences(sync_connection: Connection) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    def is_postgres_only_gin_index(difference: Any) -> bool:
        # The GIN index exists on PostgreSQL only (ddl_if), so on SQLite it is "missing" by design.
        operation = difference[0] if isinstance(difference, list) else difference
        return getattr(operation[1], "name", None) == "ix_agent_events_attributes_gin"

    found = [d for d in await conn.run_sync(differences) if not is_postgres_only_gin_index(d)]
    assert found == []
