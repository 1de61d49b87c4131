"""How a handler reaches the forges: the bound-token access and the hosted forges' URLs."""

from __future__ import annotations

from aiohttp import web

from buildsvc.bindings.access import SourceAccess
from buildsvc.sources import SourceProvider
from buildsvc.web.keys import CIPHER, PROVIDERS, SESSIONMAKER, SETTINGS

# What "url" means when a client leaves it out (hosted forges).
DEFAULT_URLS = {
    "gitlab": "https://gitlab.com",
    "github": "https://github.com",
    "bitbucket": "https://bitbucket.org",
}


def source_access(request: web.Request) -> SourceAccess:
    app = request.app
    providers: dict[str, SourceProvider] = app[PROVIDERS]
    return SourceAccess(app[SESSIONMAKER], app[CIPHER], providers, app[SETTINGS])
