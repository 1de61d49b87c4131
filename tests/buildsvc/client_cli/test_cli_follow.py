"""``buildsvc builds start|logs --follow``: live log and exit codes, through a real worker,
Docker engine and registry, after a real ``git push`` to forgesim."""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import Popen

import pytest
import requests
from click.testing import Result

from buildsvc.client_cli.exit_codes import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK
from tests.buildsvc.client_cli.conftest import CliStack, bind_and_link
from tests.common.api_stack import push_example, wait_for

pytestmark = pytest.mark.e2e

Cli = Callable[..., Result]
SLOW_DOCKERFILE = "FROM buildsvc/busybox:latest\nRUN echo sleeping && sleep 60\n"
BROKEN_DOCKERFILE = "FROM buildsvc/busybox:latest\nRUN echo about to fail && exit 3\n"


def _status(stack: CliStack, build_id: int) -> str:
    response = requests.get(
        f"{stack.url}/api/v1/builds/{build_id}",
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=10,
    )
    return str(response.json()["status"])


def test_follow_a_successful_build_exits_0_with_log_and_summary(
    cli: Cli, cli_stack: CliStack
) -> None:
    bind_and_link(cli, cli_stack, "team/hello", "acme/app")
    sha = push_example(cli_stack.forge, cli_stack.forge_token, "acme/app", cli_stack.root / "app")

    result = cli("builds", "start", "team/hello", "--ref", "main", "--follow")

    assert result.exit_code == EXIT_OK, result.output
    assert "built from the test" in result.stdout  # a line of the docker build, streamed
    assert "succeeded" in result.stderr
    assert "digest: sha256:" in result.stderr
    assert f"{cli_stack.server.settings.registry}/team/hello:latest" in result.stderr

    builds = json.loads(cli("builds", "list", "--repo", "team/hello", "--json").stdout)
    build = builds["items"][0]
    assert build["commit_sha"] == sha
    assert build["status"] == "succeeded"
    assert build["trigger"] == "api"

    log = cli("builds", "logs", str(build["id"]))
    assert log.exit_code == 0
    assert "built from the test" in log.stdout

    again = cli("builds", "logs", str(build["id"]), "--follow", "--json")
    assert again.exit_code == EXIT_OK  # a finished build: the stored log, then the end
    assert json.loads(again.stdout)["digest"] == build["digest"]


def test_follow_a_failing_build_exits_3_with_the_error(cli: Cli, cli_stack: CliStack) -> None:
    bind_and_link(cli, cli_stack, "team/broken", "acme/broken")
    push_example(
        cli_stack.forge,
        cli_stack.forge_token,
        "acme/broken",
        cli_stack.root / "broken",
        dockerfile=BROKEN_DOCKERFILE,
    )

    result = cli("builds", "start", "team/broken", "--follow", "--json")

    assert result.exit_code == EXIT_FAILED, result.output
    build = json.loads(result.stdout)
    assert build["status"] == "failed"
    assert build["error"]["code"] == "BUILD_FAILED"
    assert "about to fail" in result.stderr  # the log went to stderr with --json


def test_cancelling_a_followed_build_exits_4(
    cli: Cli, cli_stack: CliStack, cli_process: Callable[..., Popen[str]]
) -> None:
    push_example(
        cli_stack.forge,
        cli_stack.forge_token,
        "acme/app",
        cli_stack.root / "app",
        branch="slow",
        dockerfile=SLOW_DOCKERFILE,
    )
    started = cli("builds", "start", "team/hello", "--ref", "slow", "--json")
    assert started.exit_code == 0, started.output
    build_id = int(json.loads(started.stdout)["builds"][0]["id"])
    follower = cli_process("builds", "logs", str(build_id), "--follow")
    try:
        wait_for(lambda: _status(cli_stack, build_id) == "building", 60, "the build to run")
        cancelled = cli("builds", "cancel", str(build_id), "--json")
        assert cancelled.exit_code == 0, cancelled.output
        assert json.loads(cancelled.stdout)["status"] == "cancelled"
        out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert follower.returncode == EXIT_CANCELLED, out + err
    assert "cancelled" in err

    again = cli("builds", "cancel", str(build_id))
    assert again.exit_code == 0  # cancelling a cancelled build is a no-op
