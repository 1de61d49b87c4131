"""``GET /badges/{repository_id}/{rule_id}.svg?key=``: no token, and nothing revealed
without the key: a wrong key gets exactly what a missing repository gets."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from yarl import URL

from buildsvc.repositories.badges import badge_key
from buildsvc.web.keys import CIPHER, SESSIONMAKER
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo, add_build, add_repository, build_rule

Client = TestClient[Any, Any]
SECRET = "hook-secret-of-the-test"


async def _repository(client: Client, account: AccountInfo) -> tuple[int, int]:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(
            session,
            account.id,
            namespace="private-team",
            name="secret-app",
            hook_secret_encrypted=client.app[CIPHER].encrypt(SECRET),
            rules=[build_rule()],
        )
        rule_id = repository.rules[0].id
        await add_build(session, account.id, repository.id, rule_id=rule_id, status="failed")
        await add_build(session, account.id, repository.id, rule_id=rule_id, status="succeeded")
        return repository.id, rule_id


async def _badge(client: Client, path: str) -> tuple[int, dict[str, str], str]:
    response = await client.get(path)  # no Authorization header
    kept = ("Content-Type", "Cache-Control", "Content-Security-Policy")
    headers = {name: response.headers.get(name, "") for name in kept}
    return response.status, headers, await response.text()


async def test_the_key_shows_the_newest_status_without_a_token(
    client: Client, account: AccountInfo
) -> None:
    repository_id, rule_id = await _repository(client, account)
    key = badge_key(SECRET, rule_id)

    status, headers, svg = await _badge(client, f"/badges/{repository_id}/{rule_id}.svg?key={key}")

    assert status == 200
    assert headers["Content-Type"].startswith("image/svg+xml")
    assert re.fullmatch(r"max-age=\d{1,3}, must-revalidate", headers["Cache-Control"])
    assert "<title>build: succeeded</title>" in svg
    assert "secret-app" not in svg
    assert "private-team" not in svg


async def test_a_wrong_key_answers_as_a_missing_repository(
    client: Client, account: AccountInfo
) -> None:
    repository_id, rule_id = await _repository(client, account)
    wrong_key = badge_key("another-secret", rule_id)
    other_rule = badge_key(SECRET, rule_id + 1)

    answers = [
        await _badge(client, f"/badges/{repository_id}/{rule_id}.svg?key={wrong_key}"),
        await _badge(client, f"/badges/{repository_id}/{rule_id}.svg"),
        await _badge(client, f"/badges/{repository_id}/{rule_id + 1}.svg?key={other_rule}"),
        await _badge(client, f"/badges/{repository_id + 999}/{rule_id}.svg?key={wrong_key}"),
        await _badge(client, f"/badges/{repository_id}/{rule_id}.svg?key=%C3%A9"),
    ]

    assert all(answer == answers[0] for answer in answers)
    assert "<title>build: unknown</title>" in answers[0][2]


async def test_the_repository_page_gives_each_rule_its_badge_url(
    client: Client, account: AccountInfo
) -> None:
    repository_id, rule_id = await _repository(client, account)
    await sign_in(client, account.token)

    page = await (await client.get(f"/console/repositories/{repository_id}")).text()

    found = re.search(rf'id="badge-url-{rule_id}" type="text" readonly value="([^"]+)"', page)
    assert found is not None
    url = URL(found.group(1))
    client.session.cookie_jar.clear()  # signed out: the URL alone shows the status
    _, _, svg = await _badge(client, url.path_qs)
    assert "<title>build: succeeded</title>" in svg
