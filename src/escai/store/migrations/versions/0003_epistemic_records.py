"""Epistemic records: belief revisions as their own table, the extraction method and confidence components on
each state, and explanations kept sentence by sentence with their citations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import escai.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "belief_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("previous_confidence", sa.Float(), nullable=False),
        sa.Column("new_confidence", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence_event_ids", _JSON, nullable=False),
        sa.Column("timestamp", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", escai.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_belief_revisions")),
    )
    with op.batch_alter_table("belief_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_belief_revisions_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_belief_revisions_session_id_step_index"), ["session_id", "step_index"], unique=False
        )
    with op.batch_alter_table("epistemic_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("method", sa.String(length=32), nullable=False, server_default="light"))
        batch_op.add_column(sa.Column("signals", _JSON, nullable=False, server_default="{}"))
    with op.batch_alter_table("explanations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sentences", _JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("other_session_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("generator", sa.String(length=128), nullable=False, server_default="template"))


def downgrade() -> None:
    with op.batch_alter_table("explanations", schema=None) as batch_op:
        batch_op.drop_column("generator")
        batch_op.drop_column("other_session_id")
        batch_op.drop_column("sentences")
    with op.batch_alter_table("epistemic_states", schema=None) as batch_op:
        batch_op.drop_column("signals")
        batch_op.drop_column("method")
    with op.batch_alter_table("belief_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_belief_revisions_session_id_step_index"))
        batch_op.drop_index(batch_op.f("ix_belief_revisions_agent_id"))
    op.drop_table("belief_revisions")
