"""The service's settings: one typed object, built once at the entry point.

Every field reads ``BUILDSVC_<NAME>`` from the environment or a ``.env`` file.
``create_app(settings)`` and the worker take a ``Settings``; nothing else reads
the environment.

Values are checked here, with messages that say the expected form (numbers in range,
URLs with a usable scheme, CIDRs that parse), so a misconfiguration ends before
anything starts; ``buildsvc.startup`` turns the errors into a line naming the variable.
List settings take a comma-separated list as well as JSON.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
REDIS_SCHEMES = ("redis", "rediss", "unix")


def comma_list(value: object) -> object:
    """A JSON list as given, else a comma-separated string split into its items."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"a JSON list that does not parse ({exc.msg})") from None
    return [item.strip() for item in text.split(",") if item.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUILDSVC_", env_file=".env", extra="ignore")

    # HTTP server
    host: str = Field(default="127.0.0.1", description="Address the API server listens on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port the API server listens on.")
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL forges call back (webhooks) and commit statuses link to.",
    )

    # State
    data_dir: Path = Field(
        default=Path("var"),
        description="Local state: the SQLite database and the generated secret key file.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite under data_dir.",
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys, newest first (rotation); default: a key "
        "file generated under data_dir.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis for the build queue (arq), live logs and cancel signals.",
    )

    # Code sources
    allowed_source_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDRs a source URL may resolve into although private/loopback "
        '(comma-separated, e.g. 127.0.0.0/8,10.0.0.0/8, or a JSON list ["127.0.0.0/8"]).',
    )
    source_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of each call to a forge."
    )
    gitlab_repository_limit: int = Field(
        default=100, ge=0, description="Image repositories linked to GitLab per account."
    )
    token_expiry_warning_days: int = Field(
        default=14,
        ge=0,
        description="Bindings whose token expires within this many days carry a warning.",
    )

    # Webhooks
    webhook_max_body_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1,
        description="Larger webhook deliveries are refused with 413.",
    )

    # Registry
    registry: str = Field(
        default="127.0.0.1:5000", description="Registry host[:port] that images are pushed to."
    )
    registry_username: str | None = Field(
        default=None,
        description="Registry login for a registry without buildsvc's token auth (none: each "
        "build logs in as itself, see Registry access).",
    )
    registry_password: SecretStr | None = Field(
        default=None, description="That registry's password; masked in every log line."
    )
    registry_service: str = Field(
        default="buildsvc-registry",
        description="The registry's name in its token auth config (the tokens' audience).",
    )
    registry_token_issuer: str = Field(
        default="buildsvc", description="Issuer of registry tokens, as the registry expects it."
    )
    registry_token_lifetime_seconds: int = Field(
        default=300, ge=60, le=3600, description="How long a registry token is valid."
    )
    registry_token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long an API process reuses a token decision for the same login, "
        "password, scopes and client (0: never); changes take effect within it.",
    )
    registry_key_dir: Path | None = Field(
        default=None,
        description="Where the token signing keys, the registry's certificate bundle and the "
        "events secret live; default: data_dir/registry.",
    )
    registry_events_secret: SecretStr | None = Field(
        default=None,
        description="What the registry's notifications carry in their Authorization header; "
        "default: a secret generated under data_dir.",
    )
    registry_api_url: str | None = Field(
        default=None,
        description="Where buildsvc itself reaches the registry's HTTP API (tags, deletes); "
        "default: http://BUILDSVC_REGISTRY.",
    )
    registry_push_attempts: int = Field(
        default=4,
        ge=1,
        description="Tries per tag when the registry fails transiently (5xx, network).",
    )

    # Replication
    replication_attempts: int = Field(
        default=12,
        ge=1,
        description="Attempts per tag and destination while the destination fails transiently.",
    )
    replication_backoff_seconds: float = Field(
        default=2.0, gt=0, description="Wait before a replication's second attempt; doubles."
    )
    replication_backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between two attempts of a replication."
    )

    # Worker
    worker_concurrency: int = Field(
        default=2, ge=1, description="Builds one worker process runs at once."
    )
    build_timeout_seconds: int = Field(
        default=3600, ge=1, description="A build running longer ends in timed_out and is stopped."
    )
    build_builder: Literal["buildkit", "legacy"] = Field(
        default="buildkit",
        description="The engine's builder: buildkit (parallel steps, cheaper cache) or legacy.",
    )
    build_context_session: bool = Field(
        default=True,
        description=(
            "BuildKit builds: serve the build context through a BuildKit session, as docker "
            "build does (the engine fetches only the files that changed); false: upload a tar."
        ),
    )
    build_network_mode: str = Field(
        default="default",
        description=(
            "Network mode of build steps: default, none, host, or a network's name (BuildKit "
            "cannot join one, so the legacy builder builds then). On an engine without a "
            "bridge network (dockerd --bridge=none) default means loopback only, as none."
        ),
    )
    build_memory_limit: str | None = Field(
        default=None,
        description=(
            'Memory limit of each build step, e.g. "2g". BuildKit in the engine cannot '
            "limit memory, so builds use the legacy builder while this is set."
        ),
    )

    @field_validator("build_memory_limit")
    @classmethod
    def _unset_when_empty(cls, value: str | None) -> str | None:
        # BUILDSVC_BUILD_MEMORY_LIMIT= (empty) means no limit, not a limit of 0 bytes.
        return value.strip() or None if value is not None else None

    docker_url: str = Field(
        default="unix:///var/run/docker.sock", description="The Docker engine next to this worker."
    )
    worker_poll_delay_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often a worker polls Redis for due jobs (enqueues also wake it at once).",
    )
    worker_heartbeat_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often a worker stamps heartbeat_at on its running builds.",
    )
    worker_lost_after_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A running build whose heartbeat is older than this lost its worker.",
    )
    worker_lost_retries: int = Field(
        default=1,
        ge=0,
        description="Times a build that lost its worker is requeued before WORKER_LOST.",
    )
    worker_shutdown_grace_seconds: float = Field(
        default=25.0,
        ge=0,
        description=(
            "On SIGTERM a worker takes no new build and lets its running ones finish for "
            "this long; the rest go back to the queue for another worker (0: at once)."
        ),
    )
    worker_image_retention_hours: float = Field(
        default=24.0,
        ge=0,
        description=(
            "Built images leave the worker's engine after this long, and BuildKit cache "
            "unused for as long is pruned (0: never)."
        ),
    )
    worker_source_retention_hours: float = Field(
        default=168.0,
        ge=0,
        description=(
            "A work tree the worker keeps of a source repository is deleted once no "
            "build used it for this long; the next build fetches afresh (0: never)."
        ),
    )
    log_level: str = Field(
        default="INFO",
        description="Level of the JSON log lines on stderr: DEBUG, INFO, WARNING or ERROR.",
    )

    @field_validator("allowed_source_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        return comma_list(value)

    @field_validator("allowed_source_networks")
    @classmethod
    def _parse_networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{cidr!r} is not a network; expected comma-separated CIDRs such as "
                    "127.0.0.0/8,10.0.0.0/8 (or a JSON list)"
                ) from None
        return [cidr.strip() for cidr in value]

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) URL with a host, e.g. https://builds.example.com")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None  # empty: the default SQLite database under data_dir
        if value.partition("://")[0] not in DATABASE_SCHEMES:
            raise ValueError(
                "expected sqlite+aiosqlite:////absolute/path.db or "
                "postgresql+asyncpg://user:password@host/database"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        expected = "expected redis://[:password@]host[:port][/db], rediss://... or unix:///path"
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
        except ValueError:
            raise ValueError(f"the port is not a number; {expected}") from None
        if parts.scheme not in REDIS_SCHEMES:
            raise ValueError(expected)
        database = parts.path.strip("/")
        if parts.scheme != "unix" and database and not database.isdigit():
            raise ValueError(f"the database {database!r} is not a number; {expected}")
        return value

    @field_validator("secret_keys")
    @classmethod
    def _check_secret_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
        for position, key in enumerate(keys):  # none at all: the key file, as in crypto
            try:
                raw = base64.urlsafe_b64decode(key.encode())
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValueError(
                    f"key {position + 1} is not a Fernet key; expected comma-separated keys "
                    "as printed by python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'"
                )
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    notification_timeout_seconds: float = Field(
        default=10.0, description="Timeout of each notification delivery (webhook, Slack)."
    )
    notification_backoff_seconds: float = Field(
        default=10.0,
        description="Wait before a failed notification is sent again; doubles per attempt.",
    )
    notification_backoff_max_seconds: float = Field(
        default=3600.0, description="The longest wait between two attempts of a notification."
    )
    notification_give_up_seconds: float = Field(
        default=86400.0,
        description="A notification target failing this long is disabled (re-enable: PATCH).",
    )
    notification_sweep_seconds: float = Field(
        default=1.0,
        description="How often a worker looks for notifications due to be sent.",
    )

    @property
    def registry_base_url(self) -> str:
        """``registry_api_url``, or plain HTTP to ``registry`` (a loopback registry)."""
        return self.registry_api_url or f"http://{self.registry}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'buildsvc.db').resolve()}"
