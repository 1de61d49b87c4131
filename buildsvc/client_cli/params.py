"""Reading what commands take: ids with a plain message, secrets never echoed.

``BUILD_ID`` accepts ``42`` (or ``#42``) and answers anything else with what a build id
is, rather than click's "not a valid integer range". ``read_secret`` takes a token from
stdin (``--token-stdin``), else from a hidden prompt on a terminal; without a terminal it
refuses and names ``--token-stdin``, rather than letting getpass fall back to echoing.
"""

from __future__ import annotations

import sys

import click

MAX_ID = 2**63 - 1  # the API's ids are 64-bit integers


class IdType(click.ParamType[int]):
    name = "id"

    def __init__(self, what: str, listed_by: str) -> None:
        self.what = what
        self.listed_by = listed_by

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip().removeprefix("#")
            if not (text.isascii() and text.isdigit()):
                self.fail(self._message(value), param, ctx)
            number = int(text)
        if not 1 <= number <= MAX_ID:
            self.fail(self._message(value), param, ctx)
        return number

    def _message(self, value: object) -> str:
        return (
            f"{str(value)!r} is not a {self.what} id: give its number, e.g. 42 "
            f"(`{self.listed_by}` shows them)"
        )


BUILD_ID = IdType("build", "buildsvc builds list")
RULE_ID = IdType("rule", "buildsvc repos show REPO")

token_stdin_option = click.option(
    "--token-stdin",
    is_flag=True,
    help="Read the token from stdin (first line), e.g. `pass show x | buildsvc …`.",
)


def read_secret(label: str, from_stdin: bool, flag: str = "--token-stdin") -> str:
    """A secret from stdin's first line (``flag`` given) or a hidden prompt; UsageError
    if there is none."""
    if from_stdin:
        value = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        value = str(click.prompt(label, hide_input=True, err=True)).strip()
    else:
        raise click.UsageError(
            f"stdin is not a terminal, so the {label.lower()} cannot be asked for without "
            f"echoing it: pipe it in with {flag}"
        )
    if not value:
        raise click.UsageError(f"the {label.lower()} is empty")
    return value
