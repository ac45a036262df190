"""Writing and reading the code generator's records (ARCHITECTURE section 7) on SQLite and PostgreSQL.

Writers: :func:`record_generation_metrics`, :func:`record_template_cache_stats`,
:func:`update_mixin_compatibility`, :func:`record_pattern_feedback`. Readers, one per view:
:func:`list_mixin_compatibility` (and :func:`get_mixin_compatibility`), :func:`list_pattern_feedback_analysis`,
:func:`list_performance_summary`, :func:`list_template_cache_efficiency`, :func:`list_event_processing_health`.

The two "functions" of the seed schema are PL/pgSQL on PostgreSQL (created by migration ``0002`` from
:mod:`escai.store.seed_sql`), and this module calls them there; on SQLite it runs the same semantics in Python,
in one statement each, so both engines give the same answers to the same calls. Every function here runs in the
caller's transaction and never commits.

Errors (both derive from :class:`escai.exceptions.EscaiError` and :class:`ValueError`)::

    InvalidCodegenRecordError       an argument the schema would refuse (self-pair, unknown node kind, ...)
    └── UnknownFeedbackTypeError    a feedback type other than the four of ``FEEDBACK_TYPES``

Mixin compatibility: a pair ``{a, b}`` is stored once per node kind, in canonical order ``mixin_a < mixin_b``
(by code point). After ``s`` successes and ``f`` failures (``n = s + f``) its score is the Laplace-smoothed
success rate ``(s + 1) / (n + 2)`` (0.5 with no data, never exactly 0 or 1) and its confidence is
``n / (n + k)`` with ``k = CONFIDENCE_PRIOR_WEIGHT = 5``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import Float, Integer, String, Text, cast, func, insert, literal, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from escai.exceptions import EscaiError
from escai.store.dialect import Excluded, upsert
from escai.store.seed_sql import (
    CONFIDENCE_PRIOR_WEIGHT,
    INVALID_CODEGEN_RECORD_SQLSTATE,
    UNKNOWN_FEEDBACK_TYPE_SQLSTATE,
)
from escai.store.seed_tables import (
    FEEDBACK_TYPES,
    GENERATION_PHASES,
    NODE_KINDS,
    FeedbackType,
    GenerationPhase,
    NodeKind,
    event_processing_health_view,
    generation_performance_metrics,
    mixin_compatibility_matrix,
    mixin_compatibility_summary_view,
    pattern_feedback_analysis_view,
    pattern_feedback_log,
    performance_metrics_summary_view,
    template_cache_efficiency_view,
    template_cache_metadata,
)
from escai.store.types import JsonColumn

__all__ = [
    "CONFIDENCE_PRIOR_WEIGHT",
    "EventProcessingHealth",
    "GenerationPhaseMetric",
    "InvalidCodegenRecordError",
    "MixinCompatibility",
    "PatternFeedbackAnalysis",
    "PhasePerformance",
    "TemplateCacheEfficiency",
    "TemplateCacheStats",
    "UnknownFeedbackTypeError",
    "canonical_mixin_pair",
    "compatibility_confidence",
    "compatibility_score",
    "get_mixin_compatibility",
    "list_event_processing_health",
    "list_mixin_compatibility",
    "list_pattern_feedback_analysis",
    "list_performance_summary",
    "list_template_cache_efficiency",
    "record_generation_metrics",
    "record_pattern_feedback",
    "record_template_cache_stats",
    "update_mixin_compatibility",
]


class InvalidCodegenRecordError(EscaiError, ValueError):
    """A code-generation record was refused before it was stored; the message says which argument and why."""


class UnknownFeedbackTypeError(InvalidCodegenRecordError):
    """``record_pattern_feedback`` got a feedback type that is not one of ``FEEDBACK_TYPES``."""

    def __init__(self, feedback_type: str, message: str | None = None) -> None:
        super().__init__(message or _unknown_feedback_type_message(feedback_type))
        self.feedback_type = feedback_type


# The messages below are the PL/pgSQL functions' messages word for word, so a caller sees the same text on
# both engines.


def _unknown_feedback_type_message(feedback_type: str | None) -> str:
    # PostgreSQL's format('%s', NULL) renders an empty string; mirror it.
    shown = "" if feedback_type is None else feedback_type
    return f'unknown feedback_type "{shown}"; expected one of: {", ".join(FEEDBACK_TYPES)}'


def _unknown_node_kind_message(node_kind: str | None) -> str:
    shown = "" if node_kind is None else node_kind
    return f'unknown node_kind "{shown}"; expected one of: {", ".join(NODE_KINDS)}'


_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidCodegenRecordError(message)


# --- Pure formulas ----------------------------------------------------------------------------------------


def compatibility_score(successes: int, failures: int) -> float:
    """Laplace-smoothed success rate ``(successes + 1) / (successes + failures + 2)``."""
    return (successes + 1) / (successes + failures + 2)


def compatibility_confidence(observations: int) -> float:
    """How much a pair's score is backed by data: ``n / (n + CONFIDENCE_PRIOR_WEIGHT)``, in [0, 1)."""
    return observations / (observations + CONFIDENCE_PRIOR_WEIGHT)


