"""Printing for the CLI: rich tables for people, JSON for scripts, errors one way.

``emit(ctx_json, data, render)`` prints ``data`` as JSON with ``--json`` and calls
``render(console)`` otherwise. Errors go to stderr as ``error: CODE: message`` plus the
detail (with ``--json``: the error object on stdout), and the command exits
``EXIT_ERROR``.

Tables follow gh: on a terminal a rich table with status colours (rich drops colour when
``NO_COLOR`` is set); piped, tab-separated rows without header, padding or colour, so
``cut -f2`` works.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from buildsvc.client_cli.apiclient import ApiError
from buildsvc.client_cli.config import ConfigError
from buildsvc.client_cli.exit_codes import EXIT_ERROR

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables."
)


def stdout() -> Console:
    # Wide enough that tables do not fold under pipes and test runners.
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)


def stderr() -> Console:
    return Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def emit(as_json: bool, data: Any, render: Callable[[Console], None]) -> None:
    if as_json:
        print_json(data)
    else:
        render(stdout())


STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
    "superseded": "dim",
    "queued": "cyan",
    "ok": "green",
    "broken": "red",
}


def status_text(status: str) -> Text:
    """A status word in its colour (running phases: blue)."""
    return Text(status, style=STATUS_STYLE.get(status, "blue"))


def _plain(cell: Any) -> str:
    text = "" if cell is None else cell.plain if isinstance(cell, Text) else str(cell)
    return " ".join(text.split("\t")).replace("\n", " ")


def print_table(
    console: Console,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    title: str | None = None,
) -> None:
    """Rows (cells: str, number, rich Text or None) as a table, or as TSV when piped."""
    if not console.is_terminal:
        for row in rows:  # click, not rich: rich would expand the tabs
            click.echo("\t".join(_plain(cell) for cell in row), file=console.file)
        return
    result = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*(cell if isinstance(cell, Text) else _plain(cell) for cell in row))
    console.print(result)


def fail(error: ApiError | ConfigError, as_json: bool = False) -> NoReturn:
    if isinstance(error, ApiError):
        if as_json:
            print_json(error.to_dict())
        else:
            console = stderr()
            console.print(f"[bold red]error[/]: {error.code}: {error.message}", highlight=False)
            if error.detail:
                console.print(f"  detail: {error.detail}", highlight=False, markup=False)
    else:
        if as_json:
            print_json({"error": {"code": "NOT_LOGGED_IN", "message": str(error)}})
        else:
            stderr().print(f"[bold red]error[/]: {error}", highlight=False)
    sys.exit(EXIT_ERROR)


def handles_errors(command: F) -> F:
    """Turn ApiError/ConfigError into the printed error and ``EXIT_ERROR``."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ApiError, ConfigError) as exc:
            fail(exc, bool(kwargs.get("as_json")))

    return run  # type: ignore[return-value]
