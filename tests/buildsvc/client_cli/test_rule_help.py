"""The CLI explains rule patterns in the service's own words."""

from __future__ import annotations

import importlib

from click.testing import CliRunner

from buildsvc.cli import main
from buildsvc.repositories import rules

# The package exports the click group under the module's name, so fetch the module itself.
repos_cli = importlib.import_module("buildsvc.client_cli.repos")


def test_the_cli_help_text_is_the_service_help_text() -> None:
    assert repos_cli.PATTERN_HELP == rules.PATTERN_HELP
    assert repos_cli.TAG_HELP == rules.TAG_HELP


def test_repos_create_help_explains_globs_and_regex_groups() -> None:
    result = CliRunner().invoke(main, ["repos", "create", "--help"], terminal_width=400)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "a glob (v*, release/**" in flat
    assert "{1} or {name}" in flat
