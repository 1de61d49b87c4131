"""``buildsvc login`` and ``buildsvc logout``."""

from __future__ import annotations

import os
import sys

import click

from buildsvc.client_cli import config
from buildsvc.client_cli.apiclient import ApiClient
from buildsvc.client_cli.output import handles_errors, json_option, print_json, stderr


@click.command()
@click.option(
    "--url",
    default=lambda: os.environ.get(config.URL_ENV, config.DEFAULT_URL),
    show_default=config.DEFAULT_URL,
    help="The buildsvc API base URL.",
)
@click.option(
    "--token-stdin", is_flag=True, help="Read the API token from stdin instead of a prompt."
)
@json_option
@handles_errors
def login(url: str, token_stdin: bool, as_json: bool) -> None:
    """Check an API token against the API and save it for the other commands.

    The URL and token are stored in $XDG_CONFIG_HOME/buildsvc/config.json (mode 0600).
    """
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = click.prompt("API token", hide_input=True).strip()
    if not token:
        raise click.UsageError("an API token is required")
    client = ApiClient(url, token)
    try:
        client.get("/api/v1/sources")  # any authenticated call proves the token
    finally:
        client.close()
    path = config.save(config.Login(url.rstrip("/"), token))
    if as_json:
        print_json({"url": url.rstrip("/"), "token_last4": token[-4:], "config": str(path)})
    else:
        stderr().print(
            f"Logged in to {url} with token …{token[-4:]} (saved in {path})", highlight=False
        )


@click.command()
def logout() -> None:
    """Forget the saved API URL and token."""
    removed = config.forget()
    stderr().print("Logged out." if removed else "Not logged in.", highlight=False)
