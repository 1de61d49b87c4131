"""The README's CLI section shows an example of every user-facing command."""

from __future__ import annotations

from collections.abc import Iterator

import click

from buildsvc.client_cli import COMMANDS
from tests.common.servers import REPO_ROOT


def _paths(command: click.Command, prefix: str) -> Iterator[str]:
    path = f"{prefix} {command.name}"
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _paths(sub, path)
    else:
        yield path


def _cli_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("### The CLI")
    return readme[start : readme.index("\n## ", start)]


def test_every_command_has_an_example_in_the_readme() -> None:
    section = _cli_section()
    examples = [line.split("|")[-1].strip() for line in section.splitlines()]
    missing = [
        path
        for command in COMMANDS
        for path in _paths(command, "buildsvc")
        if not any(example.startswith(path) for example in examples)
    ]
    assert missing == []


def test_the_readme_documents_the_environment_and_completion() -> None:
    section = _cli_section()
    for name in ("BUILDSVC_API_URL", "BUILDSVC_API_TOKEN", "NO_COLOR", "buildsvc completion"):
        assert name in section
