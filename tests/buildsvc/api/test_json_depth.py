"""JSON nested too deep is 400 ``INVALID_JSON`` on every operation that takes a body.

The operations come from the OpenAPI document itself, so a new one is covered the day
it is described. Path ids name real rows and webhooks carry a valid secret, so it is
the body that is refused, not the id or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from buildsvc.store.models import NotificationTarget, ReplicationRule
from buildsvc.web.keys import CIPHER, SESSIONMAKER
from tests.common.factories import AccountInfo, add_build, add_repository
from tests.common.gitlab_env import Client
from webhooks import MAX_JSON_DEPTH

SECRET = "hook-secret-for-depth-tests"
DEEP_BODIES = {
    "100000 arrays": b"[" * 100_000,
    "5000 objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "one level too many": b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
}
WEBHOOK_EVENTS = {
    "github": {"X-GitHub-Event": "push"},
    "gitlab": {"X-Gitlab-Event": "Push Hook"},
    "bitbucket": {"X-Event-Key": "repo:push"},
    "bitbucket-server": {"X-Event-Key": "repo:refs_changed"},
}


async def linked_repository(client: Client, account_id: int, provider: str) -> dict[str, str]:
    """Path parameters naming a repository of ``provider`` (with a hook) and its build."""
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(
            session,
            account_id,
            provider=provider,
            hook_secret_encrypted=client.app[CIPHER].encrypt(SECRET),
        )
        build = await add_build(session, account_id, repository.id)
        target = NotificationTarget(
            repository_id=repository.id,
            kind="webhook",
            url_encrypted=client.app[CIPHER].encrypt("http://127.0.0.1:9/hook"),
            url_display="http://127.0.0.1:9/hook",
            secret_encrypted=None,
            events=[],
        )
        session.add(target)
        rule = ReplicationRule(
            account_id=account_id,
            repository_id=repository.id,
            namespace="depth",
            destination_url="http://127.0.0.1:9",
            tag_filter="/.+/",
        )
        session.add(rule)
        await session.flush()
    return {
        "rule_id": str(rule.id),
        "notification_id": str(target.id),
        "repository_id": str(repository.id),
        "build_id": str(build.id),
        "provider": provider,
        "hook_key": repository.hook_key,
    }


def signed(provider: str, body: bytes) -> dict[str, str]:
    """The headers with which ``provider`` delivers ``body`` for a hook holding SECRET."""
    if provider == "gitlab":
        return {**WEBHOOK_EVENTS[provider], "X-Gitlab-Token": SECRET}
    digest = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    header = "X-Hub-Signature-256" if provider == "github" else "X-Hub-Signature"
    return {**WEBHOOK_EVENTS[provider], header: digest}


def assert_invalid_json(status: int, answer: dict[str, Any], what: str) -> None:
    assert status == 400, (what, answer)
    assert answer["error"]["code"] == "INVALID_JSON", (what, answer)
    assert f"nests deeper than {MAX_JSON_DEPTH} levels" in answer["error"]["message"]


@pytest.mark.parametrize("name", DEEP_BODIES)
async def test_every_operation_with_a_body_refuses_deep_json(
    client: Client, account: AccountInfo, auth_headers: dict[str, str], name: str
) -> None:
    params = await linked_repository(client, account.id, "gitlab")
    spec = await (await client.get("/api/v1/openapi.json")).json()
    body = DEEP_BODIES[name]
    tried = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            url = path.format(**params, name="nobody")  # a namespace or robot: none needed
            headers = {"Content-Type": "application/json"}
            if url.startswith("/webhooks/"):
                headers |= signed(params["provider"], body)
            else:
                headers |= auth_headers
            response = await client.request(method, url, data=body, headers=headers)
            assert_invalid_json(response.status, await response.json(), f"{method} {path}")
            tried.append(f"{method.upper()} {path}")
    assert {
        "POST /api/v1/sources",
        "POST /api/v1/repositories",
        "PATCH /api/v1/repositories/{repository_id}",
        "POST /api/v1/repositories/{repository_id}/builds",
        "POST /api/v1/repositories/{repository_id}/rules/preview",
        "POST /webhooks/{provider}/{hook_key}",
    } <= set(tried)


@pytest.mark.parametrize("name", DEEP_BODIES)
@pytest.mark.parametrize("provider", WEBHOOK_EVENTS)
async def test_every_webhook_provider_refuses_deep_json(
    client: Client, account: AccountInfo, provider: str, name: str
) -> None:
    params = await linked_repository(client, account.id, provider)
    body = DEEP_BODIES[name]
    response = await client.post(
        f"/webhooks/{provider}/{params['hook_key']}", data=body, headers=signed(provider, body)
    )
    assert_invalid_json(response.status, await response.json(), provider)


async def test_a_deep_github_form_payload_is_refused(client: Client, account: AccountInfo) -> None:
    params = await linked_repository(client, account.id, "github")
    body = b"payload=" + b"%5B" * 100_000
    headers = signed("github", body) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(
        f"/webhooks/github/{params['hook_key']}", data=body, headers=headers
    )
    assert_invalid_json(response.status, await response.json(), "github form")


async def test_json_at_the_limit_reaches_validation(
    client: Client, auth_headers: dict[str, str]
) -> None:
    body = b'{"a":' * (MAX_JSON_DEPTH - 1) + b"1" + b"}" * (MAX_JSON_DEPTH - 1)
    response = await client.post("/api/v1/repositories", data=body, headers=auth_headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "VALIDATION_ERROR"
