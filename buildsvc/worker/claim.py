"""Taking a queued build for this worker, or saying why not.

A job may arrive for a build that is already finished (cancelled while queued, or run
twice: arq retries, the outbox sweeper), already claimed by another worker, superseded,
or waiting behind a running build of the same repository, ref and rule. ``claim``
decides, in one transaction:

- finished, or claimed by a worker (live, or dead and left to the reaper): ``Skip``;
- a newer queued build of the same repository, ref and rule exists: this one is
  ``superseded`` (``Skip``); older queued ones are superseded by this one (either way,
  once committed, their commits get a final status: ``forge_status.post_now``);
- a build of the same repository, ref and rule is running: ``Wait`` (the job is retried
  later, and kicked as soon as that build ends), so a burst of pushes runs at most one
  build at a time per ref and the last push's build runs last;
- the ref is in a burst (a build of it was superseded less than ``QUIET_SECONDS`` ago):
  ``Wait`` until it has been quiet that long, so a burst longer than a build still runs
  two builds, its first and its last, not one per build duration (a steady stream of
  pushes waits at most ``MAX_QUIET_WAIT_SECONDS`` after the ref's last build started);
- otherwise ``queued → fetching`` stamped with this worker's id and a heartbeat: a
  ``Job`` holding everything the pipeline needs, read in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.bindings.access import binding_row
from buildsvc.builds import forge_status, logs, registry_login, store
from buildsvc.builds.states import FINISHED, RUNNING, BuildStatus
from buildsvc.builds.status_context import LEGACY
from buildsvc.store.models import Build, ImageRepository, SourceBinding, utcnow
from buildsvc.worker.deps import WorkerDeps

QUIET_SECONDS = 1.0
MAX_QUIET_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    reason: str
    seconds: float | None = None  # None: until kicked (or the default retry delay)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed build: its frozen parameters and where its source lives."""

    build_id: int
    attempt: int
    worker_id: str
    account_id: int
    repository_id: int
    rule_id: int | None
    ref: str
    commit_sha: str
    dockerfile: str
    context: str
    # As stored, secret values encrypted, until ``pipeline.open_secret_args`` (``execute``).
    build_args: dict[str, str] = field(repr=False)
    secret_build_args: list[str]
    no_cache: bool
    tags: list[str]
    provider: str
    source_repository: str
    clone_url: str
    first_seq: int
    binding: SourceBinding | None = field(repr=False)
    status_context: str = LEGACY  # the name its commit statuses go under
    # The build's own registry login's secret (builds.registry_login); memory only.
    registry_secret: str = field(default="", repr=False)

    def owned(self) -> list[ColumnElement[bool]]:
        """Conditions under which the build is still this worker's (for ``transition``)."""
        return store.owned(self.worker_id, self.attempt)

    @property
    def secret_values(self) -> list[str]:
        return [str(self.build_args[n]) for n in self.secret_build_args if n in self.build_args]


async def _burst_left(session: AsyncSession, build: Build) -> float:
    """Seconds until the ref has been quiet for ``QUIET_SECONDS`` (0: go now)."""
    superseded = await store.last_superseded(session, build)
    if superseded is None:
        return 0.0
    now = utcnow()
    left = QUIET_SECONDS - (now - superseded).total_seconds()
    if left <= 0:
        return 0.0
    started = await store.last_started(session, build)
    if started is not None and (now - started).total_seconds() > MAX_QUIET_WAIT_SECONDS:
        return 0.0  # a steady stream of pushes: build the newest now
    return left


async def claim(deps: WorkerDeps, build_id: int) -> Job | Skip | Wait:
    superseded: list[int] = []
    claimed = await _claim(deps, build_id, superseded)
    if superseded:  # committed: the forge may show them pending
        deps.spawn(forge_status.post_now(deps.access, superseded, "superseded"))
    return claimed


async def _claim(deps: WorkerDeps, build_id: int, superseded: list[int]) -> Job | Skip | Wait:
    async with deps.sessionmaker.begin() as session:
        build = await session.get(Build, build_id)
        if build is None:
            return Skip("the build no longer exists")
        if build.status in FINISHED:
            return Skip(f"the build is already {build.status}")
        if build.status in RUNNING:
            return Skip(f"the build is {build.status} on worker {build.worker_id}")
        if await _supersede(session, build, superseded):
            return Skip("a newer build of the same ref is queued")
        behind = await store.running_in_lane(session, build)
        if behind is not None:
            return Wait(f"build {behind} of the same ref is running")
        quiet_in = await _burst_left(session, build)
        if quiet_in > 0:
            return Wait("pushes to the ref keep coming", quiet_in)
        registry_secret = registry_login.new_secret()
        if not await store.transition(
            session,
            build_id,
            BuildStatus.FETCHING,
            only_from=[BuildStatus.QUEUED],
            worker_id=deps.worker_id,
            heartbeat_at=utcnow(),
            registry_secret_hash=registry_login.secret_hash(registry_secret),
        ):
            return Skip("the build changed status meanwhile")
        repository = await session.get(ImageRepository, build.repository_id)
        if repository is None:
            return Skip("the image repository no longer exists")
        provider, full_path, clone_url = (
            repository.provider,
            repository.source_repository,
            repository.clone_url,
        )
        if provider is None or full_path is None or clone_url is None:
            return Skip("the image repository has no source")  # plain: nothing queues builds
        binding = await binding_row(session, build.account_id, provider)
        first_seq = await logs.next_seq(session, build_id)
        source = _Source(provider, full_path, clone_url)
        return _job(deps, build, source, binding, first_seq, registry_secret)


async def _supersede(session: AsyncSession, build: Build, superseded: list[int]) -> bool:
    """Supersede the lane's queued builds older than ``build``, or ``build`` itself when
    a newer one is queued (then True); ``superseded`` gets their ids."""
    if await store.newer_queued(session, build) is not None:
        if await store.transition(
            session, build.id, BuildStatus.SUPERSEDED, only_from=[BuildStatus.QUEUED]
        ):
            superseded.append(build.id)
        return True
    for older_id in await store.older_queued(session, build):
        if await store.transition(
            session, older_id, BuildStatus.SUPERSEDED, only_from=[BuildStatus.QUEUED]
        ):
            superseded.append(older_id)
    return False


@dataclass(frozen=True, slots=True)
class _Source:
    provider: str
    full_path: str
    clone_url: str


def _job(
    deps: WorkerDeps,
    build: Build,
    repository: _Source,
    binding: SourceBinding | None,
    first_seq: int,
    registry_secret: str,
) -> Job:
    args: dict[str, Any] = build.build_args or {}
    return Job(
        build_id=build.id,
        attempt=build.attempt,
        worker_id=deps.worker_id,
        account_id=build.account_id,
        repository_id=build.repository_id,
        rule_id=build.rule_id,
        ref=build.ref,
        commit_sha=build.commit_sha,
        dockerfile=build.dockerfile,
        context=build.context,
        build_args={str(k): str(v) for k, v in args.items()},
        secret_build_args=[str(n) for n in build.secret_build_args or []],
        no_cache=build.no_cache,
        tags=[str(t) for t in build.tags],
        provider=repository.provider,
        source_repository=repository.full_path,
        clone_url=repository.clone_url,
        first_seq=first_seq,
        binding=binding,
        status_context=build.status_context or LEGACY,
        registry_secret=registry_secret,
    )
