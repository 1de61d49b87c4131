"""``intake_db.record`` inside one transaction: deliveries recorded together read their
repository and rules once, and a transaction after a rule changed sees the change."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from buildsvc.config import Settings
from buildsvc.intake import db as intake_db
from buildsvc.intake import service as intake
from buildsvc.intake.db import Parsed
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.fastpath.prepared import RawConnection
from buildsvc.store.fastpath.writer import _create_engine
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import BuildRule, utcnow
from tests.common.factories import add_account, add_repository
from tests.common.webhook_payloads import load

HEADERS = {"X-Gitlab-Event": "Push Hook"}


def delivery() -> Parsed:
    body = json.dumps(load("gitlab/push.json")).encode()
    return intake._parse("gitlab", {**HEADERS, "Idempotency-Key": str(uuid.uuid4())}, body)


@pytest.fixture
async def stored(settings: Settings) -> tuple[Settings, int, int]:
    """A repository hooked on the forge, with one rule for the payload's branch."""
    await upgrade_database(settings)
    engine = create_engine(settings)
    ref_name = delivery().ref or ""
    async with create_sessionmaker(engine).begin() as session:
        account = await add_account(session)
        repository = await add_repository(session, account.id, forge_hook_id="7")
        name = ref_name.removeprefix("refs/heads/")
        rule = BuildRule(repository_id=repository.id, type="branch", pattern=name, tag="latest")
        session.add(rule)
        await session.flush()
        ids = repository.id, rule.id
    await engine.dispose()
    return settings, *ids


@pytest.fixture
def raw(stored: tuple[Settings, int, int]) -> Iterator[RawConnection]:
    settings = stored[0]
    engine = _create_engine(settings.resolved_database_url.replace("+aiosqlite", "+pysqlite"))
    pooled = engine.raw_connection()
    try:
        yield RawConnection(engine.dialect, pooled.driver_connection)
    finally:
        pooled.close()
        engine.dispose()


def transaction(raw: RawConnection, *deliveries: Parsed, repository_id: int) -> list[Any]:
    """Deliveries recorded in one transaction (one connection state: one memo)."""
    fresh = RawConnection(raw.dialect, raw.dbapi)
    raw.dbapi.execute("BEGIN IMMEDIATE")
    results = [
        intake_db.record("registry.test", repository_id, d, utcnow(), fresh) for d in deliveries
    ]
    raw.dbapi.execute("COMMIT")
    return results


def test_one_transaction_reads_the_rules_once_and_the_next_sees_changes(
    raw: RawConnection, stored: tuple[Settings, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, repository_id, rule_id = stored
    reads: list[object] = []
    run = intake_db._REPOSITORY_RULES.run

    def counted(connection: RawConnection, params: Any) -> list[tuple[Any, ...]]:
        reads.append(params)
        return run(connection, params)

    monkeypatch.setattr(intake_db._REPOSITORY_RULES, "run", counted)

    results = transaction(raw, delivery(), delivery(), delivery(), repository_id=repository_id)
    assert [r.outcome for r in results] == ["queued 1 build"] * 3
    assert len(reads) == 1

    change = update(BuildRule).where(BuildRule.id == rule_id).values(pattern="elsewhere")
    compiled = change.compile(dialect=raw.dialect, compile_kwargs={"literal_binds": True})
    raw.dbapi.execute(str(compiled))  # committed (autocommit): as the API would
    [result] = transaction(raw, delivery(), repository_id=repository_id)
    assert result.outcome.startswith("no rule matched")
    assert len(reads) == 2
