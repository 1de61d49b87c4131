"""``intake_db.stage``: deliveries staged in one transaction are written before it commits
with the rows, ids and answers of recording them one after the other."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from buildsvc.config import Settings
from buildsvc.intake import db as intake_db
from buildsvc.intake import service as intake
from buildsvc.intake.db import Parsed, Received
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.fastpath.prepared import RawConnection
from buildsvc.store.fastpath.writer import _create_engine
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import BuildRule
from tests.common.factories import add_account, add_build, add_repository
from tests.common.webhook_payloads import load

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def delivery(ref: str = "refs/heads/main", delivery_id: str | None = None) -> Parsed:
    payload = load("gitlab/push.json") | {"ref": ref}
    headers = {"X-Gitlab-Event": "Push Hook", "Idempotency-Key": delivery_id or str(uuid.uuid4())}
    return intake._parse("gitlab", headers, json.dumps(payload).encode())


def twice(parsed: Parsed) -> Parsed:
    """One delivery pushing the same ref twice (as a Bitbucket delivery may)."""
    return dataclasses.replace(parsed, pushes=[*parsed.pushes, *parsed.pushes])


@pytest.fixture
async def repositories(settings: Settings) -> tuple[Settings, list[int]]:
    """Two alike repositories, each with rules for main (two) and dev, and one build of
    main queued before."""
    await upgrade_database(settings)
    engine = create_engine(settings)
    ids = []
    async with create_sessionmaker(engine).begin() as session:
        account = await add_account(session)
        for _ in range(2):
            repository = await add_repository(session, account.id, forge_hook_id="7")
            for pattern, tag in (("main", "latest"), ("main", "stable"), ("dev", "dev")):
                rule = BuildRule(
                    repository_id=repository.id, type="branch", pattern=pattern, tag=tag
                )
                session.add(rule)
            await add_build(session, account.id, repository.id, status="queued")
            ids.append(repository.id)
    await engine.dispose()
    return settings, ids


@pytest.fixture
def raw(repositories: tuple[Settings, list[int]]) -> Iterator[RawConnection]:
    url = repositories[0].resolved_database_url.replace("+aiosqlite", "+pysqlite")
    engine = _create_engine(url)
    pooled = engine.raw_connection()
    try:
        yield RawConnection(engine.dialect, pooled.driver_connection)
    finally:
        pooled.close()
        engine.dispose()


def transaction(raw: RawConnection, repository_id: int, *deliveries: Parsed) -> list[Received]:
    """The deliveries staged in one transaction, a minute apart."""
    fresh = RawConnection(raw.dialect, raw.dbapi)
    raw.dbapi.execute("BEGIN IMMEDIATE")
    try:
        staged = [
            intake_db.stage("registry.test", repository_id, d, T0 + dt.timedelta(minutes=i), fresh)
            for i, d in enumerate(deliveries)
        ]
        fresh.finish()
    except BaseException:
        raw.dbapi.execute("ROLLBACK")
        raise
    raw.dbapi.execute("COMMIT")
    return [s.result() for s in staged]


def one_by_one(raw: RawConnection, repository_id: int, *deliveries: Parsed) -> list[Received]:
    """The same, each recorded in a transaction of its own."""
    results = []
    for i, parsed in enumerate(deliveries):
        raw.dbapi.execute("BEGIN IMMEDIATE")
        fresh = RawConnection(raw.dialect, raw.dbapi)
        now = T0 + dt.timedelta(minutes=i)
        results.append(intake_db.record("registry.test", repository_id, parsed, now, fresh))
        raw.dbapi.execute("COMMIT")
    return results


def builds(raw: RawConnection, repository_id: int) -> list[tuple[Any, ...]]:
    cursor: sqlite3.Cursor = raw.dbapi.execute(
        "SELECT id, ref, status, finished_at, tags, enqueued FROM builds"
        " WHERE repository_id = ? ORDER BY id",
        (repository_id,),
    )
    return cursor.fetchall()


def numbered(rows: list[tuple[Any, ...]], results: list[Received]) -> tuple[Any, ...]:
    """Rows and answers with build ids as positions, and without the repository's name
    in tags: comparable across the two repositories."""
    position = {row[0]: index for index, row in enumerate(rows)}
    table = [(r[1], r[2], r[3], [t.rsplit(":", 1)[-1] for t in json.loads(r[4])]) for r in rows]
    answers = [
        (
            r.outcome,
            [position[i] for i in r.build_ids],
            [position[i] for i in r.superseded],
        )
        for r in results
    ]
    return table, answers


def test_a_staged_group_writes_what_one_after_the_other_writes(
    raw: RawConnection, repositories: tuple[Settings, list[int]]
) -> None:
    grouped, alone = repositories[1]
    pushes = [
        delivery(),
        delivery("refs/heads/dev"),
        delivery(),
        twice(delivery()),
        delivery("refs/heads/nothing"),
        delivery("refs/heads/dev"),
    ]
    together = transaction(raw, grouped, *pushes)
    apart = one_by_one(raw, alone, *pushes)

    assert numbered(builds(raw, grouped), together) == numbered(builds(raw, alone), apart)
    table, answers = numbered(builds(raw, grouped), together)
    # The build queued before, superseded by the first push of main, and so on; the
    # last push of each ref leaves its builds queued.
    assert answers[0] == ("queued 2 builds", [1, 2], [0])
    assert answers[2] == ("queued 2 builds", [4, 5], [1, 2])
    assert answers[3][2] == [4, 5, 6, 7]  # its own first event's builds, too
    assert [row[1] for row in table] == ["superseded"] * 8 + ["queued", "queued", "queued"]
    assert table[0][2] == "2026-01-02 03:04:05.000000"  # when the first push of main came
    assert table[3][2] == "2026-01-02 03:09:05.000000"  # dev's first build, by its second
    assert table[8][2] is None


def test_a_duplicate_delivery_id_fails_the_group(
    raw: RawConnection, repositories: tuple[Settings, list[int]]
) -> None:
    repository_id = repositories[1][0]
    before = builds(raw, repository_id)
    same = str(uuid.uuid4())
    with pytest.raises(IntegrityError):
        transaction(raw, repository_id, delivery(delivery_id=same), delivery(delivery_id=same))
    assert builds(raw, repository_id) == before
    [result] = transaction(raw, repository_id, delivery(delivery_id=same))
    assert result.superseded == (before[0][0],)


def test_a_staged_delivery_has_no_answer_before_it_is_written(
    raw: RawConnection, repositories: tuple[Settings, list[int]]
) -> None:
    fresh = RawConnection(raw.dialect, raw.dbapi)
    raw.dbapi.execute("BEGIN IMMEDIATE")
    staged = intake_db.stage("registry.test", repositories[1][0], delivery(), T0, fresh)
    with pytest.raises(RuntimeError):
        staged.result()
    fresh.finish()
    raw.dbapi.execute("COMMIT")
    assert staged.result().outcome == "queued 2 builds"
