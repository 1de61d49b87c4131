"""What a push changed: ref updates with their new commits, read from the real repository.

Providers turn a ``Push`` into webhook payloads; this module knows nothing of any forge.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from forgesim import gitrepo
from forgesim.gitrepo import ZERO_SHA, Commit
from forgesim.models import Repository, User

MAX_COMMITS = 20  # GitLab and GitHub both list at most 20 commits per ref


@dataclass(frozen=True)
class RefChange:
    ref: str
    before: str  # 40 zeros when created
    after: str  # 40 zeros when deleted; a tag object's id for annotated tags
    commits: tuple[Commit, ...]  # new commits, oldest first, at most MAX_COMMITS, with files
    total_commits: int
    head: Commit | None  # the commit ``after`` points to (peeled), None when deleted
    tag_message: str | None = None

    @property
    def created(self) -> bool:
        return self.before == ZERO_SHA

    @property
    def deleted(self) -> bool:
        return self.after == ZERO_SHA

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith("refs/tags/")

    @property
    def is_branch(self) -> bool:
        return self.ref.startswith("refs/heads/")

    @property
    def short_name(self) -> str:
        return self.ref.split("/", 2)[-1]


@dataclass(frozen=True)
class Push:
    repo: Repository
    pusher: User
    changes: tuple[RefChange, ...]


async def ref_changes(
    git_dir: Path, before: dict[str, str], after: dict[str, str]
) -> list[RefChange]:
    """Compare two ``gitrepo.refs`` snapshots taken around a receive-pack."""
    changes: list[RefChange] = []
    for ref in sorted(set(before) | set(after)):
        old, new = before.get(ref, ZERO_SHA), after.get(ref, ZERO_SHA)
        if old != new:
            others = [sha for name, sha in before.items() if name != ref]
            changes.append(await _describe(git_dir, ref, old, new, others))
    return changes


async def _describe(git_dir: Path, ref: str, old: str, new: str, others: list[str]) -> RefChange:
    if new == ZERO_SHA:
        return RefChange(ref, old, new, (), 0, None)
    if ref.startswith("refs/tags/"):
        # A tag push lists the tagged commit, as GitLab's Tag Push Hook does.
        head = await gitrepo.commit(git_dir, new, with_files=True)
        message = await gitrepo.tag_message(git_dir, new)
        listed = (head,) if head else ()
        return RefChange(ref, old, new, listed, len(listed), head, message)
    # New commits: reachable from the new tip but from nothing the repository had before.
    exclude = [old] if old != ZERO_SHA else sorted(set(others))
    revs = [new, *(f"^{sha}" for sha in exclude)]
    # Each is a git process of its own: side by side, the hook fires that much sooner.
    # A task group: when one fails the others are cancelled (their git killed) and
    # awaited, so no git outlives the push's announcement.
    async with asyncio.TaskGroup() as group:
        heading = group.create_task(gitrepo.commit(git_dir, new, with_files=True))
        listing = group.create_task(gitrepo.commits(git_dir, *revs, limit=MAX_COMMITS))
        counting = group.create_task(gitrepo.count(git_dir, *revs))
    head, found, total = heading.result(), listing.result(), counting.result()
    async with asyncio.TaskGroup() as group:
        described = [
            group.create_task(
                _known(head) if head and c.id == head.id else gitrepo.with_changes(git_dir, c)
            )
            for c in found
        ]
    detailed = [task.result() for task in described]
    return RefChange(ref, old, new, tuple(detailed), total, head)


async def _known(commit: Commit) -> Commit:
    return commit
