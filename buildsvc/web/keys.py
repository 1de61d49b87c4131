"""Every typed key of application and request state, declared in one place.

Set by ``buildsvc.app`` (one cleanup context per resource); read by handlers as
``request.app[SESSIONMAKER]``, ``request[ACCOUNT_ID]``.
aiohttp warns on plain string keys (and the test suite turns warnings into errors), so
new state gets a key here.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from buildsvc.builds.forge_status import QueuedStatus
from buildsvc.builds.outbox import LazyArqPool, Outbox
from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.intake.service import IntakeDeps
from buildsvc.registry.server import TokenServer
from buildsvc.sources import SourceProvider
from buildsvc.store.fastpath.writer import Writer

# Application state
SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
CIPHER = web.AppKey("cipher", Cipher)
# The database's write path for intake's short transactions (``store.fastpath``).
WRITER = web.AppKey("writer", Writer)
# ``await request.app[ARQ].get()`` -> ArqRedis, or None while Redis is unreachable.
ARQ = web.AppKey("arq", LazyArqPool)
# ``.enqueue(build_ids)``: builds' jobs on the queue, or left to its sweeper (``builds.outbox``).
OUTBOX = web.AppKey("outbox", Outbox)
# Provider name ("gitlab", ...) -> provider; filled by buildsvc.sources.registry.
PROVIDERS = web.AppKey("providers", dict[str, SourceProvider])
# ``.report(build_ids)``: "pending" commit statuses for queued builds, in the background.
COMMIT_STATUS = web.AppKey("commit_status", QueuedStatus)
# What the webhook handler hands to intake (its hook cache lives as long as the app).
INTAKE = web.AppKey("intake", IntakeDeps)
# Set when the process begins to stop (SIGTERM): log streams end with ``reconnect``.
STOPPING = web.AppKey("stopping", asyncio.Event)
# The registry's token server (signing key, verified-credential cache, login throttle).
TOKEN_SERVER = web.AppKey("token_server", TokenServer)

# Request state
ACCOUNT_ID = web.RequestKey("account_id", int)  # set by the auth middleware on /api/v1/*
REQUEST_ID = web.RequestKey("request_id", str)  # set by the request-id middleware
# The outcome text of an accepted webhook delivery, for metrics (no need to parse the body).
WEBHOOK_OUTCOME = web.RequestKey("webhook_outcome", str)
