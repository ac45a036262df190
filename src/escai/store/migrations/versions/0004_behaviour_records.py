"""Behaviour records: outcome statistics of stored patterns, session anomaly scores (with unusual steps and
loops), and behaviour clusters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import escai.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "behavioral_pattern_stats",
        sa.Column("pattern_id", sa.String(length=128), nullable=False),
        sa.Column("p_value_adjusted", sa.Float(), nullable=True),
        sa.Column("odds_ratio", sa.Float(), nullable=True),
        sa.Column("failure_support", sa.Integer(), nullable=False),
        sa.Column("success_support", sa.Integer(), nullable=False),
        sa.Column("sessions_analysed", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("max_gap", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pattern_id"],
            ["behavioral_patterns.id"],
            name=op.f("fk_behavioral_pattern_stats_pattern_id_behavioral_patterns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pattern_id", name=op.f("pk_behavioral_pattern_stats")),
    )
    op.create_table(
        "session_anomalies",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("is_anomalous", sa.Boolean(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("unusual_features", _JSON, nullable=False),
        sa.Column("steps", _JSON, nullable=False),
        sa.Column("loops", _JSON, nullable=False),
        sa.Column("loop_share", sa.Float(), nullable=False),
        sa.Column("cluster", sa.Integer(), nullable=True),
        sa.Column("created_at", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_anomalies")),
    )
    with op.batch_alter_table("session_anomalies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_anomalies_agent_id_score"), ["agent_id", "score"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_anomalies_score"), ["score"], unique=False)
    op.create_table(
        "behaviour_clusters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=True),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("success_rate", sa.Float(), nullable=True),
        sa.Column("silhouette", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("centroid", _JSON, nullable=False),
        sa.Column("patterns", _JSON, nullable=False),
        sa.Column("session_ids", _JSON, nullable=False),
        sa.Column("created_at", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_behaviour_clusters")),
    )
    with op.batch_alter_table("behaviour_clusters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_behaviour_clusters_agent_id"), ["agent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("behaviour_clusters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_behaviour_clusters_agent_id"))
    op.drop_table("behaviour_clusters")
    with op.batch_alter_table("session_anomalies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_anomalies_score"))
        batch_op.drop_index(batch_op.f("ix_session_anomalies_agent_id_score"))
    op.drop_table("session_anomalies")
    op.drop_table("behavioral_pattern_stats")
