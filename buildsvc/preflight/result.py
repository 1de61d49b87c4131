"""What a preflight check answers, and the helpers that keep its one line short and safe."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

TIMEOUT_SECONDS = 5.0  # each network call of a check


@dataclass(frozen=True, slots=True)
class Check:
    item: str
    found: str = ""  # what was seen, when ok
    problem: str | None = None
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.problem is None:
            return f"ok    {self.item}: {self.found}"
        return f"FAIL  {self.item}: {self.problem} -- fix: {self.fix}"


def safe_url(url: str) -> str:
    """``url`` without its password (database and Redis URLs may carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


def root_cause(exc: BaseException) -> str:
    """The root cause, short: client libraries wrap "connection refused" several times."""
    root: BaseException = exc
    while (inner := root.__cause__ or root.__context__) is not None:
        root = inner
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    text = str(root).strip().splitlines()[0] if str(root).strip() else ""
    return f"{type(root).__name__}: {text}" if text else type(root).__name__
