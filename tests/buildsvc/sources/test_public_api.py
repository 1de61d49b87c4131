from __future__ import annotations

import buildsvc.sources
from buildsvc.config import Settings
from buildsvc.sources import (
    BitbucketProvider,
    BitbucketServerProvider,
    GitHubProvider,
    GitLabProvider,
    build_providers,
)


def test_public_names() -> None:
    assert sorted(buildsvc.sources.__all__) == sorted(
        [
            "AddressPolicy",
            "Binding",
            "CommitState",
            "Credentials",
            "ForbiddenAddress",
            "BitbucketProvider",
            "BitbucketServerProvider",
            "GitHubProvider",
            "GitLabProvider",
            "Hook",
            "InvalidCaCert",
            "InvalidSourceUrl",
            "Namespace",
            "PinnedAdapter",
            "ProviderName",
            "RefNotFound",
            "SourceClient",
            "SourceProvider",
            "SourceRepository",
            "SourceUrlNotAllowed",
            "bounded",
            "build_providers",
            "resolve_checked",
        ]
    )
    for name in buildsvc.sources.__all__:
        assert getattr(buildsvc.sources, name) is not None


def test_build_providers() -> None:
    providers = build_providers(Settings())
    assert list(providers) == ["gitlab", "github", "bitbucket", "bitbucket-server"]
    expected = {
        "gitlab": GitLabProvider,
        "github": GitHubProvider,
        "bitbucket": BitbucketProvider,
        "bitbucket-server": BitbucketServerProvider,
    }
    for name, cls in expected.items():
        assert isinstance(providers[name], cls)
        assert providers[name].name == name
