"""Fixtures for forgesim tests: a running GitLab, a seeded world, a webhook receiver, git.

``forge``       forgesim GitLab in a background thread (fresh data dir per test)
``world``       acme group: alice maintainer, bob developer, carol reporter, dave outsider;
                private acme/app; an ``api`` token for each (``world.tokens[name]``)
``gl``          python-gitlab as alice (``gl_as(name)`` for the others)
``receiver``    an HTTP server recording webhook requests; ``status`` and ``delay`` shape
                its answer
``git``         run the real git client with a fixed identity and no user config
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import gitlab
import pytest

import forgesim
from forgesim import Forge

# serve_forever's default poll (0.5 s) is how long shutdown() waits: half a second per test.
POLL = 0.02
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Alice Example",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Example",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/false",
}


@dataclass
class World:
    forge: Forge
    tokens: dict[str, str]
    project: str = "acme/app"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    with forgesim.running("gitlab", tmp_path / "forge") as running:
        yield running


def seed(forge: Forge) -> World:
    admin = forge.admin
    tokens = {}
    for name in ("alice", "bob", "carol", "dave"):
        admin.create_user(name)
        tokens[name] = admin.create_token(name, ["api"])
    members = {"alice": "maintainer", "bob": "developer", "carol": "reporter"}
    admin.create_namespace("acme", members=members)
    admin.create_repository("acme", "app", private=True)
    return World(forge, tokens)


@pytest.fixture
def world(forge: Forge) -> World:
    return seed(forge)


@pytest.fixture
def gl_as(forge: Forge, world: World) -> Callable[..., gitlab.Gitlab]:
    def make(name: str = "alice", **kwargs: Any) -> gitlab.Gitlab:
        return gitlab.Gitlab(forge.url, private_token=world.tokens[name], **kwargs)

    return make


@pytest.fixture
def gl(gl_as: Callable[..., gitlab.Gitlab]) -> gitlab.Gitlab:
    return gl_as("alice")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(state.delay)
            try:
                self.send_response(state.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                return  # the forge gave up waiting (a delivery timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(POLL,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def git() -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**os.environ, **GIT_IDENTITY}

    def run(
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        env_extra: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**env, **(env_extra or {})},
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    return run


def commit_file(git: Callable[..., Any], work: Path, name: str, text: str, message: str) -> str:
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return str(git("rev-parse", "HEAD", cwd=work).stdout.strip())
