"""Replication rules of an image repository and where its tags were copied.

``/api/v1/repositories/{id}/replication-rules`` (and ``/{rule_id}``, ``/{rule_id}/run``)
and ``/api/v1/repositories/{id}/replications``. The destination password is never sent
back: ``password_set`` says whether one is stored.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.replication import manual, service
from buildsvc.replication.schemas import ReplicationRuleIn, ReplicationRulePatch
from buildsvc.sources import AddressPolicy
from buildsvc.web.jsonio import json_body, json_response, path_id
from buildsvc.web.keys import ACCOUNT_ID, ARQ, CIPHER, SESSIONMAKER, SETTINGS
from buildsvc.web.openapi import describe
from buildsvc.web.pagination import Page, page_request, paginated_response
from buildsvc.web.responses.replication import ReplicationOut, ReplicationRuleOut

routes = web.RouteTableDef()

RULES = "/api/v1/repositories/{repository_id}/replication-rules"
RULE = RULES + "/{rule_id}"


class DeletedRuleOut(BaseModel):
    id: int
    deleted: bool


class RunOut(BaseModel):
    planned: int  # tags the rule's filter matched
    queued: int  # of which jobs are on the queue (the rest stay pending: Redis was down)


def _ids(request: web.Request) -> tuple[int, int]:
    return request[ACCOUNT_ID], path_id(request, "repository_id", "Image repository")


def _rule_id(request: web.Request) -> int:
    return path_id(request, "rule_id", "Replication rule")


def _policy(request: web.Request) -> AddressPolicy:
    return AddressPolicy.from_cidrs(request.app[SETTINGS].allowed_source_networks)


@routes.post(RULES)
@describe(
    "Create a replication rule", body=ReplicationRuleIn, response=ReplicationRuleOut, status=201
)
async def create_rule(request: web.Request) -> web.Response:
    account_id, repository_id = _ids(request)
    spec = await json_body(request, ReplicationRuleIn)
    rule = await service.create_rule(
        request.app[SESSIONMAKER],
        request.app[CIPHER],
        _policy(request),
        account_id,
        repository_id,
        spec,
    )
    return json_response(ReplicationRuleOut.from_rule(rule), status=201)


@routes.get(RULES)
@describe(
    "Replication rules covering the repository (its own and its namespace's)",
    response=Page[ReplicationRuleOut],
    paginated=True,
)
async def list_rules(request: web.Request) -> web.Response:
    account_id, repository_id = _ids(request)
    page = page_request(request)
    rules = await service.list_rules(request.app[SESSIONMAKER], account_id, repository_id)
    shown = rules[page.offset : page.offset + page.limit]
    return paginated_response(
        request, [ReplicationRuleOut.from_rule(r) for r in shown], len(rules), page
    )


@routes.patch(RULE)
@describe("Change a replication rule", body=ReplicationRulePatch, response=ReplicationRuleOut)
async def update_rule(request: web.Request) -> web.Response:
    account_id, repository_id = _ids(request)
    patch = await json_body(request, ReplicationRulePatch)
    rule = await service.update_rule(
        request.app[SESSIONMAKER],
        request.app[CIPHER],
        _policy(request),
        account_id,
        repository_id,
        _rule_id(request),
        patch,
    )
    return json_response(ReplicationRuleOut.from_rule(rule))


@routes.delete(RULE)
@describe("Delete a replication rule (its status rows go with it)", response=DeletedRuleOut)
async def delete_rule(request: web.Request) -> web.Response:
    account_id, repository_id = _ids(request)
    rule_id = _rule_id(request)
    await service.delete_rule(request.app[SESSIONMAKER], account_id, repository_id, rule_id)
    return json_response(DeletedRuleOut(id=rule_id, deleted=True))


@routes.post(RULE + "/run")
@describe(
    "Copy every existing tag the rule's filter matches (a manual run)",
    response=RunOut,
    status=202,
    errors=(502, 503),
)
async def run_rule(request: web.Request) -> web.Response:
    account_id, repository_id = _ids(request)
    done = await manual.run_rule(
        request.app[SESSIONMAKER],
        request.app[SETTINGS],
        await request.app[ARQ].get(),
        account_id,
        repository_id,
        _rule_id(request),
    )
    return json_response(RunOut(planned=done.planned, queued=done.queued), status=202)


@routes.get("/api/v1/repositories/{repository_id}/replications")
@describe("Status per tag and destination", response=Page[ReplicationOut], paginated=True)
async def list_replications(request: web.Request) -> web.Response:
    account_id, repository_id = _ids(request)
    page = page_request(request)
    rows, total = await service.list_replications(
        request.app[SESSIONMAKER], account_id, repository_id, offset=page.offset, limit=page.limit
    )
    return paginated_response(
        request, [ReplicationOut.model_validate(r) for r in rows], total, page
    )
