"""A BuildKit client session: the build context sent the way ``docker build`` sends it.

Posting a context tar makes BuildKit download it, then unpack it into a snapshot of its
own (``copy /context /``, ~60 ms on the smallest context) before the Dockerfile is even
read, and send the whole tar again for every build. With a session the engine asks the
client for the files it lacks instead: ``POST /session`` is upgraded to HTTP/2 on the
engine's socket, the engine is the gRPC client and we serve BuildKit's ``FileSync``
service (fsutil's ``DiffCopy``: we list every entry, the engine requests the files
that differ from its copy of the previous build under the same shared key, we send
their bytes), and ``grpc.health.v1`` that the engine polls to keep the session alive.

grpcio serves on a unix socket of its own; a pair of threads copies bytes between it
and the hijacked engine connection. The files served are exactly those the context tar
would hold (``build_context.context_entries``: ``.dockerignore``, no symlink leaving
the context, regular files opened with ``O_NOFOLLOW``), narrowed by what the engine
asks for (its ``followpaths``, include and exclude patterns).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import secrets
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import docker
import grpc
from docker.utils.build import PatternMatcher
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health, health_pb2_grpc

from buildsvc.worker.build_context import (
    ContextEntry,
    Line,
    context_entries,
    inside,
    open_no_follow,
)

__all__ = [
    "FileSyncSession",
    "SessionUnavailable",
    "SyncedDir",
    "context_session",
    "engine_socket",
    "offering_line",
    "served_name",
    "session_dirs",
    "shared_key",
    "unavailable_line",
]

_F = descriptor_pb2.FieldDescriptorProto
# fsutil's wire.proto and stat.proto (xattrs, field 10, are never sent).
_SCHEMA: list[tuple[str, list[tuple[str, int, int, str]]]] = [
    (
        "Stat",
        [
            ("path", 1, _F.TYPE_STRING, ""),
            ("mode", 2, _F.TYPE_UINT32, ""),
            ("uid", 3, _F.TYPE_UINT32, ""),
            ("gid", 4, _F.TYPE_UINT32, ""),
            ("size", 5, _F.TYPE_INT64, ""),
            ("modTime", 6, _F.TYPE_INT64, ""),
            ("linkname", 7, _F.TYPE_STRING, ""),
            ("devmajor", 8, _F.TYPE_INT64, ""),
            ("devminor", 9, _F.TYPE_INT64, ""),
        ],
    ),
    (
        "Packet",
        [
            ("type", 1, _F.TYPE_INT32, ""),  # an enum on the wire: a varint
            ("stat", 2, _F.TYPE_MESSAGE, ".fsutil.types.Stat"),
            ("ID", 3, _F.TYPE_UINT32, ""),
            ("data", 4, _F.TYPE_BYTES, ""),
        ],
    ),
]
PACKET_STAT, PACKET_REQ, PACKET_DATA, PACKET_FIN, PACKET_ERR = range(5)
FILE_SYNC = "moby.filesync.v1.FileSync"
DIFF_COPY = f"/{FILE_SYNC}/DiffCopy"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
DATA_CHUNK = 256 * 1024  # well under gRPC's 4 MB message limit
UPGRADE_TIMEOUT_SECONDS = 10
SCRATCH_PREFIX = "buildsvc-session-"  # a session's directory, holding its gRPC socket
SCRATCH_SETTLE_SECONDS = 60  # a directory this young may still be getting its socket
PROBE_TIMEOUT_SECONDS = 1.0
SERVER_STOP_SECONDS = 5  # cancelled calls end at once; a bound in case one does not
GATE_POLL_SECONDS = 0.2  # how often a request waiting for ``serve()`` looks for an end
CONTEXT, DOCKERFILE = "context", "dockerfile"  # the names the Dockerfile frontend asks for

# Go's os.FileMode bits, which fsutil sends as the mode (not the st_mode of stat(2)).
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_SETUID, _GO_SETGID, _GO_STICKY = 1 << 23, 1 << 22, 1 << 20


def _packet_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto(
        name="buildsvc/fsutil_wire.proto", package="fsutil.types", syntax="proto3"
    )
    for name, fields in _SCHEMA:
        message = proto.message_type.add(name=name)
        for field_name, number, kind, type_name in fields:
            message.field.add(
                name=field_name,
                number=number,
                type=kind,
                type_name=type_name or None,
                label=_F.LABEL_OPTIONAL,
            )
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("fsutil.types.Packet"))


Packet = _packet_class()


class SessionUnavailable(Exception):
    """The engine (or how we reach it) cannot hold a session: send a context tar."""


def engine_socket(api: docker.APIClient) -> tuple[int, Any]:
    """The address family and address of the engine ``api`` talks to.

    A unix socket or plain TCP; anything else (TLS, ssh, npipe) has no session here.
    """
    adapter = getattr(api, "_custom_adapter", None)
    socket_path = getattr(adapter, "socket_path", None)
    if isinstance(socket_path, str):
        return socket.AF_UNIX, socket_path
    url = urlsplit(api.base_url)
    if url.scheme == "http" and url.hostname:
        return socket.AF_INET, (url.hostname, url.port or 80)
    raise SessionUnavailable(f"no session over {url.scheme}")


def go_mode(mode: int) -> int:
    """stat(2)'s ``st_mode`` as Go's ``os.FileMode``, as fsutil sends it."""
    go = stat.S_IMODE(mode) & 0o777
    if mode & stat.S_ISUID:
        go |= _GO_SETUID
    if mode & stat.S_ISGID:
        go |= _GO_SETGID
    if mode & stat.S_ISVTX:
        go |= _GO_STICKY
    if stat.S_ISDIR(mode):
        go |= _GO_DIR
    elif stat.S_ISLNK(mode):
        go |= _GO_SYMLINK
    return go


@dataclass(frozen=True, slots=True)
class SyncedDir:
    """A directory the engine may ask for: its root and the entries it may have."""

    root: Path
    entries: tuple[ContextEntry, ...]


def _parents(path: str) -> Iterator[str]:
    parent = PurePosixPath(path).parent
    while str(parent) != ".":
        yield str(parent)
        parent = parent.parent


def _wanted(
    entries: tuple[ContextEntry, ...],
    includes: list[str],
    excludes: list[str],
    follow: list[str],
) -> list[ContextEntry]:
    """The entries the engine asked for, in the walk order fsutil sends them in.

    ``followpaths`` and include patterns keep a path, the directories above it and
    everything below it; exclude patterns are ``.dockerignore``'s (with ``!``).
    """
    keep: set[str] | None = None
    wanted_roots = [p.strip("/") for p in follow] + [p.strip("/") for p in includes]
    if wanted_roots:
        keep = set()
        for entry in entries:
            for pattern in wanted_roots:
                if fnmatch.fnmatchcase(entry.path, pattern) or entry.path.startswith(pattern + "/"):
                    keep.add(entry.path)
                    keep.update(_parents(entry.path))
                    break
    matcher = PatternMatcher(excludes) if excludes else None
    found = []
    for entry in entries:
        if keep is not None and entry.path not in keep:
            continue
        if matcher is not None and matcher.matches(entry.path) and not entry.is_dir:
            continue
        found.append(entry)
    if matcher is not None:  # a directory stays only if something inside stays
        holding = {parent for e in found if not e.is_dir for parent in _parents(e.path)}
        found = [
            e for e in found if not e.is_dir or e.path in holding or not matcher.matches(e.path)
        ]
    return found


def _stat_packet(entry: ContextEntry) -> Any:
    packet = Packet(type=PACKET_STAT)
    info = packet.stat
    info.path = entry.path
    info.mode = go_mode(entry.mode)
    info.size = 0 if entry.is_dir else entry.size
    info.modTime = entry.mtime_ns
    if entry.linkname:
        info.linkname = entry.linkname
    return packet  # uid and gid 0, as in the context tar: the checkout's owner is ours


class _DiffCopy:
    """fsutil's sender for one ``DiffCopy`` call."""

    def __init__(self, directory: SyncedDir, entries: list[ContextEntry]) -> None:
        self._root = directory.root
        self._entries = entries
        self.files_sent = 0
        self.bytes_sent = 0

    def packets(self, requests: Iterator[Any]) -> Iterator[Any]:
        files = {}
        for index, entry in enumerate(self._entries):
            if entry.is_file:
                files[index] = entry.source or entry.path
            yield _stat_packet(entry)
        yield Packet(type=PACKET_STAT)  # the end of the listing
        for request in requests:
            if request.type == PACKET_REQ:
                path = files.pop(request.ID, None)
                if path is None:
                    yield Packet(type=PACKET_ERR, data=f"invalid file id {request.ID}".encode())
                    return
                yield from self._file(request.ID, path)
            elif request.type == PACKET_FIN:
                yield Packet(type=PACKET_FIN)
                return
            elif request.type == PACKET_ERR:
                return

    def _file(self, file_id: int, path: str) -> Iterator[Any]:
        self.files_sent += 1
        with open(self._root / path, "rb", opener=open_no_follow) as content:
            while block := content.read(DATA_CHUNK):
                self.bytes_sent += len(block)
                yield Packet(type=PACKET_DATA, ID=file_id, data=block)
        yield Packet(type=PACKET_DATA, ID=file_id)  # the end of this file


