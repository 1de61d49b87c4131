"""Fetch a repository at one exact commit, shallow, with the token kept out of sight.

``git init`` + ``git fetch --depth 1 <url> <sha>`` + ``git checkout --detach``. The
token reaches git only through its environment: ``GIT_CONFIG_COUNT``/``KEY``/``VALUE``
set ``http.<origin>/.extraHeader`` to an ``Authorization: Basic`` header. git matches
that key against the clone URL once and then sends the header with every request of the
fetch, wherever it goes; so redirects are not followed at all (``http.followRedirects``
false: a 3xx fails the fetch, naming the redirect), and no proxy stands between git and
the forge. The clone URL's host is checked against the address policy first and git
connects only to the addresses checked (``source_address``). Nothing with the token
goes into argv, the URL, a log line or an error detail (all output is masked). Global
and system git config are ignored, so no credential helper stores the token.

Each git runs in its own process group; on timeout or cancellation the whole group
(git and its ``git-remote-http`` child) is killed.

``kept=True`` reuses ``dest``, a work tree kept across builds of one repository, so a
build moves little more than what is new. Its objects are dropped (a shallow fetch
would send the whole tree again anyway; kept, they would only pile up); the commit, its
trees and its blobs up to 128 kB are fetched (``--filter=blob:limit``, a partial clone
of ``origin``); ``git read-tree -u --reset`` then rewrites only the files whose content
differs from the last build's, going by the index, and fetches the large blobs among
them, in one more request; ``git clean`` (beside the fetch) removes the rest. On a
large repository that saves sending its large files and writing every file again. A
forge that does not filter sends every blob with the commit.
A kept tree git cannot update (a git killed mid-way left a lock) is started afresh.
The caller keeps two builds out of one kept tree at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import os
import re
import shutil
import signal
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from buildsvc.sources import AddressPolicy, resolve_checked
from buildsvc.worker.errors import (
    CommitNotFound,
    SourceAuthFailed,
    SourceFetchFailed,
    SourceFetchTimeout,
)
from buildsvc.worker.masking import Masker
from buildsvc.worker.source_address import Resolver, check_clone_host

LineCallback = Callable[[str], Awaitable[None] | None]

_SHA_RE = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_AUTH_PATTERNS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "http basic: access denied",
    "returned error: 401",
    "returned error: 403",
    "invalid username or password",
)
_MISSING_COMMIT_PATTERNS = (
    "not our ref",
    "couldn't find remote ref",
    "unadvertised object",
    "no such remote ref",
    "reference is not a tree",
)
_REDIRECT = re.compile(r"returned error: (3\d\d)")


def git_auth_env(
    clone_url: str,
    username: str | None,
    token: str | None,
    *,
    protocols: Sequence[str],
    pins: Sequence[str] = (),
) -> dict[str, str]:
    """The environment that makes git non-interactive, hermetic and authenticated.

    ``pins`` are ``http.curloptResolve`` values: host:port:addresses git connects to.
    """
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",  # answer any prompt with nothing instead of hanging
        "SSH_ASKPASS": "true",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": ":".join(protocols),
        "LC_ALL": "C",  # error messages are matched in English
    }
    config: list[tuple[str, str]] = [
        ("credential.helper", ""),
        ("http.followRedirects", "false"),
        ("http.proxy", ""),  # empty: no proxy, not even one from http_proxy & co.
        *(("http.curloptResolve", pin) for pin in pins),
    ]
    if token:
        parts = urlsplit(clone_url)
        credential = base64.b64encode(f"{username or 'oauth2'}:{token}".encode()).decode()
        key = f"http.{parts.scheme}://{parts.netloc}/.extraHeader"
        config.append((key, f"Authorization: Basic {credential}"))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _check_url(clone_url: str, protocols: Sequence[str]) -> None:
    parts = urlsplit(clone_url)
    if parts.scheme not in protocols:
        raise SourceFetchFailed(detail=f"clone URL scheme {parts.scheme!r} is not allowed")
    if parts.password is not None:
        # A credential in the URL would end up in argv and git's own messages.
        raise SourceFetchFailed(detail="clone URL must not contain credentials")


def _prepare_dest(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise SourceFetchFailed(detail=f"destination {dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)


def _classify(output: Sequence[str], step: str) -> SourceFetchFailed:
    text = "\n".join(output)
    lowered = text.lower()
    detail = f"git {step} failed: {text.strip() or 'no output'}"
    if any(pattern in lowered for pattern in _AUTH_PATTERNS):
        return SourceAuthFailed(detail=detail)
    if any(pattern in lowered for pattern in _MISSING_COMMIT_PATTERNS):
        return CommitNotFound(detail=detail)
    redirect = _REDIRECT.search(lowered)
    if redirect is not None:
        return SourceFetchFailed(
            detail=f"the forge answered with a redirect (HTTP {redirect.group(1)}), which is "
            f"not followed: the token goes to the clone URL's host only; {detail}"
        )
    return SourceFetchFailed(detail=detail)


async def _emit(on_line: LineCallback | None, line: str) -> None:
    if on_line is not None:
        result = on_line(line)
        if inspect.isawaitable(result):
            await result


async def _git(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    masker: Masker,
    on_line: LineCallback | None,
) -> list[str]:
    """Run one git command, streaming its masked output; return the last lines of it."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # a process group we can kill as a whole
    )
    tail: deque[str] = deque(maxlen=20)
    try:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = masker.mask(raw.decode(errors="replace").rstrip("\r\n"))
            tail.append(line)
            await _emit(on_line, line)
        returncode = await proc.wait()
    except BaseException:
        # Timeout or cancellation: git and its remote helper must not outlive the fetch.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await asyncio.shield(proc.wait())
        raise
    if returncode != 0:
        raise _classify(list(tail), args[0])
    return list(tail)


