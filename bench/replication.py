"""Replicating an image through buildsvc against ``docker pull`` + ``tag`` + ``push``.

Run: ``python bench/replication.py [--runs 3] [--check]`` (with the Docker engine, and
Redis at ``BUILDSVC_BENCH_REDIS_URL``, default the stack's; it uses database 15 only).
Starts its own ``docker-registry`` processes on loopback (htpasswd): the source
("buildsvc's registry"), holding a 5-layer image of 50 MiB (gzipped tar layers of random
bytes),
and, for every run and side, a fresh empty destination. Each run, in alternating order:

- buildsvc: a replication rule to the destination, the copies a push plans
  (``jobs.after_push``), made by a real arq worker running the replication job; timed
  from planning to the status row's ``done``;
- by hand: ``docker pull`` from the source (the engine holding none of the image's
  layers), ``docker tag``, ``docker push`` to the destination, timed over the three.

Reports the medians and their ratio (goal: buildsvc at most 0.7x, since no layer is
unpacked or packed again). Then a second image sharing 4 of the 5 layers is copied to
the same destination repository, and a third copy goes to another repository of that
destination: it reports the blobs and bytes each moved (goal: only the new layer and
config, and mounts rather than uploads). ``--check`` exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the registry helpers live in tests/common/

from pydantic import SecretStr  # noqa: E402

from buildsvc.config import Settings  # noqa: E402
from buildsvc.replication import service  # noqa: E402
from buildsvc.replication.jobs import after_push  # noqa: E402
from buildsvc.store.models import Replication  # noqa: E402
from tests.common.registries import Registry, RegistryHttp  # noqa: E402
from tests.common.replication_world import (  # noqa: E402
    ReplicationWorld,
    replication_world,
)

GOAL_RATIO = 0.7
# A database of its own: its in-process worker must not take the stack's build jobs.
REDIS_DB = 15
REDIS_URL = os.environ.get("BUILDSVC_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
LAYERS = 5
LAYER_BYTES = 10 * 1024 * 1024
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def layer(size: int) -> tuple[bytes, str]:
    """A gzipped tar of one file of random bytes, and its diff id."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(f"data-{os.urandom(4).hex()}")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    plain = raw.getvalue()
    return gzip.compress(plain, compresslevel=1), "sha256:" + hashlib.sha256(plain).hexdigest()


def put_tar_image(
    registry: RegistryHttp, repository: str, tag: str, parts: list[tuple[bytes, str]]
) -> str:
    """A pullable image of ``parts`` at ``repository:tag``; its manifest digest."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff for _, diff in parts]},
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": registry.put_blob(repository, config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(blob),
                "digest": registry.put_blob(repository, blob),
            }
            for blob, _ in parts
        ],
    }
    return registry.put_manifest(repository, tag, json.dumps(manifest).encode(), DOCKER_MANIFEST)


def docker(config: Path, *args: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        ["docker", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")


def remove_local(config: Path, *references: str) -> None:
    for reference in references:
        subprocess.run(
            ["docker", "--config", str(config), "rmi", "-f", reference],
            capture_output=True,
            check=False,
        )


def by_hand(config: Path, source: Registry, destination: Registry) -> float:
    docker(config, "login", "-u", destination.username, "--password-stdin", destination.host,
           stdin=destination.password)  # fmt: skip
    pulled = f"{source.host}/acme/app:v1"
    pushed = f"{destination.host}/mirror/app:v1"
    started = time.monotonic()
    docker(config, "pull", "-q", pulled)
    docker(config, "tag", pulled, pushed)
    docker(config, "push", "-q", pushed)
    elapsed = time.monotonic() - started
    remove_local(config, pushed, pulled)
    return elapsed


async def copy_through(
    world: ReplicationWorld, destination: Registry, tag: str, digest: str, **rule: str
) -> tuple[float, Replication]:
    """Seconds from planning ``tag`` to its row's ``done``, and the row."""
    made = await world.add_rule(destination, **rule)
    started = time.monotonic()
    await after_push(
        world.sessions, world.redis, world.repository_id, [f"x/acme/app:{tag}"], digest, None
    )
    try:
        return await _done(world, destination, tag, started)
    finally:  # the next copy plans for its own rule only
        await service.delete_rule(world.sessions, world.account_id, world.repository_id, made.id)


