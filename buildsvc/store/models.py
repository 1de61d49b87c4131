"""Database tables (SQLAlchemy 2 typed ORM). Alembic migrations mirror this file.

Every row that belongs to a tenant carries ``account_id``; services always filter by
it, so account A sees 404 for anything of account B.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zone type and hands back naive values; this stores UTC and
    always returns aware UTC datetimes, so comparisons and JSON rendering agree on
    SQLite and PostgreSQL. Naive values are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# Deterministic constraint names: the same on SQLite and PostgreSQL, and what Alembic's
# batch mode needs to alter a constraint on SQLite later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    console_password_hash: Mapped[str | None] = mapped_column(String(255))
    # Counter kept in the same transaction as the insert: "UPDATE ... SET n = n + 1
    # WHERE n < limit" makes the per-account GitLab limit atomic on SQLite and PostgreSQL.
    gitlab_repository_count: Mapped[int] = mapped_column(Integer, default=0)
    # The `docker login` password (argon2), apart from API tokens; None: no registry login.
    registry_password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    last4: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(100), default="default")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]  # written at most once a minute
    expires_at: Mapped[dt.datetime | None]  # None: never; past it the token is refused


class SourceBinding(Base):
    """A bound forge account; the token is Fernet-encrypted."""

    __tablename__ = "source_bindings"
    __table_args__ = (UniqueConstraint("account_id", "provider"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    api_url: Mapped[str] = mapped_column(String(2048))
    api_version: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(255))
    forge_user_id: Mapped[str] = mapped_column(String(64))
    token_encrypted: Mapped[str] = mapped_column(Text)
    token_last4: Mapped[str] = mapped_column(String(4))
    ca_cert: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | broken
    broken_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ImageRepository(Base):
    """An image repository, linked to one source repository with its push hook, or plain
    (every source column None): pushed to from outside only."""

    __tablename__ = "image_repositories"
    __table_args__ = (UniqueConstraint("account_id", "namespace", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    namespace: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str | None] = mapped_column(String(32))
    source_repository: Mapped[str | None] = mapped_column(String(1024))  # forge full path
    source_repository_id: Mapped[str | None] = mapped_column(String(64))
    clone_url: Mapped[str | None] = mapped_column(String(2048))
    default_branch: Mapped[str | None] = mapped_column(String(255))
    auto_build: Mapped[bool] = mapped_column(Boolean, default=True)
    # Public, unguessable id in the webhook URL /webhooks/{provider}/{hook_key}.
    hook_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    hook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    forge_hook_id: Mapped[str | None] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(  # private | public
        String(16), default="private", server_default="private"
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    rules: Mapped[list[BuildRule]] = relationship(
        back_populates="repository",
        cascade="all, delete-orphan",
        order_by="BuildRule.position",
        lazy="selectin",
    )


class BuildRule(Base):
    __tablename__ = "build_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(16))  # branch | tag
    pattern: Mapped[str] = mapped_column(String(1024))  # exact name, glob or /regex/
    tag: Mapped[str] = mapped_column(String(1024))  # template: {branch} {tag} {sha} ...
    dockerfile: Mapped[str] = mapped_column(String(1024), default="Dockerfile")
    context: Mapped[str] = mapped_column(String(1024), default=".")
    build_args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_build_args: Mapped[list[Any]] = mapped_column(default=list)  # names to mask
    no_cache: Mapped[bool] = mapped_column(Boolean, default=False)
    include_paths: Mapped[list[Any]] = mapped_column(default=list)
    ignore_paths: Mapped[list[Any]] = mapped_column(default=list)

    repository: Mapped[ImageRepository] = relationship(back_populates="rules")


class Delivery(Base):
    """One webhook delivery and what became of it, so users can see why a push built or not."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("repository_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE"), index=True
    )
    delivery_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))  # push | ping | ignored event name
    ref: Mapped[str | None] = mapped_column(String(1024))
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(Text)
    build_ids: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Build(Base):
    __tablename__ = "builds"
    __table_args__ = (
        Index("ix_builds_account_created", "account_id", "id"),
        Index("ix_builds_status", "status"),
        Index("ix_builds_repo_ref_status", "repository_id", "ref", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE")
    )
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("build_rules.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(16))  # push | api | console
    ref: Mapped[str] = mapped_column(String(1024))  # refs/heads/main
    ref_type: Mapped[str] = mapped_column(String(16))
    ref_name: Mapped[str] = mapped_column(String(1024))
    commit_sha: Mapped[str] = mapped_column(String(64))
    commit_message: Mapped[str | None] = mapped_column(Text)
    # Everything the worker needs, frozen at queue time (rule edits don't change a queued build).
    dockerfile: Mapped[str] = mapped_column(String(1024), default="Dockerfile")
    context: Mapped[str] = mapped_column(String(1024), default=".")
    build_args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_build_args: Mapped[list[Any]] = mapped_column(default=list)
    no_cache: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Any]] = mapped_column(default=list)  # full refs host/ns/name:tag
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(128))
    image_size: Mapped[int | None] = mapped_column(BigInteger)  # bytes: config + layers
    cancelled_by: Mapped[str | None] = mapped_column(String(255))  # "acme (token ci)"
    status_note: Mapped[str | None] = mapped_column(Text)  # e.g. forge refused commit status
    # The commit status name its statuses go under (builds.status_context); NULL: "buildsvc".
    status_context: Mapped[str | None] = mapped_column(String(255))
    # Outbox: False until the arq job is in Redis; a sweeper enqueues the rest.
    enqueued: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    # SHA-256 of the registry secret the claiming worker made (builds.registry_login).
    registry_secret_hash: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[dt.datetime | None]
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    fetching_at: Mapped[dt.datetime | None]
    building_at: Mapped[dt.datetime | None]
    pushing_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class BuildLogLine(Base):
    __tablename__ = "build_log_lines"
    __table_args__ = (UniqueConstraint("build_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    ts: Mapped[dt.datetime] = mapped_column(default=utcnow)
    line: Mapped[str] = mapped_column(Text)


class Namespace(Base):
    """The first path component of image names; one owning account, globally unique, so
    no account can write where another's images live."""

    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # CIDRs the token server accepts clients from; empty: anywhere.
    allowed_networks: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Robot(Base):
    """A registry login ``<account>+<name>`` with a hashed secret and explicit permissions."""

    __tablename__ = "robots"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(255))  # argon2
    # [{"repository": "ns/app" | "namespace": "ns", "actions": ["pull", ...]}]
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[dt.datetime | None]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]


