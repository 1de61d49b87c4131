"""``buildsvc replication add|list|remove|run|status``: copies of a repository's images
in other registries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.output import emit, handles_errors, json_option, print_table
from buildsvc.client_cli.params import IdType, read_secret
from buildsvc.client_cli.session import find_repository, open_client


@click.group()
def replication() -> None:
    """Replicate an image repository's tags to other registries."""


def _rules_path(client: Any, repo: str) -> str:
    return f"/api/v1/repositories/{find_repository(client, repo)['id']}/replication-rules"


def _render_rules(rules: list[dict[str, Any]]) -> Any:
    def render(console: Console) -> None:
        rows = [
            (
                r["id"],
                r["destination_url"],
                "/".join(p for p in (r["destination_namespace"], r["name_template"]) if p),
                r["tag_filter"],
                r["trigger"],
                r["scope"],
                "on" if r["enabled"] else "off",
            )
            for r in rules
        ]
        columns = ["id", "destination", "name", "tags", "trigger", "scope", "enabled"]
        print_table(console, columns, rows, title="Replication rules")

    return render


RULE_ID = IdType("replication rule", "buildsvc replication list REPO")


@replication.command("add")
@click.argument("repo", metavar="REPO")
@click.option("--url", required=True, help="The destination registry: https://host[:port].")
@click.option("--username", help="Login at the destination.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the destination password from stdin's first line (else a hidden prompt, "
    "or $BUILDSVC_REPLICATION_PASSWORD); never an argument, which others could read.",
)
@click.option(
    "--ca-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of the CA that signed the destination's certificate.",
)
@click.option("--namespace", "destination_namespace", default="", help="Destination namespace.")
@click.option("--name", "name_template", default="{name}", show_default=True)
@click.option("--tags", "tag_filter", default="/.+/", show_default=True, help="Tag filter.")
@click.option("--trigger", type=click.Choice(["push", "manual"]), default="push", show_default=True)
@click.option("--scope", type=click.Choice(["repository", "namespace"]), default="repository")
@json_option
@handles_errors
def add(
    repo: str,
    username: str | None,
    password_stdin: bool,
    ca_cert: Path | None,
    as_json: bool,
    **fields: Any,
) -> None:
    """Add a replication rule to REPO (id or namespace/name)."""
    password = os.environ.get("BUILDSVC_REPLICATION_PASSWORD")
    if username and password is None:
        password = read_secret("Password", password_stdin, flag="--password-stdin")
    body: dict[str, Any] = {
        "destination_url": fields.pop("url"),
        "username": username,
        "password": password,
        **fields,
    }
    if ca_cert is not None:
        body["ca_cert"] = ca_cert.read_text()
    client = open_client()
    rule = client.call("POST", _rules_path(client, repo), body=body)
    emit(as_json, rule, _render_rules([rule]))


@replication.command("list")
@click.argument("repo", metavar="REPO")
@json_option
@handles_errors
def list_rules(repo: str, as_json: bool) -> None:
    """Replication rules covering REPO."""
    client = open_client()
    rules = list(client.all_items(_rules_path(client, repo)))
    emit(as_json, rules, _render_rules(rules))


@replication.command("remove")
@click.argument("repo", metavar="REPO")
@click.argument("rule_id", type=RULE_ID)
@handles_errors
def remove(repo: str, rule_id: int) -> None:
    """Delete a replication rule (and its status rows)."""
    client = open_client()
    client.call("DELETE", f"{_rules_path(client, repo)}/{rule_id}")
    click.echo(f"Replication rule {rule_id} removed.")


@replication.command("run")
@click.argument("repo", metavar="REPO")
@click.argument("rule_id", type=RULE_ID)
@json_option
@handles_errors
def run(repo: str, rule_id: int, as_json: bool) -> None:
    """Copy every existing tag the rule's filter matches."""
    client = open_client()
    answer = client.call("POST", f"{_rules_path(client, repo)}/{rule_id}/run")

    def render(console: Console) -> None:
        console.print(f"{answer['planned']} tags planned, {answer['queued']} queued")

    emit(as_json, answer, render)


@replication.command("status")
@click.argument("repo", metavar="REPO")
@json_option
@handles_errors
def status(repo: str, as_json: bool) -> None:
    """Where REPO's tags were copied: pending, copying, done or failed."""
    client = open_client()
    path = f"/api/v1/repositories/{find_repository(client, repo)['id']}/replications"
    items = list(client.all_items(path))

    def render(console: Console) -> None:
        rows = [
            (i["tag"], i["destination"], i["status"], i["attempts"], i["error_code"] or "")
            for i in items
        ]
        print_table(console, ["tag", "destination", "status", "attempts", "error"], rows)

    emit(as_json, items, render)
