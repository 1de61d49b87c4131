"""The whole stack as real processes, for end-to-end tests and ``bench/e2e.py``.

``Stack`` runs forgesim (GitLab, in a thread of this process), ``buildsvc serve`` and
any number of ``buildsvc worker`` processes on one data directory and one Redis
database, all on loopback; Docker and Redis are the ones of ``scripts/services.sh``. The
registry is token auth, as the services' one: the stack runs a registry of its own with
the config ``buildsvc admin registry-config`` prints for its API (a token-auth registry
trusts one API's keys and realm), workers get no registry login (each build logs in as
itself), and ``services`` names the e2e account and the registry password set for it
through the API. With ``BUILDSVC_SERVICES_REGISTRY_AUTH=htpasswd`` it uses the services'
htpasswd registry and its admin login instead. Every process writes its output to
``<data>/<name>.log`` (the secret-masking tests grep them). Helpers drive it the way a
user does: forge projects through forgesim's admin API, ``git push`` with the token in
git's environment, the REST API with the account's bearer token.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

import forgesim
from buildsvc.accounts.services import create_account
from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker
from tests.common.engine_images import untag_under
from tests.common.servers import free_port
from tests.common.services import Services, ensure_services

ROOT = Path(__file__).resolve().parents[2]
FINISHED = {"succeeded", "failed", "cancelled", "timed_out", "superseded"}
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Alice",
    "GIT_AUTHOR_EMAIL": "alice@example.test",
    "GIT_COMMITTER_NAME": "Alice",
    "GIT_COMMITTER_EMAIL": "alice@example.test",
}


@dataclass
class Project:
    full_path: str
    clone_url: str
    work: Path


@dataclass
class Stack:
    data: Path
    redis_db: int
    settings: Mapping[str, str] = field(default_factory=dict)  # extra BUILDSVC_* values
    services: Services = field(default_factory=ensure_services)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.token_auth = os.environ.get("BUILDSVC_SERVICES_REGISTRY_AUTH") != "htpasswd"
        self.registry = f"127.0.0.1:{free_port()}" if self.token_auth else self.services.registry
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.redis_url = f"{self.services.redis_url}/{self.redis_db}"
        self._forge_cm = forgesim.running("gitlab", self.data / "forge")
        self.token = ""
        self.forge_token = ""

    # processes ---------------------------------------------------------------------
    def env(self, **overrides: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSVC_")}
        login = (
            {}
            if self.token_auth
            else {
                "REGISTRY_USERNAME": self.services.registry_username,
                "REGISTRY_PASSWORD": self.services.registry_password,
            }
        )
        values = {
            **login,
            "DATA_DIR": str(self.data),
            "REDIS_URL": self.redis_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.api_port),
            "PUBLIC_URL": self.api_url,
            "ALLOWED_SOURCE_NETWORKS": '["127.0.0.0/8"]',
            "REGISTRY": self.registry,
            "LOG_LEVEL": "INFO",
            **self.settings,
            **overrides,
        }
        return {**base, **{f"BUILDSVC_{k.upper()}": v for k, v in values.items()}}

    def spawn(self, name: str, *args: str, **overrides: str) -> subprocess.Popen[bytes]:
        out = (self.data / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "buildsvc", *args],
            cwd=self.data,  # no stray .env file is read
            env=self.env(**overrides),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.processes[name] = process
        return process

    def start(self) -> Stack:
        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushdb()
        finally:
            client.close()
        self.forge = self._forge_cm.__enter__()
        if self.token_auth:
            self._start_registry()
        self.spawn("api", "serve")  # it migrates the database before it answers
        self._wait_http(f"{self.api_url}/healthz", 60)
        self.token = asyncio.run(self._create_account())
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        if self.token_auth:
            password = secrets.token_urlsafe(18)
            self.call("PUT", "/api/v1/registry/password", {"password": password}, expect=204)
            self.services = dataclasses.replace(
                self.services,
                registry=self.registry,
                registry_username="e2e",
                registry_password=password,
            )
        admin = self.forge.admin
        admin.create_user("alice")
        self.forge_token = admin.create_token("alice", ["api"])
        admin.create_namespace("acme", members={"alice": "maintainer"})
        self.call(
            "POST",
            "/api/v1/sources",
            {
                "provider": "gitlab",
                "url": self.forge.url,
                "username": "alice",
                "token": self.forge_token,
            },
        )
        return self

    def start_worker(self, name: str = "worker", **overrides: str) -> subprocess.Popen[bytes]:
        process = self.spawn(name, "worker", **overrides)
        self.wait_log(name, "ready:", 60)
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=40)  # a worker lets running builds finish for 25 s
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _start_registry(self) -> None:
        """A token-auth registry for this stack's API, started with the printed config."""
        config = subprocess.run(
            [
                sys.executable,
                "-m",
                "buildsvc",
                "admin",
                "registry-config",
                "--addr",
                self.registry,
                "--storage",
                str(self.data / "registry-storage"),
            ],
            cwd=self.data,
            env=self.env(),
            capture_output=True,
            check=True,
        ).stdout
        (self.data / "registry.yml").write_bytes(config)
        out = (self.data / "registry.log").open("ab")
        self.processes["registry"] = subprocess.Popen(
            ["docker-registry", "serve", str(self.data / "registry.yml")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"http://{self.registry}/v2/", timeout=1)
                return
            except requests.ConnectionError:
                assert time.monotonic() < deadline, self.log("registry")
                time.sleep(0.1)

    def close(self) -> None:
        if self.token_auth:  # its registry is its own (and still holds the port)
            untag_under(self.registry, self.services.docker_url)
        for name in list(self.processes):
            self.stop(name)
        self.http.close()
        self._forge_cm.__exit__(None, None, None)

    def log(self, name: str) -> str:
        path = self.data / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_log(self, name: str, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log(name):
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise AssertionError(f"{name} exited {process.returncode}:\n{self.log(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not log {needle!r}:\n{self.log(name)}")
            time.sleep(0.05)

    async def _create_account(self) -> str:
        """What ``buildsvc admin create-account`` does, without starting a process."""
        settings = Settings(data_dir=self.data, database_url=None, redis_url=self.redis_url)
        engine = create_engine(settings)
        try:
            _, token = await create_account(create_sessionmaker(engine), "e2e")
        finally:
            await engine.dispose()
        return token

    def _wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(url, timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer:\n{self.log('api')}")
            time.sleep(0.05)

    # the API -----------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, *, expect: int = 0) -> Any:
        response = self.http.request(method, self.api_url + path, json=body, timeout=30)
        payload = response.json() if response.content else None
        if expect:
            assert response.status_code == expect, payload
        else:
            assert response.ok, payload
        return payload

    def link(self, project: Project, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        body = {
            "namespace": "e2e",
            "name": name,
            "source": {"provider": "gitlab", "repository": project.full_path},
            "rules": rules,
        }
        result: dict[str, Any] = self.call("POST", "/api/v1/repositories", body, expect=201)
        return result

    def builds(self, repository_id: int) -> list[dict[str, Any]]:
        found = self.call("GET", f"/api/v1/builds?repository_id={repository_id}&per_page=100")
        return list(found["items"])

    def build(self, build_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/api/v1/builds/{build_id}")
        return result

    def wait_new_build(self, repository_id: int, after: int = 0, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while True:
            ids = [b["id"] for b in self.builds(repository_id) if b["id"] > after]
            if ids:
                return int(max(ids))
            assert time.monotonic() < deadline, f"no build for repository {repository_id}"
            time.sleep(0.02)

    def wait_status(
        self, build_id: int, statuses: set[str] = FINISHED, timeout: float = 90
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            build = self.build(build_id)
            if build["status"] in statuses:
                return build
            assert time.monotonic() < deadline, f"build {build_id} still {build['status']}"
            time.sleep(0.05)

    def follow(self, build_id: int, timeout: float = 90) -> Iterator[tuple[str, dict[str, Any]]]:
        """The log as server-sent events: ("line", {...}) ... ("end", {"status", "error"})."""
        url = f"{self.api_url}/api/v1/builds/{build_id}/logs?follow=true"
        with self.http.get(url, stream=True, timeout=timeout) as response:
            assert response.status_code == 200, response.text
            event = "message"
            for raw in response.iter_lines(decode_unicode=True):
                if raw.startswith("event: "):
                    event = raw[7:]
                elif raw.startswith("data: "):
                    yield event, json.loads(raw[6:])
                elif not raw:
                    event = "message"

    # the forge ---------------------------------------------------------------------
    def new_project(self, name: str | None = None) -> Project:
        name = name or f"app-{secrets.token_hex(3)}"
        repo = self.forge.admin.create_repository("acme", name)
        work = self.data / "work" / name
        work.mkdir(parents=True)
        git(work, "init", "-q", "-b", "main")
        git(work, "remote", "add", "origin", repo["clone_url"])
        return Project(repo["full_path"], repo["clone_url"], work)

    def push(
        self,
        project: Project,
        files: Mapping[str, str] | Path,
        *,
        branch: str = "main",
        message: str = "Change things",
    ) -> str:
        """Replace the work tree with ``files`` (or a directory's copy), commit, push."""
        for entry in project.work.iterdir():
            if entry.name != ".git":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        if isinstance(files, Path):
            shutil.copytree(files, project.work, dirs_exist_ok=True)
        else:
            for relative, text in files.items():
                target = project.work / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        git(project.work, "checkout", "-q", "-B", branch)
        git(project.work, "add", "-A")
        git(project.work, "commit", "-q", "--allow-empty", "-m", message)
        self.git_push(project, branch)
        return git(project.work, "rev-parse", "HEAD")

    def git_push(self, project: Project, branch: str = "main") -> None:
        git(
            project.work,
            "push",
            "-q",
            "-f",
            "origin",
            f"HEAD:refs/heads/{branch}",
            env=self.git_auth_env(),
        )

    def git_auth_env(self) -> dict[str, str]:
        """The token as an HTTP header in git's environment (never in argv or the URL)."""
        basic = base64.b64encode(f"alice:{self.forge_token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.forge.url}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            "GIT_TERMINAL_PROMPT": "0",
        }


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"git {args[0]}: {result.stdout}{result.stderr}"
    return result.stdout.strip()
