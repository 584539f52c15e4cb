"""Where an identity link's Entra account came from: made by the companion, or adopted from Auth0's Rule."""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    """Add identity_links.origin (existing rows were all made by the companion)."""
    with op.batch_alter_table("identity_links") as batch:
        batch.add_column(sa.Column("origin", sa.String(16), nullable=False, server_default="companion"))


def downgrade():
    """Drop identity_links.origin."""
    with op.batch_alter_table("identity_links") as batch:
        batch.drop_column("origin")
