"""Registry access: owned namespaces, plain repositories, registry passwords, robots,
registry tags and events, and each running build's registry secret hash.

Each namespace already in use goes to the account that first used it (its oldest image
repository). Other accounts' repositories in a namespace given to someone else are
conflicts: they are kept (not merged, not deleted) and listed in a warning, and their
accounts get no registry rights there; an operator settles each by hand.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

log = logging.getLogger("buildsvc.store.migrations")

_SOURCE_COLUMNS = (
    ("provider", sa.String(length=32)),
    ("source_repository", sa.String(length=1024)),
    ("source_repository_id", sa.String(length=64)),
    ("clone_url", sa.String(length=2048)),
    ("hook_key", sa.String(length=64)),
    ("hook_secret_encrypted", sa.Text()),
)


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("registry_password_hash", sa.String(length=255), nullable=True)
    )
    op.add_column("builds", sa.Column("registry_secret_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("image_repositories") as batch:
        for name, type_ in _SOURCE_COLUMNS:
            batch.alter_column(name, existing_type=type_, nullable=True)
        batch.add_column(
            sa.Column("visibility", sa.String(length=16), nullable=False, server_default="private")
        )
    _create_tables()
    _assign_namespaces()


def _create_tables() -> None:
    op.create_table(
        "namespaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("allowed_networks", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_namespaces_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint("name", name=op.f("uq_namespaces_name")),
    )
    op.create_index(op.f("ix_namespaces_account_id"), "namespaces", ["account_id"])
    op.create_table(
        "robots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_robots_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robots")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_robots_account_id_name")),
    )
    op.create_table(
        "registry_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushed_by", sa.String(length=255), nullable=True),
        sa.Column("last_pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["image_repositories.id"],
            name=op.f("fk_registry_tags_repository_id_image_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_tags")),
        sa.UniqueConstraint(
            "repository_id", "name", name=op.f("uq_registry_tags_repository_id_name")
        ),
    )
    op.create_table(
        "registry_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=True),
        sa.Column("repository", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.String(length=128), nullable=True),
        sa.Column("tag", sa.String(length=128), nullable=True),
        sa.Column("media_type", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["image_repositories.id"],
            name=op.f("fk_registry_events_repository_id_image_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_registry_events_event_id")),
    )
    op.create_index("ix_registry_events_repository", "registry_events", ["repository_id", "id"])


def _assign_namespaces() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, account_id, namespace FROM image_repositories ORDER BY id")
    ).all()
    owners: dict[str, int] = {}
    conflicts: dict[str, set[int]] = {}
    for _, account_id, namespace in rows:
        owner = owners.setdefault(namespace, account_id)
        if owner != account_id:
            conflicts.setdefault(namespace, set()).add(account_id)
    now = sa.func.now() if bind.dialect.name == "postgresql" else sa.text("CURRENT_TIMESTAMP")
    table = sa.table(
        "namespaces",
        sa.column("name", sa.String),
        sa.column("account_id", sa.Integer),
        sa.column("allowed_networks", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    for namespace, account_id in owners.items():
        bind.execute(
            table.insert().values(
                name=namespace, account_id=account_id, allowed_networks=[], created_at=now
            )
        )
    for namespace, others in sorted(conflicts.items()):
        log.warning(
            "namespace %r went to account %d, its first user; image repositories of "
            "accounts %s stay in it without registry rights: settle by hand",
            namespace,
            owners[namespace],
            sorted(others),
            extra={"namespace": namespace, "owner": owners[namespace], "others": sorted(others)},
        )


def downgrade() -> None:
    op.drop_index("ix_registry_events_repository", table_name="registry_events")
    op.drop_table("registry_events")
    op.drop_table("registry_tags")
    op.drop_table("robots")
    op.drop_index(op.f("ix_namespaces_account_id"), table_name="namespaces")
    op.drop_table("namespaces")
    with op.batch_alter_table("image_repositories") as batch:
        batch.drop_column("visibility")
    # Plain repositories cannot exist without a source: drop them before tightening.
    op.execute("DELETE FROM image_repositories WHERE provider IS NULL")
    with op.batch_alter_table("image_repositories") as batch:
        for name, type_ in _SOURCE_COLUMNS:
            batch.alter_column(name, existing_type=type_, nullable=False)
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("registry_password_hash")
    with op.batch_alter_table("builds") as batch:
        batch.drop_column("registry_secret_hash")
