"""``--follow`` across an API restart: a real ``buildsvc serve`` stopped and started again
on the same port while ``buildsvc builds start --follow`` (or ``logs -f``) runs in a
process of its own.

A SIGTERM ends every stream with ``event: reconnect`` (so the stop waits for none of
them) and the follower reconnects at once. No worker runs: the build's log lines are
written to the store as the worker writes them (no Docker engine needed), and the API
streams them. The follower must resume with
``Last-Event-ID`` (every line once) and exit by the build's ending, or exit 7 with one
line when the API stays gone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from yarl import URL

import forgesim
from buildsvc.builds import logs
from buildsvc.client_cli.exit_codes import EXIT_CANCELLED, EXIT_STREAM_LOST
from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker
from tests.common.api_stack import (
    healthy,
    push_example,
    settings_env,
    stack_settings,
    wait_for,
)
from tests.common.factories import add_build, add_repository

REDIS_DB = 11


class ServeProcess:
    """``python -m buildsvc serve`` on the settings' port; stop() and start() again."""

    def __init__(self, settings: Settings, root: Path) -> None:
        self.settings = settings
        self.url = settings.public_url
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = str(URL(self.url).port)
        with (self.root / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "buildsvc", "serve", "--port", port],
                cwd=self.root,
                env=settings_env(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: healthy(self.url), 30, "buildsvc serve to answer")

    def stop(self, *, crash: bool = False) -> None:
        """SIGTERM (a graceful stop), or with ``crash`` SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            if crash:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class Follower:
    """``buildsvc builds logs BUILD -f`` with its stdout lines collected as they come."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=10)
        assert self.process.stderr is not None
        with self.process.stderr:  # small: one or two lines
            return self.process.returncode, self.process.stderr.read()


@dataclass
class Api:
    server: ServeProcess
    token: str
    account_id: int
    root: Path

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def buildsvc(self, *args: str) -> Follower:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSVC_")}
        env.update(
            XDG_CONFIG_HOME=str(self.root / "config"),
            BUILDSVC_API_URL=self.server.url,
            BUILDSVC_API_TOKEN=self.token,
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "buildsvc", *args],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        return Follower(process)

    def call(self, method: str, path: str, **body: object) -> Any:
        response = requests.request(
            method, self.server.url + path, json=body or None, headers=self.headers(), timeout=30
        )
        assert response.status_code < 300, response.text
        return response.json()

    def link(self, forge: forgesim.Forge, root: Path) -> None:
        """Bind alice's GitLab, push acme/app's main, link it as team/app (no auto build)."""
        token = forge.admin.create_token("alice", ["api"])
        push_example(forge, token, "acme/app", root / "work")
        self.call(
            "POST",
            "/api/v1/sources",
            provider="gitlab",
            url=forge.url,
            username="alice",
            token=token,
        )
        self.call(
            "POST",
            "/api/v1/repositories",
            namespace="team",
            name="app",
            source={"provider": "gitlab", "repository": "acme/app"},
            auto_build=False,
            rules=[{"type": "branch", "pattern": "main", "tag": "latest"}],
        )

    def seed_build(self) -> int:
        async def seed() -> int:
            engine = create_engine(self.server.settings)
            try:
                async with create_sessionmaker(engine).begin() as session:
                    repository = await add_repository(session, self.account_id)
                    build = await add_build(
                        session, self.account_id, repository.id, status="building", enqueued=True
                    )
                    return build.id
            finally:
                await engine.dispose()

        return asyncio.run(seed())

    def write_log(self, build_id: int, first: int, last: int) -> None:
        """Store lines ``first..last`` as the worker does (the store, then Redis)."""

        async def write() -> None:
            lines = [
                logs.LogLine(seq, dt.datetime.now(dt.UTC), f"log line {seq}")
                for seq in range(first, last + 1)
            ]
            engine = create_engine(self.server.settings)
            try:
                async with create_sessionmaker(engine).begin() as session:
                    await logs.store(session, build_id, lines)
            finally:
                await engine.dispose()

        asyncio.run(write())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("reconnect")
    settings = stack_settings(root, REDIS_DB)
    created = subprocess.run(
        [sys.executable, "-m", "buildsvc", "admin", "create-account", "follower"],
        cwd=root,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    account_id = int(re.search(r"\(id (\d+)\)", created.stdout).group(1))  # type: ignore[union-attr]
    server = ServeProcess(settings, root)
    server.start()
    try:
        with forgesim.running("gitlab", root / "forge") as forge:
            forge.admin.create_user("alice")
            forge.admin.create_namespace("acme", members={"alice": "maintainer"})
            forge.admin.create_repository("acme", "app")
            api = Api(server, created.stdout.strip().splitlines()[-1], account_id, root)
            api.link(forge, root)
            yield api
    finally:
        server.stop()


def test_start_follow_resumes_after_an_api_restart_and_exits_by_the_ending(api: Api) -> None:
    follower = api.buildsvc("builds", "start", "team/app", "--ref", "main", "--follow")

    def started() -> int | None:
        items = api.call("GET", "/api/v1/builds")["items"]
        return int(items[0]["id"]) if items else None

    build_id = wait_for(started, 30, "the build to be queued")
    api.write_log(build_id, 1, 3)
    wait_for(lambda: "log line 3" in follower.lines, 30, "the first lines")

    api.server.stop()
    api.write_log(build_id, 4, 5)  # the worker goes on while the API is down
    api.server.start()
    wait_for(lambda: "log line 5" in follower.lines, 30, "the lines written meanwhile")
    api.call("POST", f"/api/v1/builds/{build_id}/cancel")
    code, stderr = follower.finish(timeout=30)

    assert code == EXIT_CANCELLED, stderr
    log_lines = [line for line in follower.lines if line.startswith("log line")]
    assert log_lines == [f"log line {n}" for n in range(1, 6)]  # each once, none lost
    assert stderr.count("connection lost, reconnecting…") == 1
    assert "Traceback" not in stderr


def test_follow_exits_7_with_one_line_when_the_api_stays_gone(api: Api) -> None:
    build_id = api.seed_build()
    api.write_log(build_id, 1, 1)
    follower = api.buildsvc("builds", "logs", str(build_id), "-f", "--reconnect-timeout", "2")
    wait_for(lambda: "log line 1" in follower.lines, 30, "the first line")

    api.server.stop(crash=True)
    try:
        code, stderr = follower.finish(timeout=30)
    finally:
        api.server.start()

    assert code == EXIT_STREAM_LOST, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "did not come back within 2 s" in errors[0]
    assert f"buildsvc builds logs {build_id} -f" in errors[0]


def test_a_stopping_api_ends_each_stream_with_reconnect_and_exits_cleanly(api: Api) -> None:
    build_id = api.seed_build()
    api.write_log(build_id, 1, 2)
    url = f"{api.server.url}/api/v1/builds/{build_id}/logs?follow=true"
    with requests.get(url, headers=api.headers(), stream=True, timeout=60) as response:
        lines = response.iter_lines(decode_unicode=True)
        seen = list(itertools.takewhile(lambda raw: raw != "id: 2", lines))
        assert "id: 1" in seen  # read up to the second line
        process = api.server.process
        assert process is not None
        process.terminate()  # SIGTERM while the stream waits for the build
        rest = [raw for raw in lines if raw]  # the server ends it: no read timeout, no cut
    code = process.wait(timeout=30)
    api.server.start()

    assert code == 0
    assert rest[-3:] == ["retry: 500", "event: reconnect", 'data: {"after":2}']
    assert "Traceback" not in (api.root / "serve.log").read_text()
