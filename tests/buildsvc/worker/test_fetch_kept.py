"""fetch_source into a work tree kept across builds (``kept=True``), against real git."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from buildsvc.sources import AddressPolicy
from buildsvc.worker.errors import CommitNotFound, SourceAuthFailed
from buildsvc.worker.fetch import _side_by_side, fetch_source
from tests.buildsvc.worker.helpers import GIT_USERNAME, GitHttpServer, git

LOOPBACK = AddressPolicy.from_cidrs(["127.0.0.0/8"])


@pytest.fixture
def two_commits(tmp_path: Path) -> tuple[str, list[str]]:
    """A bare repository (its file URL) whose second commit changes only version.txt."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=work)
    (work / "same.txt").write_text("unchanged\n")
    shas = []
    for number in (1, 2):
        (work / "version.txt").write_text(f"version {number}\n")
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", f"commit {number}", cwd=work)
        shas.append(git("rev-parse", "HEAD", cwd=work))
    bare = tmp_path / "repo.git"
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp_path)
    return f"file://{bare}", shas


async def kept_fetch(url: str, sha: str, dest: Path, lines: list[str] | None = None) -> None:
    await fetch_source(
        url,
        sha,
        dest,
        protocols=("file",),
        policy=LOOPBACK,
        kept=True,
        on_line=None if lines is None else lines.append,
    )


