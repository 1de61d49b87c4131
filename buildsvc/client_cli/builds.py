"""``buildsvc builds start|list|logs|cancel``."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.apiclient import ApiClient
from buildsvc.client_cli.follow import follow_build
from buildsvc.client_cli.output import emit, handles_errors, json_option, print_json, table
from buildsvc.client_cli.session import find_repository, open_client

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
follow_option = click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Stream the log live and exit by the build's ending (0: succeeded; see `buildsvc "
    "builds --help` for the other codes).",
)


@click.group()
def builds() -> None:
    """Start, list, follow and cancel builds.

    \b
    Exit codes with --follow:
      0 succeeded        4 cancelled
      1 API error        5 timed out
      2 wrong usage      6 superseded
      3 failed           7 log stream lost
    """


def _rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            b["id"],
            b["repository_id"],
            b["status"],
            b["ref_name"],
            b["commit_sha"][:7],
            b["trigger"],
            b["queued_at"],
            (b.get("durations") or {}).get("total"),
        )
        for b in items
    ]


COLUMNS = ["id", "repo", "status", "ref", "commit", "trigger", "queued", "seconds"]


@builds.command("start")
@click.argument("repo", metavar="REPO")
@click.option("--ref", help="Branch or tag to build (default: the default branch).")
@click.option("--rule-id", type=click.IntRange(min=1), help="Build only this rule.")
@follow_option
@json_option
@handles_errors
def start(repo: str, ref: str | None, rule_id: int | None, follow: bool, as_json: bool) -> None:
    """Start a build of REPO (id or namespace/name)."""
    client = open_client()
    found = find_repository(client, repo)
    body: dict[str, Any] = {}
    if ref:
        body["ref"] = ref
    if rule_id:
        body["rule_id"] = rule_id
    started = client.call("POST", f"/api/v1/repositories/{found['id']}/builds", body=body)
    items = started["builds"]
    if not follow:
        emit(as_json, started, lambda console: console.print(table(None, COLUMNS, _rows(items))))
        return
    if not as_json:
        for build in items[1:]:
            click.echo(f"also started build {build['id']} (follow it with `builds logs -f`)")
    sys.exit(follow_build(client, int(items[0]["id"]), as_json=as_json))


@builds.command("list")
@click.option("--repo", help="Only builds of this repository (id or namespace/name).")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
@handles_errors
def list_builds(
    repo: str | None, status: str | None, page: int, per_page: int, as_json: bool
) -> None:
    """Build history, newest first."""
    client = open_client()
    repository_id = find_repository(client, repo)["id"] if repo else None
    answer = client.get(
        "/api/v1/builds",
        repository_id=repository_id,
        status=status,
        page=page,
        per_page=per_page,
    )

    def render(console: Console) -> None:
        console.print(table(None, COLUMNS, _rows(answer["items"])))
        console.print(f"{answer['total']} builds", style="dim")

    emit(as_json, answer, render)


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
@click.argument("build_id", type=click.IntRange(min=1), metavar="BUILD")
@follow_option
@json_option
@handles_errors
def logs(build_id: int, follow: bool, as_json: bool) -> None:
    """Print a build's log; with --follow stream it until the build ends."""
    client = open_client()
    if follow:
        sys.exit(follow_build(client, build_id, as_json=as_json))
    _print_log(client, build_id, as_json)


@builds.command("cancel")
@click.argument("build_id", type=click.IntRange(min=1), metavar="BUILD")
@json_option
@handles_errors
def cancel(build_id: int, as_json: bool) -> None:
    """Cancel a queued or running build."""
    build = open_client().call("POST", f"/api/v1/builds/{build_id}/cancel")
    emit(
        as_json,
        build,
        lambda console: console.print(f"build {build['id']} {build['status']}", highlight=False),
    )
