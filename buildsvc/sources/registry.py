"""Which code-source providers this service offers, built once per application.

The application factory calls ``build_providers(settings)`` and keeps the result;
services look a provider up by name (``providers["gitlab"]``): ``gitlab``, ``github``,
``bitbucket`` (Cloud) and ``bitbucket-server`` (Data Center / Server).
"""

from __future__ import annotations

from buildsvc.config import Settings
from buildsvc.sources.base import SourceProvider
from buildsvc.sources.bitbucket import BitbucketProvider, BitbucketServerProvider
from buildsvc.sources.github import GitHubProvider
from buildsvc.sources.gitlab import GitLabProvider


def build_providers(settings: Settings) -> dict[str, SourceProvider]:
    providers: list[SourceProvider] = [
        GitLabProvider(settings),
        GitHubProvider(settings),
        BitbucketProvider(settings),
        BitbucketServerProvider(settings),
    ]
    return {provider.name: provider for provider in providers}