def _metadata(context: grpc.ServicerContext) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in context.invocation_metadata():
        found.setdefault(key, []).append(value if isinstance(value, str) else value.decode())
    return found


class FileSyncSession:
    """One build's session: ``open()`` it, name it in ``POST /build``, ``close()`` it.

    ``dirs`` maps the names the Dockerfile frontend asks for (``context``,
    ``dockerfile``) to what may be sent. ``shared_key`` names the engine's copy of
    the files kept from one build to the next: the same work tree, the same key.
    """

    def __init__(
        self, api: docker.APIClient, dirs: dict[str, SyncedDir] | None, shared_key: str
    ) -> None:
        self.id = secrets.token_hex(16)
        self._api = api
        self._dirs = dirs or {}
        # Without dirs the session is open before there is anything to serve (the
        # source is still fetched): the engine's requests wait for ``serve()``.
        self._served = threading.Event()
        if dirs is not None:
            self._served.set()
        self._closed = threading.Event()
        self.asked = threading.Event()  # the engine asked for files (maybe still waiting)
        self._shared_key = shared_key
        self._scratch = tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX)
        self._server: grpc.Server | None = None
        # gRPC leaves a pool it was given running: close() shuts it down, so no
        # idle "filesync" thread outlives its session until a garbage collection.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="filesync")
        self._engine: socket.socket | None = None
        self._local: socket.socket | None = None
        self._pumps: list[threading.Thread] = []
        self.files_sent = 0
        self.bytes_sent = 0

    def serve(self, dirs: dict[str, SyncedDir]) -> None:
        """What the engine may now have; its requests waiting for it go on (not once
        the session ended: a checkout finishing after a cancel serves nobody)."""
        if self._closed.is_set():
            return
        self._dirs = dirs
        self._served.set()

    # the service ---------------------------------------------------------------
    def _diff_copy(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        self.asked.set()
        while not self._served.wait(GATE_POLL_SECONDS):
            if self._closed.is_set() or not context.is_active():
                context.abort(grpc.StatusCode.UNAVAILABLE, "the session ended before its files")
        if self._closed.is_set():
            context.abort(grpc.StatusCode.UNAVAILABLE, "the session has ended")
        meta = _metadata(context)
        name = (meta.get("dir-name") or [""])[0]
        directory = self._dirs.get(name)
        if directory is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"no access allowed to dir {name!r}")
        entries = _wanted(
            directory.entries,
            meta.get("include-patterns", []),
            meta.get("exclude-patterns", []),
            meta.get("followpaths", []),
        )
        sender = _DiffCopy(directory, entries)
        try:
            yield from sender.packets(requests)
        except OSError as exc:  # a file went away or became a link: BuildKit says so
            yield Packet(type=PACKET_ERR, data=_error_text(exc, directory.root).encode())
        finally:
            if name == CONTEXT:
                self.files_sent += sender.files_sent
                self.bytes_sent += sender.bytes_sent

    def _start_server(self) -> str:
        server = grpc.server(self._executor)
        handler = grpc.stream_stream_rpc_method_handler(
            self._diff_copy,
            request_deserializer=Packet.FromString,
            response_serializer=Packet.SerializeToString,
        )
        service = grpc.method_handlers_generic_handler(FILE_SYNC, {"DiffCopy": handler})
        server.add_generic_rpc_handlers((service,))
        health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
        address = f"unix:{self._scratch.name}/grpc.sock"
        if not server.add_insecure_port(address):  # older grpcio answers 0, newer raises
            raise SessionUnavailable("the session's gRPC server could not listen")
        server.start()
        self._server = server
        return f"{self._scratch.name}/grpc.sock"

    # the engine connection -------------------------------------------------------
    def _upgrade(self) -> tuple[socket.socket, bytes]:
        family, address = engine_socket(self._api)
        engine = socket.socket(family, socket.SOCK_STREAM)
        engine.settimeout(UPGRADE_TIMEOUT_SECONDS)
        try:
            engine.connect(address)
            headers = [
                f"POST /v{self._api.api_version}/session HTTP/1.1",
                "Host: docker",
                "Upgrade: h2c",
                "Connection: Upgrade",
                "Content-Length: 0",
                f"X-Docker-Expose-Session-Uuid: {self.id}",
                "X-Docker-Expose-Session-Name: buildsvc",
                f"X-Docker-Expose-Session-Sharedkey: {self._shared_key}",
                f"X-Docker-Expose-Session-Grpc-Method: {DIFF_COPY}",
                f"X-Docker-Expose-Session-Grpc-Method: {HEALTH_CHECK}",
            ]
            engine.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = engine.recv(4096)
                if not chunk:
                    raise SessionUnavailable("the engine closed the session request")
                answer += chunk
        except (OSError, SessionUnavailable) as exc:
            engine.close()
            raise SessionUnavailable(f"session: {exc}") from exc
        head, _, rest = answer.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            engine.close()
            raise SessionUnavailable(f"the engine answered {status.decode(errors='replace')}")
        engine.settimeout(None)
        return engine, rest

    def open(self) -> None:
        """Start serving and hand the session to the engine (blocking, ~ms)."""
        try:
            grpc_path = self._start_server()
            self._engine, early = self._upgrade()
            local = self._local = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            local.connect(grpc_path)
            if early:
                local.sendall(early)
        except (OSError, RuntimeError) as exc:  # grpc raises RuntimeError when it cannot bind
            self.close()
            raise SessionUnavailable(f"session: {exc}") from exc
        except BaseException:
            self.close()
            raise
        self._pumps = [
            threading.Thread(target=_pump, args=(self._engine, local), daemon=True),
            threading.Thread(target=_pump, args=(local, self._engine), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def close(self, *, wait: bool = True) -> None:
        """End the session: the engine drops it, the server and its socket go.

        ``wait=False`` (from the event loop) only starts the end: the sockets are shut
        (the pumps and the engine see it at once) and the server stops taking calls. A
        later ``close()`` in a thread waits for the session's threads and frees the rest
        (no socket is closed under a pump still using it)."""
        self._closed.set()
        for sock in (self._engine, self._local):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        stopped = self._server.stop(grace=None) if self._server is not None else None
        if not wait:
            return
        for pump in self._pumps:
            pump.join(timeout=5)
        for sock in (self._engine, self._local):
            if sock is not None:
                sock.close()
        if stopped is not None:
            stopped.wait(SERVER_STOP_SECONDS)
        # Its calls saw the stop (or ``_closed``, polled): the pool's threads end now.
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._scratch.cleanup()


def _error_text(exc: OSError, root: Path) -> str:
    """``exc`` as the build's log shows it: the file named within the context, not
    where the worker keeps its tree."""
    if exc.filename is None:
        return exc.strerror or str(exc)
    return f"{os.path.relpath(exc.filename, root)}: {exc.strerror}"


def remove_dead_session_dirs() -> list[Path]:
    """Delete the session directories nobody serves from any more (a worker killed
    with SIGKILL leaves its own); those deleted. A live session's socket accepts."""
    removed = []
    cutoff = time.time() - SCRATCH_SETTLE_SECONDS
    for directory in Path(tempfile.gettempdir()).glob(SCRATCH_PREFIX + "*"):
        try:
            if directory.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue  # its session just ended
        if _served(directory / "grpc.sock"):
            continue
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            removed.append(directory)
    return removed


def _served(path: Path) -> bool:
    """Whether a process listens on the socket ``path`` (one that is stopped, its
    backlog full, counts as listening: it may go on)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_TIMEOUT_SECONDS)
    try:
        probe.connect(str(path))
    except (TimeoutError, BlockingIOError):  # a backlog full: it is there
        return True
    except OSError:
        return False  # no socket, or nobody listening on it
    finally:
        probe.close()
    return True


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until ``source`` ends, then end ``target``'s writing side."""
    try:
        while data := source.recv(1 << 16):
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _dockerfile_dir(context: Path, dockerfile: str, served_as: str) -> SyncedDir:
    """The Dockerfile's directory, offering the Dockerfile (and its own ignore file)
    under the name ``POST /build`` gave (``served_as``)."""
    path = PurePosixPath(dockerfile)
    root = context / path.parent
    offered = []
    for name, as_name in ((path.name, served_as), (f"{path.name}.dockerignore", "")):
        as_name = as_name or f"{served_as}.dockerignore"
        try:
            info = os.lstat(root / name)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(info.st_mode):
            source = name if name != as_name else ""
            offered.append(
                ContextEntry(as_name, info.st_mode, info.st_size, info.st_mtime_ns, source=source)
            )
    return SyncedDir(root, tuple(offered))


def served_name(dockerfile: str) -> str:
    """The Dockerfile's name in ``POST /build``: in its own directory of the session."""
    return PurePosixPath(dockerfile).name


def session_dirs(
    context: Path, dockerfile: str, on_line: Line, *, served_as: str | None = None
) -> dict[str, SyncedDir]:
    """What a session serves for ``context``, its Dockerfile at ``dockerfile`` (checked
    already), named ``served_as`` in ``POST /build`` (default: its own name)."""
    entries = tuple(
        entry
        for entry in context_entries(context, dockerfile, on_line)
        # A .dockerignore leading outside is read as absent, as in the tar's case.
        if not (
            entry.path == ".dockerignore" and entry.linkname and inside(context, entry.path) is None
        )
    )
    served_as = served_as or served_name(dockerfile)
    return {
        CONTEXT: SyncedDir(context, entries),
        DOCKERFILE: _dockerfile_dir(context, dockerfile, served_as),
    }


def offering_line(dirs: dict[str, SyncedDir]) -> str:
    files = [entry for entry in dirs[CONTEXT].entries if entry.is_file]
    size = sum(entry.size for entry in files) / 1024
    return f"Offering the build context ({len(files)} files, {size:.1f} kB) to BuildKit"


def shared_key(context: Path) -> str:
    # The engine keeps its copy of a context under this key: one per work tree. Resolved,
    # so the build posted before the checkout and one posted after it share one copy.
    return hashlib.sha256(f"buildsvc:{context.resolve()}".encode()).hexdigest()


def unavailable_line(exc: SessionUnavailable) -> str:
    return f"BuildKit session unavailable ({exc}): sending the build context as a tar"


@contextlib.contextmanager
def context_session(
    api: docker.APIClient, context: Path, dockerfile: str, on_line: Line
) -> Iterator[tuple[FileSyncSession, str] | None]:
    """A session serving ``context`` (its Dockerfile at ``dockerfile``, checked
    already), and the Dockerfile's name for ``POST /build``; None when the engine
    cannot hold one, with a line saying so (the build then sends a tar)."""
    dirs = session_dirs(context, dockerfile, on_line)
    session = FileSyncSession(api, dirs, shared_key(context))
    try:
        session.open()
    except SessionUnavailable as exc:
        on_line(unavailable_line(exc))
        yield None
        return
    on_line(offering_line(dirs))
    try:
        yield session, served_name(dockerfile)
    finally:
        session.close()
