"""The build context reads files of the checkout only, whatever its symlinks point to."""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from buildsvc.worker.build_context import CHUNK, check_dockerfile, context_stream, context_tar
from buildsvc.worker.errors import DockerfileNotFound

SECRET = "root:$y$j9T$not-for-the-build:19000:0:99999:7:::\n"
_opening: list[list[str]] = []  # the recording in progress, if any


def _audit(event: str, args: tuple[object, ...]) -> None:
    path = args[0] if args else None
    if event == "open" and _opening and isinstance(path, str | bytes | os.PathLike):
        _opening[-1].append(os.path.abspath(os.fsdecode(path)))


sys.addaudithook(_audit)  # hooks stay for the process; it records only inside `opens`


@contextmanager
def opens() -> Iterator[list[str]]:
    """Every path Python opens inside the block (its ``open`` audit events)."""
    paths: list[str] = []
    _opening.append(paths)
    try:
        yield paths
    finally:
        _opening.remove(paths)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the checkout, standing for /etc: a shadow-like file and a subdir."""
    etc = tmp_path / "etc"
    (etc / "ssh").mkdir(parents=True)
    (etc / "shadow").write_text(SECRET)
    (etc / "ssh" / "key").write_text(SECRET)
    return etc


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (root / "app.txt").write_text("app\n")
    return root.resolve()


def members(archive: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    return {info.name: info for info in archive.getmembers()}


def read_outside(paths: list[str], outside: Path) -> list[str]:
    return [path for path in paths if Path(path).is_relative_to(outside)]


def test_a_dockerignore_leading_out_of_the_checkout_is_treated_as_absent(
    checkout: Path, outside: Path
) -> None:
    # The reproduction: .dockerignore -> the system's shadow file.
    (checkout / ".dockerignore").symlink_to(outside / "shadow")
    (outside / "shadow").write_text("app.txt\n" + SECRET)  # patterns, were it read
    lines: list[str] = []

    with opens() as opened, context_tar(checkout, "Dockerfile", lines.append) as raw:
        data = raw.read()
        raw.seek(0)
        with tarfile.open(fileobj=raw) as archive:
            found = members(archive)

    assert "app.txt" in found  # no pattern from outside applied
    assert found[".dockerignore"].issym()
    assert SECRET.encode() not in data
    assert read_outside(opened, outside) == []
    assert lines == [
        ".dockerignore leads outside the build context through a symlink; building as if absent"
    ]


def test_a_dockerignore_linked_inside_the_checkout_is_used(checkout: Path) -> None:
    (checkout / "ignore").write_text("app.txt\n")
    (checkout / ".dockerignore").symlink_to("ignore")
    with context_tar(checkout, "Dockerfile") as raw, tarfile.open(fileobj=raw) as archive:
        assert "app.txt" not in members(archive)


def test_context_symlinks_are_archived_as_links_and_never_read_through(
    checkout: Path, outside: Path
) -> None:
    (checkout / "shadow").symlink_to(outside / "shadow")
    (checkout / "relative").symlink_to(os.path.relpath(outside / "shadow", checkout))
    (checkout / "ssh").symlink_to(outside / "ssh")

    with opens() as opened, context_tar(checkout, "Dockerfile") as raw:
        data = raw.read()
        raw.seek(0)
        with tarfile.open(fileobj=raw) as archive:
            found = members(archive)

    assert found["shadow"].issym()
    assert found["shadow"].linkname == str(outside / "shadow")
    assert found["relative"].linkname == "../etc/shadow"
    assert found["ssh"].issym()
    assert "ssh/key" not in found  # a linked directory is not walked into
    assert SECRET.encode() not in data
    assert read_outside(opened, outside) == []


def test_a_dockerfile_leading_out_of_the_checkout_is_refused(checkout: Path, outside: Path) -> None:
    (checkout / "Dockerfile").unlink()
    (checkout / "Dockerfile").symlink_to(outside / "shadow")
    lines: list[str] = []

    with opens() as opened, pytest.raises(DockerfileNotFound) as caught:
        check_dockerfile(checkout, "Dockerfile", lines.append)

    assert caught.value.code == "DOCKERFILE_NOT_FOUND"
    expected = "'Dockerfile' leads outside the build context through a symlink; it is not read"
    assert caught.value.detail == expected
    assert lines == [f"Dockerfile {expected}"]
    assert read_outside(opened, outside) == []


def test_symlink_loops_are_refused_or_absent(checkout: Path) -> None:
    (checkout / "Dockerfile.loop").symlink_to("Dockerfile.loop")
    (checkout / ".dockerignore").symlink_to(".dockerignore")
    with pytest.raises(DockerfileNotFound, match="through a symlink"):
        check_dockerfile(checkout, "Dockerfile.loop")
    with context_tar(checkout, "Dockerfile") as raw, tarfile.open(fileobj=raw) as archive:
        assert "app.txt" in members(archive)


def rewritten(data: bytes, compression: str = "") -> bytes:
    """The members of the tar ``data``, written again by ``tarfile`` itself."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode=f"r:{compression}") as source,
        tarfile.open(fileobj=out, mode="w") as again,
    ):
        for info in source.getmembers():
            again.addfile(info, source.extractfile(info) if info.isfile() else None)
    return out.getvalue()


def test_the_streamed_context_is_the_tar_tarfile_writes_and_holds_every_file(
    checkout: Path,
) -> None:
    big = os.urandom(CHUNK * 2 + 1234)  # spans several chunks, ends off a block boundary
    (checkout / "big.bin").write_bytes(big)
    (checkout / "empty").write_bytes(b"")
    (checkout / "deep" / ("n" * 120)).mkdir(parents=True)  # a name that needs a PAX header
    (checkout / "deep" / ("n" * 120) / "f.txt").write_text("deep\n")
    (checkout / "link").symlink_to("app.txt")

    chunks = list(context_stream(checkout, "Dockerfile"))
    data = b"".join(chunks)

    assert len(chunks) > 2  # streamed, not handed over whole
    assert all(len(chunk) >= CHUNK for chunk in chunks[:-1])
    assert data == rewritten(data)  # byte for byte what tarfile writes
    assert len(data) % tarfile.RECORDSIZE == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        found = members(archive)
        assert set(found) == {
            "Dockerfile", "app.txt", "big.bin", "empty", "link", "deep",
            f"deep/{'n' * 120}", f"deep/{'n' * 120}/f.txt",
        }  # fmt: skip
        assert archive.extractfile("big.bin").read() == big  # type: ignore[union-attr]
        assert found["link"].issym()
        assert {(info.uid, info.gid, info.uname) for info in found.values()} == {(0, 0, "")}
    with context_tar(checkout, "Dockerfile") as staged:
        assert staged.read() == data  # the staged file is the same bytes


def test_a_context_of_long_names_only_streams_gzipped(tmp_path: Path) -> None:
    context = tmp_path / "long"
    context.mkdir()
    dockerfile = "D" * 120
    (context / dockerfile).write_text("FROM scratch\n")
    (context / ("x" * 130)).write_bytes(os.urandom(CHUNK + 5))

    data = b"".join(context_stream(context, dockerfile))

    assert data[:2] == b"\x1f\x8b"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        assert sorted(members(archive)) == sorted([dockerfile, "x" * 130])
    assert gzip.decompress(data) == rewritten(data, "gz")
