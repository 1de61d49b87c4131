"""Test helpers: git for setup, and a git smart-HTTP server that demands Basic auth."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import docker
from aiohttp import web

from tests.common.build_steps import processes_containing

__all__ = ["GIT_USERNAME", "GitHttpServer", "git", "processes_containing", "untag_all"]

GIT_USERNAME = "builder"  # what GitHttpServer expects with the token


def git(*args: str, cwd: Path) -> str:
    """Run git for test setup; identities are given inline so no global config is needed."""
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@dataclass
class GitHttpServer:
    """``git http-backend`` behind Basic auth; records what clients sent.

    ``delay`` holds every request that long (for timeout and cancel tests). On each
    request it also looks for the token in every process's argv while git is running.
    """

    project_root: Path
    username: str
    token: str
    delay: float = 0.0
    authorizations: list[str | None] = field(default_factory=list)
    argv_leaks: list[str] = field(default_factory=list)
    client_argv: list[str] = field(default_factory=list)  # proves the argv scan sees git
    requested: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.authorizations.append(request.headers.get("Authorization"))
        self.argv_leaks += processes_containing(self.token.encode())
        self.client_argv += processes_containing(request.host.encode())
        self.requested.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        expected = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        body = await request.read()
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "REMOTE_USER": self.username,
            "REMOTE_ADDR": "127.0.0.1",
        }
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await proc.communicate(body)
        head, _, payload = output.partition(b"\r\n\r\n")
        status = 200
        headers = {}
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers[name] = value.strip()
        return web.Response(status=status, body=payload, headers=headers)


def untag_all(api: docker.APIClient, name: str) -> None:
    """Remove every local tag of repository ``name``.

    By tag, not by image id: identical builds share images (and parents) across tests,
    and an image with tagged children cannot be removed by id.
    """
    for image in api.images(name=name):
        for tag in image.get("RepoTags") or []:
            if tag.rpartition(":")[0] == name:
                api.remove_image(tag, force=True)
