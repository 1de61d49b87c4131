"""Git smart HTTP through ``git http-backend`` (CGI), streaming both bodies.

Routes: ``GET {prefix}/{full_path}.git/info/refs`` and ``POST .../git-upload-pack`` /
``.../git-receive-pack``. The provider's ``git_auth`` decides who may do what; after a
successful receive-pack the core compares ref snapshots and announces the push, before
the client sees the end of the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from forgesim import gitrepo
from forgesim.core import CORE, Core
from forgesim.models import Repository, User

log = logging.getLogger("forgesim.git")
CHUNK = 64 * 1024


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(prefix + r"/{repo:.+\.git}/info/refs", handle)
    app.router.add_post(
        prefix + r"/{repo:.+\.git}/{service:git-upload-pack|git-receive-pack}", handle
    )


def _service(request: web.Request) -> str:
    if "service" in request.match_info:
        return request.match_info["service"]
    return request.query.get("service", "")


async def handle(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE]
    full_path = request.match_info["repo"][: -len(".git")]
    repo = core.state.repo_by_path(full_path)
    service = _service(request)
    if service not in ("git-upload-pack", "git-receive-pack"):
        raise web.HTTPForbidden(text="Only smart HTTP is supported.\n")
    write = service == "git-receive-pack"
    if repo is None:
        raise web.HTTPNotFound(text="Repository not found.\n")
    user = await core.spec.git_auth(core, request, repo, write)
    git_dir = core.repo_dir(repo)  # lays the repository out on first use
    if not write or request.method == "GET":
        return await run_backend(request, core, repo, user)
    async with core.push_lock(repo):
        before = await gitrepo.refs(git_dir)

        async def announce() -> None:
            if user is not None:
                core.pushed(repo, user, before, await gitrepo.refs(git_dir))

        return await run_backend(request, core, repo, user, finish=announce)


def _cgi_env(
    request: web.Request, core: Core, repo: Repository, user: User | None
) -> dict[str, str]:
    suffix = request.match_info.get("service") or "info/refs"
    env = gitrepo.git_env()
    env.update(
        GIT_PROJECT_ROOT=str(core.state.repos_root),
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=f"/{repo.full_path}.git/{suffix}",
        REQUEST_METHOD=request.method,
        QUERY_STRING=request.query_string,
        CONTENT_TYPE=request.headers.get("Content-Type", ""),
        REMOTE_ADDR=request.remote or "",
        REMOTE_USER=user.username if user else "",
        GIT_HTTP_MAX_REQUEST_BUFFER="100M",
        # Partial clones (--filter=blob:none) and the blobs they fetch later by id, as
        # GitLab serves them.
        GIT_CONFIG_COUNT="2",
        GIT_CONFIG_KEY_0="uploadpack.allowFilter",
        GIT_CONFIG_VALUE_0="true",
        GIT_CONFIG_KEY_1="uploadpack.allowAnySHA1InWant",
        GIT_CONFIG_VALUE_1="true",
    )
    # aiohttp inflates a gzipped body (git gzips a large request: a partial clone's many
    # wants) before we read it: the backend gets it plain, to its end, with no length.
    if "Content-Encoding" not in request.headers and request.content_length is not None:
        env["CONTENT_LENGTH"] = str(request.content_length)
    if "Git-Protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    return env


async def _feed(request: web.Request, stdin: asyncio.StreamWriter) -> None:
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            stdin.write(chunk)
            await stdin.drain()
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


async def run_backend(
    request: web.Request,
    core: Core,
    repo: Repository,
    user: User | None,
    finish: Callable[[], Awaitable[None]] | None = None,
) -> web.StreamResponse:
    """Stream one CGI exchange. ``finish`` runs before the answer's last byte, as a real
    forge's post-receive work does: when ``git push`` returns, the push was announced
    (the hooks that get it are fixed, its deliveries are on their way)."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_cgi_env(request, core, repo, user),
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    feeder = asyncio.ensure_future(_feed(request, proc.stdin))
    stderr = asyncio.ensure_future(proc.stderr.read())
    try:
        status, headers = await _read_cgi_headers(proc.stdout)
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        while chunk := await proc.stdout.read(CHUNK):
            await response.write(chunk)
        await feeder
        if finish is not None:
            await finish()
        await response.write_eof()
    except BaseException:
        # Client went away or the server stops: do not leave git running.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    finally:
        feeder.cancel()
        code = await proc.wait()
        err = (await stderr).decode(errors="replace").strip()
        if code != 0 or err:
            log.info("git http-backend %s exit %s: %s", repo.full_path, code, err)
    return response


async def _read_cgi_headers(stdout: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status, headers = 200, dict[str, str]()
    while True:
        line = (await stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return status, headers
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers[name.strip()] = value.strip()
