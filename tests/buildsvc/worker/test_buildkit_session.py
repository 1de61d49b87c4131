"""The BuildKit session that serves a build's context: fsutil's DiffCopy over real gRPC,
and builds by the real engine through it."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Queue
from typing import Any

import docker
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from buildsvc.worker import buildkit_session
from buildsvc.worker.build_context import ContextEntry, context_entries
from buildsvc.worker.build_request import BuildRequest
from buildsvc.worker.buildkit_session import (
    DATA_CHUNK,
    PACKET_DATA,
    PACKET_ERR,
    PACKET_FIN,
    PACKET_REQ,
    PACKET_STAT,
    FileSyncSession,
    Packet,
    SessionUnavailable,
    SyncedDir,
    go_mode,
    session_dirs,
    shared_key,
)
from buildsvc.worker.docker_build import build_image_sync
from tests.common.build_contexts import make_context
from tests.common.build_steps import said

SECRET = "root:$y$j9T$not-for-the-build:19000:0:99999:7:::\n"
BASE = "FROM buildsvc/busybox:latest\n"


def test_modes_are_go_file_modes_as_fsutil_sends_them() -> None:
    assert go_mode(stat.S_IFREG | 0o644) == 0o644
    assert go_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == (1 << 23) | 0o755


def test_entries_come_in_directory_walk_order(tmp_path: Path) -> None:
    # "a-b" sorts before "a/x" as a string; a walk lists a's children right after a.
    for name in ("a/x", "a-b", "a/y/z", "b"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "Dockerfile").write_text(BASE)
    paths = [entry.path for entry in context_entries(tmp_path, "Dockerfile")]
    assert paths == ["Dockerfile", "a", "a/x", "a/y", "a/y/z", "a-b", "b"]


# fsutil's protocol, over real gRPC -------------------------------------------------
@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[grpc.Channel, Path]]:
    """A session's gRPC server (no engine): a channel to it and the context it serves."""
    root = tmp_path / "ctx"
    (root / "app").mkdir(parents=True)
    (root / "Dockerfile").write_text(BASE + "COPY . /ctx\n")
    (root / "app" / "big.bin").write_bytes(os.urandom(DATA_CHUNK * 2 + 7))
    (root / "app" / "small.txt").write_text("small\n")
    (root / "notes.md").write_text("notes\n")
    (root / "link").symlink_to("/etc/shadow")
    entries = tuple(context_entries(root, "Dockerfile"))
    session = FileSyncSession(
        docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41"),
        {"context": SyncedDir(root, entries)},
        shared_key="k",
    )
    address = session._start_server()
    channel = grpc.insecure_channel(f"unix:{address}")
    try:
        yield channel, root
    finally:
        channel.close()
        session.close()


def diff_copy(channel: grpc.Channel, metadata: list[tuple[str, str]]) -> Any:
    call = channel.stream_stream(
        "/moby.filesync.v1.FileSync/DiffCopy",
        request_serializer=Packet.SerializeToString,
        response_deserializer=Packet.FromString,
    )
    outbox: Queue[Any] = Queue()

    def requests() -> Iterator[Any]:
        while (packet := outbox.get()) is not None:
            yield packet

    return call(requests(), metadata=metadata), outbox


def stats_then(responses: Iterator[Any]) -> list[Any]:
    """The stat packets up to the listing's end marker."""
    found = []
    for packet in responses:
        assert packet.type == PACKET_STAT
        if not packet.HasField("stat"):
            return found
        found.append(packet.stat)
    raise AssertionError("the listing never ended")


def test_diffcopy_lists_every_entry_then_sends_the_files_asked_for(
    served: tuple[grpc.Channel, Path],
) -> None:
    channel, root = served
    responses, outbox = diff_copy(channel, [("dir-name", "context")])
    stats = stats_then(responses)
    paths = [entry.path for entry in stats]
    assert paths == ["Dockerfile", "app", "app/big.bin", "app/small.txt", "link", "notes.md"]
    by_path = {entry.path: entry for entry in stats}
    assert by_path["link"].linkname == "/etc/shadow"  # a link is listed, never read
    assert by_path["app/big.bin"].size == DATA_CHUNK * 2 + 7
    assert by_path["app"].mode & (1 << 31)
    assert all(entry.uid == 0 and entry.gid == 0 for entry in stats)

    big = paths.index("app/big.bin")
    outbox.put(Packet(type=PACKET_REQ, ID=big))
    received = b""
    for packet in responses:
        assert (packet.type, packet.ID) == (PACKET_DATA, big)
        if not packet.data:
            break  # the end of this file
        received += packet.data
    assert received == (root / "app" / "big.bin").read_bytes()

    outbox.put(Packet(type=PACKET_FIN))
    assert next(responses).type == PACKET_FIN
    outbox.put(None)


