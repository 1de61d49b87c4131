"""Where replication reads images from: the service's own registry.

``source_endpoint`` is the one place that decides the credentials replication reads
with. Today they are the push login of ``BUILDSVC_REGISTRY_*``; when the worker holds a
short-lived token for its repository instead, only this function changes.
"""

from __future__ import annotations

import ipaddress

from yarl import URL

from buildsvc.config import Settings
from buildsvc.replication.registry_api import Endpoint

__all__ = ["source_endpoint"]


def source_endpoint(settings: Settings) -> Endpoint:
    """The service's registry, over plain HTTP on loopback (as the Docker engine talks to
    it there), HTTPS elsewhere."""
    host = URL(f"//{settings.registry}").host or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    password = settings.registry_password
    return Endpoint(
        url=f"{'http' if loopback else 'https'}://{settings.registry}",
        username=settings.registry_username,
        password=password.get_secret_value() if password is not None else None,
    )
