"""The work trees a worker machine keeps of each source repository, one build per tree.

A tree lives at ``<root>/<key>`` (then ``<key>.1``, ``<key>.2`` … for builds of the
same repository that run at the same time) and is held through an ``flock`` on
``<tree>.lock``. The lock is what makes a tree one build's: the kernel drops it with
its process, so a SIGKILLed worker leaves no tree held, and it holds across every
worker process sharing the data directory (one ``asyncio.Lock`` per process did not:
two processes fetched into one tree at once). A build finding a tree busy takes the
next one rather than wait for a whole build; the trees a machine keeps are thus as many
as the builds of one repository it ever ran at once.

Holding a tree touches its lock file: ``prune`` deletes the trees nobody held for a
while (their lock taken first, so never one in use), and the next build of that
repository fetches afresh.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import itertools
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_SUFFIX = ".lock"

log = logging.getLogger(__name__)


def tree_key(account_id: int, clone_url: str) -> str:
    """Per account: each build's fetch still proves its own token can read the commit,
    and no account's checkout is another's."""
    return hashlib.sha256(f"{account_id}\n{clone_url}".encode()).hexdigest()[:32]


def _try_lock(lock_path: Path) -> int | None:
    """An fd holding ``lock_path``'s lock, or None when another holds it."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # A pruner may have unlinked the file between our open and our lock: a lock on
        # the unlinked file holds nothing, so look again.
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    if not same:
        os.close(fd)
        return _try_lock(lock_path)
    return fd


def _slot(root: Path, key: str, number: int) -> Path:
    return root / (key if number == 0 else f"{key}.{number}")


def _lock_path(tree: Path) -> Path:
    return tree.with_name(tree.name + LOCK_SUFFIX)


def _first_free(root: Path, key: str) -> tuple[Path, int]:
    for number in itertools.count():
        tree = _slot(root, key, number)
        fd = _try_lock(_lock_path(tree))
        if fd is not None:
            return tree, fd
    raise AssertionError("unreachable: the slots never end")


@contextlib.contextmanager
def hold_tree(root: Path, key: str) -> Iterator[Path]:
    """The first free tree of ``key`` under ``root``, this caller's until the block ends
    (non-blocking: a busy tree is passed over; ~0.1 ms)."""
    root.mkdir(parents=True, exist_ok=True)
    tree, fd = _first_free(root, key)
    try:
        os.utime(fd)  # its last use, for prune
        yield tree
    finally:
        os.close(fd)  # the lock goes with the fd


def prune_trees(root: Path, unused_for: dt.timedelta) -> list[str]:
    """Delete the trees under ``root`` not held for ``unused_for`` (blocking); their
    names. A tree held right now is never touched; one entry failing spares the rest."""
    if not root.is_dir():
        return []
    cutoff = time.time() - unused_for.total_seconds()
    names = {path.name.removesuffix(LOCK_SUFFIX) for path in root.iterdir()}
    removed = []
    for name in sorted(names):
        try:
            if _prune(root / name, root / (name + LOCK_SUFFIX), cutoff):
                removed.append(name)
        except OSError as exc:  # a permission, a full disk: the next round tries again
            log.warning("could not delete the work tree %s: %s", name, exc)
    return removed


def _prune(tree: Path, lock_path: Path, cutoff: float) -> bool:
    """Delete ``tree`` if nobody held it since ``cutoff``; whether it was."""
    try:
        seen: float | None = lock_path.stat().st_mtime
    except FileNotFoundError:
        seen = None  # a tree from before the locks, or one being made
    try:
        last_used = seen if seen is not None else tree.stat().st_mtime
    except FileNotFoundError:
        return False  # gone already
    if last_used >= cutoff:
        return False
    fd = _try_lock(lock_path)
    if fd is None:
        return False  # a build holds it
    try:
        if seen is not None and os.fstat(fd).st_mtime != seen:
            return False  # held and let go since we looked
        if tree.is_dir() and not tree.is_symlink():
            shutil.rmtree(tree)
        else:
            tree.unlink(missing_ok=True)
        lock_path.unlink(missing_ok=True)  # before the unlock: see _try_lock
        return True
    finally:
        os.close(fd)
