"""The relational schema (ARCHITECTURE sections 3 and 4) as SQLAlchemy Core tables.

Alembic migrations under ``migrations/`` create exactly these tables; ``tests`` check that the migrated
database and this metadata agree. Every query path has an index; JSON documents are JSONB on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from escai.store.types import JsonColumn, UtcDateTime

# Stable constraint names make migrations reproducible on both engines.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(128)

agents = Table(
    "agents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(256)),
    Column("framework", String(64)),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("attributes", JsonColumn, nullable=False, default=dict),
)

monitoring_sessions = Table(
    "monitoring_sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("agent_id", ID, nullable=False, index=True),
    Column("framework", String(64)),
    Column("task", Text),
    Column("started_at", UtcDateTime, nullable=False, index=True),
    Column("ended_at", UtcDateTime),
    Column("last_event_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, default="running", index=True),
    Column("outcome_success", Boolean),
    Column("outcome_score", Float),
    Column("summary", Text),
    Column("event_count", Integer, nullable=False, default=0),
    Column("annotations", JsonColumn, nullable=False, default=dict),
    Column("attributes", JsonColumn, nullable=False, default=dict),
)

agent_events = Table(
    "agent_events",
    metadata,
    # A monotonically increasing sequence number gives stable keyset pagination and replay order; on SQLite
    # it is the rowid, so inserts append to the table's B-tree.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # The producer's id: unique, so the same event delivered twice is stored once.
    Column("id", ID, nullable=False, unique=True),
    Column("session_id", ID, nullable=False),
    Column("agent_id", ID, nullable=False),
    Column("agent_name", String(256)),
    Column("framework", String(64)),
    Column("type", String(32), nullable=False),
    Column("name", String(256)),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("parent_id", ID),
    Column("trace_id", String(64)),
    Column("span_id", String(32)),
    Column("step_index", Integer),
    Column("content", Text),
    Column("attributes", JsonColumn, nullable=False),
    Column("tokens_input", Integer),
    Column("tokens_output", Integer),
    Column("cost", Float),
    Column("duration_ms", Float),
    Column("status", String(16), nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
    Index(None, "session_id", "timestamp"),
    Index(None, "agent_id", "timestamp"),
    Index(None, "type", "timestamp"),
    Index(None, "trace_id"),
    Index("ix_agent_events_attributes_gin", "attributes", postgresql_using="gin").ddl_if(dialect="postgresql"),
)

dead_letter_events = Table(
    "dead_letter_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False, index=True),
    Column("source", String(64), nullable=False),
    Column("event_id", ID),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
)

metric_samples = Table(
    "metric_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("value", Float, nullable=False),
    Column("labels", JsonColumn, nullable=False, default=dict),
    Index(None, "name", "recorded_at"),
)

epistemic_states = Table(
    "epistemic_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, nullable=False),
    Column("agent_id", ID, nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("event_id", ID),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("beliefs", JsonColumn, nullable=False),
    Column("knowledge", JsonColumn, nullable=False),
    Column("goals", JsonColumn, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("uncertainty", Float, nullable=False),
    Column("method", String(32), nullable=False, default="light"),
    Column("signals", JsonColumn, nullable=False, default=dict),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "session_id", "step_index"),
    Index(None, "agent_id", "timestamp"),
)

belief_revisions = Table(
    "belief_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, nullable=False),
    Column("agent_id", ID, nullable=False, index=True),
    Column("step_index", Integer, nullable=False),
    Column("statement", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("previous_confidence", Float, nullable=False),
    Column("new_confidence", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence_event_ids", JsonColumn, nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "session_id", "step_index"),
)

knowledge_nodes = Table(
    "knowledge_nodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, nullable=False, index=True),
    Column("label", String(512), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("properties", JsonColumn, nullable=False, default=dict),
)

knowledge_edges = Table(
    "knowledge_edges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, nullable=False, index=True),
    Column("source_id", Integer, ForeignKey("knowledge_nodes.id", ondelete="CASCADE"), nullable=False),
    Column("target_id", Integer, ForeignKey("knowledge_nodes.id", ondelete="CASCADE"), nullable=False),
    Column("relation", String(256), nullable=False),
    Column("source_event_id", ID),
)

behavioral_patterns = Table(
    "behavioral_patterns",
    metadata,
    Column("id", ID, primary_key=True),
    Column("agent_id", ID, index=True),
    Column("sequence", JsonColumn, nullable=False),
    Column("support", Integer, nullable=False),
    Column("success_rate", Float),
    Column("lift_toward_failure", Float),
    Column("p_value", Float),
    Column("session_ids", JsonColumn, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)

causal_relationships = Table(
    "causal_relationships",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, index=True),
    Column("cause", String(512), nullable=False),
    Column("effect", String(512), nullable=False),
    Column("strength", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("method", String(64), nullable=False),
    Column("lag", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
)

failure_attributions = Table(
    "failure_attributions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, nullable=False, index=True),
    Column("method", String(64), nullable=False),
    Column("candidates", JsonColumn, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, nullable=False),
    Column("agent_id", ID, nullable=False, index=True),
    Column("step_index", Integer, nullable=False),
    Column("success_probability", Float, nullable=False),
    Column("failure_risk", Float, nullable=False),
    Column("remaining_steps", Float),
    Column("remaining_seconds", Float),
    Column("confidence", Float, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "session_id", "step_index"),
)

explanations = Table(
    "explanations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ID, nullable=False, index=True),
    Column("agent_id", ID, index=True),
    Column("kind", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("evidence_event_ids", JsonColumn, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("sentences", JsonColumn, nullable=False, default=list),
    Column("other_session_id", ID),
    Column("generator", String(128), nullable=False, default="template"),
    Column("created_at", UtcDateTime, nullable=False),
)

# The second seed's ingest metrics: one row per written batch. The view ``event_processing_health`` (see
# ``seed_sql``) aggregates it into p50/p95/p99 per stage and hour.
event_processing_metrics = Table(
    "event_processing_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(64), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("queue_wait_ms", Float, nullable=False),
    Column("retries", Integer, nullable=False, default=0),
    Column("success", Boolean, nullable=False),
    Column("error", Text),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index(None, "stage", "recorded_at"),
)

# Behaviour analysis (issue 5): outcome statistics of each stored pattern beyond the domain record, anomaly
# scores of sessions with their unusual steps and loops, and behaviour clusters. One analysis replaces the rows
# of its scope (an agent, or all sessions when agent_id is NULL).
behavioral_pattern_stats = Table(
    "behavioral_pattern_stats",
    metadata,
    Column("pattern_id", ID, ForeignKey("behavioral_patterns.id", ondelete="CASCADE"), primary_key=True),
    Column("p_value_adjusted", Float),
    Column("odds_ratio", Float),
    Column("failure_support", Integer, nullable=False),
    Column("success_support", Integer, nullable=False),
    Column("sessions_analysed", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("max_gap", Integer),
)

session_anomalies = Table(
    "session_anomalies",
    metadata,
    Column("session_id", ID, primary_key=True),
    Column("agent_id", ID),
    Column("score", Float, nullable=False),
    Column("is_anomalous", Boolean, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("unusual_features", JsonColumn, nullable=False),
    Column("steps", JsonColumn, nullable=False),
    Column("loops", JsonColumn, nullable=False),
    Column("loop_share", Float, nullable=False),
    Column("cluster", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "agent_id", "score"),
    Index(None, "score"),
)

behaviour_clusters = Table(
    "behaviour_clusters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", ID, index=True),
    Column("label", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("success_rate", Float),
    Column("silhouette", Float, nullable=False),
    Column("description", Text, nullable=False),
    Column("centroid", JsonColumn, nullable=False),
    Column("patterns", JsonColumn, nullable=False),
    Column("session_ids", JsonColumn, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# The code generator's tables live in their own module; importing it here keeps `metadata` complete.
import escai.store.seed_tables  # noqa: E402, F401
