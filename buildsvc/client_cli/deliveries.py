"""``buildsvc deliveries list REPO``: the pushes a repository's hook received, and why
each did or did not build (``queued 2 builds``, ``no rule matched refs/heads/dev``, …)."""

from __future__ import annotations

import click
from rich.console import Console

from buildsvc.client_cli import timefmt
from buildsvc.client_cli.output import emit, handles_errors, json_option, print_table
from buildsvc.client_cli.session import find_repository, open_client, repo_argument

COLUMNS = ("received", "event", "ref", "commit", "outcome", "builds")


@click.group()
def deliveries() -> None:
    """Webhook deliveries: what each push did."""


@deliveries.command("list")
@repo_argument
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
@handles_errors
def list_deliveries(repo: str, page: int, per_page: int, as_json: bool) -> None:
    """Deliveries to REPO's hook (id or namespace/name), newest first.

    \b
    buildsvc deliveries list acme/app
    """
    client = open_client()
    found = find_repository(client, repo)
    answer = client.get(
        f"/api/v1/repositories/{found['id']}/deliveries", page=page, per_page=per_page
    )

    def render(console: Console) -> None:
        terminal = console.is_terminal
        rows = [
            (
                timefmt.shown(d["received_at"], terminal=terminal),
                d["event"],
                d.get("ref") or "",
                (d.get("commit_sha") or "")[:7],
                d["outcome"],
                ",".join(str(i) for i in d["build_ids"]),
            )
            for d in answer["items"]
        ]
        print_table(console, COLUMNS, rows)
        if terminal:
            console.print(
                timefmt.plural(int(answer["total"]), "delivery", "deliveries"), style="dim"
            )

    emit(as_json, answer, render)
