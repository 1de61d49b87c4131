"""The aiohttp application factory: ``create_app(settings)``.

How to plug in
==============

Routes
    Write ``buildsvc/api/<domain>.py`` with a module-level ``routes = web.RouteTableDef()``
    and add the module to ``ROUTE_MODULES`` below. Handlers stay thin: parse with
    ``buildsvc.web.jsonio`` (``json_body``, ``query_params``, ``path_id``), call one
    service, render with ``json_response`` or ``pagination.paginated_response``.
    ``api/``, ``console/`` and ``metrics`` never import each other: what they share
    (keys, JSON, pagination, OpenAPI, response models) lives in ``buildsvc.web``.

State
    Everything lives under typed keys in ``buildsvc.web.keys``:
    ``request.app[SETTINGS]``, ``[SESSIONMAKER]`` (``async_sessionmaker[AsyncSession]``),
    ``[ENGINE]``, ``[CIPHER]`` (``encrypt``/``decrypt`` str), ``[PROVIDERS]``
    (``dict[str, SourceProvider]``), ``[ARQ]``: ``await request.app[ARQ].get()`` is
    the ``ArqRedis`` pool or None while Redis is down (keep the build in the outbox),
    ``[OUTBOX]`` (enqueue builds) and ``[WRITER]`` (intake's fast write path). No
    module-level caches: state keyed by a resource lives on the object made here.
    New state: declare a key there and add one cleanup context here.

Auth
    ``/api/v1/*`` requires a bearer token (except ``/api/v1/openapi.json``); the handler
    reads the caller's account as ``request[ACCOUNT_ID]`` and passes it to the service,
    which scopes every query by it (another account's row is ``NotFound``, 404).
    ``/webhooks/*``, ``/healthz``, ``/metrics``, ``/console*``, ``/api/docs``, the
    registry's token endpoint ``/v2/token`` (Basic registry logins) and
    ``/registry/events`` (the registry's secret header) are public: they authenticate
    themselves if they must.

Errors
    Raise ``buildsvc.errors`` subclasses (or a package's own subclass of them); the error
    middleware renders ``{"error": {"code", "message", "detail"}}`` with their status.
    Never build error responses by hand.

Bodies
    ``client_max_size`` is ``settings.webhook_max_body_bytes + 1`` so the webhook handler
    can see an oversized body and answer 413 itself; other handlers get aiohttp's 413
    (rendered as ``PAYLOAD_TOO_LARGE``) only above that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType

from aiohttp import web

from buildsvc import metrics
from buildsvc.accounts.middleware import auth_middleware
from buildsvc.api import (
    badges,
    build_actions,
    builds,
    health,
    namespaces,
    notifications,
    registry_events,
    registry_password,
    registry_tags,
    registry_token,
    replication,
    repositories,
    repository_hook,
    robots,
    rule_preview,
    source_check,
    sources,
    tokens,
    webhooks,
)
from buildsvc.bindings.access import SourceAccess
from buildsvc.builds.forge_status import QueuedStatus
from buildsvc.builds.outbox import LazyArqPool, outbox_ctx, sweeper_ctx
from buildsvc.config import Settings
from buildsvc.console import setup_console
from buildsvc.console import views as console_views
from buildsvc.crypto import Cipher
from buildsvc.intake.service import IntakeDeps
from buildsvc.registry.server import TokenServer
from buildsvc.sources import SourceProvider, build_providers
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.fastpath.writer import Writer
from buildsvc.store.migrate import upgrade_database
from buildsvc.web import log_stream, openapi
from buildsvc.web.keys import (
    ACCOUNT_ID,
    ARQ,
    CIPHER,
    COMMIT_STATUS,
    ENGINE,
    INTAKE,
    OUTBOX,
    PROVIDERS,
    SESSIONMAKER,
    SETTINGS,
    TOKEN_SERVER,
    WRITER,
)
from buildsvc.web.middleware import echo_request_id, error_middleware, request_id_middleware

ROUTE_MODULES: list[ModuleType] = [
    health,
    builds,
    build_actions,
    sources,
    source_check,
    repositories,
    repository_hook,
    replication,
    rule_preview,
    namespaces,
    registry_password,
    robots,
    registry_token,
    registry_events,
    registry_tags,
    tokens,
    notifications,
    webhooks,
    badges,
    openapi,
    metrics,
    console_views,
]


def create_app(settings: Settings) -> web.Application:
    """The API application for ``settings``; reads nothing from the environment."""
    app = web.Application(
        client_max_size=settings.webhook_max_body_bytes + 1,
        middlewares=[
            request_id_middleware,
            error_middleware,
            auth_middleware(SESSIONMAKER, ACCOUNT_ID),
        ],
    )
    app[SETTINGS] = settings
    app.on_response_prepare.append(echo_request_id)
    app.cleanup_ctx.extend(
        [
            _database,
            _cipher,
            _queue,
            outbox_ctx(OUTBOX, ARQ, SESSIONMAKER, WRITER),
            sweeper_ctx(OUTBOX),
            _providers,
            _intake,
            _commit_status,
            _token_server,
        ]
    )
    log_stream.setup_stopping(app)  # first of the shutdown steps: streams end at once
    metrics.setup_metrics(app)  # after _providers: it times the providers' forge calls
    setup_console(app)
    for module in ROUTE_MODULES:
        app.router.add_routes(module.routes)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    await upgrade_database(settings)
    engine = create_engine(settings)
    app[ENGINE] = engine
    app[SESSIONMAKER] = create_sessionmaker(engine)
    app[WRITER] = Writer(engine)
    yield
    app[WRITER].close()
    await engine.dispose()


async def _cipher(app: web.Application) -> AsyncIterator[None]:
    app[CIPHER] = Cipher.from_settings(app[SETTINGS])
    yield


async def _queue(app: web.Application) -> AsyncIterator[None]:
    queue = LazyArqPool(app[SETTINGS].redis_url)
    await queue.get()  # connect now if Redis is up; otherwise on first use
    app[ARQ] = queue
    yield
    await queue.close()


async def _providers(app: web.Application) -> AsyncIterator[None]:
    app[PROVIDERS] = build_providers(app[SETTINGS])
    yield


async def _intake(app: web.Application) -> AsyncIterator[None]:
    app[INTAKE] = IntakeDeps(
        app[SESSIONMAKER], app[WRITER], app[CIPHER], app[OUTBOX], app[SETTINGS], app[PROVIDERS]
    )
    yield
    app[INTAKE].hooks.clear()  # decrypted hook secrets: not kept past the app


async def _commit_status(app: web.Application) -> AsyncIterator[None]:
    providers: dict[str, SourceProvider] = app[PROVIDERS]
    access = SourceAccess(app[SESSIONMAKER], app[CIPHER], providers, app[SETTINGS])
    reporter = QueuedStatus(access)
    app[COMMIT_STATUS] = reporter
    yield
    await reporter.close()


async def _token_server(app: web.Application) -> AsyncIterator[None]:
    # Creates the signing key and certificate bundle under data_dir on first start.
    reader = create_engine(app[SETTINGS], read_only=True)
    app[TOKEN_SERVER] = TokenServer(
        app[SETTINGS], app[SESSIONMAKER], create_sessionmaker(reader), app[ARQ].get
    )
    yield
    await reader.dispose()
