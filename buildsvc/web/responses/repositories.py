"""Image repositories, their rules and webhook deliveries, as the API and console show them."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.repositories import hook_health
from buildsvc.repositories.links import linked
from buildsvc.repositories.rule_warnings import rule_warnings
from buildsvc.repositories.service import hook_url
from buildsvc.store.models import BuildRule, Delivery, ImageRepository
from buildsvc.web.jsonio import UtcDatetime
from buildsvc.web.keys import SETTINGS

MASK = "****"


class RuleOut(BaseModel):
    id: int
    type: str
    pattern: str
    tag: str
    dockerfile: str
    context: str
    build_args: dict[str, str]
    secret_build_args: list[str]
    no_cache: bool
    include_paths: list[str]
    ignore_paths: list[str]

    @classmethod
    def from_rule(cls, rule: BuildRule) -> RuleOut:
        secret = {str(name) for name in rule.secret_build_args}
        args = {str(k): MASK if k in secret else str(v) for k, v in rule.build_args.items()}
        return cls(
            id=rule.id,
            type=rule.type,
            pattern=rule.pattern,
            tag=rule.tag,
            dockerfile=rule.dockerfile,
            context=rule.context,
            build_args=args,
            secret_build_args=sorted(secret),
            no_cache=rule.no_cache,
            include_paths=[str(p) for p in rule.include_paths],
            ignore_paths=[str(p) for p in rule.ignore_paths],
        )


class SourceOut(BaseModel):
    provider: str
    repository: str
    id: str
    clone_url: str
    default_branch: str | None


class HookOut(BaseModel):
    id: str | None  # None once the source was unbound
    url: str
    # As the forge has it: checked on GET of one repository (else None, not checked).
    exists: bool | None = None
    enabled: bool | None = None
    checked_at: UtcDatetime | None = None
    error: str | None = None


class RepositoryOut(BaseModel):
    id: int
    namespace: str
    name: str
    image: str
    visibility: str
    source: SourceOut | None  # None: a plain repository, pushed to with docker
    auto_build: bool
    hook: HookOut | None
    rules: list[RuleOut]
    created_at: UtcDatetime
    # Rules that are valid but doubtful (a pattern matching no sample name, ...).
    warnings: list[str]
    last_delivery: DeliveryOut | None = None  # on GET of one repository

    def with_health(self, seen: hook_health.Inspection) -> RepositoryOut:
        """This answer with the hook as the forge has it and the last delivery."""
        state = seen.hook
        if self.hook is None:  # plain: only the last delivery (there is none) to add
            return self
        hook = self.hook.model_copy(
            update={
                "id": state.id,
                "exists": state.exists,
                "enabled": state.enabled,
                "checked_at": state.checked_at,
                "error": state.error,
            }
        )
        last = seen.last_delivery
        delivery = DeliveryOut.from_delivery(last) if last is not None else None
        return self.model_copy(update={"hook": hook, "last_delivery": delivery})

    @classmethod
    def build(cls, request: web.Request, repo: ImageRepository) -> RepositoryOut:
        settings = request.app[SETTINGS]
        link = linked(repo)
        return cls(
            id=repo.id,
            namespace=repo.namespace,
            name=repo.name,
            image=f"{settings.registry}/{repo.namespace}/{repo.name}",
            visibility=repo.visibility,
            source=None
            if link is None
            else SourceOut(
                provider=link.provider,
                repository=link.repository,
                id=link.repository_id,
                clone_url=link.clone_url,
                default_branch=repo.default_branch,
            ),
            auto_build=repo.auto_build,
            hook=None
            if link is None
            else HookOut(
                id=repo.forge_hook_id,
                url=hook_url(settings.public_url, link.provider, link.hook_key),
            ),
            rules=[RuleOut.from_rule(rule) for rule in repo.rules],
            created_at=repo.created_at,
            warnings=rule_warnings([(rule.type, rule.pattern) for rule in repo.rules]),
        )


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str
    event: str
    ref: str | None
    commit_sha: str | None
    outcome: str
    build_ids: list[int]
    received_at: UtcDatetime

    @classmethod
    def from_delivery(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            delivery_id=delivery.delivery_id,
            event=delivery.event,
            ref=delivery.ref,
            commit_sha=delivery.commit_sha,
            outcome=delivery.outcome,
            build_ids=[int(i) for i in delivery.build_ids],
            received_at=delivery.received_at,
        )
