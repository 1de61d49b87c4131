"""How one GitLab operation opens its connection: what to reach and with which trust.

Each operation (a bind, a listing, a hook creation) opens its own ``GuardedSession``
and closes it when done: keep-alive across the pages of one listing, no sockets left
open between operations, and nothing to close on the long-lived client object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from buildsvc.sources.failures import Context
from buildsvc.sources.gitlab.rest import GitLabRest, open_v4
from buildsvc.sources.gitlab.v3 import V3Calls
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.transport import GuardedSession


@dataclass(frozen=True, slots=True)
class Connection:
    root_url: str  # normalised instance root, e.g. https://host/gitlab
    token: str = field(repr=False)
    policy: AddressPolicy
    timeout: float
    ca_file: str | None = None
    api_version: str = "v4"

    @property
    def api_url(self) -> str:
        return f"{self.root_url}/api/{self.api_version}"

    @property
    def verify(self) -> bool | str:
        return self.ca_file if self.ca_file is not None else True

    def context(
        self, *, status: int | None = None, details: Mapping[int, str] | None = None
    ) -> Context:
        return Context(
            forge="GitLab",
            address=urlsplit(self.root_url).netloc,
            secrets=(self.token,),
            timeout=self.timeout,
            status=status,
            details=details or {},
        )

    def session(self) -> GuardedSession:
        return GuardedSession(self.policy, self.ca_file)


def rest_over(session: GuardedSession, conn: Connection) -> GitLabRest:
    if conn.api_version == "v3":
        return GitLabRest(V3Calls(session, conn.api_url, conn.token, conn.timeout), "v3")
    return GitLabRest(open_v4(session, conn.root_url, conn.token, conn.timeout, conn.verify), "v4")


@contextmanager
def open_rest(conn: Connection) -> Iterator[GitLabRest]:
    with conn.session() as session:
        yield rest_over(session, conn)
