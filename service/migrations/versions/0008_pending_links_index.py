"""Indexes for the background provisioning poller: pending links by state, recent readiness by time."""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    """Index identity_links.state and identity_links.ready_at (read every poller round)."""
    op.create_index("ix_identity_links_state", "identity_links", ["state"])
    op.create_index("ix_identity_links_ready_at", "identity_links", ["ready_at"])


def downgrade():
    """Drop the two indexes."""
    op.drop_index("ix_identity_links_ready_at", "identity_links")
    op.drop_index("ix_identity_links_state", "identity_links")
