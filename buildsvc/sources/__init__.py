"""Code sources: one adapter per forge behind the interface of ``base.py``.

Public names only; the modules behind them (``gitlab/provider.py``, ``transport.py`` ...) are
implementation. Failures surface as ``buildsvc.errors.SourceUnreachable`` or
``SourceErrorResponse`` (and ``InvalidInput`` for URL and certificate problems).
"""

from __future__ import annotations

from buildsvc.sources.base import (
    Binding,
    CommitState,
    Credentials,
    Hook,
    Namespace,
    ProviderName,
    SourceClient,
    SourceProvider,
    SourceRepository,
)
from buildsvc.sources.bitbucket.cloud import BitbucketProvider
from buildsvc.sources.bitbucket.server import BitbucketServerProvider
from buildsvc.sources.common import REF_NOT_FOUND
from buildsvc.sources.failures import SOURCE_URL_NOT_ALLOWED
from buildsvc.sources.github.provider import GitHubProvider
from buildsvc.sources.gitlab.provider import GitLabProvider
from buildsvc.sources.network import AddressPolicy, ForbiddenAddress, resolve_checked
from buildsvc.sources.registry import build_providers
from buildsvc.sources.transport import INVALID_CA_CERT
from buildsvc.sources.urls import INVALID_SOURCE_URL

__all__ = [
    "INVALID_CA_CERT",
    "INVALID_SOURCE_URL",
    "REF_NOT_FOUND",
    "SOURCE_URL_NOT_ALLOWED",
    "AddressPolicy",
    "Binding",
    "BitbucketProvider",
    "BitbucketServerProvider",
    "CommitState",
    "Credentials",
    "ForbiddenAddress",
    "GitHubProvider",
    "GitLabProvider",
    "Hook",
    "Namespace",
    "ProviderName",
    "SourceClient",
    "SourceProvider",
    "SourceRepository",
    "build_providers",
    "resolve_checked",
]
