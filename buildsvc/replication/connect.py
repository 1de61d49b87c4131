"""HTTP sessions to registries: the address policy at connect time, and a CA per registry.

A destination URL is typed by a user, so its host must resolve into addresses the
service may contact (``sources.network.AddressPolicy``, the rule forges follow too). The
check runs in the resolver, and aiohttp connects to exactly the checked addresses, so a
DNS answer that changes after the rule was saved cannot reach a refused address; an IP
address in the URL (which aiohttp does not resolve) is checked as each request starts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from buildsvc.sources import AddressPolicy, resolve_checked

__all__ = ["CheckedResolver", "open_session"]

CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 120.0  # between two reads of a blob: a slow registry, not a dead one


class CheckedResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await asyncio.to_thread(resolve_checked, host, port, self._policy)
        return [
            ResolveResult(hostname=host, host=address, port=port, family=fam, proto=0, flags=0)
            for fam, address in found
        ]

    async def close(self) -> None:
        return None


def open_session(policy: AddressPolicy | None, ca_cert: str | None) -> aiohttp.ClientSession:
    """A session for one registry; ``policy`` None for the service's own registry."""
    tls: ssl.SSLContext | bool = True
    if ca_cert:
        tls = ssl.create_default_context(cadata=ca_cert)
    resolver = CheckedResolver(policy) if policy is not None else None
    connector = aiohttp.TCPConnector(ssl=tls, resolver=resolver, limit=8)
    traces = [_literal_check(policy)] if policy is not None else []
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=READ_TIMEOUT_SECONDS
    )
    # No proxy from the environment, no redirects to other hosts with our credentials.
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=False, trace_configs=traces
    )


def _literal_check(policy: AddressPolicy) -> aiohttp.TraceConfig:
    """aiohttp skips the resolver for an IP address in the URL: check those here."""

    async def check(
        session: aiohttp.ClientSession, context: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        host = (params.url.host or "").strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        policy.check(host, host)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(check)
    return trace
