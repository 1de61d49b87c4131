"""``buildsvc login|sources|repos`` against a running stack (API, forgesim GitLab)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from buildsvc.cli import main
from buildsvc.errors import SOURCE_ERROR_RESPONSE_MESSAGE
from tests.buildsvc.client_cli.conftest import CliStack

Cli = Callable[..., Result]


def test_login_stores_url_and_token_privately(cli_stack: CliStack, tmp_path: Path) -> None:
    env = {**cli_stack.env(), "XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(
        main,
        ["login", "--url", cli_stack.url, "--token-stdin", "--json"],
        input=cli_stack.token + "\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["token_last4"] == cli_stack.token[-4:]
    config = tmp_path / "buildsvc" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert json.loads(config.read_text()) == {"url": cli_stack.url, "token": cli_stack.token}
    assert cli_stack.token not in result.output  # never echoed

    logout = CliRunner().invoke(main, ["logout"], env=env)
    assert logout.exit_code == 0
    assert not config.exists()


def test_login_with_a_wrong_token_prints_the_api_error(cli_stack: CliStack, tmp_path: Path) -> None:
    env = {**cli_stack.env(), "XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(
        main, ["login", "--url", cli_stack.url, "--token-stdin"], input="bsv_wrong\n", env=env
    )
    assert result.exit_code == 1
    assert "UNAUTHENTICATED" in result.stderr
    assert "unknown or revoked API token" in result.stderr
    assert not (tmp_path / "buildsvc" / "config.json").exists()


def test_commands_without_login_say_how_to_log_in(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["repos", "list"], env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert result.exit_code == 1
    assert "buildsvc login" in result.stderr


def test_unreachable_api_is_a_connection_error(tmp_path: Path, cli_stack: CliStack) -> None:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "BUILDSVC_API_URL": "http://127.0.0.1:9",
        "BUILDSVC_API_TOKEN": cli_stack.token,
    }
    result = CliRunner().invoke(main, ["builds", "list", "--json"], env=env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "CONNECTION_FAILED"


def test_bind_with_a_wrong_token_shows_the_documented_message(
    cli: Cli, cli_stack: CliStack
) -> None:
    result = cli(
        "sources",
        "bind",
        "gitlab",
        "--url",
        cli_stack.forge.url,
        "--username",
        "alice",
        "--token",
        "not-the-token",
    )
    assert result.exit_code == 1
    assert "SOURCE_ERROR_RESPONSE" in result.stderr
    assert SOURCE_ERROR_RESPONSE_MESSAGE in " ".join(result.stderr.split())
    assert "detail:" in result.stderr


def test_bind_list_create_show_and_list_repositories(cli: Cli, cli_stack: CliStack) -> None:
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
        input=cli_stack.forge_token + "\n",
    )
    assert bound.exit_code == 0, bound.output
    binding = json.loads(bound.stdout)
    assert binding["username"] == "alice"
    assert binding["token_last4"] == cli_stack.forge_token[-4:]
    assert cli_stack.forge_token not in bound.output

    listed = cli("sources", "list")
    assert listed.exit_code == 0
    assert "gitlab" in listed.stdout
    assert "alice" in listed.stdout

    created = cli(
        "repos",
        "create",
        "team/cli-app",
        "--source",
        "acme/app",
        "--rule",
        "branch",
        "main",
        "latest,{short_sha}",
        "--json",
    )
    assert created.exit_code == 0, created.output
    repo = json.loads(created.stdout)
    assert repo["rules"][0]["tag"] == "latest,{short_sha}"
    assert repo["hook"]["id"]

    shown = cli("repos", "show", "team/cli-app")
    assert shown.exit_code == 0
    assert repo["image"] in shown.stdout
    assert "latest,{short_sha}" in shown.stdout

    by_id = cli("repos", "show", str(repo["id"]), "--json")
    assert json.loads(by_id.stdout)["id"] == repo["id"]

    listing = json.loads(cli("repos", "list", "--json").stdout)
    assert any(item["id"] == repo["id"] for item in listing["items"])

    duplicate = cli("repos", "create", "team/cli-app", "--source", "acme/app")
    assert duplicate.exit_code == 1
    assert "error" in duplicate.stderr

    missing = cli("repos", "show", "team/nope")
    assert missing.exit_code == 1
    assert "REPOSITORY_NOT_FOUND" in missing.stderr
