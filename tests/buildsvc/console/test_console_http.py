"""The console over plain HTTP: sign-in, the session cookie, CSRF, error pages, expiry
warnings and the console's JSON twins (pickers, rule preview)."""

from __future__ import annotations

import datetime as dt
import re

from yarl import URL

from buildsvc.console.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from buildsvc.web import openapi
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    forge_fixture,
    gitlab_fixture,
    served_client,
    served_settings,
)
from webhooks import MAX_JSON_DEPTH

REDIS_DB = 11


async def test_pages_need_a_session_and_json_twins_answer_401(client: Client) -> None:
    page = await client.get("/console/builds?status=failed", allow_redirects=False)
    assert page.status == 303
    location = URL(page.headers["Location"])
    assert location.path == "/console/login"
    assert location.query["next"] == "/console/builds?status=failed"
    api = await client.get("/console/api/sources/gitlab/namespaces")
    assert api.status == 401
    assert (await api.json())["error"]["code"] == "UNAUTHENTICATED"


async def test_session_cookie_is_httponly_strict_and_holds_no_plain_token(
    client: Client, account: AccountInfo
) -> None:
    form = await (await client.get("/console/login")).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    login = await client.post(
        "/console/login",
        data={"csrf_token": csrf.group(1), "token": account.token},
        allow_redirects=False,
    )
    [cookie] = [c for c in login.headers.getall("Set-Cookie") if c.startswith(SESSION_COOKIE)]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attributes
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert account.token not in cookie
    assert account.token[4:] not in cookie
    page = await client.get("/console/sources")
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["Cache-Control"] == "no-store"


async def test_login_form_needs_its_csrf_cookie(client: Client, account: AccountInfo) -> None:
    response = await client.post(
        "/console/login", data={"csrf_token": "forged", "token": account.token}
    )
    assert response.status == 403
    assert "The form expired" in await response.text()
    assert LOGIN_CSRF_COOKIE  # the cookie the real form sets (see sign_in)


async def test_forms_without_the_csrf_token_are_refused(
    client: Client, account: AccountInfo
) -> None:
    await sign_in(client, account.token)
    response = await client.post("/console/sources/gitlab/unbind", data={"csrf_token": "nope"})
    assert response.status == 403
    html = await response.text()
    assert "CSRF_FAILED" in html
    assert html.lstrip().startswith("<!doctype html>")  # an HTML error page, not JSON


async def test_repository_url_and_expiry_warning_on_the_code_source_page(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf = await sign_in(client, account.token)
    wrong_url = await client.post(
        "/console/sources/gitlab/bind",
        data={
            "csrf_token": csrf,
            "url": f"{gitlab.forge.url}/acme/app.git",
            "username": "alice",
            "token": gitlab.token,
        },
    )
    assert wrong_url.status == 400
    html = await wrong_url.text()
    assert "root URL" in html
    assert 'id="bind-error"' in html
    assert gitlab.token not in html

    soon = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)).isoformat()
    expiring = gitlab.forge.admin.create_token("alice", ["api"], soon)
    bound = await client.post(
        "/console/sources/gitlab/bind",
        data={"csrf_token": csrf, "url": gitlab.forge.url, "username": "alice", "token": expiring},
    )
    assert bound.status == 200
    html = await bound.text()
    assert "GitLab account bound." in html
    assert "expiry-warning" in html
    assert f"The token expires on {soon} (in 5 days)" in html
    assert expiring not in html


