"""``buildsvc registry password|robots|tags``: registry logins and what the registry holds.

The password is read from a hidden prompt or ``--password-stdin`` (never an argument);
a robot's secret is printed once, when created or rotated.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.output import emit, handles_errors, json_option, print_table, stderr
from buildsvc.client_cli.params import read_secret
from buildsvc.client_cli.session import find_repository, open_client
from buildsvc.client_cli.timefmt import plural, shown

ACTIONS = ("pull", "push", "delete")


@click.group()
def registry() -> None:
    """Your registry password, robot accounts and image tags."""


@registry.command("password")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@handles_errors
def password(password_stdin: bool) -> None:
    """Set the password `docker login -u <account>` takes (not an API token)."""
    value = read_secret("Registry password", password_stdin, "--password-stdin")
    if not password_stdin and value != read_secret("Repeat the password", False):
        raise click.UsageError("the two passwords differ")
    open_client().call("PUT", "/api/v1/registry/password", body={"password": value})
    click.echo("Registry password set. Log in with: docker login <registry> -u <account name>")


@registry.group()
def robots() -> None:
    """Robot accounts: <account>+<name> logins with their own permissions."""


def _permissions(grants: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """``--grant pull,push ns/app`` (a repository) or ``--grant pull ns`` (a namespace)."""
    permissions = []
    for actions, target in grants:
        chosen = [a.strip() for a in actions.split(",") if a.strip()]
        if not chosen or any(a not in ACTIONS for a in chosen):
            raise click.BadParameter(f"actions are {', '.join(ACTIONS)}", param_hint="--grant")
        key = "repository" if "/" in target else "namespace"
        permissions.append({key: target, "actions": chosen})
    return permissions


GRANT = click.option(
    "--grant",
    "grants",
    type=(str, str),
    multiple=True,
    metavar="ACTIONS TARGET",
    help="e.g. --grant pull,push acme/app or --grant pull acme (repeatable). None: the robot "
    "can do nothing.",
)


def _secret(created: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        console.print(f"username: {created['username']}", highlight=False, markup=False)
        console.print(f"secret:   {created['secret']}", highlight=False, markup=False)
        console.print("The secret is shown this once; store it now.", style="yellow")

    return render


@robots.command("create")
@click.argument("name")
@GRANT
@click.option("--expires-at", help="ISO 8601 date and time after which it cannot log in.")
@json_option
@handles_errors
def create_robot(
    name: str, grants: tuple[tuple[str, str], ...], expires_at: str | None, as_json: bool
) -> None:
    """Create a robot account; prints its secret once."""
    body: dict[str, Any] = {"name": name, "permissions": _permissions(grants)}
    if expires_at:
        body["expires_at"] = expires_at
    created = open_client().call("POST", "/api/v1/robots", body=body)
    emit(as_json, created, _secret(created))


@robots.command("list")
@json_option
@handles_errors
def list_robots(as_json: bool) -> None:
    """The account's robots and their permissions (never their secrets)."""
    answer = open_client().get("/api/v1/robots")

    def render(console: Console) -> None:
        terminal = console.is_terminal
        rows = [
            (
                r["username"],
                "; ".join(
                    f"{','.join(p['actions'])} {p['repository'] or p['namespace']}"
                    for p in r["permissions"]
                )
                or "nothing",
                "disabled" if r["disabled"] else "active",
                shown(r["expires_at"], terminal=terminal) or "never",
            )
            for r in answer["items"]
        ]
        print_table(console, ["username", "may", "state", "expires"], rows)
        if terminal:
            console.print(plural(len(answer["items"]), "robot"), style="dim")

    emit(as_json, answer, render)


@robots.command("rotate")
@click.argument("name")
@json_option
@handles_errors
def rotate_robot(name: str, as_json: bool) -> None:
    """A new secret for the robot; the old one stops working."""
    created = open_client().call("POST", f"/api/v1/robots/{name}/secret")
    emit(as_json, created, _secret(created))


@robots.command("set")
@click.argument("name")
@GRANT
@click.option("--disable/--enable", default=None, help="Refuse (or allow again) its logins.")
@json_option
@handles_errors
def set_robot(
    name: str, grants: tuple[tuple[str, str], ...], disable: bool | None, as_json: bool
) -> None:
    """Replace a robot's permissions (with --grant) and/or disable or enable it."""
    body: dict[str, Any] = {}
    if grants:
        body["permissions"] = _permissions(grants)
    if disable is not None:
        body["disabled"] = disable
    robot = open_client().call("PATCH", f"/api/v1/robots/{name}", body=body)
    emit(as_json, robot, lambda console: console.print(f"{robot['username']} updated"))


@robots.command("delete")
@click.argument("name")
@handles_errors
def delete_robot(name: str) -> None:
    """Delete a robot account."""
    client = open_client()
    client.call("DELETE", f"/api/v1/robots/{name}")
    click.echo(f"robot {name} deleted")


@registry.command("tags")
@click.argument("repo", metavar="REPO")
@json_option
@handles_errors
def tags(repo: str, as_json: bool) -> None:
    """Tags of an image repository (REPO: id or namespace/name) and how to pull them."""
    client = open_client()
    found = find_repository(client, repo)
    answer = client.get(f"/api/v1/repositories/{found['id']}/tags")

    def render(console: Console) -> None:
        terminal = console.is_terminal
        rows = [
            (
                t["name"],
                t["digest"][:19],
                shown(t["pushed_at"], terminal=terminal),
                t["pushed_by"] or "",
                f"docker pull {found['image']}:{t['name']}",
            )
            for t in answer["items"]
        ]
        print_table(console, ["tag", "digest", "pushed", "by", "pull with"], rows)
        if not answer["reconciled"]:
            stderr().print("the registry did not answer: tags as last recorded", style="yellow")

    emit(as_json, answer, render)
