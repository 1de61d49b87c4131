"""Bindings and what the pickers list, as the REST API and the console show them."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from buildsvc.bindings.service import BindingView
from buildsvc.sources import Namespace, SourceRepository
from buildsvc.web.jsonio import UtcDatetime


class BindingOut(BaseModel):
    provider: str
    url: str
    api_version: str
    username: str
    token_last4: str
    scopes: list[str]
    expires_at: dt.date | None
    status: str
    broken_reason: str | None
    warnings: list[str]
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @classmethod
    def from_view(cls, view: BindingView) -> BindingOut:
        row = view.row
        return cls(
            provider=row.provider,
            url=row.url,
            api_version=row.api_version,
            username=row.username,
            token_last4=row.token_last4,
            scopes=[str(scope) for scope in row.scopes],
            expires_at=row.expires_at,
            status=row.status,
            broken_reason=row.broken_reason,
            warnings=list(view.warnings),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class NamespaceOut(BaseModel):
    path: str
    name: str
    kind: str

    @classmethod
    def from_namespace(cls, namespace: Namespace) -> NamespaceOut:
        return cls(path=namespace.path, name=namespace.name, kind=namespace.kind)


class SourceRepositoryOut(BaseModel):
    id: str
    full_path: str
    name: str
    clone_url: str
    default_branch: str | None
    private: bool
    web_url: str | None

    @classmethod
    def from_repository(cls, repo: SourceRepository) -> SourceRepositoryOut:
        return cls(
            id=repo.id,
            full_path=repo.full_path,
            name=repo.name,
            clone_url=repo.clone_url,
            default_branch=repo.default_branch,
            private=repo.private,
            web_url=repo.web_url,
        )
