"""The forge-neutral records every provider serves from.

Provider-specific attributes (GitLab's ``tag_push_events``, GitHub's ``events`` list, ...)
live in each record's ``attrs`` dict so the core never grows a field per forge.
Records are plain dataclasses of JSON types: ``state.py`` persists them with ``asdict``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# Access levels, GitLab's numbers; every forge's roles map onto them.
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50

ROLE_LEVELS: dict[str, int] = {
    # GitLab
    "guest": GUEST,
    "reporter": REPORTER,
    "developer": DEVELOPER,
    "maintainer": MAINTAINER,
    "owner": OWNER,
    # GitHub / Bitbucket Cloud
    "read": REPORTER,
    "triage": REPORTER,
    "write": DEVELOPER,
    "maintain": MAINTAINER,
    "admin": MAINTAINER,
    # Bitbucket Server
    "repo_read": REPORTER,
    "repo_write": DEVELOPER,
    "repo_admin": MAINTAINER,
    "project_read": REPORTER,
    "project_write": DEVELOPER,
    "project_admin": OWNER,
}


def role_level(role: str | int) -> int:
    """Map a role name (any forge's) or a numeric level to an access level."""
    if isinstance(role, int):
        return role
    if role.isdigit():
        return int(role)
    try:
        return ROLE_LEVELS[role.lower()]
    except KeyError:
        raise ValueError(f"unknown role {role!r}; known: {sorted(ROLE_LEVELS)}") from None


def now_iso() -> str:
    """UTC now as GitLab prints it: 2012-05-23T08:00:58.123Z."""
    stamp = dt.datetime.now(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class User:
    id: int
    username: str
    name: str
    email: str
    created_at: str
    namespace_id: int = 0
    admin: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Token:
    id: int
    user_id: int
    secret: str
    name: str
    scopes: list[str]
    created_at: str
    expires_at: str | None = None  # YYYY-MM-DD; the token stops working on that day
    revoked: bool = False
    last_used_at: str | None = None

    def expired(self, today: dt.date | None = None) -> bool:
        if self.expires_at is None:
            return False
        day = today or dt.datetime.now(dt.UTC).date()
        return dt.date.fromisoformat(self.expires_at[:10]) <= day

    def active(self) -> bool:
        return not self.revoked and not self.expired()


@dataclass
class Namespace:
    id: int
    path: str  # full path, "group/subgroup"
    name: str
    kind: str  # "group" or "user"
    created_at: str
    parent_id: int | None = None
    owner_id: int | None = None  # the user of a "user" namespace
    members: dict[str, int] = field(default_factory=dict)  # username -> access level
    visibility: str = "private"
    description: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def leaf(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Repository:
    id: int
    namespace_id: int
    namespace_path: str
    name: str
    path: str
    default_branch: str
    private: bool
    created_at: str
    creator_id: int | None = None
    members: dict[str, int] = field(default_factory=dict)
    description: str = ""
    last_activity_at: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def full_path(self) -> str:
        return f"{self.namespace_path}/{self.path}"

    @property
    def visibility(self) -> str:
        return "private" if self.private else "public"


@dataclass
class Hook:
    id: int
    repo_id: int
    url: str
    secret: str
    created_at: str
    uuid: str
    ssl_verify: bool = True
    active: bool = True
    attrs: dict[str, Any] = field(default_factory=dict)  # provider's event switches
    recent_failures: int = 0
    backoff_count: int = 0
    disabled_until: str | None = None
    alert_status: str = "executable"  # executable | temporarily_disabled | disabled


@dataclass
class CommitStatus:
    id: int
    repo_id: int
    sha: str
    state: str
    context: str
    created_at: str
    ref: str | None = None
    target_url: str | None = None
    description: str | None = None
    author_id: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delivery:
    id: int
    hook_id: int
    repo: str
    provider: str
    event: str
    url: str
    headers: dict[str, str]
    body: str
    delivered_at: str
    status: int | None = None
    response_body: str = ""
    error: str | None = None
    duration_ms: float = 0.0
