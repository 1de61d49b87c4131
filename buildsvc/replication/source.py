"""Where replication reads images from: the service's own registry.

``source_endpoint`` is the one place that decides the credentials replication reads
with. With a configured login (``BUILDSVC_REGISTRY_USERNAME``: a registry without
buildsvc's token auth) it is that login. Otherwise the registry trusts buildsvc's tokens,
and replication holds no password at all: it mints its own short-lived token per
repository, as buildsvc's service principal, signed with the key the registry trusts, and
granting pull only, whatever the scope asked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from yarl import URL

from buildsvc.config import Settings
from buildsvc.registry.scopes import parse_scopes
from buildsvc.registry.server import key_store, service_token
from buildsvc.registry.signing import SigningKey
from buildsvc.registry.tokens import Access
from buildsvc.replication.registry_api import Endpoint, Minted

__all__ = ["PullTokens", "source_endpoint"]


class PullTokens:
    """Pull-only service tokens for the repositories a request's scopes name."""

    def __init__(self, settings: Settings, key: SigningKey) -> None:
        self.settings = settings
        self.key = key

    def __call__(self, scopes: Sequence[str]) -> Minted:
        access = [
            Access("repository", scope.name, ("pull",))
            for scope in parse_scopes(scopes)
            if scope.type == "repository"
        ]
        issued = service_token(self.settings, self.key, access)
        return Minted(issued.token, issued.expires_in)


def source_endpoint(settings: Settings) -> Endpoint:
    """The service's registry, over plain HTTP on loopback (as the Docker engine talks to
    it there), HTTPS elsewhere."""
    host = URL(f"//{settings.registry}").host or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    url = f"{'http' if loopback else 'https'}://{settings.registry}"
    if settings.registry_username is None:
        return Endpoint(url=url, tokens=PullTokens(settings, key_store(settings).ensure()))
    password = settings.registry_password
    return Endpoint(
        url=url,
        username=settings.registry_username,
        password=password.get_secret_value() if password is not None else None,
    )
