"""Reading the console's HTML forms into the API's request models."""

from __future__ import annotations

from typing import Any

from multidict import MultiDictProxy
from pydantic import ValidationError

from buildsvc.console.rule_form import read_rows, rules_from_rows
from buildsvc.errors import InvalidInput
from buildsvc.repositories.schemas import RepositoryCreate, SourceIn
from buildsvc.web.jsonio import describe_validation_error


def text(form: MultiDictProxy[Any], name: str, limit: int = 1024) -> str:
    return str(form.get(name, "")).strip()[:limit]


def repository_create(form: MultiDictProxy[Any]) -> RepositoryCreate:
    provider = text(form, "provider", 32)
    if provider not in ("gitlab", "github", "bitbucket", "bitbucket-server"):
        raise InvalidInput(detail="provider: choose a bound code source")
    source = text(form, "source_repository")
    if not source:
        raise InvalidInput(detail="source repository: choose one from the list")
    namespace, name = text(form, "image_namespace", 255), text(form, "image_name", 255)
    if not namespace or not name:
        raise InvalidInput(detail="image repository: enter a namespace and a name")
    try:
        return RepositoryCreate(
            namespace=namespace,
            name=name,
            source=SourceIn(provider=provider, repository=source),
            auto_build=form.get("auto_build") is not None,
            rules=rules_from_rows(read_rows(form)),
        )
    except ValidationError as exc:
        raise InvalidInput(detail=describe_validation_error(exc)) from exc
