"""``buildsvc builds list|show|rerun|cancel`` over the API, on builds seeded as the worker
leaves them: names, times, colours, plain output when piped, ids checked plainly."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from buildsvc.accounts.services import create_account
from buildsvc.cli import main
from buildsvc.store.models import BuildRule
from buildsvc.web.keys import SESSIONMAKER
from tests.buildsvc.client_cli.conftest import CliStack
from tests.common.factories import add_build, add_repository

Cli = Callable[..., Result]
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-8]|9[0-7])[;m]")  # a foreground colour


@dataclass(frozen=True)
class Seeded:
    build_id: int
    commit_sha: str
    run: Cli
    env: dict[str, str | None]


@pytest.fixture(scope="module")
def seeded(cli_stack: CliStack, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """An account of its own with team/web, one rule and one succeeded build."""
    sessionmaker = cli_stack.server.app[SESSIONMAKER]

    async def seed() -> tuple[str, int, str]:
        account, token = await create_account(sessionmaker, "builds-cli")
        now = dt.datetime.now(dt.UTC)
        async with sessionmaker.begin() as session:
            repository = await add_repository(session, account.id, name="web")
            rule = BuildRule(
                repository_id=repository.id, type="branch", pattern="main", tag="latest"
            )
            session.add(rule)
            await session.flush()
            build = await add_build(
                session,
                account.id,
                repository.id,
                rule_id=rule.id,
                status="succeeded",
                enqueued=True,
                digest="sha256:" + "ab" * 32,
                queued_at=now - dt.timedelta(minutes=5),
                fetching_at=now - dt.timedelta(minutes=5),
                building_at=now - dt.timedelta(minutes=4, seconds=58),
                pushing_at=now - dt.timedelta(minutes=4, seconds=10),
                finished_at=now - dt.timedelta(minutes=4),
            )
            return token, build.id, build.commit_sha

    token, build_id, sha = cli_stack.server.run(seed())
    config = tmp_path_factory.mktemp("builds-config")

    base: dict[str, str | None] = {
        "XDG_CONFIG_HOME": str(config),
        "BUILDSVC_API_URL": cli_stack.url,
        "BUILDSVC_API_TOKEN": token,
        "NO_COLOR": None,
        "TTY_COMPATIBLE": None,
        "FORCE_COLOR": None,
    }

    def run(*args: str, **env: str) -> Result:
        return CliRunner().invoke(main, list(args), env={**base, **env})

    return Seeded(build_id, sha, run, base)


@pytest.mark.parametrize("command", ["cancel", "show", "logs", "rerun"])
def test_a_word_for_a_build_id_gets_a_plain_message(seeded: Seeded, command: str) -> None:
    result = seeded.run("builds", command, "abc")
    assert result.exit_code == 2
    assert "'abc' is not a build id" in result.stderr
    assert "integer range" not in result.stderr


def test_a_word_for_a_rule_id_gets_a_plain_message(seeded: Seeded) -> None:
    result = seeded.run("builds", "start", "team/web", "--rule-id", "main")
    assert result.exit_code == 2
    assert "'main' is not a rule id" in result.stderr


def test_list_on_a_terminal_names_repositories_with_relative_times(seeded: Seeded) -> None:
    result = seeded.run("builds", "list", TTY_COMPATIBLE="1", NO_COLOR="1")

    assert result.exit_code == 0, result.output
    assert "team/web" in result.stdout
    assert "5 minutes ago" in result.stdout
    assert "1m00s" in result.stdout  # queued to finished
    assert not re.search(r"\d\.\d{6}", result.stdout)  # no microseconds
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert plain.endswith("\n1 build\n")
    assert not COLOUR.search(result.stdout)  # NO_COLOR


def test_list_colours_statuses_on_a_terminal(seeded: Seeded) -> None:
    result = seeded.run("builds", "list", TTY_COMPATIBLE="1")
    assert result.exit_code == 0, result.output
    assert "\x1b[32msucceeded" in result.stdout


def test_list_piped_is_tab_separated_without_colour_or_header(seeded: Seeded) -> None:
    result = seeded.run("builds", "list")

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    [row] = [line.split("\t") for line in result.stdout.splitlines()]
    assert row[:6] == [
        str(seeded.build_id),
        "team/web",
        "succeeded",
        "main",
        seeded.commit_sha[:7],
        "push",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[6])


def test_show_prints_one_build(seeded: Seeded) -> None:
    result = seeded.run("builds", "show", f"#{seeded.build_id}")

    assert result.exit_code == 0, result.output
    assert f"build {seeded.build_id} succeeded in 1m00s" in result.stdout
    assert "repo:   team/web" in result.stdout
    assert f"main @ {seeded.commit_sha[:12]} (push)" in result.stdout
    assert "phases: queued 0.0s, fetching 2.0s, building 48s, pushing 10s" in result.stdout
    assert "digest: sha256:abab" in result.stdout

    missing = seeded.run("builds", "show", "999999")
    assert missing.exit_code == 1
    assert "not found" in missing.stderr


def test_rerun_queues_the_same_commit_again(seeded: Seeded) -> None:
    result = seeded.run("builds", "rerun", str(seeded.build_id), "--json")

    assert result.exit_code == 0, result.output
    [build] = json.loads(result.stdout)["builds"]
    assert build["id"] != seeded.build_id
    assert (build["commit_sha"], build["ref"]) == (seeded.commit_sha, "refs/heads/main")

    cancelled = seeded.run("builds", "cancel", str(build["id"]), "--json")
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


def test_shell_completion_offers_the_accounts_repository_names(seeded: Seeded) -> None:
    env = {**seeded.env, "_BUILDSVC_COMPLETE": "bash_complete", "COMP_CWORD": "3"}
    for words in ("buildsvc builds start te", "buildsvc deliveries list team/"):
        result = CliRunner().invoke(
            main, [], prog_name="buildsvc", env={**env, "COMP_WORDS": words}
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["plain,team/web"]

    env["BUILDSVC_API_URL"] = "http://127.0.0.1:9"  # unreachable: nothing, no error
    offline = CliRunner().invoke(
        main, [], prog_name="buildsvc", env={**env, "COMP_WORDS": "buildsvc repos show te"}
    )
    assert (offline.exit_code, offline.stdout.strip(), offline.stderr) == (0, "", "")


def test_cancel_of_a_finished_build_says_so(seeded: Seeded) -> None:
    result = seeded.run("builds", "cancel", str(seeded.build_id))
    assert result.exit_code == 1
    assert "BUILD_FINISHED" in result.stderr