async def test_pickers_and_rule_preview(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf = await sign_in(client, account.token)
    await client.post(
        "/console/sources/gitlab/bind",
        data={
            "csrf_token": csrf,
            "url": gitlab.forge.url,
            "username": "alice",
            "token": gitlab.token,
        },
    )
    namespaces = await (await client.get("/console/api/sources/gitlab/namespaces")).json()
    assert "acme" in [n["path"] for n in namespaces["items"]]
    repos = await client.get("/console/api/sources/gitlab/repositories?namespace=acme")
    assert [r["full_path"] for r in (await repos.json())["items"]] == ["acme/app"]

    body = {
        "rules": [
            {"type": "branch", "pattern": "main", "tag": "latest,{short_sha}"},
            {"type": "tag", "pattern": "/v(?P<version>[0-9.]+)/", "tag": "{version}"},
            {"type": "branch", "pattern": "/(unclosed/", "tag": "x"},
        ],
        "refs": ["main", "v1.2.0", "feature/x", "refs/tags/main"],
        "image": "team/app",
    }
    refused = await client.post("/console/api/rules/preview", json=body)
    assert refused.status == 403  # no CSRF header
    answer = await client.post(
        "/console/api/rules/preview", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status == 200
    preview = await answer.json()
    assert "not a valid regular expression" in preview["rules"][2]["error"]
    by_ref = {item["ref"]: item for item in preview["refs"]}
    assert by_ref["main"]["matches"] == [
        {
            "rule": 0,
            "as": "branch",
            "tags": ["127.0.0.1:5000/team/app:latest", "127.0.0.1:5000/team/app:0123456"],
        }
    ]
    assert by_ref["v1.2.0"]["matches"][0]["tags"] == ["127.0.0.1:5000/team/app:1.2.0"]
    assert by_ref["feature/x"]["matches"] == []
    assert by_ref["refs/tags/main"]["matches"] == []  # a tag named main: no tag rule matches


async def test_a_plain_repository_renders_without_a_source(
    client: Client, account: AccountInfo
) -> None:
    created = await client.post(
        "/api/v1/repositories",
        json={"namespace": "plain", "name": "app", "visibility": "public"},
        headers={"Authorization": f"Bearer {account.token}"},
    )
    repository = await created.json()
    await sign_in(client, account.token)
    listing = await client.get("/console/repositories")
    assert listing.status == 200
    assert "none (docker push)" in await listing.text()
    page = await client.get(f"/console/repositories/{repository['id']}")
    text = await page.text()
    assert page.status == 200, text
    assert f"docker push {repository['image']}:TAG" in text
    assert "public" in text


async def test_the_registry_page_sets_a_password_and_shows_a_robot_secret_once(
    client: Client, account: AccountInfo
) -> None:
    csrf = await sign_in(client, account.token)
    claimed = await client.post(
        "/console/registry/namespaces", data={"csrf_token": csrf, "name": "team"}
    )
    assert claimed.status == 200
    assert "Namespace claimed." in await claimed.text()

    mismatch = await client.post(
        "/console/registry/password",
        data={"csrf_token": csrf, "password": "long enough 1", "confirm": "long enough 2"},
    )
    assert mismatch.status == 400
    assert "the two passwords differ" in await mismatch.text()
    done = await client.post(
        "/console/registry/password",
        data={"csrf_token": csrf, "password": "long enough 1", "confirm": "long enough 1"},
    )
    assert "Registry password set." in await done.text()
    assert "long enough 1" not in await done.text()

    created = await client.post(
        "/console/registry/robots",
        data={"csrf_token": csrf, "name": "ci", "permissions": "pull,push team/app\npull team"},
    )
    text = await created.text()
    secret = re.search(r'<code id="secret-value">(bsr_[^<]+)</code>', text)
    assert secret is not None, text
    assert "+ci</code>" in text
    again = await (await client.get("/console/registry")).text()
    assert secret.group(1) not in again  # shown once
    assert "pull,push <code>team/app</code>; pull <code>team</code>" in again

    refused = await client.post(
        "/console/registry/robots",
        data={"csrf_token": csrf, "name": "bad", "permissions": "pull elsewhere"},
    )
    assert refused.status == 400
    assert "INVALID_PERMISSION" in await refused.text()


async def test_the_registry_page_lists_images_with_their_pull_command(
    client: Client, account: AccountInfo
) -> None:
    created = await client.post(
        "/api/v1/repositories",
        json={"namespace": "shown", "name": "app"},
        headers={"Authorization": f"Bearer {account.token}"},
    )
    repository = await created.json()
    csrf = await sign_in(client, account.token)
    page = await (await client.get("/console/registry")).text()
    assert f'id="repository-{repository["id"]}"' in page
    assert "the registry did not answer" in page  # no registry runs in this test
    public = await client.post(
        f"/console/registry/repositories/{repository['id']}/visibility",
        data={"csrf_token": csrf, "visibility": "public"},
    )
    assert "Visibility saved." in await public.text()
    answer = await client.get(
        f"/api/v1/repositories/{repository['id']}",
        headers={"Authorization": f"Bearer {account.token}"},
    )
    assert (await answer.json())["visibility"] == "public"


async def test_console_json_endpoints_refuse_deep_json(
    client: Client, account: AccountInfo
) -> None:
    csrf = await sign_in(client, account.token)
    posts = [
        route.split(" ", 1)[1]
        for route in openapi.hidden_routes(client.app)
        if route.startswith("POST /console/api/")
    ]
    assert posts == ["/console/api/rules/preview"]  # a new one: give it real path ids here
    for body in (b"[" * 100_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000):
        for path in posts:
            answer = await client.post(
                path,
                data=body,
                headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
            )
            assert answer.status == 400, path
            error = (await answer.json())["error"]
            assert error["code"] == "INVALID_JSON"
            assert f"nests deeper than {MAX_JSON_DEPTH} levels" in error["message"]
