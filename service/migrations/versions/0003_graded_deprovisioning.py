"""Graded deprovisioning and back-provisioning: link columns, and the Auth0 event ids already received."""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    """Add the deprovisioning columns to identity_links; create auth0_event_receipts."""
    tz = sa.DateTime(timezone=True)
    with op.batch_alter_table("identity_links") as batch:
        batch.add_column(sa.Column("account_type", sa.String(16), nullable=False, server_default="member"))
        batch.add_column(sa.Column("deprovision_step", sa.String(16)))
        batch.add_column(sa.Column("deprovision_reason", sa.String(16)))
        batch.add_column(sa.Column("deprovisioned_at", tz))
        batch.add_column(sa.Column("auth0_event_at", tz))
    op.create_index("ix_identity_links_deprovision_step", "identity_links", ["deprovision_step"])
    op.create_table(
        "auth0_event_receipts",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("sync_event_id", sa.Integer),
        sa.Column("received_at", tz, nullable=False),
    )
    op.create_index("ix_auth0_event_receipts_received_at", "auth0_event_receipts", ["received_at"])


def downgrade():
    """Drop the receipts table and the link columns."""
    op.drop_table("auth0_event_receipts")
    op.drop_index("ix_identity_links_deprovision_step", "identity_links")
    with op.batch_alter_table("identity_links") as batch:
        for name in ("auth0_event_at", "deprovisioned_at", "deprovision_reason", "deprovision_step",
                     "account_type"):
            batch.drop_column(name)