def test_diffcopy_narrows_to_followpaths_and_excludes(served: tuple[grpc.Channel, Path]) -> None:
    channel, _root = served
    responses, outbox = diff_copy(
        channel, [("dir-name", "context"), ("followpaths", "app/small.txt")]
    )
    assert [entry.path for entry in stats_then(responses)] == ["app", "app/small.txt"]
    outbox.put(Packet(type=PACKET_FIN))
    assert next(responses).type == PACKET_FIN
    outbox.put(None)

    excludes = [("exclude-patterns", "app"), ("exclude-patterns", "!app/small.txt")]
    responses, outbox = diff_copy(channel, [("dir-name", "context"), *excludes])
    paths = [entry.path for entry in stats_then(responses)]
    assert paths == ["Dockerfile", "app", "app/small.txt", "link", "notes.md"]
    outbox.put(Packet(type=PACKET_FIN))
    outbox.put(None)


def test_diffcopy_refuses_an_unknown_dir_and_an_unlisted_file(
    served: tuple[grpc.Channel, Path],
) -> None:
    channel, _root = served
    responses, outbox = diff_copy(channel, [("dir-name", "/etc")])
    with pytest.raises(grpc.RpcError) as refused:
        next(responses)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    outbox.put(None)

    responses, outbox = diff_copy(channel, [("dir-name", "context")])
    listed = stats_then(responses)
    link = [entry.path for entry in listed].index("link")
    outbox.put(Packet(type=PACKET_REQ, ID=link))  # not a regular file: nothing to send
    answer = next(responses)
    assert answer.type == PACKET_ERR
    assert b"invalid file id" in answer.data
    outbox.put(None)


def test_a_file_gone_since_the_listing_is_named_within_the_context(
    served: tuple[grpc.Channel, Path],
) -> None:
    channel, root = served
    responses, outbox = diff_copy(channel, [("dir-name", "context")])
    listed = stats_then(responses)
    (root / "app" / "small.txt").unlink()
    wanted = [entry.path for entry in listed].index("app/small.txt")
    outbox.put(Packet(type=PACKET_REQ, ID=wanted))
    answer = next(responses)
    assert answer.type == PACKET_ERR
    assert answer.data.decode() == "app/small.txt: No such file or directory"
    assert str(root) not in answer.data.decode()  # not where the worker keeps its tree
    outbox.put(None)


def test_the_health_service_the_engine_polls_answers_serving(
    served: tuple[grpc.Channel, Path],
) -> None:
    channel, _root = served
    answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


# builds by the real engine ------------------------------------------------------------
ENGINE = pytest.mark.e2e


