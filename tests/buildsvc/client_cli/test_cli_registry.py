"""``buildsvc registry password|robots|tags`` against a running API."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from buildsvc.cli import main
from tests.common.api_stack import ServerThread, stack_settings

REDIS_DB = 9

Cli = Callable[..., Result]


@dataclass(frozen=True)
class Stack:
    server: ServerThread
    token: str
    config_home: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("cli-registry")
    server = ServerThread(stack_settings(root, REDIS_DB)).start()
    try:
        yield Stack(server, server.create_account("registry-cli"), root / "config")
    finally:
        server.stop()


@pytest.fixture
def cli(stack: Stack) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSVC_")}
    env["XDG_CONFIG_HOME"] = str(stack.config_home)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, env=env)

    logged_in = invoke("login", "--url", stack.server.url, "--token-stdin", input=stack.token)
    assert logged_in.exit_code == 0, logged_in.output
    return invoke


def test_password_from_stdin_is_set_and_never_echoed(cli: Cli) -> None:
    result = cli("registry", "password", "--password-stdin", input="a registry password\n")
    assert result.exit_code == 0, result.output
    assert "a registry password" not in result.output
    weak = cli("registry", "password", "--password-stdin", input="short\n")
    assert weak.exit_code == 1
    assert "WEAK_PASSWORD" in weak.stderr


def test_robots_from_creation_to_deletion(cli: Cli) -> None:
    assert cli("repos", "list").exit_code == 0
    created = cli("registry", "robots", "create", "ci", "--grant", "pull", "nowhere")
    assert created.exit_code == 1  # the account holds no namespace "nowhere"
    assert "INVALID_PERMISSION" in created.stderr

    robot = cli("registry", "robots", "create", "idle", "--json")
    assert robot.exit_code == 0, robot.output
    secret = json.loads(robot.stdout)["secret"]
    listed = cli("registry", "robots", "list")
    assert "registry-cli+idle" in listed.stdout
    assert "nothing" in listed.stdout
    assert secret not in listed.stdout

    disabled = cli("registry", "robots", "set", "idle", "--disable")
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in cli("registry", "robots", "list").stdout
    rotated = cli("registry", "robots", "rotate", "idle", "--json")
    assert json.loads(rotated.stdout)["secret"] != secret
    assert cli("registry", "robots", "delete", "idle").exit_code == 0
    assert "registry-cli+idle" not in cli("registry", "robots", "list").stdout


def test_tags_of_a_plain_repository(cli: Cli, stack: Stack) -> None:
    answer = requests.post(
        f"{stack.server.url}/api/v1/repositories",
        json={"namespace": "cli", "name": "plain"},
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=10,
    )
    assert answer.status_code == 201
    shown = cli("repos", "show", "cli/plain")
    assert "none (docker push)" in shown.stdout
    listed = cli("registry", "tags", "cli/plain", "--json")
    assert listed.exit_code == 0, listed.output
    # No registry runs here: the recorded tags (none) are answered, marked as such.
    assert json.loads(listed.stdout) == {"items": [], "total": 0, "reconciled": False}
