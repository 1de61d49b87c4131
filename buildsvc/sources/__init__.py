"""Code sources: one adapter per forge behind the interface of ``base.py``.

Public names only: code outside ``sources/`` imports from here, never from the modules
behind them (``transport.py``, ``gitlab/provider.py`` ...), which are implementation. One
folder per forge: ``github/``, ``gitlab/`` and ``bitbucket/`` (Cloud and Server); what
they share (``base``, ``common``, ``failures``, ``transport``, ``network``, ``urls``)
stays here, and ``registry`` builds one provider per forge. Failures surface as
``buildsvc.errors.SourceUnreachable`` or ``SourceErrorResponse`` (and ``InvalidInput``
for URL and certificate problems).
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
from buildsvc.sources.common import REF_NOT_FOUND, bounded
from buildsvc.sources.failures import SOURCE_URL_NOT_ALLOWED
from buildsvc.sources.github.provider import GitHubProvider
from buildsvc.sources.gitlab.provider import GitLabProvider
from buildsvc.sources.network import AddressPolicy, ForbiddenAddress, resolve_checked
from buildsvc.sources.registry import build_providers
from buildsvc.sources.transport import INVALID_CA_CERT, PinnedAdapter
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
    "PinnedAdapter",
    "ProviderName",
    "SourceClient",
    "SourceProvider",
    "SourceRepository",
    "bounded",
    "build_providers",
    "resolve_checked",
]
