"""``buildsvc login`` and ``buildsvc logout``."""

from __future__ import annotations

import os

import click

from buildsvc.client_cli import config
from buildsvc.client_cli.apiclient import ApiClient
from buildsvc.client_cli.output import handles_errors, json_option, print_json, stderr
from buildsvc.client_cli.params import read_secret, token_stdin_option


@click.command()
@click.option(
    "--url",
    default=lambda: os.environ.get(config.URL_ENV, config.DEFAULT_URL),
    show_default=f"${config.URL_ENV} or {config.DEFAULT_URL}",
    help="The buildsvc API base URL; without a scheme https:// (http:// for loopback).",
)
@token_stdin_option
@json_option
@handles_errors
def login(url: str, token_stdin: bool, as_json: bool) -> None:
    """Check an API token against the API and save it for the other commands.

    The URL and token are stored in $XDG_CONFIG_HOME/buildsvc/config.json (mode 0600).
    In CI, set BUILDSVC_API_URL and BUILDSVC_API_TOKEN instead: they override the file.

    \b
    buildsvc login --url http://127.0.0.1:8080
    echo "$TOKEN" | buildsvc login --url api.example.com --token-stdin
    """
    try:
        url = config.normalize_url(url)
    except config.ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--url") from exc
    token = read_secret("API token", token_stdin)
    client = ApiClient(url, token)
    try:
        client.get("/api/v1/sources")  # any authenticated call proves the token
    finally:
        client.close()
    path = config.save(config.Login(url, token))
    if as_json:
        print_json({"url": url, "token_last4": token[-4:], "config": str(path)})
    else:
        stderr().print(
            f"Logged in to {url} with token …{token[-4:]} (saved in {path})", highlight=False
        )


@click.command()
def logout() -> None:
    """Forget the saved API URL and token."""
    removed = config.forget()
    stderr().print("Logged out." if removed else "Not logged in.", highlight=False)