def canonical_mixin_pair(mixin_a: str, mixin_b: str) -> tuple[str, str]:
    """The pair in stored order (code-point order, as the schema's CHECK ``mixin_a < mixin_b`` demands).

    Raises :class:`InvalidCodegenRecordError` for an empty name or a mixin paired with itself.
    """
    _require(bool(mixin_a) and bool(mixin_b), "mixin names must be non-empty")
    _require(mixin_a != mixin_b, f'a mixin cannot be paired with itself: "{mixin_a}"')
    return (mixin_a, mixin_b) if mixin_a < mixin_b else (mixin_b, mixin_a)


# --- Input records ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenerationPhaseMetric:
    """How long one phase of generating one node took, and whether it succeeded."""

    run_id: str
    node_name: str
    node_kind: NodeKind
    phase: GenerationPhase
    duration_ms: float
    success: bool
    error: str | None = None
    worker: str | None = None
    """Which worker (thread or process name) generated the node."""
    parallel: bool = False
    """Whether the node was generated alongside others."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    recorded_at: datetime | None = None
    """When the phase ended; the time of writing when None."""

    def __post_init__(self) -> None:
        _require(self.node_kind in NODE_KINDS, _unknown_node_kind_message(self.node_kind))
        _require(
            self.phase in GENERATION_PHASES,
            f'unknown phase "{self.phase}"; expected one of: {", ".join(GENERATION_PHASES)}',
        )
        _require(self.duration_ms >= 0, f"duration_ms must be 0 or more, got {self.duration_ms}")


@dataclass(frozen=True, slots=True)
class TemplateCacheStats:
    """One template's cache statistics since the previous flush.

    The counters (``hits`` to ``total_load_ms``) are increments: :func:`record_template_cache_stats` adds them
    to the stored totals, so several processes, and one process across restarts, can each flush their own.
    """

    template_name: str
    content_sha256: str
    """SHA-256 of the template source, lowercase hex (``hashlib.sha256(...).hexdigest()``)."""
    size_bytes: int
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    loads: int = 0
    total_load_ms: float = 0.0
    last_loaded_at: datetime | None = None
    last_accessed_at: datetime | None = None

    def __post_init__(self) -> None:
        _require(
            _SHA256_HEX.fullmatch(self.content_sha256) is not None,
            f"content_sha256 must be 64 lowercase hex digits, got {self.content_sha256!r}",
        )
        for name in ("size_bytes", "hits", "misses", "evictions", "loads", "total_load_ms"):
            value = getattr(self, name)
            _require(value >= 0, f"{name} must be 0 or more, got {value}")


# --- Writers ----------------------------------------------------------------------------------------------


async def record_generation_metrics(conn: AsyncConnection, metrics: Iterable[GenerationPhaseMetric]) -> int:
    """Append one ``generation_performance_metrics`` row per metric, in one round trip; return the count."""
    now = datetime.now(UTC)
    rows = [
        dataclasses.asdict(metric) | {"metadata": dict(metric.metadata), "recorded_at": metric.recorded_at or now}
        for metric in metrics
    ]
    if rows:
        await conn.execute(insert(generation_performance_metrics), rows)
    return len(rows)


async def record_template_cache_stats(
    conn: AsyncConnection, stats: TemplateCacheStats, *, now: datetime | None = None
) -> None:
    """Add ``stats``' counters to the template's row (creating it), and set its hash, size and timestamps.

    ``now`` becomes ``updated_at`` (default: the current time). A timestamp left None keeps the stored one.
    """
    table = template_cache_metadata

    def merge(excluded: Excluded) -> dict[str, Any]:
        # In ON CONFLICT DO UPDATE, ``table.c.x`` is the stored row and ``excluded.x`` the proposed one.
        counters = ("hits", "misses", "evictions", "loads", "total_load_ms")
        merged: dict[str, Any] = {name: table.c[name] + excluded[name] for name in counters}
        merged |= {
            "content_sha256": excluded.content_sha256,
            "size_bytes": excluded.size_bytes,
            "last_loaded_at": func.coalesce(excluded.last_loaded_at, table.c.last_loaded_at),
            "last_accessed_at": func.coalesce(excluded.last_accessed_at, table.c.last_accessed_at),
            "updated_at": excluded.updated_at,
        }
        return merged

    statement = upsert(table, conn.dialect.name, ["template_name"], merge).values(
        **dataclasses.asdict(stats), updated_at=now or datetime.now(UTC)
    )
    await conn.execute(statement)


async def update_mixin_compatibility(
    conn: AsyncConnection,
    node_kind: NodeKind,
    mixin_a: str,
    mixin_b: str,
    success: bool,
    error: str | None = None,
) -> float:
    """Record one outcome of a node of ``node_kind`` generated with mixins ``mixin_a`` and ``mixin_b``.

    The pair may come in either order; it is stored canonically. Increments the success or failure count,
    recomputes score and confidence (see the module docstring), stores ``success``/``error`` as the last
    outcome, and returns the new score. Raises :class:`InvalidCodegenRecordError` for an unknown node kind,
    an empty mixin name or a mixin paired with itself.
    """
    if conn.dialect.name == "postgresql":
        call = select(
            func.update_mixin_compatibility(
                literal(node_kind, String),
                literal(mixin_a, String),
                literal(mixin_b, String),
                literal(success),
                literal(error, Text),
                type_=Float,
            )
        )
        score: float = (await _call_database_function(conn, call)).scalar_one()
        return score
    return await _update_mixin_compatibility_in_python(conn, node_kind, mixin_a, mixin_b, success, error)


async def _update_mixin_compatibility_in_python(
    conn: AsyncConnection, node_kind: str, mixin_a: str, mixin_b: str, success: bool, error: str | None
) -> float:
    """The PL/pgSQL function's semantics: validate, canonicalise, then one atomic upsert."""
    _require(node_kind in NODE_KINDS, _unknown_node_kind_message(node_kind))
    first, second = canonical_mixin_pair(mixin_a, mixin_b)
    matrix = mixin_compatibility_matrix
    successes, failures = (1, 0) if success else (0, 1)

    def accumulate(excluded: Excluded) -> dict[str, Any]:
        # The SET list sees the stored row before the update, so totals are stored + this outcome; the
        # arithmetic matches compatibility_score/compatibility_confidence and the PL/pgSQL function exactly.
        total_successes = matrix.c.success_count + excluded.success_count
        total = matrix.c.success_count + matrix.c.failure_count + excluded.success_count + excluded.failure_count
        return {
            "success_count": total_successes,
            "failure_count": matrix.c.failure_count + excluded.failure_count,
            "compatibility_score": cast(total_successes + 1, Float) / (total + 2),
            "confidence": cast(total, Float) / (total + CONFIDENCE_PRIOR_WEIGHT),
            "last_outcome": excluded.last_outcome,
            "last_error": excluded.last_error,
            "updated_at": excluded.updated_at,
        }

    statement = (
        upsert(matrix, conn.dialect.name, ["node_kind", "mixin_a", "mixin_b"], accumulate)
        .values(
            node_kind=node_kind,
            mixin_a=first,
            mixin_b=second,
            success_count=successes,
            failure_count=failures,
            compatibility_score=compatibility_score(successes, failures),
            confidence=compatibility_confidence(1),
            last_outcome="success" if success else "failure",
            last_error=error,
            updated_at=datetime.now(UTC),
        )
        .returning(matrix.c.compatibility_score)
    )
    score: float = (await conn.execute(statement)).scalar_one()
    return score


