"""Recent token decisions, so a burst of requests for the same grant skips the database.

docker asks for a token per repository and action set, again and again during one push or
pull, and CI fleets repeat the same pull. A decision (who, and what they were granted)
is kept per process for ``seconds`` (``BUILDSVC_REGISTRY_TOKEN_CACHE_SECONDS``, default
2), keyed by the login, a SHA-256 of the password, the scopes asked and the client
address; only successful logins are kept. So a changed password, a rotated or disabled
robot secret, a finished build or a changed permission takes effect within those seconds
on every API process (0 turns the cache off). Tokens are always freshly signed.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from buildsvc.registry.principals import Credentials
from buildsvc.registry.scopes import Scope
from buildsvc.registry.tokens import Access

MAX_ENTRIES = 10_000

Key = tuple[str, str, tuple[tuple[str, str, tuple[str, ...]], ...], str]


@dataclass(frozen=True, slots=True)
class Decision:
    subject: str
    access: tuple[Access, ...]


def key_of(credentials: Credentials | None, scopes: Sequence[Scope], address: str | None) -> Key:
    login = credentials.login if credentials else ""
    digest = hashlib.sha256(credentials.password.encode()).hexdigest() if credentials else ""
    asked = tuple(sorted((s.type, s.name, tuple(sorted(s.actions))) for s in scopes))
    return login, digest, asked, address or ""


class DecisionCache:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: OrderedDict[Key, tuple[Decision, float]] = OrderedDict()

    def get(self, key: Key) -> Decision | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < self.clock():
            del self._entries[key]
            return None
        return entry[0]

    def put(self, key: Key, decision: Decision) -> None:
        if self.seconds <= 0:
            return
        self._entries[key] = (decision, self.clock() + self.seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
