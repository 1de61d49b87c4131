"""The build context: where it is in the checkout, and the tar the engine receives.

Only files of the build context (a directory of the checkout) are read. A symlink may
lead anywhere (``.dockerignore`` -> ``/etc/shadow``), so each path read is resolved
first: a Dockerfile that leads outside the build context is refused, a ``.dockerignore``
that does is treated as absent, each with a line in the build log. The tar stores
symlinks as links, as ``docker build`` does, and opens regular files only, never
through a link.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from docker.utils.build import exclude_paths

from buildsvc.worker.errors import BuildContextNotFound, DockerfileNotFound

__all__ = [
    "ContextEntry",
    "Line",
    "check_dockerfile",
    "context_entries",
    "context_stream",
    "context_tar",
    "resolve_context",
]


Line = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` resolved, or None when it escapes ``root`` (``..``, symlinks)."""
    base = root.resolve()
    try:
        target = (base / relative).resolve()
    except RuntimeError:  # a symlink loop: it leads nowhere inside
        return None
    return target if target == base or target.is_relative_to(base) else None


def _escape(root: Path, relative: str) -> str:
    """How ``relative`` leaves ``root``: by its spelling, or through a symlink."""
    spelled = Path(os.path.normpath(root.resolve() / relative))
    if spelled.is_relative_to(root.resolve()):
        return "leads outside the build context through a symlink"
    return "is outside the build context"


def resolve_context(source_root: Path, context: str) -> Path:
    """The build context directory ``context`` (relative to the checkout) as a path."""
    path = inside(source_root, context.strip("/") or ".")
    if path is None:
        raise BuildContextNotFound(context, detail=f"{context!r} is outside the repository")
    if not path.is_dir():
        raise BuildContextNotFound(context)
    return path


def check_dockerfile(context: Path, dockerfile: str, on_line: Line = _quiet) -> str:
    """The Dockerfile's path relative to ``context``; it must be a file inside it."""
    path = inside(context, dockerfile)
    if path is None:
        detail = f"{dockerfile!r} {_escape(context, dockerfile)}; it is not read"
        on_line(f"Dockerfile {detail}")
        raise DockerfileNotFound(dockerfile, detail=detail)
    if not path.is_file():
        raise DockerfileNotFound(dockerfile)
    return path.relative_to(context.resolve()).as_posix()


