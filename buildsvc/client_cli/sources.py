"""``buildsvc sources bind|list|check|unbind``: code-source accounts of the account.

``check`` asks the API to re-validate the bound token with the forge and exits 1 when
the binding is broken, so scripts can test it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli import timefmt
from buildsvc.client_cli.exit_codes import EXIT_ERROR
from buildsvc.client_cli.output import (
    emit,
    handles_errors,
    json_option,
    print_table,
    status_text,
    stderr,
)
from buildsvc.client_cli.params import read_secret, token_stdin_option
from buildsvc.client_cli.session import open_client

PROVIDERS = ("gitlab", "github", "bitbucket", "bitbucket-server")
TOKEN_ENV = "BUILDSVC_SOURCE_TOKEN"  # noqa: S105 -- the variable's name, not a secret


@click.group()
def sources() -> None:
    """Bind, list, check and unbind code-source accounts (GitLab, GitHub, Bitbucket)."""


def _render_bindings(items: list[dict[str, Any]]) -> Any:
    def render(console: Console) -> None:
        terminal = console.is_terminal
        rows = [
            (
                b["provider"],
                b["url"],
                b["username"],
                f"…{b['token_last4']}",
                timefmt.shown(b.get("expires_at"), terminal=terminal) or "never",
                status_text(b["status"]),
                b.get("broken_reason") or "",
            )
            for b in items
        ]
        columns = ["provider", "url", "username", "token", "expires", "status", "reason"]
        print_table(console, columns, rows)
        for binding in items:
            for warning in binding.get("warnings") or []:
                console.print(f"[yellow]warning[/] {binding['provider']}: {warning}")

    return render


@sources.command("bind")
@click.argument("provider", type=click.Choice(PROVIDERS))
@click.option("--url", help="Instance root URL (https://gitlab.example.com), not a repository.")
@click.option("--username", required=True, help="Your username on the forge.")
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    help=f"Access token (${TOKEN_ENV}); better --token-stdin or the hidden prompt.",
)
@token_stdin_option
@click.option(
    "--ca-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of the CA that signed a self-hosted forge's certificate.",
)
@json_option
@handles_errors
def bind(
    provider: str,
    url: str | None,
    username: str,
    token: str | None,
    token_stdin: bool,
    ca_cert: Path | None,
    as_json: bool,
) -> None:
    """Bind a code-source account; the forge checks the URL, user and token.

    The token is read from --token-stdin, $BUILDSVC_SOURCE_TOKEN, or a hidden prompt.

    \b
    buildsvc sources bind gitlab --url https://gitlab.example.com --username alice
    pass show gitlab | buildsvc sources bind github --username alice --token-stdin
    """
    if token and token_stdin:
        raise click.UsageError("give the token once: --token or --token-stdin")
    secret = token or read_secret("Access token", token_stdin)
    body: dict[str, Any] = {"provider": provider, "username": username, "token": secret}
    if url:
        body["url"] = url
    if ca_cert is not None:
        body["ca_cert"] = ca_cert.read_text(encoding="utf-8")
    binding = open_client().call("POST", "/api/v1/sources", body=body)
    emit(as_json, binding, _render_bindings([binding]))


@sources.command("list")
@json_option
@handles_errors
def list_sources(as_json: bool) -> None:
    """The bound accounts (tokens shown as their last 4 characters).

    \b
    buildsvc sources list
    """
    answer = open_client().get("/api/v1/sources")
    emit(as_json, answer, _render_bindings(answer["items"]))


@sources.command("check")
@click.argument("provider", type=click.Choice(PROVIDERS))
@json_option
@handles_errors
def check(provider: str, as_json: bool) -> None:
    """Check the bound token with the forge again; exit 1 if the binding is broken.

    \b
    buildsvc sources check gitlab
    """
    binding = open_client().call("POST", f"/api/v1/sources/{provider}/check")
    emit(as_json, binding, _render_bindings([binding]))
    if binding["status"] != "ok":
        sys.exit(EXIT_ERROR)


@sources.command("unbind")
@click.argument("provider", type=click.Choice(PROVIDERS))
@click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."
)
@json_option
@handles_errors
def unbind(provider: str, yes: bool, as_json: bool) -> None:
    """Unbind: remove the hooks buildsvc created and forget the token.

    \b
    buildsvc sources unbind gitlab --yes
    """
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("--yes is required when stdin is not a terminal")
        click.confirm(f"Unbind {provider} and remove its push hooks?", abort=True, err=True)
    result = open_client().call("DELETE", f"/api/v1/sources/{provider}")

    def render(console: Console) -> None:
        console.print(f"Unbound {provider}: {result['hooks_removed']} hook(s) removed.")
        left = result.get("hooks_not_removed") or []
        if left:
            stderr().print("[yellow]Remove these hooks by hand:[/]")
            rows = [
                (h["repository"], h["source_repository"], h["hook_id"], h["detail"]) for h in left
            ]
            print_table(console, ["image", "source", "hook", "why"], rows)

    emit(as_json, result, render)
