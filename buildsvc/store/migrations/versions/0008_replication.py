"""Replication: rules copying tags to other registries, their status rows, and the
blobs known to be in each destination repository (for cross-repository mounts).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "replication_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("destination_url", sa.String(length=2048), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("ca_cert", sa.Text(), nullable=True),
        sa.Column("destination_namespace", sa.String(length=255), nullable=False),
        sa.Column("name_template", sa.String(length=255), nullable=False),
        sa.Column("tag_filter", sa.String(length=1024), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("replication_rules", "account_id", "accounts", "CASCADE"),
        _fk("replication_rules", "repository_id", "image_repositories", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replication_rules")),
    )
    op.create_index(
        op.f("ix_replication_rules_repository_id"), "replication_rules", ["repository_id"]
    )
    op.create_table(
        "replications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=True),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("destination", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("job_token", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("replications", "account_id", "accounts", "CASCADE"),
        _fk("replications", "rule_id", "replication_rules", "CASCADE"),
        _fk("replications", "repository_id", "image_repositories", "CASCADE"),
        _fk("replications", "build_id", "builds", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replications")),
        sa.UniqueConstraint(
            "rule_id",
            "repository_id",
            "tag",
            name=op.f("uq_replications_rule_id_repository_id_tag"),
        ),
    )
    op.create_index(
        "ix_replications_repository_digest", "replications", ["repository_id", "digest"]
    )
    op.create_table(
        "replicated_blobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("destination_url", sa.String(length=2048), nullable=False),
        sa.Column("repository", sa.String(length=512), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replicated_blobs")),
        sa.UniqueConstraint(
            "destination_url",
            "repository",
            "digest",
            name=op.f("uq_replicated_blobs_destination_url_repository_digest"),
        ),
    )
    op.create_index(op.f("ix_replicated_blobs_digest"), "replicated_blobs", ["digest"])


def downgrade() -> None:
    op.drop_table("replicated_blobs")
    op.drop_table("replications")
    op.drop_table("replication_rules")
