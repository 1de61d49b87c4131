"""Builds started on request (REST API, console): by rule, by ref, or both.

``POST /api/v1/repositories/{id}/builds {"rule_id"?, "ref"?}``:

- ``ref`` and ``rule_id``: the ref must match the rule's pattern (name, glob or regex);
- ``rule_id`` alone: the rule's own ref, when its pattern is an exact name; a glob or
  regex rule needs a ``ref`` (``REF_REQUIRED``);
- ``ref`` alone: every rule the ref matches;
- neither: the repository's default branch, with every rule it matches.

``POST /api/v1/builds/{id}/rerun`` (``rerun_build``) builds the same commit of the same
ref again: with the build's rule when it still exists, else (rules were replaced since)
with every rule the ref matches now. The forge is not asked: the commit is pinned.

The ref is resolved on the forge first, so the answer says what is really wrong: a
short ref (``main``, ``v1.2``) is looked up as a branch, then as a tag, and the first
that exists and some chosen rule matches is built; ``refs/heads/…`` and
``refs/tags/…`` are looked up as given. None existing is ``REF_NOT_FOUND`` ("no branch
or tag v1.2 on group/app"); one existing that no rule matches is ``REF_NOT_MATCHED``
naming that ref (never the branch reading of a tag). The build fetches exactly the
commit the ref named at request time. Then, as for a push, one queued
build per rule, older queued builds of the ref superseded, jobs enqueued, and the
forge told (in the background: ``pending`` for the new builds, a final status for the
superseded ones).

ServiceError
├── InvalidInput
│   ├── RefRequired        400 REF_REQUIRED
│   └── RefNotMatched      400 REF_NOT_MATCHED (no chosen rule matches the ref)
└── NotFound
    ├── RuleNotFound       404 RULE_NOT_FOUND
    └── RefNotFound        404 REF_NOT_FOUND (no such branch or tag on the forge;
                                              ``buildsvc.sources``, as the adapters raise it)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from buildsvc.bindings.access import SourceAccess
from buildsvc.builds import store
from buildsvc.builds.forge_status import QueuedStatus
from buildsvc.builds.outbox import Outbox
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.status_context import rule_contexts
from buildsvc.errors import InvalidInput, NotFound
from buildsvc.notifications.events import Event, record_build
from buildsvc.repositories import queries as repositories
from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.links import source_link
from buildsvc.repositories.rules import Rule, compile_rule, match_rules, parse_ref
from buildsvc.sources import RefNotFound, SourceClient
from buildsvc.store.models import Build, BuildRule, ImageRepository, utcnow

TRIGGERS = ("api", "console")


class RefRequired(InvalidInput):
    code = "REF_REQUIRED"
    default_message = "This rule matches a pattern; name the branch or tag to build."


class RefNotMatched(InvalidInput):
    code = "REF_NOT_MATCHED"
    default_message = "The branch or tag does not match the build rule."


class RuleNotFound(NotFound):
    code = "RULE_NOT_FOUND"
    default_message = "The build rule was not found in this image repository."


@dataclass(frozen=True, slots=True)
class ManualBuild:
    rule_id: int | None = None
    ref: str | None = None
    trigger: str = "api"


def _compiled(rows: Sequence[BuildRule]) -> list[tuple[BuildRule, Rule]]:
    pairs = []
    for row in rows:
        try:
            pairs.append((row, compile_rule(row.type, row.pattern, row.tag, rule_id=row.id)))
        except InvalidRule:  # saved before a validation was tightened: never matches
            continue
    return pairs


def _candidates(
    request: ManualBuild, repository: ImageRepository, rules: list[tuple[BuildRule, Rule]]
) -> list[str]:
    """Full refs to look up on the forge, in order."""
    ref = (request.ref or "").strip()
    if not ref and request.rule_id is not None:
        row, rule = rules[0]
        if not rule.pattern.is_exact:
            raise RefRequired(detail=f"rule {row.id} has the pattern {row.pattern}")
        return [f"refs/{'heads' if row.type == 'branch' else 'tags'}/{row.pattern}"]
    if not ref:
        return [f"refs/heads/{repository.default_branch or 'main'}"]
    if parse_ref(ref) is not None:
        return [ref]
    return [f"refs/heads/{ref}", f"refs/tags/{ref}"]


def _matching(rules: list[tuple[BuildRule, Rule]], full_ref: str) -> list[tuple[BuildRule, Rule]]:
    parsed = parse_ref(full_ref)
    if parsed is None:
        return []
    kind, name = parsed
    return [
        (row, rule)
        for row, rule in rules
        if rule.type == kind and rule.pattern.match(name) is not None
    ]


def _missing(candidates: list[str], source_repository: str) -> str:
    """``no branch or tag v1.0 on group/app``, or just the kind that was asked for."""
    kinds = [parse_ref(ref) or ("ref", ref) for ref in candidates]
    what = " or ".join(dict.fromkeys(kind for kind, _ in kinds))
    return f"no {what} {kinds[0][1]} on {source_repository}"


async def _lookup(client: SourceClient, source_repository: str, full_ref: str) -> str | None:
    """The commit ``full_ref`` names on the forge, or None when it does not exist."""
    try:
        return await client.resolve_ref(source_repository, full_ref)
    except RefNotFound:
        return None


async def start_build(
    access: SourceAccess,
    outbox: Outbox,
    account_id: int,
    repository_id: int,
    request: ManualBuild,
    statuses: QueuedStatus,
) -> list[Build]:
    """Queue the builds ``request`` asks for; returns them (already enqueued if Redis is up)."""
    async with access.sessionmaker() as session:
        repository = await repositories.load(session, account_id, repository_id)
    link = source_link(repository)  # a plain repository has nothing to build
    rules = _compiled(repository.rules)
    if request.rule_id is not None:
        rules = [(row, rule) for row, rule in rules if row.id == request.rule_id]
        if not rules:
            raise RuleNotFound(detail=f"no rule {request.rule_id} in repository {repository_id}")
    candidates = _candidates(request, repository, rules)
    client = await access.client_for(account_id, link.provider)
    existing: list[str] = []
    for full_ref in candidates:
        sha = await _lookup(client, link.repository, full_ref)
        if sha is None:
            continue
        existing.append(full_ref)
        matched = _matching(rules, full_ref)
        if not matched:
            continue
        builds, superseded = await _insert(
            access, repository, full_ref, sha, matched, request.trigger
        )
        await outbox.enqueue([b.id for b in builds])
        statuses.report([b.id for b in builds])
        statuses.report(superseded, "superseded")
        return builds
    if not existing:
        raise RefNotFound(detail=_missing(candidates, link.repository))
    which = f"rule {request.rule_id}" if request.rule_id is not None else "any rule"
    raise RefNotMatched(
        detail=f"{' and '.join(existing)} {'does' if len(existing) == 1 else 'do'} not match "
        f"{which} of repository {repository_id}"
    )


async def rerun_build(
    access: SourceAccess,
    outbox: Outbox,
    account_id: int,
    build_id: int,
    statuses: QueuedStatus,
    trigger: str = "api",
) -> list[Build]:
    """Queue the builds that run ``build_id``'s commit again (see the module docstring)."""
    async with access.sessionmaker() as session:
        old = await session.scalar(
            select(Build).where(Build.id == build_id, Build.account_id == account_id)
        )
        if old is None:
            raise NotFound(f"Build {build_id} not found.")
        repository = await repositories.load(session, account_id, old.repository_id)
    rules = _compiled(repository.rules)
    own = [(row, rule) for row, rule in rules if row.id == old.rule_id]
    matched = _matching(own, old.ref) or _matching(rules, old.ref)
    if not matched:
        raise RefNotMatched(detail=f"no rule of repository {repository.id} matches {old.ref}")
    builds, superseded = await _insert(
        access, repository, old.ref, old.commit_sha, matched, trigger
    )
    await outbox.enqueue([b.id for b in builds])
    statuses.report([b.id for b in builds])
    statuses.report(superseded, "superseded")
    return builds


