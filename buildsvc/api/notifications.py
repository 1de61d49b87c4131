"""Notification targets of an image repository: ``/api/v1/repositories/{id}/notifications``.

A webhook's signing secret is in the answer to ``POST`` only (``secret``); URLs are
answered without what may be secret (``url`` is a display form). ``.../test`` queues a
test delivery and answers it (202): a worker sends it, ``.../deliveries`` shows how.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.notifications import jobs, targets
from buildsvc.notifications.schemas import NotificationCreate, NotificationPatch
from buildsvc.sources import AddressPolicy
from buildsvc.web.jsonio import json_body, json_response, path_id
from buildsvc.web.keys import ACCOUNT_ID, ARQ, CIPHER, SESSIONMAKER, SETTINGS
from buildsvc.web.openapi import describe
from buildsvc.web.pagination import Page, page_request, paginated_response
from buildsvc.web.responses.notifications import NotificationDeliveryOut, NotificationOut

routes = web.RouteTableDef()

BASE = "/api/v1/repositories/{repository_id}/notifications"
ONE = BASE + "/{notification_id}"


class NotificationCreatedOut(NotificationOut):
    secret: str | None  # the webhook signing secret (whsec_...): shown this once


class NotificationDeletedOut(BaseModel):
    id: int
    deleted: bool


def _access(request: web.Request) -> targets.NotificationAccess:
    app = request.app
    policy = AddressPolicy.from_cidrs(app[SETTINGS].allowed_source_networks)
    return targets.NotificationAccess(app[SESSIONMAKER], app[CIPHER], policy)


def _ids(request: web.Request) -> tuple[int, int]:
    return (
        path_id(request, "repository_id", "Image repository"),
        path_id(request, "notification_id", "Notification target"),
    )


@routes.post(BASE)
@describe(
    "Add a notification target (webhook or Slack); a webhook's secret is answered once",
    body=NotificationCreate,
    response=NotificationCreatedOut,
    status=201,
)
async def create(request: web.Request) -> web.Response:
    repository_id = path_id(request, "repository_id", "Image repository")
    spec = await json_body(request, NotificationCreate)
    made = await targets.create(_access(request), request[ACCOUNT_ID], repository_id, spec)
    out = NotificationOut.of(made.target).model_dump()
    return json_response(NotificationCreatedOut(**out, secret=made.secret), status=201)


@routes.get(BASE)
@describe("The repository's notification targets", response=Page[NotificationOut], paginated=True)
async def list_targets(request: web.Request) -> web.Response:
    repository_id = path_id(request, "repository_id", "Image repository")
    page = page_request(request)
    found, total = await targets.list_targets(
        _access(request), request[ACCOUNT_ID], repository_id, offset=page.offset, limit=page.limit
    )
    return paginated_response(request, [NotificationOut.of(t) for t in found], total, page)


@routes.get(ONE)
@describe("One notification target, disabled or not (and why)", response=NotificationOut)
async def get(request: web.Request) -> web.Response:
    target = await targets.get(_access(request), request[ACCOUNT_ID], *_ids(request))
    return json_response(NotificationOut.of(target))


@routes.patch(ONE)
@describe(
    "Change a target; enabled=true re-enables one disabled after failing",
    body=NotificationPatch,
    response=NotificationOut,
)
async def update(request: web.Request) -> web.Response:
    patch = await json_body(request, NotificationPatch)
    target = await targets.update_target(
        _access(request), request[ACCOUNT_ID], *_ids(request), patch
    )
    return json_response(NotificationOut.of(target))


@routes.delete(ONE)
@describe("Delete a notification target and its deliveries", response=NotificationDeletedOut)
async def delete(request: web.Request) -> web.Response:
    repository_id, target_id = _ids(request)
    await targets.delete(_access(request), request[ACCOUNT_ID], repository_id, target_id)
    return json_response(NotificationDeletedOut(id=target_id, deleted=True))


@routes.post(ONE + "/test")
@describe(
    "Send a test notification (by a worker; see the deliveries)",
    response=NotificationDeliveryOut,
    status=202,
)
async def send_test(request: web.Request) -> web.Response:
    repository_id, target_id = _ids(request)
    delivery = await targets.send_test(
        _access(request), request[ACCOUNT_ID], repository_id, target_id
    )
    await jobs.enqueue_soon(await request.app[ARQ].get(), target_id)
    return json_response(NotificationDeliveryOut.of(delivery), status=202)


@routes.get(ONE + "/deliveries")
@describe(
    "A target's deliveries, newest first, with each one's last response code and time",
    response=Page[NotificationDeliveryOut],
    paginated=True,
)
async def deliveries(request: web.Request) -> web.Response:
    page = page_request(request)
    items, total = await targets.deliveries(
        _access(request), request[ACCOUNT_ID], *_ids(request), offset=page.offset, limit=page.limit
    )
    return paginated_response(request, [NotificationDeliveryOut.of(d) for d in items], total, page)
