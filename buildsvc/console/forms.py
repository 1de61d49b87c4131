"""Reading the console's HTML forms into the API's request models."""

from __future__ import annotations

from typing import Any

from multidict import MultiDictProxy
from pydantic import ValidationError

from buildsvc.api.jsonio import describe_validation_error
from buildsvc.errors import InvalidInput
from buildsvc.repositories.schemas import RepositoryCreate, RuleIn, SourceIn

RULE_FIELDS = ("type", "pattern", "tag", "dockerfile", "context")
MAX_RULE_ROWS = 50


def text(form: MultiDictProxy[Any], name: str, limit: int = 1024) -> str:
    return str(form.get(name, "")).strip()[:limit]


def rule_rows(form: MultiDictProxy[Any]) -> list[dict[str, str]]:
    """The rule rows as typed (``rule_type``, ``rule_pattern`` ... repeated per row)."""
    columns = {name: [str(v) for v in form.getall(f"rule_{name}", [])] for name in RULE_FIELDS}
    count = min(max((len(values) for values in columns.values()), default=0), MAX_RULE_ROWS)
    rows = []
    for index in range(count):
        row = {
            name: (values[index] if index < len(values) else "").strip()
            for name, values in columns.items()
        }
        if row["pattern"]:  # an empty row is a row the user did not fill in
            rows.append(row)
    return rows


def rules_from_rows(rows: list[dict[str, str]]) -> list[RuleIn] | None:
    if not rows:
        return None  # the service's defaults
    rules: list[RuleIn] = []
    for position, row in enumerate(rows):
        if row["type"] not in ("branch", "tag"):
            raise InvalidInput(detail=f"rules[{position}].type: choose branch or tag")
        rules.append(
            RuleIn(
                type=row["type"],
                pattern=row["pattern"],
                tag=row["tag"] or None,
                dockerfile=row["dockerfile"] or "Dockerfile",
                context=row["context"] or ".",
            )
        )
    return rules


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
            rules=rules_from_rows(rule_rows(form)),
        )
    except ValidationError as exc:
        raise InvalidInput(detail=describe_validation_error(exc)) from exc
