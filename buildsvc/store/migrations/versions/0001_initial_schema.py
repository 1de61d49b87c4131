"""Initial schema: every table of buildsvc.store.models.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("console_password_hash", sa.String(length=255), nullable=True),
        sa.Column("gitlab_repository_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_accounts_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_api_tokens_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_account_id"), "api_tokens", ["account_id"])

    op.create_table(
        "image_repositories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("source_repository", sa.String(length=1024), nullable=False),
        sa.Column("source_repository_id", sa.String(length=64), nullable=False),
        sa.Column("clone_url", sa.String(length=2048), nullable=False),
        sa.Column("default_branch", sa.String(length=255), nullable=True),
        sa.Column("auto_build", sa.Boolean(), nullable=False),
        sa.Column("hook_key", sa.String(length=64), nullable=False),
        sa.Column("hook_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("forge_hook_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_image_repositories_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_repositories")),
        sa.UniqueConstraint(
            "account_id",
            "namespace",
            "name",
            name=op.f("uq_image_repositories_account_id_namespace_name"),
        ),
        sa.UniqueConstraint("hook_key", name=op.f("uq_image_repositories_hook_key")),
    )
    op.create_table(
        "source_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("api_url", sa.String(length=2048), nullable=False),
        sa.Column("api_version", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("forge_user_id", sa.String(length=64), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        sa.Column("token_last4", sa.String(length=4), nullable=False),
        sa.Column("ca_cert", sa.Text(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("broken_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_source_bindings_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_bindings")),
        sa.UniqueConstraint(
            "account_id", "provider", name=op.f("uq_source_bindings_account_id_provider")
        ),
    )
    op.create_table(
        "build_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("pattern", sa.String(length=1024), nullable=False),
        sa.Column("tag", sa.String(length=1024), nullable=False),
        sa.Column("dockerfile", sa.String(length=1024), nullable=False),
        sa.Column("context", sa.String(length=1024), nullable=False),
        sa.Column("build_args", sa.JSON(), nullable=False),
        sa.Column("secret_build_args", sa.JSON(), nullable=False),
        sa.Column("no_cache", sa.Boolean(), nullable=False),
        sa.Column("include_paths", sa.JSON(), nullable=False),
        sa.Column("ignore_paths", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["image_repositories.id"],
            name=op.f("fk_build_rules_repository_id_image_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_rules")),
    )
    op.create_index(op.f("ix_build_rules_repository_id"), "build_rules", ["repository_id"])

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=1024), nullable=True),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("build_ids", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["image_repositories.id"],
            name=op.f("fk_deliveries_repository_id_image_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "repository_id", "delivery_id", name=op.f("uq_deliveries_repository_id_delivery_id")
        ),
    )
    op.create_index(op.f("ix_deliveries_repository_id"), "deliveries", ["repository_id"])

    op.create_table(
        "builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=1024), nullable=False),
        sa.Column("ref_type", sa.String(length=16), nullable=False),
        sa.Column("ref_name", sa.String(length=1024), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("commit_message", sa.Text(), nullable=True),
        sa.Column("dockerfile", sa.String(length=1024), nullable=False),
        sa.Column("context", sa.String(length=1024), nullable=False),
        sa.Column("build_args", sa.JSON(), nullable=False),
        sa.Column("secret_build_args", sa.JSON(), nullable=False),
        sa.Column("no_cache", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=128), nullable=True),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("enqueued", sa.Boolean(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetching_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("building_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_builds_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["image_repositories.id"],
            name=op.f("fk_builds_repository_id_image_repositories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["build_rules.id"],
            name=op.f("fk_builds_rule_id_build_rules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builds")),
    )
    op.create_index("ix_builds_account_created", "builds", ["account_id", "id"])
    op.create_index("ix_builds_repo_ref_status", "builds", ["repository_id", "ref", "status"])
    op.create_index("ix_builds_status", "builds", ["status"])

    op.create_table(
        "build_log_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["builds.id"],
            name=op.f("fk_build_log_lines_build_id_builds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_log_lines")),
        sa.UniqueConstraint("build_id", "seq", name=op.f("uq_build_log_lines_build_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("build_log_lines")
    op.drop_index("ix_builds_status", table_name="builds")
    op.drop_index("ix_builds_repo_ref_status", table_name="builds")
    op.drop_index("ix_builds_account_created", table_name="builds")

    op.drop_table("builds")
    op.drop_index(op.f("ix_deliveries_repository_id"), table_name="deliveries")

    op.drop_table("deliveries")
    op.drop_index(op.f("ix_build_rules_repository_id"), table_name="build_rules")

    op.drop_table("build_rules")
    op.drop_table("source_bindings")
    op.drop_table("image_repositories")
    op.drop_index(op.f("ix_api_tokens_account_id"), table_name="api_tokens")

    op.drop_table("api_tokens")
    op.drop_table("accounts")
