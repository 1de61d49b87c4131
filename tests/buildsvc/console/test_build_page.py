"""One build's page over plain HTTP: the log before the details, Cancel that asks first
and then reads "cancelled by", and the image panel (tags, digest, size, pull command)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from buildsvc.console.render import size
from buildsvc.web.keys import SESSIONMAKER
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo, add_build, add_repository

Client = TestClient[Any, Any]
DIGEST = "sha256:" + "ab" * 32


async def _build(client: Client, account: AccountInfo, **fields: Any) -> int:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id, name="web")
        build = await add_build(session, account.id, repository.id, **fields)
        return build.id


async def test_cancel_asks_first_then_reads_cancelled_by(
    client: Client, account: AccountInfo
) -> None:
    csrf = await sign_in(client, account.token)
    build_id = await _build(client, account, status="building")

    asked = await client.post(f"/console/builds/{build_id}/cancel", data={"csrf_token": csrf})
    page = await asked.text()
    assert asked.status == 200
    assert 'id="confirm-cancel"' in page
    assert '<span class="badge status-building" id="build-status">' in page  # still running

    done = await client.post(
        f"/console/builds/{build_id}/cancel", data={"csrf_token": csrf, "confirmed": "yes"}
    )
    page = await done.text()
    assert '<span class="badge status-cancelled" id="build-status">' in page
    assert (
        'Cancelled by <span id="cancelled-by">alice (token default) in the console</span>' in page
    )
    failure = page.split('id="build-failure"', 1)[1].split("</div>", 1)[0]
    assert "hidden" in failure.split(">", 1)[0]  # no red error box for a cancel
    assert "BUILD_CANCELLED" not in failure


async def test_the_log_comes_before_the_details(client: Client, account: AccountInfo) -> None:
    await sign_in(client, account.token)
    build_id = await _build(client, account, status="building")

    page = await (await client.get(f"/console/builds/{build_id}")).text()

    assert page.index('id="log"') < page.index('id="image"') < page.index('id="phases"')


async def test_image_panel_has_tags_digest_size_and_pull_command(
    client: Client, account: AccountInfo
) -> None:
    await sign_in(client, account.token)
    tag = "127.0.0.1:5000/team/web:latest"
    build_id = await _build(
        client, account, status="succeeded", tags=[tag], digest=DIGEST, image_size=2_345_678
    )

    page = await (await client.get(f"/console/builds/{build_id}")).text()

    panel = page.split('id="image"', 1)[1].split("</section>", 1)[0]
    assert f"<code>{tag}</code>" in panel
    assert f'<code id="build-digest">{DIGEST}</code>' in panel
    assert '<dd id="build-size">2.3 MB</dd>' in panel
    assert f'value="docker pull {tag}"' in panel
    assert 'data-copy="pull-command"' in panel


def test_sizes_read_as_docker_shows_them() -> None:
    assert size(None) == "\N{EN DASH}"
    assert size(999) == "999 B"
    assert size(1_500) == "1.5 kB"
    assert size(7_300_000_000) == "7.3 GB"
