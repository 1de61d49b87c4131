"""``buildsvc admin check``, and the checks ``serve`` and ``worker`` run before starting.

The admin command runs every check and prints one line each (exit 1 when one fails).
At startup a process runs only what it cannot work without, and stops at the first
problem with one line (exit 2):

- API: the database answers (it migrates itself; Redis may be down, builds then wait
  in the outbox);
- worker: the database, its Docker engine, and the registry (login and push).

Both then record their registry settings in Redis for the comparison.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import click

from buildsvc.config import Settings
from buildsvc.startup import load_settings  # the CLI's own settings loading and logging

if TYPE_CHECKING:
    from buildsvc.preflight.registry_record import Role
    from buildsvc.preflight.result import Check

CheckFn = Callable[[Settings], Awaitable["Check"]]


def admin_checks() -> tuple[CheckFn, ...]:
    # Imported here: the checks pull in docker, alembic and the registry client, which
    # every other `buildsvc` command (the user-facing ones too) would otherwise load.
    from buildsvc.preflight import checks
    from buildsvc.preflight.registry_push import check_registry
    from buildsvc.preflight.registry_record import check_registry_agreement

    return (
        checks.check_database,
        checks.check_redis,
        check_registry,
        checks.check_docker,
        checks.check_public_url,
        check_registry_agreement,
    )


def startup_checks_for(role: Role) -> tuple[CheckFn, ...]:
    from buildsvc.preflight import checks
    from buildsvc.preflight.registry_push import check_registry

    database_reachable: CheckFn = functools.partial(checks.check_database, migrations=False)
    if role == "api":
        return (database_reachable,)
    return (database_reachable, checks.check_docker, check_registry)


class StartupCheckFailed(click.ClickException):
    """A process cannot start: one line on stderr, exit status 2."""

    exit_code = 2


async def run_checks(settings: Settings, checks: Sequence[CheckFn]) -> list[Check]:
    """Every check at once (each has its own deadline), in the order given."""
    return list(await asyncio.gather(*(check(settings) for check in checks)))


def startup_checks(settings: Settings, role: Role) -> None:
    """Raise ``StartupCheckFailed`` naming the first problem; else record the settings."""

    from buildsvc.preflight.registry_record import record_registry_settings

    async def run() -> Check | None:
        for check in await run_checks(settings, startup_checks_for(role)):
            if not check.ok:
                return check
        await record_registry_settings(settings, role)
        return None

    failed = asyncio.run(run())
    if failed is not None:
        raise StartupCheckFailed(f"{role} cannot start: {failed.line().removeprefix('FAIL  ')}")


@click.command("check")
def check_command() -> None:
    """Check the database, Redis, the registry, Docker, PUBLIC_URL and the processes'
    registry settings; one line each, with what to fix (exit 1 if any fails)."""
    results = asyncio.run(run_checks(load_settings(), admin_checks()))
    for result in results:
        click.echo(result.line())
    if not all(result.ok for result in results):
        raise click.exceptions.Exit(1)