async def record_pattern_feedback(
    conn: AsyncConnection,
    pattern_id: str,
    feedback_type: FeedbackType,
    confidence_before: float | None = None,
    note: str | None = None,
    user: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    file_path: str | None = None,
    line_number: int | None = None,
    snippet: str | None = None,
) -> int:
    """Append one review of an AST pattern's match to ``pattern_feedback_log`` and return the new row's id.

    ``confidence_before`` is the matcher's confidence (0..1) when it matched; ``file_path``, ``line_number``
    and ``snippet`` say where. Raises :class:`UnknownFeedbackTypeError` for a type other than
    ``FEEDBACK_TYPES`` and :class:`InvalidCodegenRecordError` for other invalid arguments; in both cases
    nothing is written and the caller's transaction stays usable.
    """
    if conn.dialect.name == "postgresql":
        call = select(
            func.record_pattern_feedback(
                literal(pattern_id, String),
                literal(feedback_type, String),
                literal(confidence_before, Float),
                literal(note, Text),
                literal(user, String),
                literal(dict(metadata or {}), JsonColumn),
                literal(file_path, String),
                literal(line_number, Integer),
                literal(snippet, Text),
                type_=Integer,
            )
        )
        result = await _call_database_function(conn, call, feedback_type=feedback_type)
        row_id: int = result.scalar_one()
        return row_id

    if feedback_type not in FEEDBACK_TYPES:
        raise UnknownFeedbackTypeError(feedback_type)
    _require(bool(pattern_id), "pattern_id must be non-empty")
    _require(
        confidence_before is None or 0 <= confidence_before <= 1,
        f"confidence_before must be between 0 and 1, got {confidence_before}",
    )
    _require(line_number is None or line_number >= 1, f"line_number must be 1 or more, got {line_number}")
    statement = (
        insert(pattern_feedback_log)
        .values(
            pattern_id=pattern_id,
            feedback_type=feedback_type,
            confidence_before=confidence_before,
            file_path=file_path,
            line_number=line_number,
            snippet=snippet,
            note=note,
            user_name=user,
            metadata=dict(metadata or {}),
            recorded_at=datetime.now(UTC),
        )
        .returning(pattern_feedback_log.c.id)
    )
    inserted_id: int = (await conn.execute(statement)).scalar_one()
    return inserted_id


