"""Code sources: one adapter per forge behind the interface of ``base.py``.

Public names only: code outside ``sources/`` imports from here, never from the modules
behind them (``transport.py``, ``gitlab/provider.py`` ...), which are implementation. One
folder per forge: ``github/``, ``gitlab/`` and ``bitbucket/`` (Cloud and Server); what
they share (``base``, ``common``, ``failures``, ``transport``, ``network``, ``urls``)
stays here, and ``registry`` builds one provider per forge. Failures surface as
``buildsvc.errors.SourceUnreachable`` or ``SourceErrorResponse``; URL, certificate and
ref problems as the classes of ``errors.py``.
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
from buildsvc.sources.bitbucket import BitbucketProvider, BitbucketServerProvider
from buildsvc.sources.common import bounded
from buildsvc.sources.errors import (
    InvalidCaCert,
    InvalidSourceUrl,
    RefNotFound,
    SourceUrlNotAllowed,
)
from buildsvc.sources.github import GitHubProvider
from buildsvc.sources.gitlab import GitLabProvider
from buildsvc.sources.network import AddressPolicy, ForbiddenAddress, resolve_checked
from buildsvc.sources.registry import build_providers
from buildsvc.sources.transport import PinnedAdapter

__all__ = [
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
