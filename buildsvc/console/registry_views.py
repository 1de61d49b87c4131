"""The Registry page: the registry password, robot accounts (the secret shown once),
namespaces with their networks, and each repository's visibility and tags with the
``docker pull`` command and, in the account's own namespaces, a Delete button (asked
again first, as a build's Cancel). Every form calls the same services as the REST API."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from buildsvc.console import session as sessions
from buildsvc.console.render import error_context, page
from buildsvc.errors import InvalidInput, ServiceError
from buildsvc.registry import namespaces, password, robots, tags
from buildsvc.registry.permissions import Permission
from buildsvc.repositories import queries
from buildsvc.store.models import ImageRepository
from buildsvc.web.keys import SESSIONMAKER, SETTINGS, TOKEN_SERVER
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.robots import RobotOut

routes = web.RouteTableDef()

MAX_FIELD = 4096
TAGGED_REPOSITORIES = 20  # tags are read for this many repositories per page view


def _field(form: Any, name: str) -> str:
    return str(form.get(name, ""))[:MAX_FIELD].strip()


def parse_grants(text: str) -> list[Permission]:
    """One permission per line: ``pull,push acme/app`` or ``pull acme``."""
    permissions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        actions, _, target = line.strip().partition(" ")
        target = target.strip()
        if not target:
            raise InvalidInput(detail=f"permissions line {number}: ACTIONS TARGET")
        key = "repository" if "/" in target else "namespace"
        try:
            permissions.append(
                Permission.model_validate({key: target, "actions": actions.split(",")})
            )
        except ValueError as exc:
            raise InvalidInput(detail=f"permissions line {number}: pull, push or delete") from exc
    return permissions


async def _tags(request: web.Request, account_id: int, repository: ImageRepository) -> Any:
    api = tags.RegistryApi(request.app[TOKEN_SERVER])
    return await tags.list_tags(request.app[SESSIONMAKER], api, account_id, repository.id)


async def _render(
    request: web.Request, session: sessions.ConsoleSession, *, status: int = 200, **context: Any
) -> web.Response:
    sessionmaker, account_id = request.app[SESSIONMAKER], session.account_id
    held = await namespaces.list_owned(sessionmaker, account_id)
    account_name, robot_rows = await robots.list_robots(sessionmaker, account_id)
    repositories, _ = await queries.list_repositories(
        sessionmaker, account_id, offset=0, limit=TAGGED_REPOSITORIES
    )
    found = await asyncio.gather(*(_tags(request, account_id, r) for r in repositories))
    registry = request.app[SETTINGS].registry
    owned = {n.name for n, _ in held}  # deleting a tag needs the namespace (tags.delete_tag)
    return await page(
        request,
        "registry.html",
        session,
        {
            "registry": registry,
            "login": account_name,
            "namespaces": [{"row": n, "repositories": count} for n, count in held],
            "robots": [RobotOut.of(account_name, r) for r in robot_rows],
            "repositories": [
                {
                    "row": r,
                    "image": f"{registry}/{r.namespace}/{r.name}",
                    "tags": t,
                    "deletable": r.namespace in owned,
                }
                for r, t in zip(repositories, found, strict=True)
            ],
            "notice": None,
            "page_error": None,
            "secret": None,
            "confirm_delete": None,
            **context,
        },
        status=status,
    )


@routes.get("/console/registry")
@hidden
async def registry_page(request: web.Request) -> web.Response:
    return await _render(request, await sessions.require(request))


async def _act(request: web.Request, action: Any, notice: str | None) -> web.Response:
    """Run ``action(session, form)`` for a posted form and show the page again."""
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    form = await request.post()
    try:
        extra = await action(session, form) or {}
    except ServiceError as exc:
        return await _render(request, session, status=exc.status, page_error=error_context(exc))
    return await _render(request, session, **{"notice": notice, **extra})


@routes.post("/console/registry/password")
@hidden
async def set_password(request: web.Request) -> web.Response:
    async def act(session: sessions.ConsoleSession, form: Any) -> None:
        value, again = str(form.get("password", "")), str(form.get("confirm", ""))
        if value != again:
            raise InvalidInput(detail="the two passwords differ")
        await password.set_password(request.app[SESSIONMAKER], session.account_id, value)

    return await _act(request, act, "Registry password set.")


@routes.post("/console/registry/robots")
@hidden
async def create_robot(request: web.Request) -> web.Response:
    async def act(session: sessions.ConsoleSession, form: Any) -> dict[str, Any]:
        created = await robots.create(
            request.app[SESSIONMAKER],
            session.account_id,
            _field(form, "name"),
            parse_grants(_field(form, "permissions")),
        )
        return {"secret": {"username": created.username, "value": created.secret}}

    return await _act(request, act, None)


@routes.post("/console/registry/robots/{name}/{action:rotate|disable|enable|delete}")
@hidden
async def robot_action(request: web.Request) -> web.Response:
    name, what = request.match_info["name"], request.match_info["action"]
    sessionmaker = request.app[SESSIONMAKER]

    async def act(session: sessions.ConsoleSession, form: Any) -> dict[str, Any] | None:
        del form
        if what == "rotate":
            created = await robots.rotate(sessionmaker, session.account_id, name)
            return {"secret": {"username": created.username, "value": created.secret}}
        if what == "delete":
            await robots.delete(sessionmaker, session.account_id, name)
            return None
        change = robots.Change(disabled=what == "disable")
        await robots.change(sessionmaker, session.account_id, name, change)
        return None

    return await _act(request, act, None if what == "rotate" else f"Robot {name}: {what}d.")


@routes.post("/console/registry/namespaces")
@hidden
async def claim_namespace(request: web.Request) -> web.Response:
    async def act(session: sessions.ConsoleSession, form: Any) -> None:
        networks = [n for n in _field(form, "allowed_networks").replace(",", " ").split() if n]
        await namespaces.create(
            request.app[SESSIONMAKER], session.account_id, _field(form, "name"), networks
        )

    return await _act(request, act, "Namespace claimed.")


@routes.post("/console/registry/namespaces/{name}/networks")
@hidden
async def set_networks(request: web.Request) -> web.Response:
    async def act(session: sessions.ConsoleSession, form: Any) -> None:
        networks = [n for n in _field(form, "allowed_networks").replace(",", " ").split() if n]
        await namespaces.update_networks(
            request.app[SESSIONMAKER], session.account_id, request.match_info["name"], networks
        )

    return await _act(request, act, "Allowed networks saved.")


@routes.post("/console/registry/repositories/{repository_id:[0-9]{1,18}}/visibility")
@hidden
async def set_visibility(request: web.Request) -> web.Response:
    async def act(session: sessions.ConsoleSession, form: Any) -> None:
        visibility = _field(form, "visibility")
        if visibility not in ("private", "public"):
            raise InvalidInput(detail="visibility: private or public")
        repository_id = int(request.match_info["repository_id"])
        async with request.app[SESSIONMAKER].begin() as db:
            repository = await queries.load(db, session.account_id, repository_id)
            repository.visibility = visibility

    return await _act(request, act, "Visibility saved.")


@routes.post(
    "/console/registry/repositories/{repository_id:[0-9]{1,18}}/tags/{tag:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}}/delete"
)
@hidden
async def delete_tag(request: web.Request) -> web.Response:
    repository_id, tag = int(request.match_info["repository_id"]), request.match_info["tag"]
    sessionmaker = request.app[SESSIONMAKER]
    if (await request.post()).get("confirmed") != "yes":  # without JavaScript: ask on the page
        session = await sessions.require(request)
        await sessions.check_csrf(request, session)
        repository = await queries.get_repository(sessionmaker, session.account_id, repository_id)
        image = f"{repository.namespace}/{repository.name}"
        asked = {"repository_id": repository_id, "tag": tag, "image": image}
        return await _render(request, session, confirm_delete=asked)

    async def act(session: sessions.ConsoleSession, form: Any) -> dict[str, Any]:
        del form
        api = tags.RegistryApi(request.app[TOKEN_SERVER])
        gone = await tags.delete_tag(sessionmaker, api, session.account_id, repository_id, tag)
        others = [name for name in gone if name != tag]
        also = f" and {', '.join(others)}, tags of the same image" if others else ""
        return {"notice": f"Deleted tag {tag}{also}."}

    return await _act(request, act, None)
