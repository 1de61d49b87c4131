"""The web console at ``/console``: server-rendered pages over the same services as the API.

``setup_console(app)`` (called by ``create_app``) installs the Jinja2 environment, the
static files under ``/console/static``, the security headers of every console page
and the middleware that renders service errors on pages as HTML instead of JSON. The
routes are ``buildsvc.console.views.routes`` (listed in ``ROUTE_MODULES``).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from buildsvc.console.render import FILTERS
from buildsvc.errors import ServiceError
from buildsvc.repositories.rules import PATTERN_HELP, TAG_HELP

HERE = Path(__file__).parent
STATIC_PREFIX = "/console/static"
# Pages load scripts and styles from here only; nothing inline, nothing external.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _is_page(path: str) -> bool:
    return path.startswith("/console") and not path.startswith(("/console/api/", STATIC_PREFIX))


@web.middleware
async def console_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A service error on a console page is an HTML page with its message and detail."""
    try:
        return await handler(request)
    except ServiceError as exc:
        if not _is_page(request.path):
            raise
        context = {
            "csrf_token": None,
            "account_name": None,
            "path": request.path,
            "error": {"code": exc.code, "message": exc.message, "detail": exc.detail},
        }
        return aiohttp_jinja2.render_template("error.html", request, context, status=exc.status)


async def _security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    if request.path.startswith("/console") or request.path == "/api/docs":
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if _is_page(request.path):
            response.headers.setdefault("Cache-Control", "no-store")


def setup_console(app: web.Application) -> None:
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(FILTERS)
    # One wording of the rule syntax, shared with the README and the API description.
    environment.globals.update(pattern_help=PATTERN_HELP, tag_help=TAG_HELP)
    app.middlewares.append(console_errors)
    app.on_response_prepare.append(_security_headers)
    app.router.add_static(STATIC_PREFIX, HERE / "static", name="console-static")
