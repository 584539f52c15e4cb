"""Sync inbox (events) and durable sync state."""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    """Create sync_events and sync_state."""
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "sync_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(255)),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
    )
    op.create_index("ix_sync_events_status", "sync_events", ["status"])
    op.create_index("ix_sync_events_object_id", "sync_events", ["object_id"])
    op.create_table(
        "sync_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
    )


def downgrade():
    """Drop both tables."""
    op.drop_table("sync_state")
    op.drop_table("sync_events")
