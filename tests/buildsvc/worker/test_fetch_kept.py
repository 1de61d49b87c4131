"""fetch_source into a work tree kept across builds (``kept=True``), against real git."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from buildsvc.sources import AddressPolicy
from buildsvc.worker.errors import SourceAuthFailed
from buildsvc.worker.fetch import fetch_source
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
