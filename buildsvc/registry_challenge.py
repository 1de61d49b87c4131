"""Reading a registry's ``WWW-Authenticate`` challenge, and answering it with HTTP Basic.

A leaf (stdlib only), so any registry client can read challenges the same way: the
worker's blocking ``RegistrySession`` and replication's asynchronous ``RegistryClient``
sit in packages that may not import each other.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.request import parse_http_list, parse_keqv_list

__all__ = ["Challenge", "basic_authorization", "parse_challenge"]


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer", or what else the registry named
    realm: str | None  # where a bearer token is asked for
    service: str | None


def parse_challenge(header: str) -> Challenge:
    scheme, _, params = header.strip().partition(" ")
    info = parse_keqv_list(parse_http_list(params)) if params else {}
    return Challenge(scheme.lower(), info.get("realm") or None, info.get("service") or None)


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
