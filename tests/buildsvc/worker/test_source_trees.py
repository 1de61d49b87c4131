"""Kept work trees: one build per tree across processes, busy trees passed over, trees
unused for long deleted (never one held), and dead session directories swept."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

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
    (tmp_path / ".dropped-objects").mkdir()  # a fetch's objects on their way out
    _age(tmp_path / ".dropped-objects", 3)
    stray_lock = tmp_path / "never-made.lock"  # its build failed before the tree was made
    stray_lock.touch()
    _age(stray_lock, 3)

    removed = prune_trees(tmp_path, DAY)

    assert removed == ["from-before-locks", "never-made", "old"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".dropped-objects",
        "recent",
        "recent.lock",
    ]


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
def session_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))


def test_dead_session_directories_are_removed_live_and_young_ones_kept(
    session_dir: Path,
) -> None:
    dead = session_dir
    (dead / "grpc.sock").touch()  # left by a worker killed mid-build: nobody listens
    _age(dead, 1)
    live = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    young = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(live / "grpc.sock"))
        server.listen()
        _age(live, 1)

        removed = remove_dead_session_dirs()

        assert dead in removed
        assert not dead.exists()
        assert [live.exists(), young.exists()] == [True, True]
        assert {live, young}.isdisjoint(removed)
    finally:
        server.close()
        for directory in (live, young):
            (directory / "grpc.sock").unlink(missing_ok=True)
            directory.rmdir()
