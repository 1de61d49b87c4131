"""``buildsvc repos edit|delete`` and ``buildsvc deliveries list`` against a linked
forgesim GitLab project."""

from __future__ import annotations

import json
from collections.abc import Callable

import requests
from click.testing import Result

from tests.buildsvc.client_cli.conftest import CliStack, bind_and_link
from tests.common.api_stack import push_example, wait_for

Cli = Callable[..., Result]


def test_edit_switches_auto_build_and_replaces_the_rules(cli: Cli, cli_stack: CliStack) -> None:
    bind_and_link(cli, cli_stack, "team/edited", "acme/app")

    nothing = cli("repos", "edit", "team/edited")
    assert nothing.exit_code == 2
    assert "nothing to change" in nothing.stderr

    switched = cli("repos", "edit", "team/edited", "--auto-build", "--json")
    assert switched.exit_code == 0, switched.output
    assert json.loads(switched.stdout)["auto_build"] is True

    replaced = cli(
        "repos", "edit", "team/edited", "--rule", "tag", "/v.+/", "{tag}", "--dockerfile", "ci/Df"
    )
    assert replaced.exit_code == 0, replaced.output
    rules = json.loads(cli("repos", "show", "team/edited", "--json").stdout)["rules"]
    assert [(r["type"], r["pattern"], r["tag"], r["dockerfile"]) for r in rules] == [
        ("tag", "/v.+/", "{tag}", "ci/Df")
    ]


def test_edit_refuses_to_drop_what_the_rule_flags_cannot_say(cli: Cli, cli_stack: CliStack) -> None:
    repository_id = bind_and_link(cli, cli_stack, "team/secretive", "acme/app")
    rule = {"type": "branch", "pattern": "main", "tag": "latest", "build_args": {"KEY": "v"}}
    rule["secret_build_args"] = ["KEY"]
    patched = requests.patch(
        f"{cli_stack.url}/api/v1/repositories/{repository_id}",
        json={"rules": [rule]},
        headers={"Authorization": f"Bearer {cli_stack.token}"},
        timeout=30,
    )
    assert patched.status_code == 200, patched.text

    result = cli("repos", "edit", str(repository_id), "--rule", "branch", "main", "edge")

    assert result.exit_code == 2
    assert "build_args, secret_build_args" in result.stderr
    assert "console" in result.stderr


def test_delete_asks_for_yes_without_a_terminal_then_removes_it(
    cli: Cli, cli_stack: CliStack
) -> None:
    bind_and_link(cli, cli_stack, "team/doomed", "acme/app")

    refused = cli("repos", "delete", "team/doomed")
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr

    deleted = cli("repos", "delete", "team/doomed", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted team/doomed" in deleted.stdout
    assert "push hook removed" in deleted.stdout
    gone = cli("repos", "show", "team/doomed")
    assert gone.exit_code == 1
    assert "REPOSITORY_NOT_FOUND" in gone.stderr


def test_deliveries_list_says_why_a_push_did_not_build(cli: Cli, cli_stack: CliStack) -> None:
    bind_and_link(cli, cli_stack, "team/quiet", "acme/broken")  # auto build off
    sha = push_example(
        cli_stack.forge, cli_stack.forge_token, "acme/broken", cli_stack.root / "quiet"
    )

    def delivered() -> bool:
        listed = cli("deliveries", "list", "team/quiet", "--json")
        return listed.exit_code == 0 and json.loads(listed.stdout)["total"] > 0

    wait_for(delivered, 30, "the push's delivery")
    result = cli("deliveries", "list", "team/quiet")

    assert result.exit_code == 0, result.output
    [row] = [line.split("\t") for line in result.stdout.splitlines()]
    assert row[1:5] == ["push", "refs/heads/main", sha[:7], "auto build off"]
    assert row[5] == ""  # no build
