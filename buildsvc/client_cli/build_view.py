"""How builds look: the list's rows and one build's details (``show``, ``--follow``'s end).

Builds name their repository by id; ``repository_names`` maps the ids to the
``namespace/name`` people typed, so tables show those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.text import Text

from buildsvc.client_cli import timefmt
from buildsvc.client_cli.apiclient import ApiClient
from buildsvc.client_cli.output import print_table, status_text

COLUMNS = ("id", "repository", "status", "ref", "commit", "trigger", "queued", "took")
PHASES = ("queued", "fetching", "building", "pushing")


def repository_names(client: ApiClient) -> dict[int, str]:
    return {
        int(r["id"]): f"{r['namespace']}/{r['name']}"
        for r in client.all_items("/api/v1/repositories")
    }


def print_builds(
    console: Console, items: Iterable[Mapping[str, Any]], names: Mapping[int, str]
) -> None:
    terminal = console.is_terminal
    rows = [
        (
            b["id"],
            names.get(int(b["repository_id"]), str(b["repository_id"])),
            status_text(str(b["status"])),
            b["ref_name"],
            str(b["commit_sha"])[:7],
            b["trigger"],
            timefmt.shown(b["queued_at"], terminal=terminal),
            timefmt.duration((b.get("durations") or {}).get("total")),
        )
        for b in items
    ]
    print_table(console, COLUMNS, rows)


def _field(console: Console, name: str, value: str | Text) -> None:
    line = Text(f"  {name + ':' if name else '':<8}")
    line.append(value)
    console.print(line, highlight=False)


def print_build(console: Console, build: Mapping[str, Any], repository: str | None) -> None:
    """One build: status, where it came from, its phases, image and error."""
    headline = Text(f"build {build['id']} ")
    headline.append(status_text(str(build["status"])))
    took = timefmt.duration((build.get("durations") or {}).get("total"))
    headline.append(f" in {took}" if took else "")
    console.print(headline, highlight=False)
    if repository:
        _field(console, "repo", repository)
    commit = str(build.get("commit_sha") or "")
    if commit:
        _field(console, "ref", f"{build.get('ref_name')} @ {commit[:12]} ({build.get('trigger')})")
    if build.get("queued_at"):
        terminal = console.is_terminal
        _field(console, "queued", timefmt.shown(build["queued_at"], terminal=terminal))
    durations = build.get("durations") or {}
    phases = [
        f"{phase} {timefmt.duration(durations[phase])}"
        for phase in PHASES
        if isinstance(durations.get(phase), int | float)
    ]
    if phases:
        _field(console, "phases", ", ".join(phases))
    for tag in build.get("tags") or []:
        _field(console, "image", str(tag))
    if build.get("digest"):
        _field(console, "digest", str(build["digest"]))
    error = build.get("error")
    if error:
        _field(console, "error", f"{error.get('code')}: {error.get('message')}")
        if error.get("detail"):
            _field(console, "", str(error["detail"]))
    if build.get("status_note"):
        _field(console, "note", str(build["status_note"]))
