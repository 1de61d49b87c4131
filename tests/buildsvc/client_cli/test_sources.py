"""``buildsvc sources bind --token-stdin`` and ``sources check``, against forgesim GitLab."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from click.testing import Result

from tests.buildsvc.client_cli.conftest import CliStack

Cli = Callable[..., Result]


def test_bind_without_a_terminal_asks_for_token_stdin_instead_of_echoing(
    cli_stack: CliStack, cli: Cli
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "buildsvc", "sources", "bind", "gitlab", "--username", "alice"],
        cwd=cli_stack.root,
        env=cli_stack.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "may be echoed" not in result.stderr
    assert "--token-stdin" in result.stderr
    assert "Traceback" not in result.stderr


def test_bind_from_stdin_then_check_ok_then_broken(cli_stack: CliStack, cli: Cli) -> None:
    token = cli_stack.forge.admin.create_token("alice", ["api"])
    bound = cli(
        "sources",
        "bind",
        "gitlab",
        "--url",
        cli_stack.forge.url,
        "--username",
        "alice",
        "--token-stdin",
        "--json",
        input=token + "\n",
    )
    assert bound.exit_code == 0, bound.output
    assert json.loads(bound.stdout)["token_last4"] == token[-4:]
    assert token not in bound.output

    checked = cli("sources", "check", "gitlab")
    assert checked.exit_code == 0, checked.output
    assert "\tok\t" in checked.stdout

    cli_stack.forge.admin.revoke_token(token)
    broken = cli("sources", "check", "gitlab", "--json")
    assert broken.exit_code == 1, broken.output
    assert json.loads(broken.stdout)["status"] == "broken"

    unbound = cli("sources", "unbind", "gitlab", "--yes")
    assert unbound.exit_code == 0, unbound.output


def test_token_and_token_stdin_together_is_a_usage_error(cli: Cli) -> None:
    result = cli(
        "sources", "bind", "gitlab", "--username", "a", "--token", "x", "--token-stdin", input="y\n"
    )
    assert result.exit_code == 2
    assert "--token or --token-stdin" in result.stderr