async def test_a_new_commit_rewrites_only_the_files_that_changed(
    two_commits: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, shas = two_commits
    dest = tmp_path / "kept"
    await kept_fetch(url, shas[0], dest)
    before = (dest / "same.txt").stat()
    (dest / "stray.txt").write_text("left by nobody\n")

    await kept_fetch(url, shas[1], dest)

    assert (dest / "version.txt").read_text() == "version 2\n"
    after = (dest / "same.txt").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not (dest / "stray.txt").exists()
    assert git("rev-parse", "HEAD", cwd=dest) == shas[1]
    assert git("status", "--porcelain", cwd=dest) == ""
    counts = dict(line.split(": ") for line in git("count-objects", "-v", cwd=dest).splitlines())
    # The last commit's objects only (commit, tree, two blobs), not both fetches'.
    assert int(counts["count"]) + int(counts["in-pack"]) == 4
    # The first fetch's objects were renamed away, then deleted in the background.
    for _ in range(500):
        if not list((dest / ".git").glob("objects.dropped-*")):
            break
        await asyncio.sleep(0.01)
    assert list((dest / ".git").glob("objects.dropped-*")) == []


async def test_a_kept_tree_git_cannot_update_is_fetched_afresh(
    two_commits: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, shas = two_commits
    dest = tmp_path / "kept"
    await kept_fetch(url, shas[0], dest)
    (dest / ".git" / "index.lock").write_text("")  # a git killed mid-way
    lines: list[str] = []

    await kept_fetch(url, shas[1], dest, lines)

    assert "The kept work tree could not be updated; fetching afresh" in lines
    assert (dest / "version.txt").read_text() == "version 2\n"
    assert git("status", "--porcelain", cwd=dest) == ""


async def test_each_fetch_into_a_kept_tree_proves_its_own_token(
    http_repo: tuple[GitHttpServer, str, list[str]], token: str, tmp_path: Path
) -> None:
    _, url, shas = http_repo
    dest = tmp_path / "kept"
    await fetch_source(
        url, shas[0], dest, username=GIT_USERNAME, token=token, policy=LOOPBACK, kept=True
    )
    wrong = "tok-" + secrets.token_hex(16)

    with pytest.raises(SourceAuthFailed):  # the commit is there, but this token may not see it
        await fetch_source(
            url, shas[0], dest, username=GIT_USERNAME, token=wrong, policy=LOOPBACK, kept=True
        )


class Forge:
    """A bare repository that serves partial clones (``uploadpack.allowFilter``, as
    GitHub and GitLab do), and a work tree that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "served.git"
        self.work = root / "author"
        git("init", "--quiet", "--bare", str(self.bare), cwd=root)
        git("config", "uploadpack.allowFilter", "true", cwd=self.bare)
        self.work.mkdir()
        git("init", "--quiet", "--initial-branch=main", cwd=self.work)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, files: dict[str, bytes], *, orphan: str | None = None) -> str:
        """Commit exactly ``files`` (an ``orphan`` branch: no history); its sha."""
        if orphan:
            git("checkout", "--quiet", "--orphan", orphan, cwd=self.work)
        for path in self.work.iterdir():
            if path.name != ".git":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for name, content in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        git("add", "-A", cwd=self.work)
        git("commit", "--quiet", "--allow-empty", "-m", "change", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def push(self, sha: str, branch: str) -> None:
        git("push", "--quiet", "--force", "origin", f"{sha}:refs/heads/{branch}", cwd=self.work)

    def delete(self, branch: str) -> None:
        git("push", "--quiet", "origin", f":refs/heads/{branch}", cwd=self.work)


def checked_out(dest: Path) -> dict[str, bytes]:
    return {
        path.relative_to(dest).as_posix(): path.read_bytes()
        for path in dest.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(dest).parts
    }


def has_object(dest: Path, oid: str) -> bool:
    # Without the promisor remote, so asking does not fetch it.
    probe = ["git", "-c", "extensions.partialClone=", "cat-file", "-e", oid]
    env = {**os.environ, "GIT_NO_LAZY_FETCH": "1"}
    found = subprocess.run(probe, cwd=dest, env=env, capture_output=True, check=False)
    return found.returncode == 0


async def test_a_new_commit_moves_only_its_new_blobs(tmp_path: Path) -> None:
    forge = Forge(tmp_path)
    big = secrets.token_bytes(256 * 1024)
    first = forge.commit({"big.bin": big, "VERSION": b"1\n"})
    forge.push(first, "main")
    second = forge.commit({"big.bin": big, "VERSION": b"2\n"})
    forge.push(second, "main")
    dest = tmp_path / "kept"
    await kept_fetch(forge.url, first, dest)
    big_blob = git("rev-parse", f"{first}:big.bin", cwd=forge.bare)

    await kept_fetch(forge.url, second, dest)

    assert checked_out(dest) == {"big.bin": big, "VERSION": b"2\n"}
    assert git("rev-parse", "HEAD", cwd=dest) == second
    assert git("status", "--porcelain", cwd=dest) == ""
    # The unchanged 256 kB file was neither sent again nor rewritten; the new VERSION was.
    assert not has_object(dest, big_blob)
    assert has_object(dest, git("rev-parse", f"{second}:VERSION", cwd=forge.bare))


async def test_force_pushes_and_deleted_branches_check_out_exactly_the_commit(
    tmp_path: Path,
) -> None:
    forge = Forge(tmp_path)
    first = forge.commit({"a.txt": b"a\n", "dir/b.txt": b"b\n"})
    forge.push(first, "main")
    dest = tmp_path / "kept"
    await kept_fetch(forge.url, first, dest)
    # main is force-pushed to a commit with no common history; the old one stays
    # reachable only from a branch that is then deleted.
    forge.push(first, "old")
    rewritten = forge.commit({"c.txt": b"c\n", "dir/b.txt": b"changed\n"}, orphan="rewrite")
    forge.push(rewritten, "main")

    await kept_fetch(forge.url, rewritten, dest)
    assert checked_out(dest) == {"c.txt": b"c\n", "dir/b.txt": b"changed\n"}

    await kept_fetch(forge.url, first, dest)  # back to the old commit, through "old"
    assert checked_out(dest) == {"a.txt": b"a\n", "dir/b.txt": b"b\n"}
    forge.delete("old")

    await kept_fetch(forge.url, rewritten, dest)
    assert checked_out(dest) == {"c.txt": b"c\n", "dir/b.txt": b"changed\n"}
    assert git("rev-parse", "HEAD", cwd=dest) == rewritten
    assert git("status", "--porcelain", "--ignored", cwd=dest) == ""


async def test_when_one_git_of_a_stage_fails_the_other_is_stopped() -> None:
    stopped = []

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.append(True)
            raise

    async def failing() -> None:
        raise CommitNotFound(detail="no such commit")

    with pytest.raises(CommitNotFound):
        await asyncio.wait_for(_side_by_side([slow(), failing()]), timeout=5)
    assert stopped == [True]
