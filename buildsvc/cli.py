"""The ``buildsvc`` command (also ``python -m buildsvc``).

Server side: ``serve`` (the API), ``worker`` (the build worker), ``admin`` (accounts,
migrations, key rotation). Each builds ``Settings`` once from ``BUILDSVC_*`` / ``.env``,
logs JSON lines to stderr, and brings the database schema up to date before working.

A misconfiguration found on the way (``buildsvc.startup``: a setting, the data
directory, the database, Redis for a worker, the listen address) ends the command with
at most three lines naming the variable and the fix, and exit code 2.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import gc
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar

import click
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc import startup
from buildsvc.client_cli import COMMANDS as CLIENT_COMMANDS
from buildsvc.client_cli import EPILOG as CLIENT_EPILOG
from buildsvc.config import Settings
from buildsvc.errors import ServiceError
from buildsvc.jsonlog import AccessLogger
from buildsvc.preflight import check_command, startup_checks
from buildsvc.startup import load_settings

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger("buildsvc")
STARTUP_EXIT_CODE = 2
_LISTEN_ERRNOS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)

SHUTDOWN_TIMEOUT_SECONDS = 10.0
# gc thresholds of the API process: (young, middle, old); Python's defaults are (700, 10, 10).
GC_THRESHOLDS = (7000, 20, 50)


class StartupFailed(click.ClickException):
    """A ``startup.StartupError`` as the command's last words: its lines, exit code 2."""

    exit_code = STARTUP_EXIT_CODE

    def __init__(self, error: startup.StartupError) -> None:
        super().__init__("\n".join(error.lines()))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)


def reports_startup_errors(command: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except startup.StartupError as exc:
            raise StartupFailed(exc) from exc

    return wrapper


def quiet_migrations() -> None:
    # Commands whose output a user reads (a token to copy) keep Alembic's INFO lines
    # ("Running upgrade ...") off the terminal; problems still show as warnings.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def run_with_database(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Migrate, then run ``work`` with a sessionmaker; ServiceErrors become CLI errors."""
    from buildsvc.store.engine import create_engine, create_sessionmaker
    from buildsvc.store.migrate import upgrade_database

    async def run() -> T:
        await startup.check_database(settings)
        await upgrade_database(settings)
        engine = create_engine(settings)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except ServiceError as exc:
        detail = f" ({exc.detail})" if exc.detail else ""
        raise click.ClickException(f"{exc.message}{detail}") from exc


@click.group(epilog=CLIENT_EPILOG)
@click.version_option(package_name="buildsvc")
def main() -> None:
    """buildsvc: git push becomes an image in a registry."""


@main.command()
@click.option("--host", help="Listen address [default: BUILDSVC_HOST].")
@click.option("--port", type=int, help="Listen port [default: BUILDSVC_PORT].")
@reports_startup_errors
def serve(host: str | None, port: int | None) -> None:
    """Run the API server (applies database migrations first)."""
    from buildsvc.app import create_app

    settings = load_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    startup.check_listen(host, port)
    asyncio.run(startup.check_database(settings))
    startup_checks(settings.model_copy(update={"port": port}), "api")
    log.info("serving on http://%s:%s", host, port, extra={"host": host, "port": port})
    app = create_app(settings)
    # Everything allocated so far (modules, the app) lives as long as the process: keep
    # it out of the cyclic collector, whose full passes otherwise stall the loop for
    # ~200 ms under webhook load. Again once started: startup (migrations, cleanup
    # contexts) imports and allocates as much again.
    gc.freeze()
    app.on_startup.append(_settle_heap)  # after the cleanup contexts' startup
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            access_log_class=AccessLogger,
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
            print=None,
        )
    except OSError as exc:  # taken since check_listen: a race, reported the same way
        if exc.errno not in _LISTEN_ERRNOS:
            raise
        raise startup.CannotListen.at(host, port, exc.strerror or str(exc)) from exc


async def _settle_heap(_app: web.Application) -> None:
    """Freeze what startup left, and collect young objects less often: a request's
    objects are mostly freed by reference counting, so frequent young collections only
    re-scan the requests in flight (several percent of a webhook delivery's CPU)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@main.command()
@reports_startup_errors
def worker() -> None:
    """Run a build worker (arq) next to a Docker engine."""
    from buildsvc.store.migrate import upgrade_database
    from buildsvc.worker.main import run_worker

    settings = load_settings()

    async def check() -> None:
        await startup.check_database(settings)
        await startup.check_redis(settings)

    asyncio.run(check())
    startup_checks(settings, "worker")  # the engine and the registry, before any migration
    asyncio.run(upgrade_database(settings))
    run_worker(settings)


@main.group()
def admin() -> None:
    """Operator tasks against the service's database."""


admin.add_command(check_command)


@admin.command("create-account")
@click.argument("name")
@reports_startup_errors
def create_account_command(name: str) -> None:
    """Create an account; its first API token is printed on the last line.

    NAME: lowercase letters and digits, with single '.', '_' or '-' between them.
    """
    from buildsvc.accounts.services import create_account

    settings = load_settings()
    quiet_migrations()
    account, token = run_with_database(
        settings, lambda sessionmaker: create_account(sessionmaker, name)
    )
    click.echo(f"Created account {account.name!r} (id {account.id}). Its API token, shown once:")
    click.echo(token)


@admin.command()
@reports_startup_errors
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    from buildsvc.store.migrate import current_revision, upgrade_database

    settings = load_settings()

    async def run() -> str | None:
        await startup.check_database(settings)
        await upgrade_database(settings)
        return await current_revision(settings)

    click.echo(f"database at revision {asyncio.run(run())}")


@admin.command("rotate-secrets")
@reports_startup_errors
def rotate_secrets() -> None:
    """Re-encrypt stored secrets with the newest of BUILDSVC_SECRET_KEYS."""
    from buildsvc.crypto import Cipher
    from buildsvc.store.rotation import rotate_stored_secrets

    settings = load_settings()
    cipher = Cipher.from_settings(settings)
    count = run_with_database(
        settings, lambda sessionmaker: rotate_stored_secrets(sessionmaker, cipher)
    )
    click.echo(f"re-encrypted {count} stored secrets with the newest key")


@admin.command("registry-config")
@click.option(
    "--addr", default=None, help="HOST:PORT the registry listens on [default: BUILDSVC_REGISTRY]."
)
@click.option(
    "--storage",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the registry's blobs [default: DATA_DIR/registry/storage].",
)
def registry_config(addr: str | None, storage: Path | None) -> None:
    """Print the registry's config.yml: token auth against this service, deletes, events.

    Creates the token signing key, its certificate bundle and the events secret under
    the data directory if they do not exist yet.
    """
    from buildsvc.registry.config import render
    from buildsvc.registry.server import registry_dir

    settings = load_settings()
    click.echo(
        render(settings, addr or settings.registry, storage or registry_dir(settings) / "storage"),
        nl=False,
    )


@admin.command("rotate-registry-key")
def rotate_registry_key() -> None:
    """Make a new token signing key; restart the registry afterwards (it reads the bundle,
    which keeps the older certificates until their tokens expired, at start)."""
    from buildsvc.registry.server import key_store

    store = key_store(load_settings())
    dropped = store.prune()
    key = store.rotate()
    click.echo(f"signing with key {key.number} (kid {key.kid}); pruned {dropped or 'none'}")
    click.echo(f"restart the registry so it reads {store.bundle_path}")


# The user-facing commands (login, sources, repos, builds, ...) live in buildsvc.client_cli.
for _command in CLIENT_COMMANDS:
    main.add_command(_command)
