"""Graph change notifications: a de-duplication key on inbox rows (unique, so it holds across workers)."""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    """Add sync_events.dedup_key with a unique index (NULLs do not collide)."""
    with op.batch_alter_table("sync_events") as batch:
        batch.add_column(sa.Column("dedup_key", sa.String(64)))
    op.create_index("ix_sync_events_dedup_key", "sync_events", ["dedup_key"], unique=True)


def downgrade():
    """Drop the key."""
    op.drop_index("ix_sync_events_dedup_key", "sync_events")
    with op.batch_alter_table("sync_events") as batch:
        batch.drop_column("dedup_key")
