"""One running stack for the CLI tests: the API (in a thread), a token-auth registry whose
realm it is, a worker process, forgesim.

``cli`` invokes ``buildsvc ...`` through click's CliRunner with a private
``XDG_CONFIG_HOME`` already logged in; ``cli_process`` runs the real command in a
subprocess (for streams and exit codes while the test acts meanwhile).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import forgesim
from buildsvc.cli import main
from tests.common.api_stack import (
    ServerThread,
    WorkerProcess,
    stack_settings,
)
from tests.common.token_registry import serve_registry, stop_process

REDIS_DB = 10
ACCOUNT = "cli-tests"


@dataclass(frozen=True)
class CliStack:
    server: ServerThread
    forge: forgesim.Forge
    token: str  # buildsvc API token
    forge_token: str  # alice's GitLab token (api scope)
    config_home: Path
    root: Path

    @property
    def url(self) -> str:
        return self.server.url

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSVC_")}
        env["XDG_CONFIG_HOME"] = str(self.config_home)
        return env


@pytest.fixture(scope="module")
def cli_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliStack]:
    root = tmp_path_factory.mktemp("cli-stack")
    settings = stack_settings(root, REDIS_DB, registry=True)
    server = ServerThread(settings).start()
    registry = serve_registry(settings, root / "registry")
    worker = WorkerProcess(settings, root / "worker.log")
    try:
        with forgesim.running("gitlab", root / "forge") as forge:
            forge.admin.create_user("alice")
            forge_token = forge.admin.create_token("alice", ["api"])
            forge.admin.create_namespace("acme", members={"alice": "maintainer"})
            forge.admin.create_repository("acme", "app")
            forge.admin.create_repository("acme", "broken")
            token = server.create_account(ACCOUNT)
            config_home = root / "config"
            yield CliStack(server, forge, token, forge_token, config_home, root)
    finally:
        worker.stop()
        stop_process(registry)
        server.stop()


@pytest.fixture
def cli(cli_stack: CliStack) -> Callable[..., Result]:
    """``cli("builds", "list", "--json")``; logged in to the stack first."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, env=cli_stack.env())

    if not (cli_stack.config_home / "buildsvc" / "config.json").exists():
        result = invoke("login", "--url", cli_stack.url, "--token-stdin", input=cli_stack.token)
        assert result.exit_code == 0, result.output
    return invoke


@pytest.fixture
def cli_process(
    cli_stack: CliStack, cli: Callable[..., Result]
) -> Callable[..., subprocess.Popen[str]]:
    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "buildsvc", *args],
            cwd=cli_stack.root,
            env=cli_stack.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return start


def bind_and_link(cli: Callable[..., Result], stack: CliStack, image: str, source: str) -> int:
    """Bind alice's GitLab (once) and create ``image`` from ``source`` without auto build,
    with rules ``main -> latest`` and ``slow -> slow``; the repository id."""
    listed = cli("sources", "list", "--json")
    if not listed.stdout or '"gitlab"' not in listed.stdout:
        bound = cli(
            "sources",
            "bind",
            "gitlab",
            "--url",
            stack.forge.url,
            "--username",
            "alice",
            "--token-stdin",
            input=stack.forge_token + "\n",
        )
        assert bound.exit_code == 0, bound.output
    created = cli(
        "repos",
        "create",
        image,
        "--source",
        source,
        "--no-auto-build",
        "--rule",
        "branch",
        "main",
        "latest",
        "--rule",
        "branch",
        "slow",
        "slow",
        "--json",
    )
    assert created.exit_code == 0, created.output
    return int(json.loads(created.stdout)["id"])