@ENGINE
def test_a_second_build_of_a_tree_fetches_only_what_changed(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    files = {f"src__f{n}.txt": f"file {n}\n" for n in range(20)}
    context = make_context(
        tmp_path / "ctx", BASE + "COPY . /ctx/\nRUN cat /ctx/src/f7.txt\n", **files
    )
    lines: list[str] = []
    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    build_image_sync(docker_api, request, on_line=lines.append)
    assert lines[0] == "Offering the build context (21 files, 0.2 kB) to BuildKit"
    assert "BuildKit fetched 21 new or changed files (0.2 kB) of the build context" in lines
    assert said(lines, "file 7")

    (context / "src" / "f7.txt").write_text("changed 7\n")
    lines.clear()
    build_image_sync(docker_api, request, on_line=lines.append)
    assert "BuildKit fetched 1 new or changed files (0.0 kB) of the build context" in lines
    assert said(lines, "changed 7")


@ENGINE
def test_links_reach_the_engine_as_links_and_an_escaping_dockerignore_is_absent(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "shadow").write_text("app.txt\n" + SECRET)
    context = make_context(
        tmp_path / "ctx",
        BASE + "COPY . /ctx/\nRUN test -L /ctx/shadow && test -f /ctx/app.txt"
        " && ! cat /ctx/shadow 2>/dev/null && echo links-stay-links\n",
        **{"app.txt": "app\n"},
    )
    (context / "shadow").symlink_to(outside / "shadow")
    (context / ".dockerignore").symlink_to(outside / "shadow")
    lines: list[str] = []
    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    build_image_sync(docker_api, request, on_line=lines.append)
    assert said(lines, "links-stay-links")  # app.txt was not ignored by the outside file
    assert (
        ".dockerignore leads outside the build context through a symlink; building as if absent"
        in lines
    )


@ENGINE
def test_a_dockerfile_in_a_subdirectory_is_served_from_its_own_directory(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", BASE, **{"app.txt": "app\n"})
    (context / "Dockerfile").unlink()
    (context / "docker").mkdir()
    (context / "docker" / "Dockerfile.prod").write_text(
        BASE + "COPY app.txt /app.txt\nRUN cat /app.txt && echo from-subdir\n"
    )
    lines: list[str] = []
    request = BuildRequest(
        context=context, tags=(image_name,), dockerfile="docker/Dockerfile.prod", nocache=True
    )
    build_image_sync(docker_api, request, on_line=lines.append)
    assert said(lines, "from-subdir")


@ENGINE
def test_without_a_session_the_context_goes_as_a_tar(
    docker_api: docker.APIClient,
    image_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_session(api: docker.APIClient) -> tuple[int, Any]:
        raise SessionUnavailable("no session over https")

    monkeypatch.setattr(buildkit_session, "engine_socket", no_session)
    context = make_context(tmp_path / "ctx", BASE + "RUN echo tar-ok\n")
    lines: list[str] = []
    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    build_image_sync(docker_api, request, on_line=lines.append)
    assert lines[0] == (
        "BuildKit session unavailable (no session over https): sending the build context as a tar"
    )
    assert lines[1].startswith("Sent the build context (")
    assert said(lines, "tar-ok")


@ENGINE
def test_a_session_ends_with_its_build(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    def sockets() -> set[Path]:  # other processes' sessions may be there too
        return set(Path(tempfile.gettempdir()).glob("buildsvc-session-*/grpc.sock"))

    before = {thread.name for thread in threading.enumerate()}
    sockets_before = sockets()
    context = make_context(tmp_path / "ctx", BASE + "RUN echo done\n")
    build_image_sync(docker_api, BuildRequest(context=context, tags=(image_name,)))
    left = {thread.name for thread in threading.enumerate()} - before
    assert not [name for name in left if name.startswith("filesync")]
    assert sockets() <= sockets_before


def test_context_entries_leave_out_what_dockerignore_excludes(tmp_path: Path) -> None:
    make_context(tmp_path, BASE, **{"a.txt": "a", "b.log": "b", ".dockerignore": "*.log\n"})
    entries = context_entries(tmp_path, "Dockerfile")
    assert [entry.path for entry in entries] == [".dockerignore", "Dockerfile", "a.txt"]
    assert all(isinstance(entry, ContextEntry) for entry in entries)


@ENGINE
def test_a_session_server_that_cannot_listen_falls_back_to_a_tar(
    docker_api: docker.APIClient,
    image_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Newer grpcio raises (RuntimeError) where older answered 0, e.g. for a socket path
    # past the 107-byte limit of a long TMPDIR.
    long_tmp = tmp_path / ("t" * 120)
    long_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_tmp))
    context = make_context(tmp_path / "ctx", BASE + "RUN echo long-tmp-ok\n")
    lines: list[str] = []
    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    build_image_sync(docker_api, request, on_line=lines.append)
    assert lines[0].startswith("BuildKit session unavailable (session: ")
    assert lines[0].endswith("): sending the build context as a tar")
    assert said(lines, "long-tmp-ok")
    assert not list(long_tmp.iterdir())  # its directory went with it


def test_files_served_after_the_session_ended_reach_nobody(tmp_path: Path) -> None:
    make_context(tmp_path, BASE)
    no_engine = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
    session = FileSyncSession(no_engine, None, shared_key(tmp_path))
    session.close()
    session.serve(session_dirs(tmp_path, "Dockerfile", lambda line: None))
    assert not session._served.is_set()  # a request still waiting is refused instead


def test_one_tree_has_one_key_however_it_is_spelt(tmp_path: Path) -> None:
    (tmp_path / "tree" / "app").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "tree")
    keys = {
        shared_key(tmp_path / "tree" / "app"),
        shared_key(tmp_path / "tree" / "app" / "."),
        shared_key(tmp_path / "link" / "app"),
    }
    assert len(keys) == 1
