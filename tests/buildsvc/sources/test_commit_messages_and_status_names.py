"""Every adapter against forgesim: a commit's message (what skip markers need when a push
payload carries none), and commit statuses under names of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from buildsvc.errors import SourceErrorResponse, SourceUnreachable
from buildsvc.sources import SourceClient
from tests.buildsvc.sources.conftest import ForgeWorld, World, run_git
from tests.common.forge_env import ForgeEnv

MESSAGE = "Fix typo [skip ci]\n\nThe body says more."
URL = "http://ci.example/console/builds/{}"
# A rule's name (builds.status_context) and one longer than Bitbucket's 40-character keys.
SHORT = "buildsvc/team/app:latest (branch main)"
LONG = "buildsvc/team/app:{branch}-{short_sha} (branch /feature-.+/)"


@dataclass
class Opened:
    env: ForgeEnv  # reads the forge's REST API as alice
    client: SourceClient
    remote: str  # git URL with the credentials the worker would use


@pytest.fixture(params=["gitlab", "github", "bitbucket", "bitbucket-server"])
async def opened(
    request: pytest.FixtureRequest,
    make_world: Callable[..., World],
    make_forge: Callable[..., ForgeWorld],
) -> Opened:
    world: World | ForgeWorld = (
        make_world() if request.param == "gitlab" else make_forge(request.param)
    )
    repo = world.repo if isinstance(world, ForgeWorld) else "acme/app"
    binding, credentials = await world.bind()
    user, password = world.provider.git_credentials(binding, credentials)
    namespace = repo.split("/")[0]
    return Opened(
        ForgeEnv(request.param, world.forge, "alice", world.token, namespace, repo),
        world.provider.client(binding, credentials),
        world.forge.git_url_with_token(repo, password, username=user),
    )


async def pushed(opened: Opened, work: Path, message: str = MESSAGE) -> str:
    def push() -> str:
        work.mkdir()
        run_git("init", "-q", "-b", "main", cwd=work)
        run_git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
        run_git("push", "-q", opened.remote, "main", cwd=work)
        opened.env.forge.admin.wait_idle()  # the forge has taken the push in
        return run_git("rev-parse", "HEAD", cwd=work)

    return await asyncio.to_thread(push)


async def test_a_commit_message_is_read_whole(opened: Opened, tmp_path: Path) -> None:
    sha = await pushed(opened, tmp_path / "work")
    message = await opened.client.commit_message(opened.env.repository, sha)
    assert message.rstrip("\n") == MESSAGE


async def test_an_unknown_commit_is_an_error_response(opened: Opened, tmp_path: Path) -> None:
    await pushed(opened, tmp_path / "work")
    with pytest.raises(SourceErrorResponse) as info:
        await opened.client.commit_message(opened.env.repository, "0" * 40)
    assert "no commit 0000000000000000000000000000000000000000 in" in str(info.value.detail)


async def test_lookup_failures_map_like_every_call(opened: Opened, tmp_path: Path) -> None:
    sha = await pushed(opened, tmp_path / "work")
    admin = opened.env.forge.admin
    admin.set_fault(path_regex=f"/commits?/{sha}$", status=503, body='{"message": "down"}')
    with pytest.raises(SourceErrorResponse) as answered:
        await opened.client.commit_message(opened.env.repository, sha)
    assert "answered 503" in str(answered.value.detail)
    admin.clear_faults()
    admin.set_fault(path_regex=f"/commits?/{sha}$", reset=True)
    with pytest.raises(SourceUnreachable):
        await opened.client.commit_message(opened.env.repository, sha)


async def test_statuses_of_two_names_stay_apart(opened: Opened, tmp_path: Path) -> None:
    sha = await pushed(opened, tmp_path / "work", "change")
    repo = opened.env.repository
    for name, state, build in ((SHORT, "pending", 1), (LONG, "running", 2), (SHORT, "success", 1)):
        await opened.client.set_commit_status(
            repo, sha, state, context=name, target_url=URL.format(build), description=state
        )
    shown = {
        "gitlab": ("success", "running"),
        "github": ("success", "pending"),  # GitHub has no "running"
        "bitbucket": ("SUCCESSFUL", "INPROGRESS"),
        "bitbucket-server": ("SUCCESSFUL", "INPROGRESS"),
    }[opened.env.provider]
    named = await asyncio.to_thread(opened.env.named_statuses, sha)
    assert named == {
        SHORT: (shown[0], "success", URL.format(1)),
        LONG: (shown[1], "running", URL.format(2)),
    }
