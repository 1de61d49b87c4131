"""``buildsvc tokens create|list|revoke``: the logged-in account's API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.output import emit, handles_errors, json_option, print_table, stderr
from buildsvc.client_cli.params import IdType
from buildsvc.client_cli.session import open_client
from buildsvc.client_cli.timefmt import plural, shown

TOKEN_ID = IdType("API token", "buildsvc tokens list")


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens (one per machine or CI job)."""


@tokens.command("create")
@click.argument("name")
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, 3650),
    help="The token stops working after this many days [default: never].",
)
@json_option
@handles_errors
def create(name: str, expires_in_days: int | None, as_json: bool) -> None:
    """Create a token; it is printed on the last line, this once only."""
    body: dict[str, Any] = {"name": name}
    if expires_in_days is not None:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days)
        body["expires_at"] = expires.isoformat()
    created = open_client().call("POST", "/api/v1/tokens", body=body)

    def render(console: Console) -> None:
        until = created["expires_at"] or "never expires"
        stderr().print(
            f"Created token {created['name']!r} (id {created['id']}, {until}). "
            "Copy it now: it is not shown again.",
            highlight=False,
        )
        console.print(created["token"], markup=False, highlight=False, soft_wrap=True)

    emit(as_json, created, render)


@tokens.command("list")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=50, show_default=True)
@json_option
@handles_errors
def list_tokens(page: int, per_page: int, as_json: bool) -> None:
    """The account's tokens, newest first (never their secret: the last 4 characters)."""
    answer = open_client().get("/api/v1/tokens", page=page, per_page=per_page)

    def render(console: Console) -> None:
        terminal = console.is_terminal
        rows = [
            (
                t["id"],
                t["name"],
                f"…{t['last4']}",
                shown(t["created_at"], terminal=terminal),
                shown(t["last_used_at"], terminal=terminal) or "never",
                shown(t["expires_at"], terminal=terminal) or "never",
            )
            for t in answer["items"]
        ]
        columns = ["id", "name", "token", "created", "last used", "expires"]
        print_table(console, columns, rows)
        if terminal:
            console.print(plural(answer["total"], "token"), style="dim")

    emit(as_json, answer, render)


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=TOKEN_ID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handles_errors
def revoke(token_id: int, yes: bool, as_json: bool) -> None:
    """Revoke a token at once (ID from `buildsvc tokens list`)."""
    if not yes:
        click.confirm(
            f"Revoke API token {token_id}? What uses it stops working.", abort=True, err=True
        )
    result = open_client().call("DELETE", f"/api/v1/tokens/{token_id}")
    emit(as_json, result, lambda console: console.print(f"Revoked API token {token_id}."))