class RegistryTag(Base):
    """A tag as the registry has it, kept from notifications and reconciled from its API."""

    __tablename__ = "registry_tags"
    __table_args__ = (UniqueConstraint("repository_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    pushed_at: Mapped[dt.datetime | None]
    pushed_by: Mapped[str | None] = mapped_column(String(255))
    last_pulled_at: Mapped[dt.datetime | None]


class RegistryEvent(Base):
    """One registry notification (push, pull, delete): the repository's audit log."""

    __tablename__ = "registry_events"
    __table_args__ = (Index("ix_registry_events_repository", "repository_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # the registry's, dedupes
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE")
    )
    repository: Mapped[str] = mapped_column(String(512))  # ns/name as the registry named it
    action: Mapped[str] = mapped_column(String(16))  # push | pull | delete
    actor: Mapped[str | None] = mapped_column(String(255))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str | None] = mapped_column(String(128))
    tag: Mapped[str | None] = mapped_column(String(128))
    media_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotificationTarget(Base):
    """Where an image repository's events go: a signed webhook or a Slack incoming webhook."""

    __tablename__ = "notification_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # webhook | slack
    description: Mapped[str] = mapped_column(String(255), default="")
    # Encrypted: a Slack URL embeds its token, and a webhook URL may carry one.
    url_encrypted: Mapped[str] = mapped_column(Text)
    url_display: Mapped[str] = mapped_column(String(2048))  # without secrets
    secret_encrypted: Mapped[str | None] = mapped_column(Text)  # webhook signing secret
    events: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failing_since: Mapped[dt.datetime | None]
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One event for one target, and how sending it went (the last attempt)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_target_state", "target_id", "state", "id"),
        Index("ix_notification_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("notification_targets.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(32))
    build_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class ReplicationRule(Base):
    """Copy an image repository's tags (or a namespace's) to another registry."""

    __tablename__ = "replication_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # The repository the rule was made on; a "namespace" rule covers its namespace.
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(16), default="repository")  # | namespace
    namespace: Mapped[str] = mapped_column(String(255))
    destination_url: Mapped[str] = mapped_column(String(2048))
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    ca_cert: Mapped[str | None] = mapped_column(Text)
    destination_namespace: Mapped[str] = mapped_column(String(255), default="")
    name_template: Mapped[str] = mapped_column(String(255), default="{name}")
    tag_filter: Mapped[str] = mapped_column(String(1024))  # build rules' pattern syntax
    trigger: Mapped[str] = mapped_column(String(16), default="push")  # | manual
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Replication(Base):
    """The copy of one tag to one rule's destination, and how its attempts went."""

    __tablename__ = "replications"
    __table_args__ = (
        UniqueConstraint("rule_id", "repository_id", "tag"),
        Index("ix_replications_repository_digest", "repository_id", "digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("replication_rules.id", ondelete="CASCADE"))
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE")
    )
    build_id: Mapped[int | None] = mapped_column(ForeignKey("builds.id", ondelete="SET NULL"))
    tag: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(128))
    destination: Mapped[str] = mapped_column(String(2048))  # host[:port]/repository:tag
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Bumped whenever the tag is planned again: a job of an older generation stops.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    # Names the generation's arq job: row ids come back on SQLite after a delete, and a
    # kept arq result of an old job with the same id would refuse the new one.
    job_token: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[dt.datetime | None]  # a failed copy's next attempt, if it has one
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[Any]] = mapped_column(default=list)  # one line per attempt
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReplicatedBlob(Base):
    """A blob known to be in a destination repository: the source of cross-repository
    mounts on that destination."""

    __tablename__ = "replicated_blobs"
    __table_args__ = (UniqueConstraint("destination_url", "repository", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_url: Mapped[str] = mapped_column(String(2048))
    repository: Mapped[str] = mapped_column(String(512))
    digest: Mapped[str] = mapped_column(String(128), index=True)
