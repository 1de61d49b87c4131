"""Copy one image between registries over the registry API, without a Docker engine.

Manifests travel with their exact bytes and media type, so the digest is the same at the
destination; an index (OCI) or manifest list (Docker) has its children copied first, by
digest, so the destination never holds an index pointing at something missing. A blob
moves only when ``HEAD`` at the destination says it is missing: then it is mounted from
another repository of the same destination that has it (``mount_from``), or streamed
from the source's GET into the destination's PUT, never held whole in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from buildsvc.replication.errors import RegistryRefused, Superseded
from buildsvc.replication.registry_api import RegistryClient, iter_body

__all__ = ["ACCEPT", "CopyReport", "MountFrom", "copy_image"]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join((DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX))
INDEXES = frozenset({DOCKER_LIST, OCI_INDEX})
CHUNK_BYTES = 1 << 20
PARALLEL_BLOBS = 4

# The repository of the destination to mount ``digest`` from, or None.
MountFrom = Callable[[str], Awaitable[str | None]]
# Whether the copy is still wanted, asked just before the tag is put.
StillWanted = Callable[[], Awaitable[bool]]


async def _always() -> bool:
    return True


@dataclass
class CopyReport:
    digest: str
    uploaded: int = 0
    mounted: int = 0
    present: int = 0
    bytes_uploaded: int = 0
    blobs: set[str] = field(default_factory=set)  # every blob the destination now holds


@dataclass(frozen=True, slots=True)
class _Side:
    client: RegistryClient
    repository: str

    def scope(self, actions: str) -> list[str]:
        return [f"repository:{self.repository}:{actions}"]


async def copy_image(
    source: RegistryClient,
    source_repository: str,
    digest: str,
    destination: RegistryClient,
    destination_repository: str,
    tag: str,
    mount_from: MountFrom,
    still_wanted: StillWanted = _always,
) -> CopyReport:
    """Copy ``source_repository@digest`` to ``destination_repository:tag``; raise
    ``Superseded`` rather than put the tag once ``still_wanted`` says no."""
    src = _Side(source, source_repository)
    dst = _Side(destination, destination_repository)
    report = CopyReport(digest)
    await dst.client.authorize(dst.scope("pull,push"))
    await _copy_manifest(src, dst, digest, tag, mount_from, report, still_wanted)
    return report


async def _copy_manifest(
    src: _Side,
    dst: _Side,
    digest: str,
    reference: str,
    mount_from: MountFrom,
    report: CopyReport,
    still_wanted: StillWanted = _always,
) -> None:
    raw, media_type = await _get_manifest(src, digest)
    manifest = json.loads(raw)
    if media_type in INDEXES:
        for child in manifest.get("manifests") or []:
            await _copy_manifest(src, dst, child["digest"], child["digest"], mount_from, report)
    else:
        wanted = [manifest["config"], *manifest.get("layers", [])]
        # Foreign layers (with "urls") live elsewhere; registries do not hold them.
        blobs = {b["digest"]: int(b.get("size", 0)) for b in wanted if not b.get("urls")}
        gate = asyncio.Semaphore(PARALLEL_BLOBS)

        async def one(blob: str, size: int) -> None:
            async with gate:
                await _copy_blob(src, dst, blob, size, mount_from, report)

        await asyncio.gather(*(one(blob, size) for blob, size in blobs.items()))
    # An older copy must not move the tag back after a newer push of it.
    if not await still_wanted():
        raise Superseded(detail=f"{reference} was planned again while {digest} was copied")
    response = await dst.client.request(
        "PUT",
        f"/v2/{dst.repository}/manifests/{reference}",
        scopes=dst.scope("pull,push"),
        data=raw,
        headers={"Content-Type": media_type},
    )
    stored = response.headers.get("Docker-Content-Digest")
    response.release()
    if stored and stored != digest:
        raise RegistryRefused(
            detail=f"the destination stored {reference} as {stored}, not {digest}",
            registry_code="DIGEST_CHANGED",
        )


async def _get_manifest(src: _Side, digest: str) -> tuple[bytes, str]:
    response = await src.client.request(
        "GET",
        f"/v2/{src.repository}/manifests/{digest}",
        scopes=src.scope("pull"),
        headers={"Accept": ACCEPT},
    )
    async with response:
        raw = await response.read()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise RegistryRefused(
            detail=f"the source's manifest {digest} does not hash to its digest",
            registry_code="DIGEST_INVALID",
        )
    if not media_type or media_type == "application/json":  # old registries: the body says
        media_type = str(json.loads(raw).get("mediaType") or DOCKER_MANIFEST)
    return raw, media_type


async def _copy_blob(
    src: _Side, dst: _Side, digest: str, size: int, mount_from: MountFrom, report: CopyReport
) -> None:
    push = dst.scope("pull,push")
    head = await dst.client.request(
        "HEAD", f"/v2/{dst.repository}/blobs/{digest}", scopes=push, allow=(404,)
    )
    head.release()
    report.blobs.add(digest)
    if head.status == 200:
        report.present += 1
        return
    location = await _start_upload(dst, digest, await mount_from(digest))
    if location is None:
        report.mounted += 1
        return
    blob = await src.client.request(
        "GET", f"/v2/{src.repository}/blobs/{digest}", scopes=src.scope("pull")
    )
    async with blob:
        length = blob.content_length if blob.content_length is not None else size
        put = await dst.client.request(
            "PUT",
            _with_digest(location, digest),
            scopes=push,
            replayable=False,
            data=iter_body(blob, CHUNK_BYTES),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
        )
        put.release()
    report.uploaded += 1
    report.bytes_uploaded += length


async def _start_upload(dst: _Side, digest: str, mount: str | None) -> str | None:
    """The upload's Location, or None when the destination mounted the blob instead."""
    scopes = dst.scope("pull,push")
    path = f"/v2/{dst.repository}/blobs/uploads/"
    if mount is not None:  # a mount needs pull on the repository it comes from
        scopes = [*scopes, f"repository:{mount}:pull"]
        path += f"?mount={digest}&from={mount}"
    response = await dst.client.request("POST", path, scopes=scopes)
    response.release()
    if response.status == 201:
        return None
    location = response.headers.get("Location")
    if not location:
        raise RegistryRefused(detail="the destination started an upload without a Location")
    return location


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + f"digest={digest}"
