"""``buildsvc builds start|list|show|rerun|logs|cancel``."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.apiclient import ApiClient
from buildsvc.client_cli.build_view import print_build, print_builds, repository_names
from buildsvc.client_cli.follow import follow_build, follow_options
from buildsvc.client_cli.output import emit, handles_errors, json_option, print_json, stdout
from buildsvc.client_cli.params import BUILD_ID, RULE_ID
from buildsvc.client_cli.session import (
    complete_repository,
    find_repository,
    open_client,
    repo_argument,
)
from buildsvc.client_cli.timefmt import plural

STATUSES = (
    "queued",
    "fetching",
    "building",
    "pushing",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
    "superseded",
)


@click.group()
def builds() -> None:
    """Start, list, show, rerun, follow and cancel builds.

    \b
    Exit codes with --follow:
      0 succeeded        4 cancelled
      1 API error        5 timed out
      2 wrong usage      6 superseded
      3 failed           7 the API stayed unreachable (see --reconnect-timeout)
    """


def _started(
    client: ApiClient, answer: dict[str, Any], follow: bool, reconnect: float, as_json: bool
) -> None:
    """Print builds just queued, or follow the first of them."""
    items = answer["builds"]
    if not follow:
        names = repository_names(client)
        emit(as_json, answer, lambda console: print_builds(console, items, names))
        return
    if not as_json:
        for build in items[1:]:
            click.echo(f"also started build {build['id']} (follow it with `builds logs -f`)")
    sys.exit(
        follow_build(client, int(items[0]["id"]), as_json=as_json, reconnect_seconds=reconnect)
    )


@builds.command("start")
@repo_argument
@click.option("--ref", help="Branch or tag to build (default: the default branch).")
@click.option("--rule-id", type=RULE_ID, help="Build only this rule.")
@follow_options
@json_option
@handles_errors
def start(
    repo: str,
    ref: str | None,
    rule_id: int | None,
    follow: bool,
    reconnect_timeout: float,
    as_json: bool,
) -> None:
    """Start a build of REPO (id or namespace/name).

    \b
    buildsvc builds start acme/app --ref main --follow
    """
    client = open_client()
    found = find_repository(client, repo)
    body: dict[str, Any] = {}
    if ref:
        body["ref"] = ref
    if rule_id:
        body["rule_id"] = rule_id
    answer = client.call("POST", f"/api/v1/repositories/{found['id']}/builds", body=body)
    _started(client, answer, follow, reconnect_timeout, as_json)


@builds.command("rerun")
@click.argument("build_id", type=BUILD_ID, metavar="BUILD")
@follow_options
@json_option
@handles_errors
def rerun(build_id: int, follow: bool, reconnect_timeout: float, as_json: bool) -> None:
    """Build BUILD's commit again (same ref and commit, even if the branch moved on).

    \b
    buildsvc builds rerun 42 --follow
    """
    client = open_client()
    answer = client.call("POST", f"/api/v1/builds/{build_id}/rerun")
    _started(client, answer, follow, reconnect_timeout, as_json)


@builds.command("list")
@click.option(
    "--repo",
    help="Only builds of this repository (id or namespace/name).",
    shell_complete=complete_repository,
)
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
@handles_errors
def list_builds(
    repo: str | None, status: str | None, page: int, per_page: int, as_json: bool
) -> None:
    """Build history, newest first.

    \b
    buildsvc builds list --repo acme/app --status failed
    """
    client = open_client()
    repository_id = find_repository(client, repo)["id"] if repo else None
    answer = client.get(
        "/api/v1/builds",
        repository_id=repository_id,
        status=status,
        page=page,
        per_page=per_page,
    )
    names = repository_names(client) if answer["items"] and not as_json else {}

    def render(console: Console) -> None:
        print_builds(console, answer["items"], names)
        if console.is_terminal:
            shown = len(answer["items"])
            total = int(answer["total"])
            count = plural(total, "build") if shown == total else f"{shown} of {total} builds"
            console.print(count, style="dim", highlight=False)

    emit(as_json, answer, render)


@builds.command("show")
@click.argument("build_id", type=BUILD_ID, metavar="BUILD")
@json_option
@handles_errors
def show(build_id: int, as_json: bool) -> None:
    """One build: status, ref and commit, phase times, image, digest, error.

    \b
    buildsvc builds show 42
    """
    client = open_client()
    build = client.get(f"/api/v1/builds/{build_id}")
    if as_json:
        print_json(build)
        return
    print_build(stdout(), build, repository_names(client).get(int(build["repository_id"])))


def _print_log(client: ApiClient, build_id: int, as_json: bool) -> None:
    after = 0
    lines: list[dict[str, Any]] = []
    while True:
        page = client.get(f"/api/v1/builds/{build_id}/logs", after=after, limit=1000)
        if as_json:
            lines += page["items"]
        else:
            for item in page["items"]:
                click.echo(item["line"])
        if not page["items"]:
            break
        after = page["next_after"]
    if as_json:
        print_json({"build_id": build_id, "status": page["status"], "items": lines})


@builds.command("logs")
@click.argument("build_id", type=BUILD_ID, metavar="BUILD")
@follow_options
@json_option
@handles_errors
def logs(build_id: int, follow: bool, reconnect_timeout: float, as_json: bool) -> None:
    """Print a build's log; with --follow stream it until the build ends.

    \b
    buildsvc builds logs 42 -f
    """
    client = open_client()
    if follow:
        sys.exit(
            follow_build(client, build_id, as_json=as_json, reconnect_seconds=reconnect_timeout)
        )
    _print_log(client, build_id, as_json)


@builds.command("cancel")
@click.argument("build_id", type=BUILD_ID, metavar="BUILD")
@json_option
@handles_errors
def cancel(build_id: int, as_json: bool) -> None:
    """Cancel a queued or running build.

    \b
    buildsvc builds cancel 42
    """
    build = open_client().call("POST", f"/api/v1/builds/{build_id}/cancel")
    emit(
        as_json,
        build,
        lambda console: console.print(f"build {build['id']} {build['status']}", highlight=False),
    )
