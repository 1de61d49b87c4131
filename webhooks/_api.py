"""``verify`` and ``parse``: look up the provider, normalise headers once, delegate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from webhooks import bitbucket, bitbucket_server, github, gitlab
from webhooks._core import Headers
from webhooks._errors import UnsupportedEvent
from webhooks._models import PingEvent, PushEvent


class _Provider(NamedTuple):
    verify: Callable[[Headers, bytes, str], None]
    parse: Callable[[Headers, bytes], list[PushEvent | PingEvent]]


PROVIDERS: dict[str, _Provider] = {
    "github": _Provider(github.verify, github.parse),
    "gitlab": _Provider(gitlab.verify, gitlab.parse),
    "bitbucket": _Provider(bitbucket.verify, bitbucket.parse),
    "bitbucket-server": _Provider(bitbucket_server.verify, bitbucket_server.parse),
}


def _provider(name: str) -> _Provider:
    provider = PROVIDERS.get(name)
    if provider is None:
        raise UnsupportedEvent(
            f"unknown webhook provider {name[:40]!r}; expected one of {', '.join(PROVIDERS)}",
            provider=name[:40],
            reason="unknown_provider",
        )
    return provider


def verify(provider: str, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Check that ``body`` was sent by the forge holding ``secret``.

    Raises ``SignatureError`` when the secret, the signature or token header is missing
    or does not match, and ``UnsupportedEvent`` (reason ``unknown_provider``) for a
    provider name other than github, gitlab, bitbucket, bitbucket-server. Call it with
    the raw body bytes exactly as received, before ``parse``.
    """
    _provider(provider).verify(Headers(headers), body, secret)


def parse(provider: str, headers: Mapping[str, str], body: bytes) -> list[PushEvent | PingEvent]:
    """Turn one delivery into its events: one per ref for pushes, one ``PingEvent``.

    Never returns an empty list. Raises only ``UnsupportedEvent`` (not a push or ping,
    unknown provider, or no branch/tag in the push) and ``InvalidPayload`` (malformed
    body or headers). It does not authenticate: call ``verify`` first.
    """
    return _provider(provider).parse(Headers(headers), body)
