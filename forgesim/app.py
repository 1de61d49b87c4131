"""The aiohttp application factory: core middlewares and routes, then the provider's."""

from __future__ import annotations

from aiohttp import web

from forgesim import admin, faults, githttp
from forgesim.core import CORE, Core

MAX_BODY = 1024**3  # git pushes stream, but a JSON body is read whole


def create_app(core: Core) -> web.Application:
    # Faults wrap everything else, so an injected delay or reset happens before any auth.
    app = web.Application(
        middlewares=[faults.middleware(core.faults), admin.guard], client_max_size=MAX_BODY
    )
    app[CORE] = core
    admin.add_routes(app)
    core.spec.setup(app, core)
    githttp.add_routes(app, core.spec.git_prefix)
    app.cleanup_ctx.append(core.lifecycle)
    return app
