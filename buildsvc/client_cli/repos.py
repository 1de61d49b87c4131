"""``buildsvc repos create|list|show``: image repositories and their build rules."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from buildsvc.client_cli.output import emit, handles_errors, json_option, table
from buildsvc.client_cli.session import find_repository, open_client

PROVIDERS = ("gitlab", "github", "bitbucket", "bitbucket-server")


@click.group()
def repos() -> None:
    """Create, list and show image repositories."""


def _render_repository(repo: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        source, hook = repo["source"], repo["hook"]
        console.print(f"[bold]{repo['namespace']}/{repo['name']}[/] (id {repo['id']})")
        console.print(f"  image:      {repo['image']}", markup=False, highlight=False)
        console.print(f"  visibility: {repo['visibility']}")
        origin = f"{source['provider']} {source['repository']}" if source else "none (docker push)"
        console.print(f"  source:     {origin}", highlight=False)
        console.print(f"  auto build: {'on' if repo['auto_build'] else 'off'}")
        console.print(f"  hook:       {(hook and hook['id']) or 'none'}", highlight=False)
        rows = [
            (r["id"], r["type"], r["pattern"], r["tag"], r["dockerfile"], r["context"])
            for r in repo["rules"]
        ]
        console.print(
            table("Build rules", ["id", "type", "pattern", "tags", "dockerfile", "context"], rows)
        )

    return render


@repos.command("create")
@click.argument("name", metavar="NAMESPACE/NAME")
@click.option("--source", "source", required=True, help="Source repository: group/project.")
@click.option("--provider", type=click.Choice(PROVIDERS), default="gitlab", show_default=True)
@click.option(
    "--rule",
    "rules",
    type=(click.Choice(["branch", "tag"]), str, str),
    multiple=True,
    metavar="TYPE PATTERN TAGS",
    help="A build rule, e.g. --rule branch main latest (repeatable). Default: the default "
    "branch builds latest, tags build their name.",
)
@click.option("--dockerfile", default="Dockerfile", show_default=True, help="For every --rule.")
@click.option("--context", default=".", show_default=True, help="For every --rule.")
@click.option("--auto-build/--no-auto-build", default=True, show_default=True)
@json_option
@handles_errors
def create(
    name: str,
    source: str,
    provider: str,
    rules: tuple[tuple[str, str, str], ...],
    dockerfile: str,
    context: str,
    auto_build: bool,
    as_json: bool,
) -> None:
    """Create an image repository linked to a source repository (adds a push hook)."""
    namespace, slash, image = name.partition("/")
    if not slash or not namespace or not image or "/" in image:
        raise click.BadParameter("expected NAMESPACE/NAME", param_hint="NAMESPACE/NAME")
    body: dict[str, Any] = {
        "namespace": namespace,
        "name": image,
        "source": {"provider": provider, "repository": source},
        "auto_build": auto_build,
    }
    if rules:
        body["rules"] = [
            {"type": t, "pattern": p, "tag": tag, "dockerfile": dockerfile, "context": context}
            for t, p, tag in rules
        ]
    repo = open_client().call("POST", "/api/v1/repositories", body=body)
    emit(as_json, repo, _render_repository(repo))


@repos.command("list")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
@handles_errors
def list_repositories(page: int, per_page: int, as_json: bool) -> None:
    """Image repositories of the account."""
    answer = open_client().get("/api/v1/repositories", page=page, per_page=per_page)

    def render(console: Console) -> None:
        rows = [
            (
                r["id"],
                f"{r['namespace']}/{r['name']}",
                f"{r['source']['provider']}:{r['source']['repository']}"
                if r["source"]
                else "plain",
                "on" if r["auto_build"] else "off",
                len(r["rules"]),
            )
            for r in answer["items"]
        ]
        console.print(table(None, ["id", "image", "source", "auto build", "rules"], rows))
        console.print(f"{answer['total']} repositories", style="dim")

    emit(as_json, answer, render)


@repos.command("show")
@click.argument("repo", metavar="REPO")
@json_option
@handles_errors
def show(repo: str, as_json: bool) -> None:
    """One image repository (REPO: id or namespace/name), with its rules."""
    found = find_repository(open_client(), repo)
    emit(as_json, found, _render_repository(found))
