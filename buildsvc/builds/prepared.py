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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class RawConnection:
    """A DBAPI connection and its dialect: what ``Prepared.run`` executes on."""

    dialect: Dialect
    dbapi: Any  # the driver's connection (sqlite3, SQLAlchemy's asyncpg adapter ...)
    connection: Connection | None = None  # for dialects Prepared cannot run raw

    @classmethod
    def of(cls, connection: Connection) -> RawConnection:
        return cls(connection.dialect, connection.connection.dbapi_connection, connection)


_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # Per positional parameter: its name, the value bound in the statement itself (or
    # _MISSING: the caller supplies it) and the column type's bind processor.
    binds: Sequence[tuple[str, Any, Processor]]
    # (column index, result processor) for the columns that have one; None: no rows.
    results: Sequence[tuple[int, Callable[[Any], Any]]] | None


class Prepared:
    def __init__(self, statement: Executable, *, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._plans: dict[str, _Plan | None] = {}

    def _plan(self, dialect: Dialect) -> _Plan | None:
        key = f"{dialect.name}+{dialect.driver}"
        if key not in self._plans:
            self._plans[key] = self._compile(dialect)
        return self._plans[key]

    def _compile(self, dialect: Dialect) -> _Plan | None:
        clause = cast(ClauseElement, self.statement)
        compiled = clause.compile(dialect=dialect, column_keys=self._column_keys)
        if not isinstance(compiled, SQLCompiler) or not compiled.positional:
            return None
        binds = []
        for name in compiled.positiontup or []:
            bind = compiled.binds[name]
            fixed = bind.value if bind.value is not None or not bind.required else _MISSING
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds.append(
                (name, _MISSING if name in (self._column_keys or ()) else fixed, processor)
            )
        columns = compiled.returning or getattr(self.statement, "selected_columns", None)
        results = None
        if columns is not None:
            processors = [
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ]
            results = [(i, p) for i, p in enumerate(processors) if p is not None]
        return _Plan(compiled.string, binds, results)

    def run(self, raw: RawConnection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute in the connection's transaction; the rows (empty unless it returns some)."""
        plan = self._plan(raw.dialect)
        if plan is None:
            if raw.connection is None:
                raise RuntimeError(f"{raw.dialect.name} needs a SQLAlchemy connection")
            result = raw.connection.execute(self.statement, dict(params))
            return [tuple(row) for row in result] if result.returns_rows else []
        args = []
        for name, fixed, processor in plan.binds:
            value = params[name] if fixed is _MISSING else params.get(name, fixed)
            args.append(processor(value) if processor else value)
        error = raw.dialect.loaded_dbapi.Error
        cursor = raw.dbapi.cursor()
        try:
            cursor.execute(plan.sql, args)
            rows = [] if plan.results is None else cursor.fetchall()
        except error as exc:
            # The same exception SQLAlchemy raises (IntegrityError for a unique violation).
            raise DBAPIError.instance(plan.sql, args, exc, error, dialect=raw.dialect) from exc
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
