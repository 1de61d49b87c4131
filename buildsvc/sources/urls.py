"""Instance URL checks: what a user types as a forge's URL, reduced to its root.

Users paste what their browser shows: a project page, a clone URL, the API URL. Those
are refused with a hint, because the service needs the instance root. One path
segment is ambiguous (``https://host/gitlab`` is a GitLab under a relative URL,
``https://host/group`` is a group page), so it is accepted here and flagged
``needs_probe``: the adapter keeps it only if the forge API answers under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from buildsvc.errors import InvalidInput

INVALID_SOURCE_URL = "INVALID_SOURCE_URL"
ROOT_URL_HINT = "enter the instance root URL, e.g. https://gitlab.example.com"


@dataclass(frozen=True, slots=True)
class RootUrl:
    """A normalised instance root: lower-case scheme and host, no trailing slash."""

    url: str
    scheme: str
    host: str  # without IPv6 brackets
    port: int
    path: str  # "" or "/segment"

    @property
    def needs_probe(self) -> bool:
        """A path may be a relative-URL install or a group page; only the API can tell."""
        return bool(self.path)


def invalid_url(reason: str) -> InvalidInput:
    return InvalidInput(
        "The source URL is not an instance root URL.",
        code=INVALID_SOURCE_URL,
        detail=f"{reason}; {ROOT_URL_HINT}",
    )


def parse_root_url(raw: str) -> RootUrl:
    """Normalise ``raw`` or raise ``InvalidInput`` (code ``INVALID_SOURCE_URL``)."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise invalid_url("the URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise invalid_url("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        # Never echo the URL here: the part before "@" may be a password.
        raise invalid_url("the URL must not contain a user name or password")
    host = (parts.hostname or "").lower()
    if not host:
        raise invalid_url("the URL has no host name")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise invalid_url("the URL must not contain a query (?...) or fragment (#...)")
    segments = [segment for segment in parts.path.split("/") if segment]
    _refuse_repository_paths(segments)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = "".join(f"/{segment}" for segment in segments)
    return RootUrl(
        url=f"{scheme}://{netloc}{path}",
        scheme=scheme,
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
        path=path,
    )


def _refuse_repository_paths(segments: list[str]) -> None:
    if any(segment.lower().endswith(".git") for segment in segments):
        raise invalid_url("this is a repository's clone URL (it ends with .git)")
    if "-" in segments:
        raise invalid_url("this is the URL of a page inside a project (it contains /-/)")
    if len(segments) >= 2 and segments[0] == "api":
        raise invalid_url("this is the API URL, not the instance root")
    if len(segments) >= 2:
        raise invalid_url(f"this looks like the URL of a project or group ({'/'.join(segments)})")
