"""The normalised events every provider's payload becomes.

The models validate themselves (sha format, ref/ref_type/ref_name agreement,
``after is None`` exactly when ``deleted``...), so an event built anywhere (the
parsers, forgesim, tests) obeys the same invariants.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

Provider = Literal["github", "gitlab", "bitbucket", "bitbucket-server"]
RefType = Literal["branch", "tag"]

# Lowercase hex object id: SHA-1 (40) or, for SHA-256 repositories, 64 digits.
Sha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")]
# Strict: from JSON only RFC 3339 strings (no Unix numbers), from Python only datetimes.
Timestamp = Annotated[AwareDatetime, Strict()]

REF_PREFIXES: dict[RefType, str] = {"branch": "refs/heads/", "tag": "refs/tags/"}


class Commit(BaseModel):
    """One commit as the forge described it.

    ``added``/``modified``/``removed`` are empty when the payload has no paths
    (Bitbucket never sends them); ``PushEvent.paths_complete`` says whether they can be
    trusted. ``timestamp`` is timezone-aware, None when the forge gave none or no offset.

    Besides its own field names, a ``Commit`` validates straight from the GitHub/GitLab
    commit object (``id``, ``title``, ``author.name``; other keys ignored): that lets
    ``parse`` build commits from the JSON bytes in one pass of pydantic-core.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    sha: Sha = Field(validation_alias=AliasChoices("sha", "id"))
    message: str = Field(default="", validation_alias=AliasChoices("message", "title"))
    author_name: str | None = Field(
        default=None, validation_alias=AliasChoices("author_name", AliasPath("author", "name"))
    )
    timestamp: Timestamp | None = None
    url: HttpUrl | None = None
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class PushEvent(BaseModel):
    """One ref (branch or tag) created, moved or deleted by a push.

    A delivery can hold several (Bitbucket): they share ``delivery_id``, so
    de-duplicate on ``(delivery_id, ref)``. ``commits`` are oldest first. ``before`` is
    ``None`` exactly when ``created``, ``after`` exactly when ``deleted`` (the forges'
    all-zero sha is normalised away). ``after`` is the ref's new object id as sent (for
    an annotated tag the forge may send the tag object; ``head_commit`` is the commit).

    ``paths_complete`` is True only when ``changed_paths`` is known to list every path
    the push changed: the forge listed every pushed commit with its paths. It is False
    when the forge sends no paths (Bitbucket), no commits (deletions, a branch created
    at an existing commit) or a truncated list (GitLab beyond 20 commits, GitHub's
    per-commit file cap). Path filters must build when it is False.

    ``changed_paths`` is the union of the commits' paths (``parse`` derives it; other
    builders must too). ``clone_url`` is the http(s) clone URL, ``None`` when the payload
    carries none (older Bitbucket Server payloads: derive it from the server's base URL).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider
    delivery_id: str | None
    repository: Annotated[str, StringConstraints(min_length=1)]
    ref: str
    ref_type: RefType
    ref_name: Annotated[str, StringConstraints(min_length=1)]
    before: Sha | None
    after: Sha | None
    created: bool
    deleted: bool
    head_commit: Commit | None
    commits: tuple[Commit, ...]
    changed_paths: frozenset[str]
    paths_complete: bool
    pusher: str | None
    clone_url: HttpUrl | None

    @model_validator(mode="after")
    def _consistent(self) -> PushEvent:
        if self.ref != REF_PREFIXES[self.ref_type] + self.ref_name:
            raise ValueError("ref must be the ref_type prefix followed by ref_name")
        if self.created and self.deleted:
            raise ValueError("a ref cannot be both created and deleted")
        if (self.before is None) != self.created or (self.after is None) != self.deleted:
            raise ValueError("before is None exactly when created, after when deleted")
        return self


class PingEvent(BaseModel):
    """A forge checking the hook (GitHub ``ping``, Bitbucket Server ``diagnostics:ping``).

    ``repository`` is ``None`` for organisation, app and Bitbucket Server pings.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider
    delivery_id: str | None
    hook_id: str | None
    zen: str | None
    repository: str | None


Event = PushEvent | PingEvent
