"""The user-facing ``buildsvc`` commands: talk to a buildsvc API as a developer would.

``login``/``logout``, ``sources bind|list|unbind``, ``repos create|list|show``,
``builds start|list|logs|cancel`` and ``registry password|robots|tags``. They use the
saved login (``config.py``), print tables or, with ``--json``, JSON, and exit with the
codes of ``exit_codes.py`` (``--follow`` exits by how the build ended).
``buildsvc.cli`` adds ``COMMANDS`` to its group.
"""

from __future__ import annotations

import click

from buildsvc.client_cli.auth import login, logout
from buildsvc.client_cli.builds import builds
from buildsvc.client_cli.registry import registry
from buildsvc.client_cli.repos import repos
from buildsvc.client_cli.sources import sources

COMMANDS: tuple[click.Command, ...] = (login, logout, sources, repos, builds, registry)

__all__ = ["COMMANDS"]
