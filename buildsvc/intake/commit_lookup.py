"""Head commit messages a push payload leaves out (Bitbucket Server), for skip markers.

Bitbucket Server's ``repo:refs_changed`` names the new commit but not its message, so a
``[skip ci]`` in it could not skip the build. ``complete`` asks the forge for the message
through the account's bound client, and only where the answer can change something: a
push from a forge that sends no message, whose decision would otherwise queue builds.
Deliveries from the other forges pass through untouched (one check per event).

All lookups of a delivery share ``LOOKUP_SECONDS``. When one fails or runs out of time
the push builds anyway (a push is never lost) and its outcome says so
(``triggers.unchecked``): ``queued 1 build (commit message not checked: no answer
within 2 s)``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.bindings.access import SourceAccess, binding_row
from buildsvc.bindings.watch import BROKEN
from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.errors import ServiceError
from buildsvc.intake.db import Parsed
from buildsvc.intake.triggers import commit_sha, decide
from buildsvc.repositories.links import linked
from buildsvc.sources import SourceClient, SourceProvider
from buildsvc.store.models import BuildRule, ImageRepository, SourceBinding, utcnow
from webhooks import Commit, PushEvent

log = logging.getLogger(__name__)

LOOKUP_SECONDS = 2.0
MESSAGELESS = frozenset({"bitbucket-server"})  # forges whose push payloads may lack it
REASON_LIMIT = 120


class LookupDeps(Protocol):
    """What the lookup needs of intake's dependencies (``intake.IntakeDeps``)."""

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def cipher(self) -> Cipher: ...
    @property
    def providers(self) -> Mapping[str, SourceProvider]: ...
    @property
    def settings(self) -> Settings: ...


def needs_lookup(event: PushEvent) -> bool:
    return event.provider in MESSAGELESS and event.head_commit is None and not event.deleted


async def complete(deps: LookupDeps, repository_id: int, parsed: Parsed) -> Parsed:
    """``parsed`` with the head commit messages it lacked where they matter, and the
    reasons (by ref) where they could not be read."""
    lacking = [event for event in parsed.pushes if needs_lookup(event)]
    if not lacking:
        return parsed
    async with deps.sessionmaker() as session:
        repository = await session.get(ImageRepository, repository_id)
        link = linked(repository) if repository is not None else None
        if repository is None or link is None or repository.forge_hook_id is None:
            return parsed  # deleted or unbound: intake records that, nothing builds
        statement = (
            select(BuildRule)
            .where(BuildRule.repository_id == repository_id)
            .order_by(BuildRule.position)
        )
        rules = list((await session.scalars(statement)).all())
        now = utcnow()
        building = [
            event
            for event in lacking
            if decide(event, auto_build=repository.auto_build, rules=rules, now=now).builds
        ]
        if not building:
            return parsed
        binding = await binding_row(session, repository.account_id, link.provider)
    shas = sorted({commit_sha(event) for event in building})
    messages, reasons = await _look_up(deps, binding, link.repository, shas)
    looked_up = {id(event) for event in building}
    pushes = [
        _with_message(event, messages[commit_sha(event)])
        if id(event) in looked_up and commit_sha(event) in messages
        else event
        for event in parsed.pushes
    ]
    unchecked = {e.ref: reasons[commit_sha(e)] for e in building if commit_sha(e) in reasons}
    return dataclasses.replace(parsed, pushes=pushes, unchecked=unchecked)


async def _look_up(
    deps: LookupDeps, binding: SourceBinding | None, full_path: str, shas: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Messages by sha, and why for the shas without one."""
    if binding is None:
        return {}, dict.fromkeys(shas, "the code source is not bound")
    if binding.status == BROKEN:
        return {}, dict.fromkeys(shas, "the bound token is refused")
    access = SourceAccess(deps.sessionmaker, deps.cipher, deps.providers, deps.settings)
    try:
        client = access.open(binding)
    except Exception as exc:  # e.g. the token no longer decrypts: build anyway
        log.error("cannot open the %s client", binding.provider, exc_info=exc)
        why = _why(exc) if isinstance(exc, ServiceError) else "internal error"
        return {}, dict.fromkeys(shas, why)
    return await _messages(client, full_path, shas)


async def _messages(
    client: SourceClient, full_path: str, shas: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """All within LOOKUP_SECONDS; a failure of any kind only costs the check."""
    tasks = {sha: asyncio.create_task(client.commit_message(full_path, sha)) for sha in shas}
    done, pending = await asyncio.wait(tasks.values(), timeout=LOOKUP_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    messages: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for sha, task in tasks.items():
        error = task.exception() if task in done else None
        if task not in done:
            reasons[sha] = f"no answer within {LOOKUP_SECONDS:g} s"
        elif isinstance(error, ServiceError):
            reasons[sha] = _why(error)
        elif error is not None:  # a bug must not lose the push
            log.error("reading commit %s of %s failed", sha, full_path, exc_info=error)
            reasons[sha] = "internal error"
        else:
            messages[sha] = task.result()
    return messages, reasons


def _why(exc: ServiceError) -> str:
    why = exc.detail or exc.message
    return why if len(why) <= REASON_LIMIT else why[: REASON_LIMIT - 3] + "..."


def _with_message(event: PushEvent, message: str) -> PushEvent:
    head = Commit(sha=commit_sha(event), message=message)
    return event.model_copy(update={"head_commit": head})
