"""``buildsvc repos create|list|show|edit|delete``: image repositories and their rules.

``edit --rule`` replaces every rule (the API's ``PATCH`` does). ``--rule`` says type,
pattern, tags, Dockerfile and context only, so ``edit`` refuses to replace rules that
carry more (build args, secret build args, path filters, no-cache): their secret values
never come back from the API and would be lost; the console edits those.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from buildsvc.client_cli import timefmt
from buildsvc.client_cli.output import emit, handles_errors, json_option, print_table
from buildsvc.client_cli.session import find_repository, open_client, repo_argument

PROVIDERS = ("gitlab", "github", "bitbucket", "bitbucket-server")
RULE_EXTRAS = ("build_args", "secret_build_args", "include_paths", "ignore_paths", "no_cache")
F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def repos() -> None:
    """Create, list, show, edit and delete image repositories."""


def _render_repository(repo: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        source, hook = repo["source"], repo["hook"]
        console.print(
            f"[bold]{repo['namespace']}/{repo['name']}[/] (id {repo['id']})", highlight=False
        )
        console.print(f"  image:      {repo['image']}", markup=False, highlight=False)
        console.print(f"  visibility: {repo['visibility']}")
        origin = f"{source['provider']} {source['repository']}" if source else "none (docker push)"
        console.print(f"  source:     {origin}", highlight=False)
        console.print(f"  auto build: {'on' if repo['auto_build'] else 'off'}")
        console.print(f"  hook:       {(hook and hook['id']) or 'none'}", highlight=False)
        last = repo.get("last_delivery")
        if last:
            when = timefmt.shown(last["received_at"], terminal=console.is_terminal)
            console.print(f"  last push:  {last['outcome']} ({when})", highlight=False)
        rows = [
            (r["id"], r["type"], r["pattern"], r["tag"], r["dockerfile"], r["context"])
            for r in repo["rules"]
        ]
        columns = ["id", "type", "pattern", "tags", "dockerfile", "context"]
        print_table(console, columns, rows, title="Build rules")

    return render


# The service's wording (repositories.rules.PATTERN_HELP / TAG_HELP), repeated because the
# CLI imports nothing of the service; tests/buildsvc/client_cli keeps the copies equal.
PATTERN_HELP = (
    "A pattern is an exact name (main), a glob (v*, release/**: * stays within one "
    "/-separated part, ** spans several, ? is one character), or a regular expression "
    "between slashes (/v(\\d+)\\.(\\d+)/) whose groups tags use as {1} or {name}."
)
TAG_HELP = (
    "Tags: comma-separated templates with {branch}, {tag}, {sha}, {short_sha}, {date} "
    "and a regular expression's groups ({1}, {name})."
)


def rule_options(command: F) -> F:
    """``--rule TYPE PATTERN TAGS`` (repeatable) with ``--dockerfile`` and ``--context``."""
    command = click.option("--context", default=".", show_default=True, help="For every --rule.")(
        command
    )
    command = click.option(
        "--dockerfile", default="Dockerfile", show_default=True, help="For every --rule."
    )(command)
    return click.option(
        "--rule",
        "rules",
        type=(click.Choice(["branch", "tag"]), str, str),
        multiple=True,
        metavar="TYPE PATTERN TAGS",
        help="A build rule, e.g. --rule branch main latest, --rule tag 'v*' '{tag}' "
        "(repeatable). " + PATTERN_HELP + " " + TAG_HELP,
    )(command)


def _rules_body(
    rules: tuple[tuple[str, str, str], ...], dockerfile: str, context: str
) -> list[dict[str, str]]:
    return [
        {"type": t, "pattern": p, "tag": tag, "dockerfile": dockerfile, "context": context}
        for t, p, tag in rules
    ]


@repos.command("create")
@click.argument("name", metavar="NAMESPACE/NAME")
@click.option("--source", "source", required=True, help="Source repository: group/project.")
@click.option("--provider", type=click.Choice(PROVIDERS), default="gitlab", show_default=True)
@rule_options
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
    """Create an image repository linked to a source repository (adds a push hook).

    Without --rule the default branch builds latest and tags build their name.

    \b
    buildsvc repos create acme/app --source group/app --rule branch main latest
    """
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
        body["rules"] = _rules_body(rules, dockerfile, context)
    repo = open_client().call("POST", "/api/v1/repositories", body=body)
    emit(as_json, repo, _render_repository(repo))


@repos.command("list")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
@handles_errors
def list_repositories(page: int, per_page: int, as_json: bool) -> None:
    """Image repositories of the account.

    \b
    buildsvc repos list
    """
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
        print_table(console, ["id", "repository", "source", "auto build", "rules"], rows)
        if console.is_terminal:
            total = timefmt.plural(int(answer["total"]), "repository", "repositories")
            console.print(total, style="dim", highlight=False)

    emit(as_json, answer, render)


@repos.command("show")
@repo_argument
@json_option
@handles_errors
def show(repo: str, as_json: bool) -> None:
    """One image repository (REPO: id or namespace/name), with its rules and last push.

    \b
    buildsvc repos show acme/app
    """
    client = open_client()
    found = find_repository(client, repo)
    if not repo.isdigit():  # a listed item: one GET adds the hook's health and last push
        found = client.get(f"/api/v1/repositories/{found['id']}")
    emit(as_json, found, _render_repository(found))


def _extras(repo: dict[str, Any]) -> list[str]:
    """The rules whose options --rule cannot say, as "rule 7 (build_args, no_cache)"."""
    found = []
    for rule in repo["rules"]:
        names = [name for name in RULE_EXTRAS if rule.get(name)]
        if names:
            found.append(f"rule {rule['id']} ({', '.join(names)})")
    return found


@repos.command("edit")
@repo_argument
@click.option("--auto-build/--no-auto-build", default=None, help="Build on every push, or not.")
@rule_options
@json_option
@handles_errors
def edit(
    repo: str,
    auto_build: bool | None,
    rules: tuple[tuple[str, str, str], ...],
    dockerfile: str,
    context: str,
    as_json: bool,
) -> None:
    """Change REPO's auto build, or replace all its rules with the --rule ones.

    \b
    buildsvc repos edit acme/app --no-auto-build
    buildsvc repos edit acme/app --rule branch main latest --rule tag /v.+/ {tag}
    """
    if auto_build is None and not rules:
        raise click.UsageError("nothing to change: give --auto-build/--no-auto-build or --rule")
    client = open_client()
    found = find_repository(client, repo)
    body: dict[str, Any] = {}
    if auto_build is not None:
        body["auto_build"] = auto_build
    if rules:
        extras = _extras(found)
        if extras:
            raise click.UsageError(
                f"{', '.join(extras)} of {repo} would lose options --rule cannot give; "
                "edit those rules in the console"
            )
        body["rules"] = _rules_body(rules, dockerfile, context)
    changed = client.call("PATCH", f"/api/v1/repositories/{found['id']}", body=body)
    emit(as_json, changed, _render_repository(changed))


@repos.command("delete")
@repo_argument
@click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."
)
@json_option
@handles_errors
def delete(repo: str, yes: bool, as_json: bool) -> None:
    """Delete an image repository and remove its push hook from the forge.

    \b
    buildsvc repos delete acme/app --yes
    """
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("--yes is required when stdin is not a terminal")
        click.confirm(f"Delete {repo} and its push hook?", abort=True, err=True)
    client = open_client()
    found = find_repository(client, repo)
    done = client.call("DELETE", f"/api/v1/repositories/{found['id']}")

    def render(console: Console) -> None:
        name = f"{found['namespace']}/{found['name']}"
        hook = "its push hook removed" if done["hook_removed"] else "its push hook NOT removed"
        console.print(f"Deleted {name} (id {found['id']}), {hook}.", highlight=False)
        if done.get("detail"):
            console.print(f"  detail: {done['detail']}", markup=False, highlight=False)

    emit(as_json, done, render)
