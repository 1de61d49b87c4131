"""The clone URL's host, checked against the address policy before git connects to it.

Binding checks a forge's address with ``AddressPolicy``; a clone URL comes from the
forge's answers, so the worker checks it again, with the same policy, before every
fetch. git then connects only to the addresses checked here: each goes into libcurl's
DNS cache through ``http.curloptResolve``, so a name that resolves elsewhere a moment
later (DNS rebinding) is never looked up again. A host name libcurl might spell
differently from the check (non-ASCII, percent-encoded) is refused, because a pin under
another spelling would not be used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from buildsvc.sources import AddressPolicy, ForbiddenAddress, resolve_checked
from buildsvc.worker.errors import SourceFetchFailed, SourceUrlNotAllowed

__all__ = ["CheckedHost", "Resolver", "check_clone_host"]

Resolver = Callable[[str, int, AddressPolicy], list[tuple[socket.AddressFamily, str]]]

_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class CheckedHost:
    """A host and port whose every address the policy allows."""

    host: str
    port: int
    addresses: tuple[str, ...]

    def curl_resolve(self) -> list[str]:
        """The ``http.curloptResolve`` value pinning the host to its checked addresses.

        Nothing for an IP literal: libcurl never looks one up.
        """
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            pass
        else:
            return []
        spelled = ",".join(f"[{a}]" if ":" in a else a for a in self.addresses)
        return [f"{self.host}:{self.port}:{spelled}"]


async def check_clone_host(
    clone_url: str, policy: AddressPolicy, *, resolve: Resolver = resolve_checked
) -> CheckedHost | None:
    """Resolve and check the host of ``clone_url``; None when it has none (``file:``).

    Raises ``SourceUrlNotAllowed`` (naming the address) or ``SourceFetchFailed``.
    """
    parts = urlsplit(clone_url)
    host = parts.hostname
    if not host:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        raise SourceFetchFailed(detail="the clone URL's port is not a number") from None
    is_ipv6 = ":" in host  # urlsplit drops an IPv6 literal's brackets
    if not is_ipv6 and not _HOST_NAME.fullmatch(host):
        raise SourceUrlNotAllowed(detail=f"the clone URL's host {host!r} is not a plain DNS name")
    try:
        found = await asyncio.to_thread(resolve, host, port, policy)
    except ForbiddenAddress as exc:
        raise SourceUrlNotAllowed(detail=str(exc)) from exc
    except OSError as exc:  # socket.gaierror
        raise SourceFetchFailed(
            detail=f"the clone URL's host {host} did not resolve: {exc}"
        ) from exc
    return CheckedHost(host, port, tuple(address for _family, address in found))
