"""``POST /api/v1/repositories/{id}/rules/preview`` against a real forge (forgesim GitLab):
which rules a ref triggers and the exact images each would push, without building."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.common.forge_env import ForgeEnv, bind, call, deliveries, link, make_forge_env
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    served_client,
    served_settings,
)

REDIS_DB = 1
RULES = [
    {"type": "branch", "pattern": "main", "tag": "latest,{branch}-{short_sha}"},
    {"type": "branch", "pattern": "/release-.+/", "tag": "{branch}"},
    {"type": "tag", "pattern": r"/v(?P<version>\d+\.\d+)/", "tag": "{version},stable"},
]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ForgeEnv]:
    with make_forge_env("gitlab", tmp_path / "forge") as made:
        yield made


@pytest.fixture
async def repo(client: Client, auth_headers: dict[str, str], env: ForgeEnv) -> dict[str, Any]:
    await bind(client, auth_headers, env)
    return await link(client, auth_headers, env, rules=RULES)


async def preview(
    client: Client, headers: dict[str, str], repo: dict[str, Any], **body: Any
) -> tuple[int, Any]:
    path = f"/api/v1/repositories/{repo['id']}/rules/preview"
    return await call(client, headers, "POST", path, body)


async def test_a_pushed_branch_previews_the_exact_tags_its_push_builds(
    client: Client,
    auth_headers: dict[str, str],
    env: ForgeEnv,
    repo: dict[str, Any],
    tmp_path: Path,
) -> None:
    sha = await asyncio.to_thread(env.push, tmp_path / "work")
    status, found = await preview(client, auth_headers, repo, ref="main")
    assert status == 200, found
    image = repo["image"]
    assert found["image"] == image
    as_branch, as_tag = found["refs"]
    assert (as_branch["ref"], as_branch["commit"], as_branch["exact"]) == (
        "refs/heads/main",
        sha,
        True,
    )
    [hit] = as_branch["matches"]
    assert hit["rule_id"] == repo["rules"][0]["id"]
    assert hit["tags"] == [f"{image}:latest", f"{image}:main-{sha[:7]}"]
    assert (as_tag["ref"], as_tag["matches"]) == ("refs/tags/main", [])

    # What the real push queued is exactly that.
    [delivery] = await deliveries(client, auth_headers, repo["id"], 1)
    _, build = await call(client, auth_headers, "GET", f"/api/v1/builds/{delivery['build_ids'][0]}")
    assert build["tags"] == hit["tags"]


async def test_a_tag_not_pushed_yet_renders_with_a_sample_commit(
    client: Client, auth_headers: dict[str, str], repo: dict[str, Any]
) -> None:
    status, found = await preview(client, auth_headers, repo, ref="refs/tags/v2.1")
    assert status == 200, found
    [as_tag] = found["refs"]
    assert (as_tag["commit"], as_tag["exact"]) == (None, False)
    assert "refs/tags/v2.1 does not exist on the forge yet" in as_tag["error"]
    assert as_tag["matches"][0]["tags"] == [f"{repo['image']}:2.1", f"{repo['image']}:stable"]


async def test_unsaved_rules_and_a_given_commit(
    client: Client, auth_headers: dict[str, str], repo: dict[str, Any]
) -> None:
    rules = [
        {"type": "branch", "pattern": "/feature/.+/", "tag": "{branch}-{short_sha}"},
        {"type": "branch", "pattern": "/feature/(?P<topic>.+)/", "include_paths": ["src/"]},
    ]
    status, found = await preview(
        client, auth_headers, repo, ref="feature/login", rules=rules, sha="a" * 40
    )
    assert status == 200, found
    as_branch = found["refs"][0]
    assert (as_branch["commit"], as_branch["exact"], as_branch["error"]) == ("a" * 40, True, None)
    assert [(m["rule_id"], m["index"], m["tags"]) for m in as_branch["matches"]] == [
        (None, 0, [f"{repo['image']}:feature-login-aaaaaaa"]),
        (None, 1, [f"{repo['image']}:feature-login"]),
    ]
    assert as_branch["matches"][1]["include_paths"] == ["src/"]
    # Nothing was saved.
    _, stored = await call(client, auth_headers, "GET", f"/api/v1/repositories/{repo['id']}")
    assert [r["pattern"] for r in stored["rules"]] == [r["pattern"] for r in RULES]


async def test_no_forge_answer_still_previews(
    client: Client, auth_headers: dict[str, str], repo: dict[str, Any]
) -> None:
    status, _ = await call(client, auth_headers, "DELETE", "/api/v1/sources/gitlab")
    assert status == 200
    status, found = await preview(client, auth_headers, repo, ref="release-1")
    assert status == 200, found
    as_branch = found["refs"][0]
    assert as_branch["error"].startswith("SOURCE_NOT_BOUND")
    assert as_branch["matches"][0]["tags"] == [f"{repo['image']}:release-1"]


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"ref": "refs/merge-requests/1/head"}, "INVALID_REF", "ref: a branch or tag name"),
        (
            {"ref": "main", "rules": [{"type": "branch", "pattern": "/v(/"}]},
            "INVALID_RULE",
            "rules[0].",
        ),
        ({"ref": "main", "sha": "abc"}, "VALIDATION_ERROR", "sha:"),
        ({"ref": ""}, "VALIDATION_ERROR", "ref:"),
    ],
)
async def test_bad_input_is_400(
    client: Client,
    auth_headers: dict[str, str],
    repo: dict[str, Any],
    body: dict[str, Any],
    code: str,
    detail: str,
) -> None:
    status, found = await preview(client, auth_headers, repo, **body)
    assert status == 400, found
    assert found["error"]["code"] == code
    assert found["error"]["detail"].startswith(detail), found


async def test_another_accounts_repository_is_404(
    client: Client, make_account: Any, repo: dict[str, Any]
) -> None:
    other = await make_account()
    headers = {"Authorization": f"Bearer {other.token}"}
    status, found = await preview(client, headers, repo, ref="main")
    assert (status, found["error"]["code"]) == (404, "REPOSITORY_NOT_FOUND")


async def test_a_glob_tag_rule_matches_and_a_regex_that_matches_nothing_is_flagged(
    client: Client, auth_headers: dict[str, str], repo: dict[str, Any]
) -> None:
    rules = [{"type": "tag", "pattern": "v*"}, {"type": "tag", "pattern": "/v*/"}]
    status, found = await preview(client, auth_headers, repo, ref="v1.0", rules=rules)
    assert status == 200, found
    _, as_tag = found["refs"]
    assert [hit["index"] for hit in as_tag["matches"]] == [0]
    [warning] = found["warnings"]
    assert warning.startswith("rules[1]: the tag pattern '/v*/' matches none")
    assert "(v1.0, v1, " in warning  # the ref asked about is one of the samples
