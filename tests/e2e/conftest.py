"""The stack end-to-end tests drive (see ``stack.py``).

- ``stack`` (session): one stack with one worker; tests keep apart by using projects and
  image repositories of their own.
- ``no_default_worker`` (module): the same stack with its worker stopped, for tests
  that start (and kill) workers with settings of their own; restarted afterwards.

Redis has 16 databases and every test package takes its own; this one is 15.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.common.e2e_stack import Stack

REDIS_DB = 15


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("e2e") / "stack", REDIS_DB)
    try:
        running.start()
        running.start_worker()
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def no_default_worker(stack: Stack) -> Iterator[Stack]:
    stack.stop("worker")
    try:
        yield stack
    finally:
        stack.start_worker()