# A kept tree's fetch leaves out blobs larger than this; the checkout fetches those of
# them that changed. Smaller ones come with the fetch: asking for each later would cost
# a request and, for many files, more than sending them along.
_FILTER = f"--filter=blob:limit={128 * 1024}"


def _kept_stages(clone_url: str, sha: str, *, new: bool) -> list[list[tuple[str, ...]]]:
    """The git commands that bring a kept tree to ``sha``: stage after stage, the
    commands of one stage side by side (each pair touches different files)."""
    start: list[list[tuple[str, ...]]] = [
        [("init", "--quiet")],
        # The remote the checkout asks for the blobs it lacks (the URL holds no secret).
        [("config", "remote.origin.url", clone_url)],
    ]
    return [
        *(start if new else []),  # a kept tree has both: two processes less
        [
            # The commit, its trees and its small blobs (a forge without filters sends
            # all). Beside it, files the index does not track go: the index is the last
            # checkout's and only git writes in the tree, so cleaning after the checkout
            # would find just these.
            ("fetch", "--depth", "1", _FILTER, "--no-tags", "origin", sha),
            ("clean", "-ffdxq"),
        ],
        # Only the files that changed are written, and only the large ones among them
        # fetched, in one request: git asks the promisor remote for the blobs it lacks.
        # HEAD is a file of its own: it moves beside the index.
        [("read-tree", "-u", "--reset", sha), ("update-ref", "--no-deref", "HEAD", sha)],
    ]


_DROPPED = "objects.dropped-"  # under .git: object stores on their way out


def _drop_objects(dest: Path) -> None:
    """The last build's objects and shallow list go; the index (what is checked out) stays.

    HEAD goes too (to an unborn branch): a partial clone fetches a missing object it
    refers to, so the next fetch would first fetch the last build's commit again.
    The objects are renamed away at once and deleted in the background (with any a
    stopped worker left), off the build's way: a few syscalls, no thread hop.
    """
    dest.mkdir(parents=True, exist_ok=True)
    git_dir = dest / ".git"
    if not git_dir.is_dir():
        return  # a new tree: ``git init`` makes it
    objects = git_dir / "objects"
    with contextlib.suppress(FileNotFoundError):
        objects.rename(git_dir / f"{_DROPPED}{os.urandom(6).hex()}")
    dropped = [path for path in git_dir.iterdir() if path.name.startswith(_DROPPED)]
    threading.Thread(target=_delete, args=(dropped,), name="drop-objects", daemon=True).start()
    (git_dir / "shallow").unlink(missing_ok=True)
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/kept\n")
    (objects / "pack").mkdir(parents=True, exist_ok=True)
    (objects / "info").mkdir(exist_ok=True)


