"""builds.status_context: the commit status name of each build's rule.

Builds queued before it keep NULL: their statuses stay under the old single name.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("builds", sa.Column("status_context", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("builds") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("status_context")
