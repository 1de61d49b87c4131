"""Kept work trees: one build per tree across processes, busy trees passed over, trees
unused for long deleted (never one held), and dead session directories swept."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildsvc.worker import source_trees
from buildsvc.worker.buildkit_session import SCRATCH_PREFIX, remove_dead_session_dirs
from buildsvc.worker.source_trees import hold_tree, prune_trees, tree_key

KEY = tree_key(7, "https://forge.example/acme/app.git")
DAY = dt.timedelta(days=1)


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def _used(root: Path, name: str, days_ago: float) -> Path:
    """A tree ``name`` under ``root`` last held ``days_ago``."""
    tree = root / name
    (tree / ".git").mkdir(parents=True)
    (tree / "Dockerfile").write_text("FROM scratch\n")
    lock = root / f"{name}.lock"
    lock.touch()
    _age(lock, days_ago)
    return tree


def test_a_key_names_an_account_and_a_repository() -> None:
    assert tree_key(7, "https://a/x.git") == tree_key(7, "https://a/x.git")
    assert tree_key(7, "https://a/x.git") != tree_key(8, "https://a/x.git")
    assert tree_key(7, "https://a/x.git") != tree_key(7, "https://a/y.git")


def test_a_busy_tree_is_passed_over_and_a_free_one_taken_again(tmp_path: Path) -> None:
    with hold_tree(tmp_path, KEY) as first:
        assert first == tmp_path / KEY
        with hold_tree(tmp_path, KEY) as second, hold_tree(tmp_path, KEY) as third:
            assert (second, third) == (tmp_path / f"{KEY}.1", tmp_path / f"{KEY}.2")
        with hold_tree(tmp_path, KEY) as again:
            assert again == tmp_path / f"{KEY}.1"
    with hold_tree(tmp_path, KEY) as free:
        assert free == tmp_path / KEY
    other = tree_key(8, "https://forge.example/acme/app.git")
    with hold_tree(tmp_path, KEY), hold_tree(tmp_path, other) as its_own:
        assert its_own == tmp_path / other


HOLDER = """
import sys
from collections.abc import Iterator
from pathlib import Path
from buildsvc.worker.source_trees import hold_tree
with hold_tree(Path(sys.argv[1]), sys.argv[2]) as tree:
    print(tree, flush=True)
    sys.stdin.read()  # held until killed
"""


def test_a_tree_another_process_holds_is_passed_over_until_it_dies(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == str(tmp_path / KEY)
            with hold_tree(tmp_path, KEY) as mine:
                assert mine == tmp_path / f"{KEY}.1"
            holder.kill()  # SIGKILL: the kernel lets its lock go
            holder.wait(10)
            with hold_tree(tmp_path, KEY) as mine:
                assert mine == tmp_path / KEY
        finally:
            holder.kill()


def test_holding_a_tree_marks_its_use(tmp_path: Path) -> None:
    _used(tmp_path, KEY, days_ago=30)
    with hold_tree(tmp_path, KEY):
        pass
    assert prune_trees(tmp_path, DAY) == []
    assert (tmp_path / KEY / "Dockerfile").exists()


def test_trees_unused_for_long_are_deleted_and_the_rest_kept(tmp_path: Path) -> None:
    _used(tmp_path, "old", days_ago=3)
    _used(tmp_path, "recent", days_ago=0.5)
    before_locks = tmp_path / "from-before-locks"  # no lock file: its own time says
    (before_locks / ".git").mkdir(parents=True)
    _age(before_locks, 3)
    stray_lock = tmp_path / "never-made.lock"  # its build failed before the tree was made
    stray_lock.touch()
    _age(stray_lock, 3)

    removed = prune_trees(tmp_path, DAY)

    assert removed == ["from-before-locks", "never-made", "old"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["recent", "recent.lock"]


def test_a_held_tree_is_never_deleted_however_old(tmp_path: Path) -> None:
    tree = _used(tmp_path, KEY, days_ago=30)
    with hold_tree(tmp_path, KEY) as held:
        assert held == tree
        _age(tmp_path / f"{KEY}.lock", 30)  # as if held for a month
        assert prune_trees(tmp_path, DAY) == []
        assert (tree / "Dockerfile").exists()
    assert prune_trees(tmp_path, DAY) == [KEY]  # let go, a month after its last use
    assert not tree.exists()
    with hold_tree(tmp_path, KEY) as fresh:  # the next build starts afresh, same name
        assert fresh == tree


def test_no_sources_yet_prunes_nothing(tmp_path: Path) -> None:
    assert prune_trees(tmp_path / "sources", DAY) == []


@pytest.fixture
def session_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary directory of the test's own (short: a socket path is at most 107
    bytes), so no other process's sessions are swept, nor ours by another."""
    root = Path(tempfile.mkdtemp(prefix="bst-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_dead_session_directories_are_removed_live_and_young_ones_kept(
    session_root: Path,
) -> None:
    dead = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    (dead / "grpc.sock").touch()  # left by a worker killed mid-build: nobody listens
    _age(dead, 1)
    bare = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))  # killed before its socket
    _age(bare, 1)
    live = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    young = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(live / "grpc.sock"))
        server.listen()
        _age(live, 1)

        removed = remove_dead_session_dirs()

    assert sorted(removed) == sorted([dead, bare])
    assert sorted(path.name for path in session_root.iterdir()) == sorted([live.name, young.name])


def test_a_hold_between_the_pruners_look_and_its_lock_keeps_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _used(tmp_path, KEY, days_ago=30)
    locking = source_trees._try_lock

    def held_meanwhile(lock_path: Path) -> int | None:
        build = locking(lock_path)  # a build came and went after the pruner looked
        assert build is not None
        os.utime(build)
        os.close(build)
        return locking(lock_path)

    monkeypatch.setattr(source_trees, "_try_lock", held_meanwhile)
    assert prune_trees(tmp_path, DAY) == []
    assert (tree / "Dockerfile").exists()


def test_a_lock_file_replaced_before_the_lock_is_taken_is_locked_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_path = tmp_path / f"{KEY}.lock"
    flock = source_trees.fcntl.flock
    replaced: list[int] = []

    def pruned_meanwhile(fd: int, operation: int) -> None:
        if not replaced:  # a pruner unlinked the file we opened; another made it anew
            replaced.append(os.fstat(fd).st_ino)
            lock_path.unlink()
            lock_path.touch()
        flock(fd, operation)

    monkeypatch.setattr(source_trees.fcntl, "flock", pruned_meanwhile)
    with hold_tree(tmp_path, KEY) as tree:
        monkeypatch.setattr(source_trees.fcntl, "flock", flock)
        assert tree == tmp_path / KEY
        assert lock_path.stat().st_ino != replaced[0]
        with hold_tree(tmp_path, KEY) as other:  # the lock is on the file as it is now
            assert other == tmp_path / f"{KEY}.1"


def test_an_entry_that_cannot_be_deleted_spares_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _used(tmp_path, "a-stuck", days_ago=3)
    _used(tmp_path, "b-old", days_ago=3)
    rmtree = shutil.rmtree

    def refuse(path: Path, *args: object, **kwargs: object) -> None:
        if Path(path).name == "a-stuck":
            raise PermissionError(13, "Permission denied", str(path))
        rmtree(path)

    monkeypatch.setattr(source_trees.shutil, "rmtree", refuse)
    assert prune_trees(tmp_path, DAY) == ["b-old"]
    assert (tmp_path / "a-stuck.lock").exists()  # kept for the next round
    assert "could not delete the work tree a-stuck" in caplog.text