async def _call_database_function(conn: AsyncConnection, call: Select[Any], *, feedback_type: str | None = None) -> Any:
    """Run ``call`` inside a savepoint, turning the functions' RAISE EXCEPTIONs into typed Python errors.

    The savepoint matters on PostgreSQL: an error aborts the whole transaction, and the caller's earlier
    writes in it would otherwise be lost with the refused record.
    """
    try:
        async with conn.begin_nested():
            return await conn.execute(call)
    except DBAPIError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if sqlstate not in (UNKNOWN_FEEDBACK_TYPE_SQLSTATE, INVALID_CODEGEN_RECORD_SQLSTATE):
            raise
        # asyncpg keeps the server's message without a class-name prefix on the original exception.
        cause = exc.orig.__cause__ if exc.orig is not None else None
        message = getattr(cause, "message", None) or str(exc.orig)
        if sqlstate == UNKNOWN_FEEDBACK_TYPE_SQLSTATE:
            raise UnknownFeedbackTypeError(str(feedback_type), message) from exc
        raise InvalidCodegenRecordError(message) from exc


# --- Readers, one per view ---------------------------------------------------------------------------------

_Record = TypeVar("_Record")


async def _read(conn: AsyncConnection, query: Select[Any], record: type[_Record]) -> list[_Record]:
    result = await conn.execute(query)
    return [record(**row._mapping) for row in result]


@dataclass(frozen=True, slots=True)
class MixinCompatibility:
    """One row of ``mixin_compatibility_summary``: what is known about one mixin pair on one node kind."""

    node_kind: str
    mixin_a: str
    mixin_b: str
    success_count: int
    failure_count: int
    observations: int
    observed_success_rate: float | None
    """Raw ``successes / observations``; prefer ``compatibility_score``, which is smoothed."""
    compatibility_score: float
    confidence: float
    last_outcome: str | None
    last_error: str | None
    updated_at: datetime


async def list_mixin_compatibility(
    conn: AsyncConnection, node_kind: NodeKind | None = None, *, mixin: str | None = None
) -> list[MixinCompatibility]:
    """Mixin pairs, best score first within each node kind; optionally one node kind or pairs with ``mixin``."""
    view = mixin_compatibility_summary_view
    query = select(view).order_by(view.c.node_kind, view.c.compatibility_score.desc(), view.c.mixin_a, view.c.mixin_b)
    if node_kind is not None:
        query = query.where(view.c.node_kind == node_kind)
    if mixin is not None:
        # No index on purpose: the matrix holds at most four rows per mixin pair, so this scan stays small.
        query = query.where(or_(view.c.mixin_a == mixin, view.c.mixin_b == mixin))
    return await _read(conn, query, MixinCompatibility)