def _delete(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _steps(clone_url: str, sha: str) -> list[tuple[str, ...]]:
    return [
        ("init", "--quiet"),
        ("fetch", "--depth", "1", "--no-tags", "--", clone_url, sha),
        # A full sha names exactly one object: once fetch and checkout succeed, HEAD is
        # ``sha`` (a ``rev-parse HEAD`` to confirm it was one more git process per build).
        ("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha),
    ]


async def fetch_source(
    clone_url: str,
    sha: str,
    dest: Path,
    *,
    username: str | None = None,
    token: str | None = None,
    timeout: float = 300.0,  # noqa: ASYNC109 - the fetch owns its deadline (a setting)
    on_line: LineCallback | None = None,
    policy: AddressPolicy,
    protocols: Sequence[str] = ("https", "http"),
    resolve: Resolver = resolve_checked,
    kept: bool = False,
) -> str:
    """Check out commit ``sha`` of ``clone_url`` into ``dest`` (new or empty); return the sha.

    With ``kept``, ``dest`` is a work tree kept across builds (see the module's text).

    ``on_line`` receives each (masked) output line; it may be a coroutine function.
    ``policy`` says which addresses the clone URL's host may resolve to.
    ``protocols`` are the URL schemes git may use (tests add ``file``); ``resolve``
    looks the host up and checks it (tests pin a name of their own).
    """
    sha = sha.strip().lower()
    if not _SHA_RE.fullmatch(sha):
        raise CommitNotFound(detail=f"{sha!r} is not a full commit sha")
    _check_url(clone_url, protocols)

    masker = Masker()
    masker.add(token, username=username or "oauth2")

    try:
        async with asyncio.timeout(timeout):
            checked = await check_clone_host(clone_url, policy, resolve=resolve)
            pins = checked.curl_resolve() if checked is not None else []
            env = git_auth_env(clone_url, username, token, protocols=protocols, pins=pins)
            where = f" ({', '.join(checked.addresses)})" if checked is not None else ""
            await _emit(on_line, f"Fetching {masker.mask(clone_url)}{where} at {sha}")
            if not kept:
                _prepare_dest(dest)
                for args in _steps(clone_url, sha):
                    await _git(args, cwd=dest, env=env, masker=masker, on_line=on_line)
                return sha
            try:
                await _update_kept(dest, clone_url, sha, env, masker, on_line)
            except (SourceAuthFailed, CommitNotFound):
                raise
            except SourceFetchFailed:
                await _emit(on_line, "The kept work tree could not be updated; fetching afresh")
                await asyncio.to_thread(shutil.rmtree, dest, True)
                await _update_kept(dest, clone_url, sha, env, masker, on_line)
    except TimeoutError as exc:
        raise SourceFetchTimeout(detail=f"git did not finish within {timeout:g} s") from exc
    return sha


async def _update_kept(
    dest: Path,
    clone_url: str,
    sha: str,
    env: Mapping[str, str],
    masker: Masker,
    on_line: LineCallback | None,
) -> None:
    config = dest / ".git" / "config"
    new = not config.is_file() or '[remote "origin"]' not in config.read_text(errors="replace")
    _drop_objects(dest)
    for stage in _kept_stages(clone_url, sha, new=new):
        await _side_by_side(
            [_git(args, cwd=dest, env=env, masker=masker, on_line=on_line) for args in stage]
        )


async def _side_by_side(steps: Sequence[Coroutine[Any, Any, object]]) -> None:
    """Run ``steps`` together; when one fails the others are stopped (their git killed)
    and its error is raised as it is."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    for task in tasks:
        error = task.exception() if task in done else None
        if error is not None:
            raise error