async def _done(
    world: ReplicationWorld, destination: Registry, tag: str, started: float
) -> tuple[float, Replication]:
    while True:
        rows = [
            r
            for r in await world.rows()
            if r.tag == tag and r.destination.startswith(destination.host)
        ]
        if rows and all(r.status == "done" for r in rows):
            return time.monotonic() - started, rows[0]
        if any(r.status == "failed" for r in rows):
            raise RuntimeError(f"replication failed: {rows[0].log}")
        await asyncio.sleep(0.02)


def fresh(tls: bool = False) -> Registry:
    registry = Registry(tls=tls)
    registry.start()
    return registry


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-replication-"))
    config = tmp / "docker"
    config.mkdir()
    source = fresh()
    closing: list[Registry] = [source]
    try:
        docker(config, "login", "-u", source.username, "--password-stdin", source.host,
               stdin=source.password)  # fmt: skip
        shared = [layer(LAYER_BYTES) for _ in range(LAYERS - 1)]
        first = put_tar_image(source, "acme/app", "v1", [*shared, layer(LAYER_BYTES)])
        second = put_tar_image(source, "acme/app", "v2", [*shared, layer(LAYER_BYTES)])
        settings = Settings(
            data_dir=tmp / "var",
            redis_url=f"{REDIS_URL}/{REDIS_DB}",
            registry=source.host,
            registry_username=source.username,
            registry_password=SecretStr(source.password),
            allowed_source_networks=["127.0.0.0/8"],
        )
        times: dict[str, list[float]] = {"buildsvc": [], "by hand": []}
        async with replication_world(settings) as world, world.worker():
            for n in range(args.runs):
                for side in ("buildsvc", "by hand") if n % 2 == 0 else ("by hand", "buildsvc"):
                    destination = fresh()
                    closing.append(destination)
                    if side == "buildsvc":
                        elapsed, _ = await copy_through(world, destination, "v1", first)
                    else:
                        elapsed = await asyncio.to_thread(by_hand, config, source, destination)
                    times[side].append(elapsed)
                    destination.close()
            # The last buildsvc destination is gone: copy v1 again to a kept one, then v2.
            kept = fresh()
            closing.append(kept)
            await copy_through(world, kept, "v1", first)
            second_time, row = await copy_through(world, kept, "v2", second)
            third_time, mounted = await copy_through(
                world, kept, "v1", first, destination_namespace="other"
            )
        median = {side: statistics.median(t) for side, t in times.items()}
        ratio = median["buildsvc"] / median["by hand"]
        size_mb = LAYERS * LAYER_BYTES / 2**20
        print(f"copy of a {LAYERS}-layer {size_mb:.0f} MiB image to a second registry, "
              f"median of {args.runs} runs (seconds; every run listed):")  # fmt: skip
        print(f"  through buildsvc (plan -> arq worker -> registry API): "
              f"{median['buildsvc']:.2f}  {[round(t, 2) for t in times['buildsvc']]}")  # fmt: skip
        print(f"  by hand (docker pull + tag + push):                    "
              f"{median['by hand']:.2f}  {[round(t, 2) for t in times['by hand']]}")  # fmt: skip
        print(f"  ratio buildsvc / by hand: {ratio:.2f}x (goal <= {GOAL_RATIO:.2f}x)")
        print(f"second image sharing {LAYERS - 1} layers, same repository: {second_time:.2f} s; "
              f"{row.log[-1].split(': ', 2)[-1]}")  # fmt: skip
        print(f"first image again, another repository of that registry: {third_time:.2f} s; "
              f"{mounted.log[-1].split(': ', 2)[-1]}")  # fmt: skip
        moved_only_new = (
            "2 blobs uploaded" in row.log[-1] and f"{LAYERS - 1} already" in row.log[-1]
        )
        mounted_all = f"{LAYERS + 1} mounted" in mounted.log[-1]
        missed = ratio > GOAL_RATIO or not moved_only_new or not mounted_all
        return 1 if args.check and missed else 0
    finally:
        for registry in closing:
            registry.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
