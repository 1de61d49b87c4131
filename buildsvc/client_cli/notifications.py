"""``buildsvc notifications add|list|enable|disable|remove|test|deliveries``.

REPO is an image repository's id or namespace/name; TARGET a notification target's id.
``add`` reads the URL from ``--url``, ``--url-stdin`` or a hidden prompt (a Slack URL is a
secret) and prints a webhook's signing secret, which the API shows this once.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.output import emit, handles_errors, json_option, print_table
from buildsvc.client_cli.params import IdType, read_secret
from buildsvc.client_cli.session import find_repository, open_client
from buildsvc.client_cli.timefmt import plural

EVENTS = (
    "build.queued",
    "build.started",
    "build.succeeded",
    "build.failed",
    "build.canceled",
    "image.pushed",
    "tag.deleted",
)


@click.group()
def notifications() -> None:
    """Send an image repository's events to a webhook or Slack."""


TARGET_ID = IdType("notification target", "buildsvc notifications list REPO")


def _base(repo: str) -> str:
    found = find_repository(open_client(), repo)
    return f"/api/v1/repositories/{found['id']}/notifications"


def _state(target: dict[str, Any]) -> str:
    if target["enabled"]:
        return "enabled"
    return f"disabled: {target['disabled_reason']}"


def _render_target(target: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        console.print(f"[bold]{target['kind']}[/] target {target['id']}: {target['url']}")
        console.print(f"  events: {', '.join(target['events'])}", highlight=False)
        console.print(f"  state:  {_state(target)}", highlight=False, markup=False)
        if target.get("secret"):
            console.print("  signing secret (shown once, keep it):", style="bold")
            console.print(f"  {target['secret']}", highlight=False, markup=False)

    return render


@notifications.command("add")
@click.argument("repo", metavar="REPO")
@click.option("--kind", type=click.Choice(["webhook", "slack"]), default="webhook")
@click.option("--url", help="Where to send (else a hidden prompt, or --url-stdin).")
@click.option(
    "--url-stdin",
    is_flag=True,
    help="Read the URL from stdin's first line (a Slack URL is a secret).",
)
@click.option(
    "--event",
    "events",
    type=click.Choice(EVENTS),
    multiple=True,
    help="An event to send (repeatable). Default: every event.",
)
@click.option("--description", default="", help="A note for people.")
@json_option
@handles_errors
def add(
    repo: str,
    kind: str,
    url: str | None,
    url_stdin: bool,
    events: tuple[str, ...],
    description: str,
    as_json: bool,
) -> None:
    """Add a notification target to an image repository."""
    if url is None:
        url = read_secret("URL", url_stdin, flag="--url-stdin")
    body: dict[str, Any] = {"kind": kind, "url": url, "description": description}
    if events:
        body["events"] = list(events)
    target = open_client().call("POST", _base(repo), body=body)
    emit(as_json, target, _render_target(target))


@notifications.command("list")
@click.argument("repo", metavar="REPO")
@json_option
@handles_errors
def list_targets(repo: str, as_json: bool) -> None:
    """The repository's notification targets, and whether each is disabled (and why)."""
    answer = open_client().get(_base(repo))

    def render(console: Console) -> None:
        rows = [
            (t["id"], t["kind"], t["url"], ", ".join(t["events"]), _state(t))
            for t in answer["items"]
        ]
        print_table(console, ["id", "kind", "url", "events", "state"], rows)

    emit(as_json, answer, render)


def _patch(repo: str, target: int, body: dict[str, Any], as_json: bool) -> None:
    changed = open_client().call("PATCH", f"{_base(repo)}/{target}", body=body)
    emit(as_json, changed, _render_target(changed))


@notifications.command("enable")
@click.argument("repo", metavar="REPO")
@click.argument("target", type=TARGET_ID)
@json_option
@handles_errors
def enable(repo: str, target: int, as_json: bool) -> None:
    """Enable a target again (one disabled after failing for 24 hours, say)."""
    _patch(repo, target, {"enabled": True}, as_json)


@notifications.command("disable")
@click.argument("repo", metavar="REPO")
@click.argument("target", type=TARGET_ID)
@json_option
@handles_errors
def disable(repo: str, target: int, as_json: bool) -> None:
    """Stop sending to a target (its unsent deliveries are dropped)."""
    _patch(repo, target, {"enabled": False}, as_json)


@notifications.command("remove")
@click.argument("repo", metavar="REPO")
@click.argument("target", type=TARGET_ID)
@json_option
@handles_errors
def remove(repo: str, target: int, as_json: bool) -> None:
    """Delete a target and its delivery log."""
    answer = open_client().call("DELETE", f"{_base(repo)}/{target}")
    emit(as_json, answer, lambda console: console.print(f"removed target {target}"))


@notifications.command("test")
@click.argument("repo", metavar="REPO")
@click.argument("target", type=TARGET_ID)
@json_option
@handles_errors
def send_test(repo: str, target: int, as_json: bool) -> None:
    """Queue a test notification; `deliveries` shows how it went."""
    answer = open_client().call("POST", f"{_base(repo)}/{target}/test")
    message = f"test delivery {answer['id']} queued"
    emit(as_json, answer, lambda console: console.print(message))


@notifications.command("deliveries")
@click.argument("repo", metavar="REPO")
@click.argument("target", type=TARGET_ID)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
@handles_errors
def deliveries(repo: str, target: int, page: int, per_page: int, as_json: bool) -> None:
    """A target's deliveries, newest first: response code, time, error."""
    path = f"{_base(repo)}/{target}/deliveries"
    answer = open_client().get(path, page=page, per_page=per_page)

    def render(console: Console) -> None:
        rows = [
            (
                d["id"],
                d["event"],
                d["build_id"],
                d["state"],
                d["attempts"],
                d["response_status"],
                None if d["response_ms"] is None else f"{d['response_ms']} ms",
                d["error"],
            )
            for d in answer["items"]
        ]
        columns = ["id", "event", "build", "state", "tries", "code", "time", "error"]
        print_table(console, columns, rows)
        if console.is_terminal:
            console.print(plural(answer["total"], "delivery", "deliveries"), style="dim")

    emit(as_json, answer, render)
