"""Core statements compiled once per dialect and run straight on the DBAPI cursor.

The webhook path runs the same five statements for every push. Executing a Core
statement costs SQLAlchemy about 0.1 ms of Python (cache key, execution context, result
wrapping) on top of microseconds of SQLite work, so at a few hundred deliveries a second
that overhead would be most of the request. ``Prepared`` keeps what SQLAlchemy computes
once: the SQL text in the dialect's positional parameter style, the order of its
parameters and the columns' own bind and result processors (JSON, datetimes,
booleans, exactly as the ORM stores and reads them). Each run is then one
``cursor.execute`` in the caller's transaction.

Only what SQLAlchemy's execution would add is left out, so callers must pass every
value, Python-side column defaults included. Dialects with named parameter styles fall
back to ``Connection.execute``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import JSON, Connection, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.types import TypeEngine


@dataclass(frozen=True, slots=True)
class RawConnection:
    """A DBAPI connection and its dialect: what ``Prepared.run`` executes on, for the
    length of one transaction.

    ``memo`` lets the works of one transaction (``store.fastpath.writer`` runs several in one)
    read something once: a work stores what it read under a key of its own, and a work
    that changes such data drops the key.

    ``before_commit``: callables the transaction's runner calls, in order, once every
    work has run and before it commits, so works may leave writes that are cheaper done
    together (``intake.db``) to one of them. What they raise fails the
    transaction like a work's error.
    """

    dialect: Dialect
    dbapi: Any  # the driver's connection (sqlite3, SQLAlchemy's asyncpg adapter ...)
    connection: Connection | None = None  # for dialects Prepared cannot run raw
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    before_commit: list[Callable[[], None]] = field(default_factory=list, compare=False, repr=False)

    def finish(self) -> None:
        """Run ``before_commit`` (each once): what a transaction's runner calls last."""
        while self.before_commit:
            self.before_commit.pop(0)()

    @classmethod
    def of(cls, connection: Connection) -> RawConnection:
        return cls(connection.dialect, connection.connection.dbapi_connection, connection)


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # Values bound in the statement itself, by name (a caller's param overrides them).
    fixed: Mapping[str, Any]
    # The positional parameters' values out of ``{**fixed, **params}``, in order.
    values: Callable[[Mapping[str, Any]], Sequence[Any]]
    # (position, the column type's bind processor) for the parameters that have one.
    binds: Sequence[tuple[int, Callable[[Any], Any]]]
    # (column index, result processor) for the columns that have one; None: no rows.
    results: Sequence[tuple[int, Callable[[Any], Any]]] | None
    error: type[Exception]  # the driver's base error class


