"""What every adapter shares, whatever its forge or client library.

JSON field checks for answers, the deadlines (in multiples of the per-request timeout),
the ``REF_NOT_FOUND`` error, and the scaffolding that runs one blocking client call or
one binding check in a thread under its deadline at the failure boundary
(``failures.run_blocking``). Imports only ``base``, ``failures`` and ``network``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Generic, Protocol, TypeVar

from buildsvc.errors import InvalidInput
from buildsvc.sources.base import Binding, Credentials, ProviderName
from buildsvc.sources.errors import RefNotFound
from buildsvc.sources.failures import Context, UnexpectedAnswer, check_address, run_blocking
from buildsvc.sources.network import AddressPolicy

S = TypeVar("S")
T = TypeVar("T")
# A call is a connect plus a read; a bind makes up to five calls; a listing follows
# pages (30 of them at full timeout).
CALL_DEADLINE, BIND_DEADLINE, LIST_DEADLINE = 2, 6, 30
# A short ref that may be an abbreviated commit sha: tried as a commit first.
HEXISH = re.compile(r"[0-9a-fA-F]{7,40}")


def as_dict(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UnexpectedAnswer(f"answered {what} with JSON of an unexpected shape")
    return data


def field_str(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise UnexpectedAnswer(f"answered {what} without a usable {key!r}")
    return str(value)


def message_of(data: object, what: str) -> str:
    """A commit's ``message`` (GitLab, Bitbucket; GitHub nests it under ``commit``)."""
    message = as_dict(data, what).get("message")
    if not isinstance(message, str):
        raise UnexpectedAnswer(f"answered {what} without a message")
    return message


def bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, a hash of the whole keeping cut names apart
    (and stable: the same text always gives the same name)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - len(digest) - 1]}~{digest}"


def found_ref(sha: str | None, ref: str, full_path: str) -> str:
    """``sha``, or the ``REF_NOT_FOUND`` error when the forge knows no such ref."""
    if sha is None:
        raise RefNotFound(detail=f"no branch, tag or commit {ref} in {full_path}")
    return sha


class Endpoint(Protocol):
    """What the call scaffolding needs of a provider's connection."""

    @property
    def timeout(self) -> float: ...

    def context(
        self, *, status: int | None = None, details: Mapping[int, str] | None = None
    ) -> Context: ...


class BlockingCalls(Generic[S]):
    """Runs ``fn(session)`` on a freshly opened client session, in a thread, within
    ``factor`` request timeouts, failures mapped (``details`` replaces per-status text)."""

    def __init__(
        self, conn: Endpoint, open_session: Callable[[], AbstractContextManager[S]]
    ) -> None:
        self._conn = conn
        self._open = open_session

    async def __call__(
        self,
        fn: Callable[[S], T],
        *,
        details: Mapping[int, str] | None = None,
        factor: int = CALL_DEADLINE,
    ) -> T:
        def work() -> T:
            with self._open() as session:
                return fn(session)

        ctx = self._conn.context(details=details or {})
        return await run_blocking(work, ctx, deadline=self._conn.timeout * factor + 1)


def check_credentials(
    credentials: Credentials,
    provider: ProviderName,
    missing: str = "username and token are required",
) -> None:
    """Refuse credentials meant for another provider or lacking a user name or token."""
    if credentials.provider != provider:
        raise InvalidInput(detail=f"provider {credentials.provider} is not {provider}")
    if not credentials.username.strip() or not credentials.token.strip():
        raise InvalidInput(detail=missing)


async def run_bind(
    check: Callable[[], Binding],
    ctx: Context,
    *,
    host: str,
    port: int,
    policy: AddressPolicy,
    request_timeout: float,
) -> Binding:
    """The address check first (a clear DNS or network refusal before any request),
    then the forge's binding checks under the bind deadline."""
    await check_address(host, port, policy, ctx, deadline=request_timeout)
    return await run_blocking(check, ctx, deadline=request_timeout * BIND_DEADLINE + 1)
