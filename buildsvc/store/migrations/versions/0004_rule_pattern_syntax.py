"""build_rules.pattern: unslashed regexes are wrapped in slashes.

Until this revision an unslashed pattern holding any of ``^ $ * + ? ( ) [ ] { } | \\``
was a regular expression. Now ``* ? [`` make a glob and other unslashed patterns are
exact names, so a stored pattern keeps its meaning by becoming ``/pattern/`` when it
used regex syntax a glob lacks (``+``, ``(``, ``.*`` ...). One using only ``*``, ``?``
and classes (``v*``) was almost surely meant as a glob, which it now is ("zero or more
v" was nobody's intent). Downgrade leaves patterns as they are: slashed regexes were
valid before too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_OLD_MARKERS = frozenset("^$*+?()[]{}|\\")
_GLOB_MARKERS = frozenset("*?[]")
_REGEX_IDIOM = re.compile(r"\.[*+?]")  # ".*" reads as "anything" only in a regex


def _keeps_regex(pattern: str) -> bool:
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        return False
    markers = _OLD_MARKERS.intersection(pattern)
    if not markers:
        return False
    return bool(markers - _GLOB_MARKERS) or bool(_REGEX_IDIOM.search(pattern))


def upgrade() -> None:
    rules = sa.table("build_rules", sa.column("id", sa.Integer), sa.column("pattern", sa.String))
    connection = op.get_bind()
    for rule_id, pattern in connection.execute(sa.select(rules.c.id, rules.c.pattern)).all():
        if _keeps_regex(pattern):
            connection.execute(
                rules.update().where(rules.c.id == rule_id).values(pattern=f"/{pattern}/")
            )


def downgrade() -> None:
    pass