def _ignore_patterns(context: Path, on_line: Line) -> list[str]:
    ignore = inside(context, ".dockerignore")
    if ignore is None:
        on_line(f".dockerignore {_escape(context, '.dockerignore')}; building as if absent")
        return []
    if not ignore.is_file():
        return []
    lines = (line.strip() for line in ignore.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _plain(info: tarfile.TarInfo) -> bool:
    """Whether ``info`` is written as one 512-byte header, with no extended header."""
    try:
        return len(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")) == tarfile.BLOCKSIZE
    except ValueError:
        return False


def open_no_follow(path: str, flags: int) -> int:
    """An ``opener`` that refuses a symlink where a regular file is expected."""
    return os.open(path, flags | os.O_NOFOLLOW)


def _context_paths(context: Path, dockerfile: str, on_line: Line) -> set[str]:
    """The context's paths (directories too) that ``.dockerignore`` leaves in."""
    patterns = _ignore_patterns(context, on_line)
    return set(exclude_paths(str(context), patterns, dockerfile=dockerfile))


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One path of the build context as ``lstat`` saw it (a link is not followed)."""

    path: str  # relative, "/"-separated
    mode: int  # st_mode
    size: int
    mtime_ns: int
    linkname: str = ""  # a symlink's target, as written
    source: str = ""  # where its bytes are read, when not at ``path`` (a renamed entry)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)


def context_entries(context: Path, dockerfile: str, on_line: Line = _quiet) -> list[ContextEntry]:
    """What ``context_stream`` would archive, as entries in the order of a directory
    walk (a directory's children right after it, names in byte order): the order
    BuildKit's file sync expects. Sockets, devices and fifos are left out."""
    found = []
    for path in _context_paths(context, dockerfile, on_line):
        try:
            info = os.lstat(context / path)
        except FileNotFoundError:
            continue
        mode = info.st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            continue
        linkname = os.readlink(context / path) if stat.S_ISLNK(mode) else ""
        found.append(ContextEntry(path, mode, info.st_size, info.st_mtime_ns, linkname))
    found.sort(key=lambda entry: entry.path.encode("utf-8", "surrogateescape").split(b"/"))
    return found


CHUNK = 1 << 20  # bytes the stream hands on at a time, at least (and a file's read size)


def context_stream(context: Path, dockerfile: str, on_line: Line = _quiet) -> Iterator[bytes]:
    """The build context as tar bytes, minus what ``.dockerignore`` excludes, made while
    they are sent: never staged whole, on disk or in memory (a file is read ``CHUNK``
    bytes at a time), so the engine receives the first files while later ones are read.

    Same rules as ``docker build``: docker-py's own ``.dockerignore`` parser, every entry
    owned by root (the uid of the checkout is not the image's business), whole-second
    mtimes. BuildKit tells a tar body from a bare Dockerfile by reading the first entry
    out of the first 512 bytes, so an entry that needs no extended (PAX) header goes
    first; if none does (every name long or not ASCII), the tar is gzipped, which BuildKit
    recognises by its magic bytes. The bytes are those ``tarfile`` writes (PAX format).
    docker-py's walk does not descend into symlinked directories, and ``gettarinfo``
    does not follow a link, so a symlink is archived as one and never read. The entries
    are listed when this is called; the files are read as the stream is consumed.
    """
    paths = sorted(_context_paths(context, dockerfile, on_line))
    # gettarinfo needs a TarFile; this one is never written to.
    with tarfile.open(fileobj=io.BytesIO(), mode="w") as reader:
        found = [reader.gettarinfo(context / path, arcname=path) for path in paths]
    infos = [info for info in found if info is not None]  # None: a socket
    for info in infos:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = int(info.mtime)
    first = next((index for index, info in enumerate(infos) if _plain(info)), None)
    if first is not None:
        infos.insert(0, infos.pop(first))
    chunks = _tar_chunks(context, infos)
    return chunks if first is not None or not infos else _gzipped(chunks)


def _tar_chunks(context: Path, infos: list[tarfile.TarInfo]) -> Iterator[bytes]:
    """What ``tarfile.open(mode="w")`` + ``addfile`` each + ``close`` write, in chunks."""
    pending = bytearray()
    offset = 0
    for info in infos:
        pending += info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
        if info.isfile():
            # A regular file when listed; O_NOFOLLOW keeps a link from ever being read
            # through, whatever happened since.
            with open(context / info.name, "rb", opener=open_no_follow) as content:
                left = info.size
                while left:
                    block = content.read(min(CHUNK, left))
                    if not block:
                        raise OSError(f"{info.name} got shorter while it was read")
                    pending += block
                    left -= len(block)
                    if len(pending) >= CHUNK:
                        offset += len(pending)
                        yield bytes(pending)
                        pending.clear()
            pending += tarfile.NUL * (-info.size % tarfile.BLOCKSIZE)
        if len(pending) >= CHUNK:
            offset += len(pending)
            yield bytes(pending)
            pending.clear()
    pending += tarfile.NUL * (2 * tarfile.BLOCKSIZE)  # the end of the archive
    pending += tarfile.NUL * (-(offset + len(pending)) % tarfile.RECORDSIZE)
    yield bytes(pending)


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip, fast
    for chunk in chunks:
        if packed := packer.compress(chunk):
            yield packed
    yield packer.flush()


def context_tar(context: Path, dockerfile: str, on_line: Line = _quiet) -> IO[bytes]:
    """``context_stream`` written to a temporary file, at its start (the caller closes it)."""
    archive: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - returned open
    try:
        for chunk in context_stream(context, dockerfile, on_line):
            archive.write(chunk)
    except BaseException:
        archive.close()
        raise
    archive.seek(0)
    return archive
