"""builds.cancelled_by and builds.image_size.

cancelled_by says who cancelled a build ("acme (token ci-deploy)", "acme in the
console"), so a cancel reads as a person's choice rather than an error. image_size is
the pushed image's size in bytes (config and layers, compressed, as the manifest lists
them). Both stay NULL on existing builds.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("builds", sa.Column("cancelled_by", sa.String(255), nullable=True))
    op.add_column("builds", sa.Column("image_size", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("builds") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("image_size")
        batch.drop_column("cancelled_by")
