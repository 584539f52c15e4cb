"""Reconciliation runs and named leases."""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    """Create reconcile_runs and leases."""
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("finished_at", tz),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("until", tz, nullable=False),
    )


def downgrade():
    """Drop both tables."""
    op.drop_table("leases")
    op.drop_table("reconcile_runs")
