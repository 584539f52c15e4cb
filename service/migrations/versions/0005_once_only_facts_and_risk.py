"""Once-only audit facts (one row per fact, however often a step repeats) and the risks already acted on."""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    """Add audit_log.fact with a unique index over (action, auth0_user_id, fact); create risk_records."""
    tz = sa.DateTime(timezone=True)
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("fact", sa.String(128)))
    # NULL facts (ordinary rows) never collide: both SQLite and PostgreSQL treat NULLs as distinct.
    op.create_index("ux_audit_log_fact", "audit_log", ["action", "auth0_user_id", "fact"], unique=True)
    op.create_table(
        "risk_records",
        sa.Column("entra_object_id", sa.String(64), primary_key=True),
        sa.Column("risk_updated_at", tz, nullable=False),
        sa.Column("risk_level", sa.String(16)),
        sa.Column("risk_state", sa.String(32)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("blocked_user_id", sa.String(255)),
        sa.Column("updated_at", tz, nullable=False),
    )


def downgrade():
    """Drop risk_records and the fact column."""
    op.drop_table("risk_records")
    op.drop_index("ux_audit_log_fact", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("fact")
