"""``buildsvc login``: the API URL as people type it, and where the environment is told."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from yarl import URL

from buildsvc.cli import main
from buildsvc.client_cli.config import ConfigError, normalize_url
from tests.buildsvc.client_cli.conftest import CliStack


def test_login_with_a_url_without_scheme_logs_in_over_http_to_loopback(
    cli_stack: CliStack, tmp_path: Path
) -> None:
    bare = f"127.0.0.1:{URL(cli_stack.url).port}"
    env = {**cli_stack.env(), "XDG_CONFIG_HOME": str(tmp_path)}

    result = CliRunner().invoke(
        main, ["login", "--url", bare, "--token-stdin"], input=cli_stack.token + "\n", env=env
    )

    assert result.exit_code == 0, result.output
    assert "No connection adapters" not in result.output
    saved = json.loads((tmp_path / "buildsvc" / "config.json").read_text())
    assert saved["url"] == f"http://{bare}"


def test_login_with_a_url_that_is_no_api_url_is_a_usage_error(
    cli_stack: CliStack, tmp_path: Path
) -> None:
    env = {**cli_stack.env(), "XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(
        main, ["login", "--url", "ftp://example.com", "--token-stdin"], input="x\n", env=env
    )
    assert result.exit_code == 2
    assert "is not an API URL" in result.stderr


def test_the_environment_variables_work_without_scheme_and_are_in_the_help(
    cli_stack: CliStack, tmp_path: Path
) -> None:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path),  # no saved login
        "BUILDSVC_API_URL": f"127.0.0.1:{URL(cli_stack.url).port}",
        "BUILDSVC_API_TOKEN": cli_stack.token,
    }
    listed = CliRunner().invoke(main, ["repos", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "items" in json.loads(listed.stdout)

    for args in (["--help"], ["login", "--help"]):
        shown = CliRunner().invoke(main, args)
        assert "BUILDSVC_API_URL" in shown.stdout
        assert "BUILDSVC_API_TOKEN" in shown.stdout


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("api.example.com", "https://api.example.com"),
        ("api.example.com:8443/", "https://api.example.com:8443"),
        ("localhost:8080", "http://localhost:8080"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("http://build.internal", "http://build.internal"),
    ],
)
def test_normalize_url_adds_the_scheme_people_mean(typed: str, url: str) -> None:
    assert normalize_url(typed) == url


@pytest.mark.parametrize("typed", ["ftp://example.com", "http://", ""])
def test_normalize_url_refuses_what_is_no_api_url(typed: str) -> None:
    with pytest.raises(ConfigError, match="is not an API URL"):
        normalize_url(typed)