class Prepared:
    def __init__(self, statement: Executable, *, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._plans: dict[str, _Plan | None] = {}
        self._last: tuple[Dialect, _Plan | None] | None = None  # one dialect per process, mostly

    def _plan(self, dialect: Dialect) -> _Plan | None:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        key = f"{dialect.name}+{dialect.driver}"
        if key not in self._plans:
            self._plans[key] = self._compile(dialect)
        self._last = (dialect, self._plans[key])
        return self._plans[key]

    def _compile(self, dialect: Dialect) -> _Plan | None:
        clause = cast(ClauseElement, self.statement)
        compiled = clause.compile(dialect=dialect, column_keys=self._column_keys)
        if not isinstance(compiled, SQLCompiler) or not compiled.positional:
            return None
        names = list(compiled.positiontup or [])
        fixed: dict[str, Any] = {}
        binds = []
        for position, name in enumerate(names):
            bind = compiled.binds[name]
            if name not in (self._column_keys or ()) and (
                bind.value is not None or not bind.required
            ):
                fixed[name] = bind.value
            processor = _bind_processor(dialect, bind.type)
            if processor is not None:
                binds.append((position, processor))
        columns = compiled.returning or getattr(self.statement, "selected_columns", None)
        results = None
        if columns is not None:
            processors = [_result_processor(dialect, c.type) for c in columns]
            results = [(i, p) for i, p in enumerate(processors) if p is not None]
        return _Plan(
            compiled.string, fixed, _getter(names), binds, results, dialect.loaded_dbapi.Error
        )

    def run(self, raw: RawConnection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute in the connection's transaction; the rows (empty unless it returns some)."""
        plan = self._plan(raw.dialect)
        if plan is None:
            if raw.connection is None:
                raise RuntimeError(f"{raw.dialect.name} needs a SQLAlchemy connection")
            result = raw.connection.execute(self.statement, dict(params))
            return [tuple(row) for row in result] if result.returns_rows else []
        # KeyError for a parameter the caller should have passed and did not.
        args = list(plan.values({**plan.fixed, **params} if plan.fixed else params))
        for position, processor in plan.binds:
            args[position] = processor(args[position])
        cursor = raw.dbapi.cursor()
        try:
            cursor.execute(plan.sql, args)
            rows = [] if plan.results is None else cursor.fetchall()
        except plan.error as exc:
            # The same exception SQLAlchemy raises (IntegrityError for a unique violation).
            error = DBAPIError.instance(plan.sql, args, exc, plan.error, dialect=raw.dialect)
            raise error from exc
        finally:
            cursor.close()
        if plan.results is None:
            return []
        # Only the columns that have a processor are touched (most have none on SQLite).
        converted = plan.results
        if not converted:
            return [tuple(row) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, p in converted:
                values[i] = p(values[i])
            out.append(tuple(values))
        return out


def _getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """The values of ``names`` out of a mapping, in order (``operator.itemgetter``: in C)."""
    if not names:
        return lambda _params: ()
    if len(names) == 1:
        name = names[0]
        return lambda params: (params[name],)
    return operator.itemgetter(*names)


# Datetime bind processors, shared by every statement of a dialect: a transaction binds
# the same ``now`` in several statements, converted once.
_shared_processors: dict[tuple[str, str], Callable[[Any], Any]] = {}
# What json.dumps writes for, and json.loads makes of, the commonest JSON column values.
_EMPTY_JSON: dict[type, str] = {dict: "{}", list: "[]"}
_EMPTY_JSON_VALUES: dict[str, Callable[[], Any]] = {"{}": dict, "[]": list}


def _bind_processor(dialect: Dialect, type_: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    processor = type_.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    if isinstance(type_, JSON) and _plain_json(dialect):
        return _json_bind(processor)
    if not isinstance(getattr(type_, "impl_instance", type_), DateTime):
        return processor
    key = (f"{dialect.name}+{dialect.driver}", repr(type_))
    if key not in _shared_processors:
        _shared_processors[key] = _last_value(processor)
    return _shared_processors[key]


def _result_processor(dialect: Dialect, type_: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    processor = type_.dialect_impl(dialect).result_processor(dialect, None)
    if processor is not None and isinstance(type_, JSON) and _plain_json(dialect):
        return _json_result(processor)
    return processor


def _plain_json(dialect: Dialect) -> bool:
    """The dialect (de)serialises JSON with the json module's defaults."""
    serializer = getattr(dialect, "_json_serializer", None)
    return serializer is None and getattr(dialect, "_json_deserializer", None) is None


def _json_bind(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any) -> Any:
        if not value and (text := _EMPTY_JSON.get(type(value))) is not None:
            return text
        return processor(value)

    return process


def _json_result(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any) -> Any:
        empty = _EMPTY_JSON_VALUES.get(value) if type(value) is str else None
        return empty() if empty is not None else processor(value)  # a new one each time

    return process


def _last_value(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor`` remembering its last conversion (values compared by identity)."""
    last: tuple[Any, Any] = (_NOTHING, None)  # one tuple: swapped whole, never torn

    def process(value: Any) -> Any:
        nonlocal last
        seen = last
        if seen[0] is value:
            return seen[1]
        converted = processor(value)
        last = (value, converted)
        return converted

    return process


_NOTHING = object()
