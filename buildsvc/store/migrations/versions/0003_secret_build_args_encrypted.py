"""Secret build args encrypted at rest, in build_rules and builds.

Each value whose name ``secret_build_args`` lists becomes a Fernet token of the service's
keys (``buildsvc.secret_args``); the rest of ``build_args`` stays as it is. Data only,
no DDL. ``store.migrate`` hands the process's Settings in (``SETTINGS``), so this reads
the keys as the service does (``BUILDSVC_SECRET_KEYS`` or the key file); only a database
holding such a value needs them. The rows change in the transaction that stamps the
revision: every value is encrypted, or none.

The replaced values should not stay on disk: on SQLite, ``secure_delete`` zeroes them in
the database's pages and ``store.migrate`` truncates the WAL after the commit
(``SCRUB_SQLITE_WAL``). PostgreSQL keeps them in dead row versions until VACUUM.

The encryption is written out here rather than imported from ``buildsvc.secret_args``,
so that this revision keeps meaning what it meant when that module changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.store.migrate import SCRUB_SQLITE_WAL, SETTINGS

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("build_rules", "builds")
BATCH_SIZE = 500
# Returns the function that turns a stored value into its new form (encrypt or decrypt).
Change = Callable[[], Callable[[str], str]]


def upgrade() -> None:
    _change_secrets(lambda cipher: cipher.encrypt)


def downgrade() -> None:
    _change_secrets(lambda cipher: cipher.decrypt)


def _change_secrets(how: Callable[[Cipher], Callable[[str], str]]) -> None:
    if context.is_offline_mode():
        raise RuntimeError("revision 0003 changes rows one by one: run it against the database")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Zero what the updates replace (Debian's SQLite does by default, not every build).
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    # The keys are read only when a row holds a secret value.
    change: Change = functools.cache(lambda: how(_cipher()))
    changed = sum(_change_table(bind, name, change) for name in TABLES)
    if changed and bind.dialect.name == "sqlite":
        context.config.attributes[SCRUB_SQLITE_WAL] = True


def _change_table(bind: sa.Connection, name: str, change: Change) -> int:
    """Rewrite the secret values of one table in batches; how many rows changed."""
    table = sa.table(
        name,
        sa.column("id", sa.Integer),
        sa.column("build_args", sa.JSON),
        sa.column("secret_build_args", sa.JSON),
    )
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(build_args=sa.bindparam("b_args"))
    )
    after = 0
    changed = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c.build_args, table.c.secret_build_args)
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(BATCH_SIZE)
        ).all()
        if not rows:
            return changed
        after = rows[-1].id
        updates = []
        for row in rows:
            update = _row_update(row.id, row.build_args, row.secret_build_args, change)
            if update is not None:
                updates.append(update)
        if updates:
            bind.execute(statement, updates)
            changed += len(updates)


def _row_update(
    row_id: int, build_args: Any, secret_names: Any, change: Change
) -> dict[str, Any] | None:
    """The new ``build_args`` of one row, or None when it holds no secret value."""
    args = build_args or {}
    secret = {str(n) for n in secret_names or []} & set(args)
    if not secret:
        return None
    convert = change()
    values = {str(k): convert(str(v)) if k in secret else str(v) for k, v in args.items()}
    return {"b_id": row_id, "b_args": values}


def _cipher() -> Cipher:
    settings = context.config.attributes.get(SETTINGS)
    if not isinstance(settings, Settings):
        raise RuntimeError(
            "revision 0003 encrypts secret build args with the service's keys: "
            "run it with `buildsvc admin migrate`"
        )
    return Cipher.from_settings(settings)
