from __future__ import annotations

import pytest

from buildsvc.errors import InvalidInput
from buildsvc.sources.base import ProviderName
from buildsvc.sources.urls import ROOT_URL_HINTS, parse_root_url

PROVIDERS: tuple[ProviderName, ...] = ("gitlab", "github", "bitbucket", "bitbucket-server")


@pytest.mark.parametrize(
    ("raw", "url", "needs_probe"),
    [
        ("https://gitlab.example.com", "https://gitlab.example.com", False),
        ("  HTTPS://GitLab.Example.com///  ", "https://gitlab.example.com", False),
        ("http://gitlab.example.com:8080/", "http://gitlab.example.com:8080", False),
        ("https://host.example/gitlab", "https://host.example/gitlab", True),
        ("https://host.example/gitlab/", "https://host.example/gitlab", True),
        ("http://[::1]:8929", "http://[::1]:8929", False),
        ("http://127.0.0.1:8929", "http://127.0.0.1:8929", False),
    ],
)
def test_root_urls_are_normalised(raw: str, url: str, needs_probe: bool) -> None:
    root = parse_root_url(raw, "gitlab")
    assert root.url == url
    assert root.needs_probe is needs_probe


def test_default_ports_and_host() -> None:
    assert parse_root_url("https://h.example", "gitlab").port == 443
    assert parse_root_url("http://h.example", "github").port == 80
    assert parse_root_url("http://[::1]:81", "bitbucket-server").host == "::1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("https://gitlab.example.com/group/project", "project or group"),
        ("https://gitlab.example.com/group/sub/project", "project or group"),
        ("https://gitlab.example.com/group/project.git", "clone URL"),
        ("https://gitlab.example.com/project.git", "clone URL"),
        ("https://gitlab.example.com/group/project/-/tree/main", "/-/"),
        ("https://gitlab.example.com/-/profile", "/-/"),
        ("https://gitlab.example.com/api/v4", "API URL"),
        ("ftp://gitlab.example.com", "http:// or https://"),
        ("gitlab.example.com", "http:// or https://"),
        ("git@gitlab.example.com:group/project.git", "http:// or https://"),
        ("https://gitlab.example.com?x=1", "query"),
        ("https://gitlab.example.com/#top", "query"),
        ("https:///path", "no host"),
        ("https://gitlab.example.com:99999", "cannot be parsed"),
    ],
)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_repository_and_malformed_urls_are_refused(
    raw: str, reason: str, provider: ProviderName
) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_root_url(raw, provider)
    assert info.value.code == "INVALID_SOURCE_URL"
    assert info.value.status == 400
    assert reason in (info.value.detail or "")
    assert (info.value.detail or "").endswith(ROOT_URL_HINTS[provider])


@pytest.mark.parametrize(
    ("provider", "example"),
    [
        ("gitlab", "e.g. https://gitlab.example.com"),
        ("github", "enter https://github.com, or the root URL of your GitHub Enterprise"),
        ("bitbucket", "enter https://bitbucket.org"),
        ("bitbucket-server", "your Bitbucket Server instance, e.g. https://bitbucket.example"),
    ],
)
def test_the_hint_names_the_providers_own_instance(provider: ProviderName, example: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_root_url("https://host.example/a/b", provider)
    assert example in (info.value.detail or "")
    if provider != "gitlab":
        assert "gitlab" not in (info.value.detail or "")


def test_userinfo_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_root_url("https://alice:hunter2secret@gitlab.example.com", "gitlab")
    assert info.value.code == "INVALID_SOURCE_URL"
    assert "user name or password" in (info.value.detail or "")
    assert "hunter2secret" not in str(info.value)
    assert "hunter2secret" not in (info.value.detail or "")
