"""Image repositories: the list, the create form, one repository's page and its actions
(auto build, build rules, builds, hook, delete)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from buildsvc.bindings import service as bindings
from buildsvc.builds import manual
from buildsvc.builds import queries as build_queries
from buildsvc.console import forms
from buildsvc.console import session as sessions
from buildsvc.console.render import CARDS_BY_NAME, error_context, page
from buildsvc.console.rule_form import (
    RuleFieldError,
    RuleRow,
    read_rows,
    row_from_rule,
    rules_from_rows,
    stored_secrets,
)
from buildsvc.errors import ServiceError
from buildsvc.registry import namespaces
from buildsvc.repositories import queries, service
from buildsvc.repositories.badges import badge_paths
from buildsvc.repositories.errors import RepositoryNotFound
from buildsvc.repositories.schemas import RepositoryPatch, default_rules
from buildsvc.web.forge_access import source_access
from buildsvc.web.keys import CIPHER, COMMIT_STATUS, OUTBOX, SESSIONMAKER, SETTINGS
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.builds import BuildOut
from buildsvc.web.responses.repositories import DeliveryOut, RepositoryOut
from buildsvc.web.responses.sources import NamespaceOut

routes = web.RouteTableDef()

PER_PAGE = 20
RECENT = 10


def _repository_id(request: web.Request) -> int:
    raw = request.match_info["repository_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise RepositoryNotFound
    return int(raw)


def _out(request: web.Request, repo: Any) -> RepositoryOut:
    return RepositoryOut.build(request, repo)


@routes.get("/console/repositories")
@hidden
async def repositories_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    number = int(request.query["page"]) if request.query.get("page", "").isdigit() else 1
    number = max(1, number)
    search = request.query.get("q", "").strip()[:255]
    sessionmaker = request.app[SESSIONMAKER]
    repos, total = await queries.list_repositories(
        sessionmaker,
        session.account_id,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
        search=search,
    )
    last = await build_queries.last_builds(sessionmaker, session.account_id, [r.id for r in repos])
    return await page(
        request,
        "repositories.html",
        session,
        {
            "repositories": [_out(request, r) for r in repos],
            "last_builds": {rid: BuildOut.from_build(b) for rid, b in last.items()},
            "search": search,
            "total": total,
            "page": number,
            "pages": max(1, -(-total // PER_PAGE)),
        },
    )


async def _form(
    request: web.Request,
    session: sessions.ConsoleSession,
    values: dict[str, Any],
    *,
    error: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    access = source_access(request)
    bound = [v.row.provider for v in await bindings.list_bindings(access, session.account_id)]
    provider = values.get("provider") or (bound[0] if bound else "")
    namespaces: list[NamespaceOut] = []
    picker_error = None
    if provider in bound:
        try:
            found = await bindings.list_namespaces(access, session.account_id, provider)
            namespaces = [NamespaceOut.from_namespace(n) for n in found]
        except ServiceError as exc:
            picker_error = error_context(exc)
    return await page(
        request,
        "repository_new.html",
        session,
        {
            "bound": [(name, CARDS_BY_NAME[name].title) for name in bound if name in CARDS_BY_NAME],
            "provider": provider,
            "namespaces": namespaces,
            "values": values,
            "rules": values.get("rules") or [RuleRow()],
            "error": error,
            "picker_error": picker_error,
        },
        status=status,
    )


@routes.get("/console/repositories/new")
@hidden
async def new_repository_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    values = {"provider": request.query.get("provider", ""), "auto_build": True}
    return await _form(request, session, values)


@routes.post("/console/repositories/new")
@hidden
async def create_repository(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    form = await request.post()
    values: dict[str, Any] = {
        key: forms.text(form, key)
        for key in (
            "provider",
            "source_namespace",
            "source_repository",
            "image_namespace",
            "image_name",
        )
    }
    values["auto_build"] = form.get("auto_build") is not None
    values["rules"] = read_rows(form)
    try:
        spec = forms.repository_create(form)
        repo = await service.create_repository(
            source_access(request), session.account_id, spec, namespaces.claim
        )
    except ServiceError as exc:
        status, error, values["rules"] = _refused(
            exc, values["rules"], "(enter the secret build args' values again)"
        )
        return await _form(request, session, values, error=error, status=status)
    raise web.HTTPSeeOther(location=f"/console/repositories/{repo.id}")


def _refused(
    exc: ServiceError, rows: list[RuleRow], again: str
) -> tuple[int, dict[str, Any], list[RuleRow]]:
    """Status, error box and rows for showing a refused rules form again: the error names
    the rule and field to mark, and typed secret values are not sent back (``again`` says
    so when there were any)."""
    status = exc.status if 400 <= exc.status < 500 else 422
    error = error_context(exc)
    if isinstance(exc, RuleFieldError):  # the form marks the field and opens its options
        error.update(rule=exc.row, field=exc.field)
    cleared = [row.without_secret_values() for row in rows]
    if cleared != rows:
        error["detail"] = f"{error['detail'] or ''} {again}"
    return status, error, cleared


@routes.get("/console/repositories/{repository_id}")
@hidden
async def repository_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    return await _repository(request, session, _repository_id(request))


async def _repository(
    request: web.Request,
    session: sessions.ConsoleSession,
    repository_id: int,
    *,
    error: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    sessionmaker = request.app[SESSIONMAKER]
    repo = await queries.get_repository(sessionmaker, session.account_id, repository_id)
    deliveries, delivery_total = await queries.list_deliveries(
        sessionmaker, session.account_id, repository_id, offset=0, limit=RECENT
    )
    builds, build_total = await build_queries.list_builds(
        sessionmaker, session.account_id, repository_id=repository_id, offset=0, limit=RECENT
    )
    return await page(
        request,
        "repository.html",
        session,
        {
            "repo": _out(request, repo),
            "deliveries": [DeliveryOut.from_delivery(d) for d in deliveries],
            "delivery_total": delivery_total,
            "builds": [BuildOut.from_build(b) for b in builds],
            "build_total": build_total,
            "badges": badge_paths(request.app[CIPHER], repo),
            "public_url": request.app[SETTINGS].public_url.rstrip("/"),
            "error": error,
        },
        status=status,
    )


@routes.post("/console/repositories/{repository_id}/auto-build")
@hidden
async def set_auto_build(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _repository_id(request)
    form = await request.post()
    patch = RepositoryPatch(auto_build=form.get("auto_build") is not None)
    access = source_access(request)
    await service.update_repository(access, session.account_id, repository_id, patch)
    raise web.HTTPSeeOther(location=f"/console/repositories/{repository_id}")


async def _rules_form(
    request: web.Request,
    session: sessions.ConsoleSession,
    repo: Any,
    rows: list[RuleRow],
    *,
    error: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    return await page(
        request,
        "repository_rules.html",
        session,
        {"repo": repo, "rules": rows or [RuleRow()], "error": error},
        status=status,
    )


@routes.get("/console/repositories/{repository_id}/rules")
@hidden
async def rules_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    repo = await queries.get_repository(
        request.app[SESSIONMAKER], session.account_id, _repository_id(request)
    )
    return await _rules_form(request, session, repo, [row_from_rule(r) for r in repo.rules])


@routes.post("/console/repositories/{repository_id}/rules")
@hidden
async def save_rules(request: web.Request) -> web.Response:
    """Replace every rule through the service the API's PATCH uses. Secret values were
    not pre-filled: an empty one keeps its stored rule's value (``rules_from_rows``)."""
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _repository_id(request)
    repo = await queries.get_repository(
        request.app[SESSIONMAKER], session.account_id, repository_id
    )
    rows = read_rows(await request.post())
    access = source_access(request)
    try:
        # No rules: the defaults, as the form's hint and the create form say.
        kept = stored_secrets(repo.rules, access.cipher)
        rules = rules_from_rows(rows, kept) or default_rules(repo.default_branch)
        patch = RepositoryPatch(rules=rules)
        await service.update_repository(access, session.account_id, repository_id, patch)
    except ServiceError as exc:
        status, error, cleared = _refused(
            exc, rows, "(type the new secret values again: an empty value keeps the stored one)"
        )
        return await _rules_form(request, session, repo, cleared, error=error, status=status)
    raise web.HTTPSeeOther(location=f"/console/repositories/{repository_id}")


@routes.post("/console/repositories/{repository_id}/builds")
@hidden
async def start_build(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _repository_id(request)
    form = await request.post()
    ref = forms.text(form, "ref") or None
    try:
        started = await manual.start_build(
            source_access(request),
            request.app[OUTBOX],
            session.account_id,
            repository_id,
            manual.ManualBuild(ref=ref, trigger="console"),
            request.app[COMMIT_STATUS],  # "pending" on the forge
        )
    except ServiceError as exc:
        status = exc.status if 400 <= exc.status < 500 else 422
        return await _repository(
            request, session, repository_id, error=error_context(exc), status=status
        )
    raise web.HTTPSeeOther(location=f"/console/builds/{started[0].id}")


@routes.post("/console/repositories/{repository_id}/delete")
@hidden
async def delete_repository(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _repository_id(request)
    await service.delete_repository(source_access(request), session.account_id, repository_id)
    raise web.HTTPSeeOther(location="/console/repositories")
