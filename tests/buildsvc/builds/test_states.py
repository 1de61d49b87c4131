"""The build state machine: the table, and the guarded UPDATE on both databases."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.states import (
    FINISHED,
    PREDECESSORS,
    TRANSITIONS,
    UNFINISHED,
    BuildStatus,
    can_transition,
    error_fields,
)
from buildsvc.builds.store import transition
from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import Build
from buildsvc.worker.errors import BuildFailed
from tests.common.factories import add_account, add_build, add_repository

S = BuildStatus


def test_finished_builds_never_move() -> None:
    for status in FINISHED:
        assert TRANSITIONS[status] == frozenset()
    for target in BuildStatus:
        assert PREDECESSORS[target] <= UNFINISHED


def test_the_happy_path_and_aborts() -> None:
    path = [S.QUEUED, S.FETCHING, S.BUILDING, S.PUSHING, S.SUCCEEDED]
    for source, target in itertools.pairwise(path):
        assert can_transition(source, target)
    for status in UNFINISHED:
        assert {S.FAILED, S.CANCELLED, S.TIMED_OUT} <= TRANSITIONS[status]
    assert PREDECESSORS[S.SUPERSEDED] == {S.QUEUED}
    assert not can_transition(S.QUEUED, S.SUCCEEDED)
    assert not can_transition("building", "fetching")


@pytest.fixture
async def sessionmaker(
    database_url: str, settings_for: Callable[[str], Settings]
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    settings = settings_for(database_url)
    await upgrade_database(settings)
    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def new_build(sessionmaker: async_sessionmaker[AsyncSession], **fields: object) -> int:
    async with sessionmaker.begin() as session:
        account = await add_account(session)
        repository = await add_repository(session, account.id)
        return (await add_build(session, account.id, repository.id, **fields)).id


async def load(sessionmaker: async_sessionmaker[AsyncSession], build_id: int) -> Build:
    async with sessionmaker() as session:
        build = await session.get(Build, build_id)
    assert build is not None
    return build


async def test_transitions_stamp_phase_times(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    build_id = await new_build(sessionmaker)
    for status in [S.FETCHING, S.BUILDING, S.PUSHING]:
        async with sessionmaker.begin() as session:
            assert await transition(session, build_id, status)
    async with sessionmaker.begin() as session:
        assert await transition(session, build_id, "succeeded", digest="sha256:" + "a" * 64)

    build = await load(sessionmaker, build_id)
    assert build.status == "succeeded"
    assert build.digest == "sha256:" + "a" * 64
    phases = [build.queued_at, build.fetching_at, build.building_at, build.pushing_at]
    stamps = [stamp for stamp in [*phases, build.finished_at] if stamp is not None]
    assert len(stamps) == 5
    assert stamps == sorted(stamps)


async def test_a_finished_build_is_never_resurrected(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    build_id = await new_build(sessionmaker, status="cancelled")
    async with sessionmaker.begin() as session:
        for status in BuildStatus:
            assert not await transition(session, build_id, status)
    assert (await load(sessionmaker, build_id)).status == "cancelled"


async def test_only_from_narrows_and_errors_are_recorded(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    build_id = await new_build(sessionmaker, status="building")
    async with sessionmaker.begin() as session:
        assert not await transition(session, build_id, S.CANCELLED, only_from=[S.QUEUED])
        failure = BuildFailed("exit code 1", step="step 2/3 RUN false")
        assert await transition(session, build_id, S.FAILED, **error_fields(failure))
    build = await load(sessionmaker, build_id)
    assert (build.status, build.error_code) == ("failed", "BUILD_FAILED")
    assert build.error_detail == "step 2/3 RUN false: exit code 1"

    async with sessionmaker() as session:
        with pytest.raises(TypeError):
            await transition(session, build_id, S.FAILED, no_such_column=1)


async def test_finish_racing_cancel_has_exactly_one_winner(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(5):
        build_id = await new_build(sessionmaker, status="pushing")

        async def move(to: BuildStatus, build_id: int = build_id) -> bool:
            async with sessionmaker.begin() as session:
                return await transition(session, build_id, to)

        results = await asyncio.gather(move(S.SUCCEEDED), move(S.CANCELLED))
        assert sorted(results) == [False, True]
        winner = S.SUCCEEDED if results[0] else S.CANCELLED
        assert (await load(sessionmaker, build_id)).status == winner
