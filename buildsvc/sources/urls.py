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

from buildsvc.sources.base import ProviderName
from buildsvc.sources.errors import InvalidSourceUrl

# What to type instead, in each forge's own terms (closes every refusal's detail).
ROOT_URL_HINTS: dict[ProviderName, str] = {
    "gitlab": "enter the instance root URL, e.g. https://gitlab.example.com",
    "github": "enter https://github.com, or the root URL of your GitHub Enterprise "
    "instance, e.g. https://github.example.com",
    "bitbucket": "enter https://bitbucket.org",
    "bitbucket-server": "enter the root URL of your Bitbucket Server instance, "
    "e.g. https://bitbucket.example.com",
}


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


def invalid_url(reason: str, provider: ProviderName) -> InvalidSourceUrl:
    return InvalidSourceUrl(detail=f"{reason}; {ROOT_URL_HINTS[provider]}")


def parse_root_url(raw: str, provider: ProviderName) -> RootUrl:
    """Normalise ``raw`` or raise ``InvalidSourceUrl``."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise invalid_url("the URL cannot be parsed", provider) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise invalid_url("the URL must start with http:// or https://", provider)
    if parts.username is not None or parts.password is not None:
        # Never echo the URL here: the part before "@" may be a password.
        raise invalid_url("the URL must not contain a user name or password", provider)
    host = (parts.hostname or "").lower()
    if not host:
        raise invalid_url("the URL has no host name", provider)
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise invalid_url("the URL must not contain a query (?...) or fragment (#...)", provider)
    segments = [segment for segment in parts.path.split("/") if segment]
    _refuse_repository_paths(segments, provider)
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


def _refuse_repository_paths(segments: list[str], provider: ProviderName) -> None:
    if any(segment.lower().endswith(".git") for segment in segments):
        raise invalid_url("this is a repository's clone URL (it ends with .git)", provider)
    if "-" in segments:
        raise invalid_url("this is the URL of a page inside a project (it contains /-/)", provider)
    if len(segments) >= 2 and segments[0] == "api":
        raise invalid_url("this is the API URL, not the instance root", provider)
    if len(segments) >= 2:
        path = "/".join(segments)
        raise invalid_url(f"this looks like the URL of a project or group ({path})", provider)
