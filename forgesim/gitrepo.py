"""Reading bare repositories with the real ``git`` (async subprocesses, no shell)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

ZERO_SHA = "0" * 40
GIT = "git"
_SEP = "\x1f"
_FORMAT = _SEP.join(["%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"])


class GitError(Exception):
    """A git command failed; ``stderr`` says why."""


@dataclass(frozen=True)
class Commit:
    id: str
    parent_ids: tuple[str, ...]
    author_name: str
    author_email: str
    authored_date: str  # strict ISO 8601 with offset
    committer_name: str
    committer_email: str
    committed_date: str
    message: str
    added: tuple[str, ...] = field(default=())
    modified: tuple[str, ...] = field(default=())
    removed: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def short_id(self) -> str:
        return self.id[:8]


def init_bare(path: Path, default_branch: str) -> None:
    """Lay out an empty bare repository directly: ``git init`` per repo costs ~10 ms."""
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    (path / "HEAD").write_text(f"ref: refs/heads/{default_branch}\n")
    (path / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
        "[http]\n\treceivepack = true\n"
    )
    (path / "description").write_text("forgesim repository\n")


def git_env() -> dict[str, str]:
    """A predictable environment: no system or user config leaks into the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("HOME", "/nonexistent")
    return env


async def run(git_dir: Path, *args: str, check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        GIT,
        f"--git-dir={git_dir}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(),
    )
    try:
        out, err = await proc.communicate()
    except BaseException:
        # Cancelled (server shutting down): never leave git running behind the loop.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]}: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


async def refs(git_dir: Path, pattern: str = "refs/") -> dict[str, str]:
    """refname -> object id (a tag object for annotated tags)."""
    out = await run(git_dir, "for-each-ref", "--format=%(objectname) %(refname)", pattern)
    pairs = (line.split(" ", 1) for line in out.splitlines() if line)
    return {name: sha for sha, name in pairs}


async def peel(git_dir: Path, rev: str) -> str | None:
    """The commit a ref, tag or sha points to, or None."""
    out = await run(git_dir, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return out.strip() or None


async def tag_message(git_dir: Path, sha: str) -> str | None:
    kind = (await run(git_dir, "cat-file", "-t", sha, check=False)).strip()
    if kind != "tag":
        return None
    text = await run(git_dir, "cat-file", "tag", sha)
    return text.split("\n\n", 1)[1] if "\n\n" in text else ""


def _parse(record: str) -> Commit:
    parts = record.split(_SEP, 8)
    return Commit(
        id=parts[0].strip(),
        parent_ids=tuple(parts[1].split()),
        author_name=parts[2],
        author_email=parts[3],
        authored_date=parts[4],
        committer_name=parts[5],
        committer_email=parts[6],
        committed_date=parts[7],
        message=parts[8],
    )


async def commits(git_dir: Path, *revs: str, limit: int = 20) -> list[Commit]:
    """Commits of ``rev-list revs``, newest ``limit`` of them, oldest first, no files."""
    out = await run(
        git_dir,
        "log",
        "-z",
        f"--max-count={limit}",
        "--reverse",
        f"--format={_FORMAT}",
        *revs,
        "--",
    )
    return [_parse(rec) for rec in out.split("\0") if rec.strip()]


async def count(git_dir: Path, *revs: str) -> int:
    return int((await run(git_dir, "rev-list", "--count", *revs, "--")).strip() or 0)


async def commit(git_dir: Path, rev: str, *, with_files: bool = False) -> Commit | None:
    sha = await peel(git_dir, rev)
    if sha is None:
        return None
    found = (await commits(git_dir, "--no-walk", sha, limit=1))[0]
    return await with_changes(git_dir, found) if with_files else found


async def with_changes(git_dir: Path, c: Commit) -> Commit:
    """``c`` with added/modified/removed paths against its first parent (root: all added)."""
    base = [c.parent_ids[0], c.id] if c.parent_ids else ["--root", c.id]
    out = await run(
        git_dir, "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", "--name-status", *base
    )
    fields_ = out.split("\0")
    added: list[str] = []
    modified: list[str] = []
    removed: list[str] = []
    for status, path in zip(fields_[0::2], fields_[1::2], strict=False):
        {"A": added, "D": removed}.get(status[:1], modified).append(path)
    return Commit(
        **{
            **c.__dict__,
            "added": tuple(added),
            "modified": tuple(modified),
            "removed": tuple(removed),
        }
    )


async def peeled_refs(git_dir: Path, pattern: str) -> list[tuple[str, str, str]]:
    """(refname, object id, commit id) for refs under ``pattern``, tags peeled."""
    out = await run(
        git_dir, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", pattern
    )
    rows = []
    for line in out.splitlines():
        name, sha, peeled = [*line.split(" "), ""][:3]
        rows.append((name, sha, peeled or sha))
    return rows


async def commits_by_id(git_dir: Path, shas: list[str]) -> dict[str, Commit]:
    """Many commits in one ``git log --no-walk`` call."""
    if not shas:
        return {}
    unique = sorted(set(shas))
    found = await commits(git_dir, "--no-walk=unsorted", *unique, limit=len(unique))
    return {c.id: c for c in found}
