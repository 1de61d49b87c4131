"""Image repositories: ``/api/v1/repositories`` and their deliveries.

Values of build args named in ``secret_build_args`` are never sent back: they read
``"****"``. ``PATCH`` replaces every rule, so send secret values again when changing
rules.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.api.jsonio import UtcDatetime, json_body, json_response, path_id
from buildsvc.api.keys import ACCOUNT_ID, SESSIONMAKER, SETTINGS
from buildsvc.api.openapi import describe
from buildsvc.api.pagination import Page, page_request, paginated_response
from buildsvc.api.sources import source_access
from buildsvc.registry import namespaces, plain
from buildsvc.repositories import hook_health, queries, service
from buildsvc.repositories.links import linked
from buildsvc.repositories.rule_warnings import rule_warnings
from buildsvc.repositories.schemas import RepositoryCreate, RepositoryPatch
from buildsvc.repositories.service import hook_url
from buildsvc.store.models import BuildRule, Delivery, ImageRepository

routes = web.RouteTableDef()

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


class DeletedOut(BaseModel):
    id: int
    deleted: bool
    hook_removed: bool
    detail: str | None


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


def _id(request: web.Request) -> int:
    return path_id(request, "repository_id", "Image repository")


@routes.post("/api/v1/repositories")
@describe(
    "Create an image repository: linked to a source repository, or plain (no source)",
    body=RepositoryCreate,
    response=RepositoryOut,
    status=201,
    errors=(404, 409, 422, 502),
)
async def create(request: web.Request) -> web.Response:
    spec = await json_body(request, RepositoryCreate)
    account_id = request[ACCOUNT_ID]
    if spec.source is None:
        repo = await plain.create(
            request.app[SESSIONMAKER], account_id, spec.namespace, spec.name, spec.visibility
        )
    else:
        access = source_access(request)
        repo = await service.create_repository(access, account_id, spec, namespaces.claim)
    return json_response(RepositoryOut.build(request, repo), status=201)


@routes.get("/api/v1/repositories")
@describe("List image repositories", response=Page[RepositoryOut], paginated=True)
async def list_repositories(request: web.Request) -> web.Response:
    page = page_request(request)
    repos, total = await queries.list_repositories(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], offset=page.offset, limit=page.limit
    )
    return paginated_response(
        request, [RepositoryOut.build(request, r) for r in repos], total, page
    )


@routes.get("/api/v1/repositories/{repository_id}")
@describe(
    "One image repository, with its last delivery and its hook as the forge has it",
    response=RepositoryOut,
)
async def get(request: web.Request) -> web.Response:
    seen = await hook_health.inspect(source_access(request), request[ACCOUNT_ID], _id(request))
    return json_response(RepositoryOut.build(request, seen.repository).with_health(seen))


@routes.patch("/api/v1/repositories/{repository_id}")
@describe(
    "Change rules, auto build or visibility",
    body=RepositoryPatch,
    response=RepositoryOut,
    errors=(409,),
)
async def update(request: web.Request) -> web.Response:
    repository_id = _id(request)
    patch = await json_body(request, RepositoryPatch)
    repo = await service.update_repository(
        source_access(request), request[ACCOUNT_ID], repository_id, patch
    )
    return json_response(RepositoryOut.build(request, repo))


@routes.delete("/api/v1/repositories/{repository_id}")
@describe("Delete an image repository and its hook", response=DeletedOut)
async def delete(request: web.Request) -> web.Response:
    repository_id = _id(request)
    done = await service.delete_repository(
        source_access(request), request[ACCOUNT_ID], repository_id
    )
    return json_response(
        DeletedOut(id=done.id, deleted=True, hook_removed=done.hook_removed, detail=done.detail)
    )


@routes.get("/api/v1/repositories/{repository_id}/deliveries")
@describe("Webhook deliveries, newest first", response=Page[DeliveryOut], paginated=True)
async def deliveries(request: web.Request) -> web.Response:
    repository_id = _id(request)
    page = page_request(request)
    items, total = await queries.list_deliveries(
        request.app[SESSIONMAKER],
        request[ACCOUNT_ID],
        repository_id,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated_response(request, [DeliveryOut.from_delivery(d) for d in items], total, page)
