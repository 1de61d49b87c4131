"""Building events: refs, commits with path lists, and the one place a ``PushEvent`` is
constructed (so created/deleted, changed_paths and paths_complete are derived alike for
every provider).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from webhooks import _core as c
from webhooks._core import JSONObject
from webhooks._errors import UnsupportedEvent
from webhooks._models import REF_PREFIXES, Commit, Provider, PushEvent, RefType


def split_ref(ref: str) -> tuple[RefType, str] | None:
    for ref_type, prefix in REF_PREFIXES.items():
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return ref_type, ref[len(prefix) :]
    return None


def unsupported_ref(provider: Provider, ref: str) -> UnsupportedEvent:
    return UnsupportedEvent(
        f"{provider} push of {ref[:120]!r}, which is neither a branch nor a tag",
        provider=provider,
        reason="ref",
    )


def push_event(
    provider: Provider,
    *,
    delivery_id: str | None,
    repository: str,
    ref: str,
    before: str | None,
    after: str | None,
    created: bool,
    deleted: bool,
    head_commit: Commit | None,
    commits: Iterable[Commit],
    paths_known: bool,
    pusher: str | None,
    clone_url: str | None,
) -> PushEvent:
    """Build the event: normalise created/deleted against the shas, derive the rest.

    ``paths_known`` is the provider's verdict that its commit list and path lists are
    complete; it only counts when there is at least one commit.
    """
    split = split_ref(ref)
    if split is None:
        raise unsupported_ref(provider, ref)
    created = created or before is None
    deleted = deleted or after is None
    if created and deleted:
        raise c.bad_field(provider, f"{ref} is both created and deleted (both shas empty?)")
    commits = tuple(commits)
    changed: set[str] = set()
    for commit in commits:
        changed.update(commit.added, commit.modified, commit.removed)
    try:
        return PushEvent(
            provider=provider,
            delivery_id=delivery_id,
            repository=repository,
            ref=ref,
            ref_type=split[0],
            ref_name=split[1],
            before=None if created else before,
            after=None if deleted else after,
            created=created,
            deleted=deleted,
            head_commit=None if deleted else head_commit,
            commits=commits,
            changed_paths=frozenset(changed),
            paths_complete=paths_known and bool(commits) and not deleted,
            pusher=pusher,
            clone_url=clone_url,
        )
    except ValidationError as exc:  # the one boundary where pydantic errors are mapped
        raise c.bad_field(provider, f"event for {ref[:120]!r} fails validation") from exc


def listed_commit(raw: Any) -> tuple[Commit, bool] | None:
    """Leniently build a commit in the GitHub/GitLab shape, and whether it lost nothing.

    Mirrors how ``Commit`` validates that shape (the first present of ``sha``/``id``,
    ``message``/``title``, ``author_name``/``author.name``; RFC 3339 timestamps parsed
    by pydantic), so for any object the strict validation accepts, this returns the
    same commit. Where strict validation would fail, a malformed descriptive field
    becomes its default and a malformed path list is dropped (the bool turns False).
    None when there is no usable id.
    """
    if not isinstance(raw, dict):
        return None
    sha = c.commit_id(_first_present(raw, "sha", "id"))
    if sha is None:
        return None
    message = _first_present(raw, "message", "title")
    if "author_name" in raw:
        author_name = raw["author_name"]
    else:
        author = raw.get("author")
        author_name = author.get("name") if isinstance(author, dict) else None
    intact = True
    lists: list[tuple[str, ...]] = []
    for key in ("added", "modified", "removed"):
        value = raw.get(key, ())
        if isinstance(value, list | tuple) and all(isinstance(path, str) for path in value):
            lists.append(tuple(value))
        else:
            lists.append(())
            intact = False
    commit = Commit(
        sha=sha,
        message=message if isinstance(message, str) else "",
        author_name=author_name if isinstance(author_name, str) else None,
        timestamp=c.timestamp(raw.get("timestamp")),
        url=c.http_url(raw.get("url")),
        added=lists[0],
        modified=lists[1],
        removed=lists[2],
    )
    return commit, intact


def listed_commits(raw: Any) -> tuple[tuple[Commit, ...] | None, bool]:
    """``listed_commit`` over a list: the commits (None when there is no list) and
    whether nothing was lost (no entry dropped, no path list malformed)."""
    if not isinstance(raw, list):
        return None, raw is None
    commits: list[Commit] = []
    intact = True
    for item in raw:
        parsed = listed_commit(item)
        if parsed is None:
            intact = False
        else:
            commits.append(parsed[0])
            intact = intact and parsed[1]
    return tuple(commits), intact


def paths_listed(commits: tuple[Commit, ...], max_paths: int) -> bool:
    """Every commit lists at least one path and fewer than the forge's cap.

    A commit with no path at all may be one the forge found too large to compute
    (GitHub documents this); at the cap, the list may have been cut.
    """
    for commit in commits:
        if not 0 < len(commit.added) + len(commit.modified) + len(commit.removed) < max_paths:
            return False
    return True


def _first_present(raw: JSONObject, *keys: str) -> Any:
    """Like pydantic's ``AliasChoices``: the value of the first key present."""
    for key in keys:
        if key in raw:
            return raw[key]
    return None
