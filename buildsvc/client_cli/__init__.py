"""The user-facing ``buildsvc`` commands: talk to a buildsvc API as a developer would.

``login``/``logout``, ``sources bind|list|check|unbind``, ``repos
create|list|show|edit|delete``, ``builds start|list|show|rerun|logs|cancel``,
``deliveries list``, ``registry password|robots|tags`` and ``completion``. They use the
saved login (``config.py``) or ``BUILDSVC_API_URL``/``BUILDSVC_API_TOKEN``, print tables
(TSV when piped) or, with ``--json``, JSON, and exit with the codes of ``exit_codes.py``
(``--follow`` exits by how the build ended). ``buildsvc.cli`` adds ``COMMANDS`` to its
group and ``EPILOG`` to its help.
"""

from __future__ import annotations

import click

from buildsvc.client_cli.auth import login, logout
from buildsvc.client_cli.builds import builds
from buildsvc.client_cli.completion import completion
from buildsvc.client_cli.config import TOKEN_ENV, URL_ENV
from buildsvc.client_cli.deliveries import deliveries
from buildsvc.client_cli.notifications import notifications
from buildsvc.client_cli.registry import registry
from buildsvc.client_cli.replication import replication
from buildsvc.client_cli.repos import repos
from buildsvc.client_cli.sources import sources
from buildsvc.client_cli.tokens import tokens

COMMANDS: tuple[click.Command, ...] = (
    login,
    logout,
    sources,
    repos,
    builds,
    deliveries,
    completion,
    tokens,
    notifications,
    replication,
    registry,
)

EPILOG = f"""\b
Environment (client commands):
  {URL_ENV}    API base URL, over the one `buildsvc login` saved
  {TOKEN_ENV}  API token, over the saved one (for CI jobs)
  NO_COLOR            no colours in tables and status lines
Shell completion: `buildsvc completion bash|zsh|fish --help`.
"""

__all__ = ["COMMANDS", "EPILOG"]
