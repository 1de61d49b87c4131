"""The chaos suite: signed pushes into ``make cluster`` while its parts fail, then counts.

    python -m tests.chaos [--pushes 300] [--repositories 10] [--seed 15] [--keep]

``make chaos`` runs the long form (300 pushes), ``make chaos-short`` and the e2e test
``tests/e2e/test_chaos.py`` the short one (60). A cluster of its own (``cluster.sh`` in a
temporary directory, on free ports, with a token-auth registry of its own; the first
engine is the shared one) gets an account with ``--repositories`` GitLab projects, each
linked with a rule building ``main``. Then, side by side:

- pushes: real ``git push``es to forgesim, spread over ``--window`` seconds, a seeded
  random repository each; forgesim signs each delivery and posts it to the load
  balancer, which spreads them over both API processes. Every fifth push, the last
  delivery answered 202 is sent again straight to one API process (as a forge's retry
  would be): it must be recorded once all the same;
- faults (``tests.chaos.faults``): a worker and an API process SIGKILLed, Redis and
  PostgreSQL restarted, every API process and worker SIGTERMed in turn, haproxy reloaded.

Once the faults are over, one last push to each repository (its image must end on that
commit), then the suite waits until no build is queued or running and prints the counts
(``tests.chaos.counts``). Exit 1 when anything was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sys
import threading
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import requests

from forgesim.client import AdminClient
from tests.chaos import counts, repos
from tests.chaos.faults import Faults
from tests.common.cluster import LocalCluster
from tests.common.services import ensure_services

# Quicker than the default 15 s to notice a lost worker, yet longer than a PostgreSQL
# restart stops heartbeats (a worker seen lost then is a build run twice).
SETTINGS = {"worker_lost_after_seconds": "12", "worker_heartbeat_seconds": "1"}
SETTLE_SECONDS = 300.0
REDELIVER_EVERY = 5


def run(pushes: int, repositories: int, seed: int, window: float, keep: bool) -> counts.Counts:
    services = ensure_services()
    cluster = LocalCluster.create(SETTINGS)
    try:
        started = time.monotonic()
        cluster.start()
        print(f"cluster started in {time.monotonic() - started:.0f} s ({cluster.directory})")
        tenants = repos.setup(cluster, repositories)
        rng = random.Random(seed)  # noqa: S311  # a fixed seed: the same run again
        faults = Faults(cluster, random.Random(rng.random()))  # noqa: S311
        started = time.monotonic()
        thread = threading.Thread(target=faults.run, args=(started,), daemon=True)
        thread.start()
        redelivered = _push_while(tenants, rng, pushes - repositories, window, faults)
        thread.join()
        for event in faults.events:
            print(f"  fault {event}")
        if faults.error is not None:
            raise RuntimeError(f"a fault could not be applied: {faults.error}") from faults.error
        for repo in tenants.items:  # the commit each image must end on
            tenants.push(repo)
        waited = _settle(cluster)
        print(
            f"pushes and faults took {time.monotonic() - started:.0f} s; settled in {waited:.0f} s"
        )
        forge = AdminClient(cluster.forge_url)
        try:
            deliveries = forge.deliveries()
        finally:
            forge.close()
        # The images are read as the account, from the cluster's own registry.
        login = dataclasses.replace(
            services,
            registry=cluster.registry,
            registry_username=tenants.namespace,
            registry_password=tenants.registry_password,
        )
        return counts.count(tenants, deliveries, redelivered, login)
    finally:
        if not keep:
            cluster.stop()
            cluster.remove()


def _push_while(
    tenants: repos.Repos, rng: random.Random, pushes: int, window: float, faults: Faults
) -> int:
    """``pushes`` pushes spread over ``window`` s; the duplicates sent straight to an API."""
    forge = AdminClient(tenants.cluster.forge_url)
    redelivered = 0
    began = time.monotonic()
    try:
        for number in range(pushes):
            time.sleep(max(0.0, began + number * window / pushes - time.monotonic()))
            tenants.push(rng.choice(tenants.items))
            if number % REDELIVER_EVERY == REDELIVER_EVERY - 1:
                redelivered += _redeliver(tenants.cluster, forge, 1 + number % 2)
            if faults.error is not None:
                break
    finally:
        forge.close()
    return redelivered


def _redeliver(cluster: LocalCluster, forge: AdminClient, api: int) -> int:
    """The last delivery answered 202, again, to API process ``api``: 1 if it answered."""
    answered = [d for d in forge.deliveries() if d["status"] == 202]
    if not answered:
        return 0
    sent: dict[str, Any] = answered[-1]
    path = "/" + sent["url"].split("/", 3)[3]
    skip = {"content-length", "host"}
    headers = {k: v for k, v in sent["headers"].items() if k.lower() not in skip}
    try:
        response = requests.post(
            cluster.api_url(api) + path, data=sent["body"].encode(), headers=headers, timeout=30
        )
    except requests.ConnectionError:
        return 0  # that process is down right now
    return int(response.status_code == 202)


def _settle(cluster: LocalCluster) -> float:
    """Wait until the forge sent everything and no build is queued or running."""
    began = time.monotonic()
    forge = AdminClient(cluster.forge_url)
    try:
        forge.wait_idle(timeout=25)
    finally:
        forge.close()
    url = cluster.settings()["BUILDSVC_DATABASE_URL"]
    while asyncio.run(_unfinished(url)):
        if time.monotonic() - began > SETTLE_SECONDS:
            break  # counted as left running
        time.sleep(1)
    return time.monotonic() - began


async def _unfinished(url: str) -> int:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        statuses = ("queued", "fetching", "building", "pushing")
        found = await connection.fetchval(
            "SELECT count(*) FROM builds WHERE status = ANY($1::text[])", list(statuses)
        )
        return int(found)
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=int(os.environ.get("CHAOS_PUSHES", 300)))
    parser.add_argument("--repositories", type=int, default=10)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--window", type=float, default=90.0, help="seconds the pushes span")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    found = run(args.pushes, args.repositories, args.seed, args.window, args.keep)
    print(found.report())
    lost = found.lost()
    print("nothing lost" if not lost else "LOST: " + "; ".join(lost))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
