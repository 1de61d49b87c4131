"""Every forge, end to end through the real stack: bind through the REST API, pick the
namespace and repository with the pickers, link, a real ``git push``, the image in the
registry, and the build's commit status seen on the forge.

GitLab is the stack's own forgesim; GitHub, Bitbucket Cloud and Bitbucket Server each
get a forgesim of their own, bound to the same account. Bitbucket Server's push payload
carries no clone URL: the build clones from the repository's stored one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.common.e2e_stack import ROOT, Stack
from tests.common.forge_env import ForgeEnv, make_forge_env
from tests.common.registry_http import registry_image

pytestmark = pytest.mark.e2e
HELLO = ROOT / "examples" / "hello"
SUCCESS = {
    "gitlab": "success",
    "github": "success",
    "bitbucket": "SUCCESSFUL",
    "bitbucket-server": "SUCCESSFUL",
}
Pusher = Callable[[], str]


@pytest.fixture(scope="module")
def other_forges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ForgeEnv]]:
    root = tmp_path_factory.mktemp("forges")
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(make_forge_env(name, root / name))
            for name in ("github", "bitbucket", "bitbucket-server")
        }


def hello_files() -> dict[str, str]:
    return {
        str(path.relative_to(HELLO)): path.read_text()
        for path in HELLO.rglob("*")
        if path.is_file()
    }


def forge_for(
    stack: Stack, forges: dict[str, ForgeEnv], provider: str, work: Path
) -> tuple[ForgeEnv, Pusher]:
    """The forge to use and how to push the example to it, bound to the stack's account."""
    if provider == "gitlab":  # the stack binds its own GitLab at start
        project = stack.new_project()
        env = ForgeEnv("gitlab", stack.forge, "alice", stack.forge_token, "acme", project.full_path)
        return env, lambda: stack.push(project, HELLO, message="hello from gitlab")
    env = forges[provider]
    stack.call("POST", "/api/v1/sources", env.bind_body(), expect=201)
    return env, lambda: env.push(work, hello_files(), message=f"hello from {provider}")


def final_statuses(env: ForgeEnv, sha: str, provider: str) -> list[tuple[str, str | None]]:
    deadline = time.monotonic() + 30
    while True:
        found = env.statuses(sha)
        if (found and found[0][0] == SUCCESS[provider]) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.parametrize("provider", ["gitlab", "github", "bitbucket", "bitbucket-server"])
def test_bind_pick_link_push_build_and_report(
    stack: Stack,
    other_forges: dict[str, ForgeEnv],
    provider: str,
    tmp_path: Path,
) -> None:
    env, push = forge_for(stack, other_forges, provider, tmp_path / "work")
    listed = stack.call("GET", f"/api/v1/sources/{provider}/namespaces?per_page=100")
    assert env.namespace in [n["path"] for n in listed["items"]]
    path = f"/api/v1/sources/{provider}/repositories?namespace={env.namespace}&per_page=100"
    [picked] = [r for r in stack.call("GET", path)["items"] if r["full_path"] == env.repository]
    rules: list[dict[str, Any]] = [
        {"type": "branch", "pattern": "main", "tag": "latest,{short_sha}"}
    ]
    body = {
        "namespace": "e2e",
        "name": f"{provider}-{secrets.token_hex(3)}",
        "source": {"provider": provider, "repository": picked["full_path"]},
        "rules": rules,
    }
    repository = stack.call("POST", "/api/v1/repositories", body, expect=201)

    sha = push()
    build = stack.wait_status(stack.wait_new_build(repository["id"]))
    assert build["status"] == "succeeded", build
    assert (build["commit_sha"], build["trigger"]) == (sha, "push")
    assert build["tags"] == [f"{repository['image']}:latest", f"{repository['image']}:{sha[:7]}"]
    for tag in build["tags"]:
        assert registry_image(stack.services, tag).digest == build["digest"]

    statuses = final_statuses(env, sha, provider)
    page = f"{stack.api_url}/console/builds/{build['id']}"
    assert statuses[0] == (SUCCESS[provider], page), statuses
    assert all(state in ("pending", "running") for state, _ in statuses[1:]), statuses
    assert build["status_note"] is None
    seen = stack.call("GET", f"/api/v1/repositories/{repository['id']}")
    assert (seen["hook"]["exists"], seen["hook"]["enabled"]) == (True, True)
    assert seen["last_delivery"]["outcome"] == "queued 1 build"
