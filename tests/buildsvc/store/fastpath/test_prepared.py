"""``Prepared``: values stored and read exactly as SQLAlchemy's own processors do, with
its short cuts (empty JSON containers, one conversion of a ``now`` bound several times)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
)
from sqlalchemy import update as sql_update

from buildsvc.store.fastpath.prepared import (
    Prepared,
    RawConnection,
    _bind_processor,
    _result_processor,
)
from buildsvc.store.models import UtcDateTime

DIALECT = create_engine("sqlite://").dialect  # pysqlite, its driver loaded (not connected)
JSON_VALUES: list[Any] = [[], {}, [1, "a"], {"k": ["v"]}, "text", 0, None]


@pytest.mark.parametrize("value", JSON_VALUES)
def test_json_is_stored_and_read_as_sqlalchemy_does(value: Any) -> None:
    type_ = JSON()
    plain_bind = type_.dialect_impl(DIALECT).bind_processor(DIALECT)
    plain_result = type_.dialect_impl(DIALECT).result_processor(DIALECT, None)
    bind, result = _bind_processor(DIALECT, type_), _result_processor(DIALECT, type_)
    assert plain_bind is not None
    assert plain_result is not None
    assert bind is not None
    assert result is not None
    stored = bind(value)
    assert stored == plain_bind(value)
    assert result(stored) == plain_result(stored)
    if isinstance(value, list | dict):
        assert result(stored) is not result(stored)  # a new container every time


def test_a_datetime_bound_again_is_converted_once_and_a_new_one_again() -> None:
    type_ = UtcDateTime()
    plain = type_.dialect_impl(DIALECT).bind_processor(DIALECT)
    shared = _bind_processor(DIALECT, type_)
    assert plain is not None
    assert shared is not None
    assert _bind_processor(DIALECT, UtcDateTime()) is shared  # one for every statement
    first = dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    other = dt.datetime(2025, 1, 2, 3, 4, 5, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    for value in (first, first, other, first, None, other):
        assert shared(value) == plain(value)


METADATA = MetaData()
THINGS = Table(
    "things",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("seen_at", UtcDateTime(), nullable=True),
)
ADD = Prepared(
    insert(THINGS).returning(THINGS.c.id), column_keys=["name", "state", "tags", "seen_at"]
)
# ``state`` bound in the statement itself: a caller's value wins, else the statement's.
MOVE = Prepared(
    sql_update(THINGS)
    .where(THINGS.c.id == bindparam("b_id"))
    .values(state="moved", seen_at=bindparam("b_at"))
)
READ = Prepared(
    select(THINGS.c.name, THINGS.c.state, THINGS.c.tags, THINGS.c.seen_at).order_by(THINGS.c.id)
)


@pytest.fixture
def raw() -> RawConnection:
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE TABLE things (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL,"
        " state VARCHAR(20) NOT NULL, tags JSON NOT NULL, seen_at DATETIME)"
    )
    return RawConnection(DIALECT, connection)


def test_statements_bind_fixed_and_given_values_in_order(raw: RawConnection) -> None:
    now = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    [(first,)] = ADD.run(raw, {"name": "a", "state": "new", "tags": [], "seen_at": None})
    [(second,)] = ADD.run(raw, {"name": "b", "state": "new", "tags": ["x"], "seen_at": now})
    assert MOVE.run(raw, {"b_id": first, "b_at": now}) == []
    MOVE.run(raw, {"b_id": second, "b_at": now, "state": "kept"})
    assert READ.run(raw, {}) == [("a", "moved", [], now), ("b", "kept", ["x"], now)]
    with pytest.raises(KeyError):
        MOVE.run(raw, {"b_id": first})  # a parameter the statement needs and nobody gave