@dataclass(frozen=True, slots=True)
class _Commit:
    ref: str  # refs/heads/main
    kind: str  # branch | tag
    name: str  # main
    sha: str


async def _insert(
    access: SourceAccess,
    repository: ImageRepository,
    full_ref: str,
    sha: str,
    matched: list[tuple[BuildRule, Rule]],
    trigger: str,
) -> tuple[list[Build], list[int]]:
    """The queued builds, and the older ones they superseded."""
    kind, name = parse_ref(full_ref) or ("branch", full_ref)
    commit = _Commit(full_ref, kind, name, sha)
    now = utcnow()
    image = f"{access.settings.registry}/{repository.namespace}/{repository.name}"
    contexts = rule_contexts(repository.namespace, repository.name, repository.rules)
    builds = [
        _build(repository, row, commit, trigger, [f"{image}:{tag}" for tag in found.tags])
        for row, rule in matched
        for found in match_rules([rule], kind, name, sha, now)  # none if every tag is empty
    ]
    for build in builds:  # its rule's status name, as for a push
        build.status_context = contexts.get(build.rule_id or 0)
    if not builds:
        raise RefNotMatched(detail=f"the rules' tags render empty for {full_ref}")
    async with access.sessionmaker.begin() as session:
        await store.add_builds(session, builds)
        for build in builds:
            await record_build(session, build.id, Event.BUILD_QUEUED, now)
        newest = min(b.id for b in builds)
        superseded = await store.supersede_older(session, repository.id, full_ref, newest, now)
    return builds, superseded


def _build(
    repository: ImageRepository, row: BuildRule, commit: _Commit, trigger: str, tags: list[str]
) -> Build:
    return Build(
        account_id=repository.account_id,
        repository_id=repository.id,
        rule_id=row.id,
        trigger=trigger if trigger in TRIGGERS else "api",
        ref=commit.ref,
        ref_type=commit.kind,
        ref_name=commit.name,
        commit_sha=commit.sha,
        commit_message=None,
        dockerfile=row.dockerfile,
        context=row.context,
        build_args=dict(row.build_args),
        secret_build_args=list(row.secret_build_args),
        no_cache=row.no_cache,
        tags=tags,
        status=BuildStatus.QUEUED.value,
        enqueued=False,
    )
