"""Identity links and the audit log."""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    """Create identity_links and audit_log."""
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "identity_links",
        sa.Column("auth0_user_id", sa.String(255), primary_key=True),
        sa.Column("immutable_id", sa.String(64), nullable=False, unique=True),
        sa.Column("entra_object_id", sa.String(64), unique=True),
        sa.Column("upn", sa.String(113), unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("upn_variant", sa.Integer, nullable=False),
        sa.Column("licence_sku", sa.String(64)),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("reference", sa.String(64)),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", tz),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.Column("ready_at", tz),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", tz, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("auth0_user_id", sa.String(255)),
        sa.Column("entra_object_id", sa.String(64)),
        sa.Column("reference", sa.String(64)),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_auth0_user_id", "audit_log", ["auth0_user_id"])
    op.create_index("ix_audit_log_entra_object_id", "audit_log", ["entra_object_id"])


def downgrade():
    """Drop both tables."""
    op.drop_table("audit_log")
    op.drop_table("identity_links")
