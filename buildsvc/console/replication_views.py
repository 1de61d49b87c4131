"""One repository's replication page: its rules, where its tags were copied, and the
forms to add, run and delete rules (the services the REST API calls)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from buildsvc.console import session as sessions
from buildsvc.console.forms import text
from buildsvc.console.render import error_context, page
from buildsvc.errors import InvalidInput, NotFound, ServiceError
from buildsvc.replication import manual, service
from buildsvc.replication.schemas import ReplicationRuleIn
from buildsvc.repositories import queries
from buildsvc.sources import AddressPolicy
from buildsvc.web.jsonio import describe_validation_error
from buildsvc.web.keys import ARQ, CIPHER, SESSIONMAKER, SETTINGS
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.replication import ReplicationOut, ReplicationRuleOut

routes = web.RouteTableDef()

PAGE = "/console/repositories/{repository_id}/replication"
SHOWN = 200  # status rows on the page; the API pages through all of them


def _number(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound()
    return int(raw)


async def _page(
    request: web.Request,
    session: sessions.ConsoleSession,
    repository_id: int,
    *,
    error: dict[str, str | None] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    sessionmaker = request.app[SESSIONMAKER]
    repo = await queries.get_repository(sessionmaker, session.account_id, repository_id)
    rules = await service.list_rules(sessionmaker, session.account_id, repository_id)
    rows, total = await service.list_replications(
        sessionmaker, session.account_id, repository_id, offset=0, limit=SHOWN
    )
    return await page(
        request,
        "repository_replication.html",
        session,
        {
            "repo": repo,
            "rules": [ReplicationRuleOut.from_rule(rule) for rule in rules],
            "replications": [ReplicationOut.model_validate(row) for row in rows],
            "total": total,
            "values": values or {},
            "error": error,
        },
        status=status,
    )


@routes.get(PAGE)
@hidden
async def replication_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    return await _page(request, session, _number(request, "repository_id"))


@routes.post(PAGE)
@hidden
async def add_rule(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _number(request, "repository_id")
    form = await request.post()
    values = {name: text(form, name, 65536) for name in FIELDS}
    try:
        spec = _spec(values)
        policy = AddressPolicy.from_cidrs(request.app[SETTINGS].allowed_source_networks)
        await service.create_rule(
            request.app[SESSIONMAKER],
            request.app[CIPHER],
            policy,
            session.account_id,
            repository_id,
            spec,
        )
    except ServiceError as exc:
        values.pop("password", None)  # never sent back into the page
        return await _page(
            request, session, repository_id, error=error_context(exc), values=values,
            status=exc.status,
        )  # fmt: skip
    raise web.HTTPSeeOther(location=PAGE.format(repository_id=repository_id))


FIELDS = (
    "destination_url",
    "username",
    "password",
    "ca_cert",
    "destination_namespace",
    "name_template",
    "tag_filter",
    "trigger",
    "scope",
)


def _spec(values: dict[str, str]) -> ReplicationRuleIn:
    given = {name: value for name, value in values.items() if value}
    try:
        return ReplicationRuleIn.model_validate(given)
    except ValidationError as exc:
        raise InvalidInput(detail=describe_validation_error(exc)) from exc


@routes.post(PAGE + "/{rule_id}/run")
@hidden
async def run_rule(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _number(request, "repository_id")
    try:
        await manual.run_rule(
            request.app[SESSIONMAKER],
            request.app[SETTINGS],
            await request.app[ARQ].get(),
            session.account_id,
            repository_id,
            _number(request, "rule_id"),
        )
    except ServiceError as exc:
        return await _page(
            request, session, repository_id, error=error_context(exc), status=exc.status
        )
    raise web.HTTPSeeOther(location=PAGE.format(repository_id=repository_id))


@routes.post(PAGE + "/{rule_id}/delete")
@hidden
async def delete_rule(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _number(request, "repository_id")
    await service.delete_rule(
        request.app[SESSIONMAKER], session.account_id, repository_id, _number(request, "rule_id")
    )
    raise web.HTTPSeeOther(location=PAGE.format(repository_id=repository_id))
