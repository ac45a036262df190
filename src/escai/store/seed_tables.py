"""The code generator's tables (ARCHITECTURE sections 3 and 7) and typed handles on the views over them.

Four tables are registered on :data:`escai.store.tables.metadata` (the fifth, ``event_processing_metrics``,
lives in ``tables``); migration ``0002`` creates exactly these. The views and the two database functions are
SQL text in :mod:`escai.store.seed_sql`; the ``*_view`` objects below only describe the views' columns and
types, so that :mod:`escai.store.seed_repository` reads them with the same type handling as tables (UTC
datetimes on SQLite included). They are deliberately not on ``metadata``: ``create_all`` must not turn a view
into a table.

Every CHECK constraint spells out what :mod:`escai.store.seed_repository` writes, and the tests insert rows that
break each one on both engines.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    TableClause,
    Text,
    UniqueConstraint,
    column,
    table,
)

from escai.store.tables import metadata
from escai.store.types import JsonColumn, UtcDateTime

NodeKind = Literal["effect", "compute", "reducer", "orchestrator"]
"""The four ONEX node kinds a generated plugin can be."""

GenerationPhase = Literal[
    "parse", "spec", "render", "write", "lint", "typecheck", "import", "test", "validate", "total"
]
"""The timed steps of generating one node; ``total`` is the whole node, end to end."""

FeedbackType = Literal["true_positive", "false_positive", "false_negative", "user_override"]
"""What a reviewer said about one match (or miss) of an AST pattern."""

MixinOutcome = Literal["success", "failure"]
"""Whether a generated node with a mixin pair passed validation."""

NODE_KINDS: Final[tuple[str, ...]] = get_args(NodeKind)
GENERATION_PHASES: Final[tuple[str, ...]] = get_args(GenerationPhase)
FEEDBACK_TYPES: Final[tuple[str, ...]] = get_args(FeedbackType)
MIXIN_OUTCOMES: Final[tuple[str, ...]] = get_args(MixinOutcome)


def _one_of(column_name: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column_name} IN ({quoted})"


def _unit_interval(column_name: str) -> str:
    # NULL passes a CHECK, so optional columns need no extra ``IS NULL OR`` clause.
    return f"{column_name} >= 0 AND {column_name} <= 1"


# Mixin names are compared by code point on every engine: SQLite's default BINARY collation already does
# that, and PostgreSQL's "C" collation does too, whatever the database's locale. Python's ``min``/``max`` on
# str agree with both, so the canonical order chosen in Python always satisfies the CHECK below.
MixinName = String(64).with_variant(String(64, collation="C"), "postgresql")

generation_performance_metrics = Table(
    "generation_performance_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("node_name", String(256), nullable=False),
    Column("node_kind", String(16), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("error", Text),
    Column("worker", String(128)),
    Column("parallel", Boolean, nullable=False, default=False),
    Column("metadata", JsonColumn, nullable=False, default=dict),
    Column("recorded_at", UtcDateTime, nullable=False),
    CheckConstraint(_one_of("node_kind", NODE_KINDS), name="node_kind"),
    CheckConstraint(_one_of("phase", GENERATION_PHASES), name="phase"),
    CheckConstraint("duration_ms >= 0", name="duration_ms"),
    Index(None, "run_id", "node_name"),
    # performance_metrics_summary groups by (node_kind, phase); dashboards filter it by time.
    Index(None, "node_kind", "phase", "recorded_at"),
    Index(None, "recorded_at"),
)

template_cache_metadata = Table(
    "template_cache_metadata",
    metadata,
    Column("template_name", String(256), primary_key=True),
    Column("content_sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    # Cumulative over the life of the deployment, so 64-bit.
    Column("hits", BigInteger, nullable=False, default=0),
    Column("misses", BigInteger, nullable=False, default=0),
    Column("evictions", BigInteger, nullable=False, default=0),
    Column("loads", BigInteger, nullable=False, default=0),
    Column("total_load_ms", Float, nullable=False, default=0.0),
    Column("last_loaded_at", UtcDateTime),
    Column("last_accessed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    # ltrim(x, set) exists with the same meaning on both engines, which makes this the portable spelling of
    # "only lowercase hex digits" (hashlib's hexdigest form) without a regular expression.
    CheckConstraint(
        "length(content_sha256) = 64 AND ltrim(content_sha256, '0123456789abcdef') = ''",
        name="content_sha256",
    ),
    CheckConstraint("size_bytes >= 0", name="size_bytes"),
    CheckConstraint("hits >= 0", name="hits"),
    CheckConstraint("misses >= 0", name="misses"),
    CheckConstraint("evictions >= 0", name="evictions"),
    CheckConstraint("loads >= 0", name="loads"),
    CheckConstraint("total_load_ms >= 0", name="total_load_ms"),
)

mixin_compatibility_matrix = Table(
    "mixin_compatibility_matrix",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("node_kind", String(16), nullable=False),
    Column("mixin_a", MixinName, nullable=False),
    Column("mixin_b", MixinName, nullable=False),
    Column("success_count", Integer, nullable=False, default=0),
    Column("failure_count", Integer, nullable=False, default=0),
    Column("compatibility_score", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("last_outcome", String(16)),
    Column("last_error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    # The unique key is also the index for every lookup by node kind or by pair.
    UniqueConstraint("node_kind", "mixin_a", "mixin_b"),
    CheckConstraint(_one_of("node_kind", NODE_KINDS), name="node_kind"),
    # A pair is stored once, in canonical order. A self-pair breaks both checks; SQLite reports the first
    # declared, PostgreSQL the first by name, and this order and these names make both report distinct_mixins.
    CheckConstraint("mixin_a <> mixin_b", name="distinct_mixins"),
    CheckConstraint("mixin_a < mixin_b", name="pair_in_canonical_order"),
    CheckConstraint("success_count >= 0", name="success_count"),
    CheckConstraint("failure_count >= 0", name="failure_count"),
    CheckConstraint(_unit_interval("compatibility_score"), name="compatibility_score"),
    CheckConstraint(_unit_interval("confidence"), name="confidence"),
    CheckConstraint(_one_of("last_outcome", MIXIN_OUTCOMES), name="last_outcome"),
)

pattern_feedback_log = Table(
    "pattern_feedback_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pattern_id", String(128), nullable=False),
    Column("feedback_type", String(32), nullable=False),
    Column("confidence_before", Float),
    Column("file_path", String(1024)),
    Column("line_number", Integer),
    Column("snippet", Text),
    Column("note", Text),
    # Not "user": that is a reserved word on PostgreSQL, where an unquoted ``SELECT user`` silently returns
    # the database role instead of the column.
    Column("user_name", String(256)),
    Column("metadata", JsonColumn, nullable=False, default=dict),
    Column("recorded_at", UtcDateTime, nullable=False),
    CheckConstraint(_one_of("feedback_type", FEEDBACK_TYPES), name="feedback_type"),
    CheckConstraint(_unit_interval("confidence_before"), name="confidence_before"),
    CheckConstraint("line_number >= 1", name="line_number"),
    # pattern_feedback_analysis groups by pattern; the matcher reads one pattern's recent feedback.
    Index(None, "pattern_id", "recorded_at"),
    Index(None, "recorded_at"),
)

# --- The views' columns (see seed_sql for their definitions) ------------------------------------------------

mixin_compatibility_summary_view: TableClause = table(
    "mixin_compatibility_summary",
    column("node_kind", String),
    column("mixin_a", String),
    column("mixin_b", String),
    column("success_count", Integer),
    column("failure_count", Integer),
    column("observations", Integer),
    column("observed_success_rate", Float),
    column("compatibility_score", Float),
    column("confidence", Float),
    column("last_outcome", String),
    column("last_error", Text),
    column("updated_at", UtcDateTime),
)

pattern_feedback_analysis_view: TableClause = table(
    "pattern_feedback_analysis",
    column("pattern_id", String),
    column("feedback_count", Integer),
    column("true_positives", Integer),
    column("false_positives", Integer),
    column("false_negatives", Integer),
    column("user_overrides", Integer),
    column("precision", Float),
    column("false_positive_rate", Float),
    column("recall", Float),
    column("avg_confidence_before", Float),
    column("first_recorded_at", UtcDateTime),
    column("last_recorded_at", UtcDateTime),
)

performance_metrics_summary_view: TableClause = table(
    "performance_metrics_summary",
    column("node_kind", String),
    column("phase", String),
    column("samples", Integer),
    column("successes", Integer),
    column("failures", Integer),
    column("success_rate", Float),
    column("avg_duration_ms", Float),
    column("min_duration_ms", Float),
    column("max_duration_ms", Float),
    column("total_duration_ms", Float),
    column("last_recorded_at", UtcDateTime),
)

template_cache_efficiency_view: TableClause = table(
    "template_cache_efficiency",
    column("template_name", String),
    column("content_sha256", String),
    column("size_bytes", Integer),
    column("hits", BigInteger),
    column("misses", BigInteger),
    column("lookups", BigInteger),
    column("hit_rate", Float),
    column("evictions", BigInteger),
    column("loads", BigInteger),
    column("avg_load_ms", Float),
    column("last_loaded_at", UtcDateTime),
    column("last_accessed_at", UtcDateTime),
    column("updated_at", UtcDateTime),
)

event_processing_health_view: TableClause = table(
    "event_processing_health",
    column("stage", String),
    column("hour_bucket", UtcDateTime),
    column("batches", Integer),
    column("events", BigInteger),
    column("failures", Integer),
    column("failure_rate", Float),
    column("avg_duration_ms", Float),
    column("p50_duration_ms", Float),
    column("p95_duration_ms", Float),
    column("p99_duration_ms", Float),
    column("max_duration_ms", Float),
    column("avg_queue_wait_ms", Float),
    column("total_retries", BigInteger),
)
