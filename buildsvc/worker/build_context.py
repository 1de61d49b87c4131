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
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from docker.utils.build import exclude_paths

from buildsvc.worker.errors import BuildContextNotFound, DockerfileNotFound

__all__ = ["check_dockerfile", "context_tar", "resolve_context"]


Line = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def _inside(root: Path, relative: str) -> Path | None:
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
    path = _inside(source_root, context.strip("/") or ".")
    if path is None:
        raise BuildContextNotFound(context, detail=f"{context!r} is outside the repository")
    if not path.is_dir():
        raise BuildContextNotFound(context)
    return path


def check_dockerfile(context: Path, dockerfile: str, on_line: Line = _quiet) -> str:
    """The Dockerfile's path relative to ``context``; it must be a file inside it."""
    path = _inside(context, dockerfile)
    if path is None:
        detail = f"{dockerfile!r} {_escape(context, dockerfile)}; it is not read"
        on_line(f"Dockerfile {detail}")
        raise DockerfileNotFound(dockerfile, detail=detail)
    if not path.is_file():
        raise DockerfileNotFound(dockerfile)
    return path.relative_to(context.resolve()).as_posix()


def _ignore_patterns(context: Path, on_line: Line) -> list[str]:
    ignore = _inside(context, ".dockerignore")
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


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def context_tar(context: Path, dockerfile: str, on_line: Line = _quiet) -> IO[bytes]:
    """The build context as a tar file, minus what ``.dockerignore`` excludes.

    Same rules as ``docker build``: docker-py's own ``.dockerignore`` parser, every entry
    owned by root (the uid of the checkout is not the image's business), whole-second
    mtimes. BuildKit tells a tar body from a bare Dockerfile by reading the first entry
    out of the first 512 bytes, so an entry that needs no extended (PAX) header goes
    first; if none does (every name long or not ASCII), the tar is gzipped, which BuildKit
    recognises by its magic bytes. Tarring here also lets us close the file on every path.
    docker-py's walk does not descend into symlinked directories, and ``gettarinfo``
    does not follow a link, so a symlink is archived as one and never read.
    """
    patterns = _ignore_patterns(context, on_line)
    paths = sorted(exclude_paths(str(context), patterns, dockerfile=dockerfile))
    archive: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - returned open
    try:
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
        plain = first is not None or not infos
        with (
            tarfile.open(fileobj=archive, mode="w")
            if plain
            else tarfile.open(fileobj=archive, mode="w:gz", compresslevel=1)
        ) as tar:
            for info in infos:
                if info.isfile():
                    # A regular file when listed; O_NOFOLLOW keeps a link from ever
                    # being read through, whatever happened since.
                    with open(context / info.name, "rb", opener=_no_follow) as content:
                        tar.addfile(info, content)
                else:
                    tar.addfile(info)
    except BaseException:
        archive.close()
        raise
    archive.seek(0)
    return archive