async def get_mixin_compatibility(
    conn: AsyncConnection, node_kind: NodeKind, mixin_a: str, mixin_b: str
) -> MixinCompatibility | None:
    """The summary of one pair (given in either order) on one node kind, or None before its first outcome."""
    first, second = canonical_mixin_pair(mixin_a, mixin_b)
    view = mixin_compatibility_summary_view
    query = select(view).where(view.c.node_kind == node_kind, view.c.mixin_a == first, view.c.mixin_b == second)
    rows = await _read(conn, query, MixinCompatibility)
    return rows[0] if rows else None


@dataclass(frozen=True, slots=True)
class PatternFeedbackAnalysis:
    """One row of ``pattern_feedback_analysis``: how reviewers judged one AST pattern.

    ``precision = tp / (tp + fp)``, ``false_positive_rate = fp / (tp + fp)`` (the seed's name; strictly the
    false discovery rate, since true negatives are never observed) and ``recall = tp / (tp + fn)``; each is
    None when its denominator is 0. ``user_overrides`` are counted but enter no ratio.
    """

    pattern_id: str
    feedback_count: int
    true_positives: int
    false_positives: int
    false_negatives: int
    user_overrides: int
    precision: float | None
    false_positive_rate: float | None
    recall: float | None
    avg_confidence_before: float | None
    first_recorded_at: datetime
    last_recorded_at: datetime


async def list_pattern_feedback_analysis(
    conn: AsyncConnection, pattern_id: str | None = None
) -> list[PatternFeedbackAnalysis]:
    """Feedback statistics per pattern (ordered by pattern id), or for one pattern."""
    view = pattern_feedback_analysis_view
    query = select(view).order_by(view.c.pattern_id)
    if pattern_id is not None:
        query = query.where(view.c.pattern_id == pattern_id)
    return await _read(conn, query, PatternFeedbackAnalysis)


@dataclass(frozen=True, slots=True)
class PhasePerformance:
    """One row of ``performance_metrics_summary``: one generation phase on one node kind."""

    node_kind: str
    phase: str
    samples: int
    successes: int
    failures: int
    success_rate: float
    avg_duration_ms: float
    min_duration_ms: float
    max_duration_ms: float
    total_duration_ms: float
    last_recorded_at: datetime


async def list_performance_summary(conn: AsyncConnection, node_kind: NodeKind | None = None) -> list[PhasePerformance]:
    """Duration and success statistics per (node kind, phase), ordered by both."""
    view = performance_metrics_summary_view
    query = select(view).order_by(view.c.node_kind, view.c.phase)
    if node_kind is not None:
        query = query.where(view.c.node_kind == node_kind)
    return await _read(conn, query, PhasePerformance)


@dataclass(frozen=True, slots=True)
class TemplateCacheEfficiency:
    """One row of ``template_cache_efficiency``: how well the cache served one template.

    ``hit_rate = hits / (hits + misses)`` and ``avg_load_ms = total_load_ms / loads``, None without data.
    """

    template_name: str
    content_sha256: str
    size_bytes: int
    hits: int
    misses: int
    lookups: int
    hit_rate: float | None
    evictions: int
    loads: int
    avg_load_ms: float | None
    last_loaded_at: datetime | None
    last_accessed_at: datetime | None
    updated_at: datetime


async def list_template_cache_efficiency(conn: AsyncConnection) -> list[TemplateCacheEfficiency]:
    """Cache efficiency per template, ordered by template name."""
    view = template_cache_efficiency_view
    return await _read(conn, select(view).order_by(view.c.template_name), TemplateCacheEfficiency)


@dataclass(frozen=True, slots=True)
class EventProcessingHealth:
    """One row of ``event_processing_health``: one ingest stage during one UTC hour.

    Percentiles interpolate linearly between the two nearest ranks, like PostgreSQL's ``percentile_cont``,
    on both engines (definition in :mod:`escai.store.seed_sql`).
    """

    stage: str
    hour_bucket: datetime
    batches: int
    events: int
    failures: int
    failure_rate: float
    avg_duration_ms: float
    p50_duration_ms: float
    p95_duration_ms: float
    p99_duration_ms: float
    max_duration_ms: float
    avg_queue_wait_ms: float
    total_retries: int


async def list_event_processing_health(
    conn: AsyncConnection, *, stage: str | None = None, since: datetime | None = None
) -> list[EventProcessingHealth]:
    """Ingest health per stage and hour, oldest hour first; optionally one stage, hours from ``since`` on."""
    view = event_processing_health_view
    query = select(view).order_by(view.c.hour_bucket, view.c.stage)
    if stage is not None:
        query = query.where(view.c.stage == stage)
    if since is not None:
        query = query.where(view.c.hour_bucket >= since)
    return await _read(conn, query, EventProcessingHealth)
