"""The service's settings: one typed object, built once at the entry point.

Every field reads ``BUILDSVC_<NAME>`` from the environment or a ``.env`` file.
``create_app(settings)`` and the worker take a ``Settings``; nothing else reads
the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUILDSVC_", env_file=".env", extra="ignore")

    # HTTP server
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL forges call back (webhooks) and commit statuses link to.",
    )

    # State
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite under data_dir.",
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys, newest first (rotation); default: a key "
        "file generated under data_dir.",
    )
    redis_url: str = "redis://127.0.0.1:6379/0"

    # Code sources
    allowed_source_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs a source URL may resolve into although private/loopback "
        '(JSON list, e.g. ["127.0.0.0/8"]).',
    )
    source_timeout_seconds: float = 10.0
    gitlab_repository_limit: int = 100
    token_expiry_warning_days: int = 14

    # Webhooks
    webhook_max_body_bytes: int = 25 * 1024 * 1024

    # Registry
    registry: str = "127.0.0.1:5000"
    registry_username: str | None = None
    registry_password: SecretStr | None = None
    registry_push_attempts: int = 4

    # Worker
    worker_concurrency: int = 2
    build_timeout_seconds: int = 3600
    build_network_mode: str = "default"
    build_memory_limit: str | None = None
    docker_url: str = "unix:///var/run/docker.sock"
    worker_poll_delay_seconds: float = Field(
        default=0.02, description="How often a worker polls Redis for new jobs."
    )
    worker_heartbeat_seconds: float = Field(
        default=2.0, description="How often a worker stamps heartbeat_at on its running builds."
    )
    worker_lost_after_seconds: float = Field(
        default=15.0,
        description="A running build whose heartbeat is older than this lost its worker.",
    )
    worker_lost_retries: int = Field(
        default=1, description="Times a build that lost its worker is requeued before WORKER_LOST."
    )
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'buildsvc.db').resolve()}"
