"""``buildsvc sources bind|list|unbind``: code-source accounts of the logged-in account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.output import emit, handles_errors, json_option, stderr, table
from buildsvc.client_cli.session import open_client

PROVIDERS = ("gitlab", "github", "bitbucket", "bitbucket-server")
TOKEN_ENV = "BUILDSVC_SOURCE_TOKEN"  # noqa: S105 -- the variable's name, not a secret


@click.group()
def sources() -> None:
    """Bind, list and unbind code-source accounts (GitLab, GitHub, Bitbucket)."""


def _render_bindings(items: list[dict[str, Any]]) -> Any:
    def render(console: Console) -> None:
        rows = [
            (
                b["provider"],
                b["url"],
                b["username"],
                f"…{b['token_last4']}",
                b.get("expires_at") or "never",
                b["status"] + (f" ({b['broken_reason']})" if b.get("broken_reason") else ""),
            )
            for b in items
        ]
        console.print(
            table(None, ["provider", "url", "username", "token", "expires", "status"], rows)
        )
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
    prompt="Access token",
    hide_input=True,
    help=f"Private/personal access token (prompted when absent; or ${TOKEN_ENV}).",
)
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
    token: str,
    ca_cert: Path | None,
    as_json: bool,
) -> None:
    """Bind a code-source account; the forge checks the URL, user and token."""
    body: dict[str, Any] = {"provider": provider, "username": username, "token": token}
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
    """The bound accounts (tokens shown as their last 4 characters)."""
    answer = open_client().get("/api/v1/sources")
    emit(as_json, answer, _render_bindings(answer["items"]))


@sources.command("unbind")
@click.argument("provider", type=click.Choice(PROVIDERS))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handles_errors
def unbind(provider: str, yes: bool, as_json: bool) -> None:
    """Unbind: remove the hooks buildsvc created and forget the token."""
    if not yes:
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
            console.print(table(None, ["image", "source", "hook", "why"], rows))

    emit(as_json, result, render)
