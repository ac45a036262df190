"""Code-generation seed schema: four tables, five views, two PL/pgSQL functions.

Tables ``generation_performance_metrics``, ``template_cache_metadata``, ``mixin_compatibility_matrix`` and
``pattern_feedback_log`` match ``escai.store.seed_tables``; ``event_processing_metrics`` already exists (0001).
The views (both engines) and the functions ``update_mixin_compatibility`` and ``record_pattern_feedback``
(PostgreSQL only; Python on SQLite) come from ``escai.store.seed_sql``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import escai.store.types
from escai.store import seed_sql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_MIXIN_NAME = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")
_NODE_KIND_CHECK = "node_kind IN ('effect', 'compute', 'reducer', 'orchestrator')"


def upgrade() -> None:
    op.create_table(
        "generation_performance_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("node_name", sa.String(length=256), nullable=False),
        sa.Column("node_kind", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("parallel", sa.Boolean(), nullable=False),
        sa.Column("metadata", _JSON, nullable=False),
        sa.Column("recorded_at", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_NODE_KIND_CHECK, name=op.f("ck_generation_performance_metrics_node_kind")),
        sa.CheckConstraint(
            "phase IN ('parse', 'spec', 'render', 'write', 'lint', 'typecheck', 'import', 'test', 'validate', 'total')",
            name=op.f("ck_generation_performance_metrics_phase"),
        ),
        sa.CheckConstraint("duration_ms >= 0", name=op.f("ck_generation_performance_metrics_duration_ms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_performance_metrics")),
    )
    op.create_index(
        op.f("ix_generation_performance_metrics_run_id_node_name"),
        "generation_performance_metrics",
        ["run_id", "node_name"],
        unique=False,
    )
    op.create_index(
        op.f("ix_generation_performance_metrics_node_kind_phase_recorded_at"),
        "generation_performance_metrics",
        ["node_kind", "phase", "recorded_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_generation_performance_metrics_recorded_at"),
        "generation_performance_metrics",
        ["recorded_at"],
        unique=False,
    )

    op.create_table(
        "template_cache_metadata",
        sa.Column("template_name", sa.String(length=256), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("misses", sa.BigInteger(), nullable=False),
        sa.Column("evictions", sa.BigInteger(), nullable=False),
        sa.Column("loads", sa.BigInteger(), nullable=False),
        sa.Column("total_load_ms", sa.Float(), nullable=False),
        sa.Column("last_loaded_at", escai.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_accessed_at", escai.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(content_sha256) = 64 AND ltrim(content_sha256, '0123456789abcdef') = ''",
            name=op.f("ck_template_cache_metadata_content_sha256"),
        ),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_template_cache_metadata_size_bytes")),
        sa.CheckConstraint("hits >= 0", name=op.f("ck_template_cache_metadata_hits")),
        sa.CheckConstraint("misses >= 0", name=op.f("ck_template_cache_metadata_misses")),
        sa.CheckConstraint("evictions >= 0", name=op.f("ck_template_cache_metadata_evictions")),
        sa.CheckConstraint("loads >= 0", name=op.f("ck_template_cache_metadata_loads")),
        sa.CheckConstraint("total_load_ms >= 0", name=op.f("ck_template_cache_metadata_total_load_ms")),
        sa.PrimaryKeyConstraint("template_name", name=op.f("pk_template_cache_metadata")),
    )

    op.create_table(
        "mixin_compatibility_matrix",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node_kind", sa.String(length=16), nullable=False),
        sa.Column("mixin_a", _MIXIN_NAME, nullable=False),
        sa.Column("mixin_b", _MIXIN_NAME, nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("compatibility_score", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_NODE_KIND_CHECK, name=op.f("ck_mixin_compatibility_matrix_node_kind")),
        sa.CheckConstraint("mixin_a <> mixin_b", name=op.f("ck_mixin_compatibility_matrix_distinct_mixins")),
        sa.CheckConstraint("mixin_a < mixin_b", name=op.f("ck_mixin_compatibility_matrix_pair_in_canonical_order")),
        sa.CheckConstraint("success_count >= 0", name=op.f("ck_mixin_compatibility_matrix_success_count")),
        sa.CheckConstraint("failure_count >= 0", name=op.f("ck_mixin_compatibility_matrix_failure_count")),
        sa.CheckConstraint(
            "compatibility_score >= 0 AND compatibility_score <= 1",
            name=op.f("ck_mixin_compatibility_matrix_compatibility_score"),
        ),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 1", name=op.f("ck_mixin_compatibility_matrix_confidence")
        ),
        sa.CheckConstraint(
            "last_outcome IN ('success', 'failure')", name=op.f("ck_mixin_compatibility_matrix_last_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mixin_compatibility_matrix")),
        sa.UniqueConstraint(
            "node_kind",
            "mixin_a",
            "mixin_b",
            name=op.f("uq_mixin_compatibility_matrix_node_kind_mixin_a_mixin_b"),
        ),
    )

    op.create_table(
        "pattern_feedback_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pattern_id", sa.String(length=128), nullable=False),
        sa.Column("feedback_type", sa.String(length=32), nullable=False),
        sa.Column("confidence_before", sa.Float(), nullable=True),
        sa.Column("file_path", sa.String(length=1024), nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("snippet", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("user_name", sa.String(length=256), nullable=True),
        sa.Column("metadata", _JSON, nullable=False),
        sa.Column("recorded_at", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "feedback_type IN ('true_positive', 'false_positive', 'false_negative', 'user_override')",
            name=op.f("ck_pattern_feedback_log_feedback_type"),
        ),
        sa.CheckConstraint(
            "confidence_before >= 0 AND confidence_before <= 1",
            name=op.f("ck_pattern_feedback_log_confidence_before"),
        ),
        sa.CheckConstraint("line_number >= 1", name=op.f("ck_pattern_feedback_log_line_number")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pattern_feedback_log")),
    )
    op.create_index(
        op.f("ix_pattern_feedback_log_pattern_id_recorded_at"),
        "pattern_feedback_log",
        ["pattern_id", "recorded_at"],
        unique=False,
    )
    op.create_index(op.f("ix_pattern_feedback_log_recorded_at"), "pattern_feedback_log", ["recorded_at"], unique=False)

    # Views on both engines (event_processing_health differs per dialect), then the PL/pgSQL functions.
    for statement in seed_sql.create_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    # Functions and views first: the views depend on the tables.
    for statement in seed_sql.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)

    op.drop_index(op.f("ix_pattern_feedback_log_recorded_at"), table_name="pattern_feedback_log")
    op.drop_index(op.f("ix_pattern_feedback_log_pattern_id_recorded_at"), table_name="pattern_feedback_log")
    op.drop_table("pattern_feedback_log")
    op.drop_table("mixin_compatibility_matrix")
    op.drop_table("template_cache_metadata")
    op.drop_index(op.f("ix_generation_performance_metrics_recorded_at"), table_name="generation_performance_metrics")
    op.drop_index(
        op.f("ix_generation_performance_metrics_node_kind_phase_recorded_at"),
        table_name="generation_performance_metrics",
    )
    op.drop_index(
        op.f("ix_generation_performance_metrics_run_id_node_name"),
        table_name="generation_performance_metrics",
    )
    op.drop_table("generation_performance_metrics")
