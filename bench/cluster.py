"""Scale-out of ``make cluster``: builds per minute and deliveries per second, each side
against its baseline measured in the same run.

    python bench/cluster.py [--builds 8] [--sleep 12] [--deliveries 2000] [--rounds 3]

Starts a cluster of its own (``scripts/cluster.sh`` in a temporary directory on free
ports: haproxy, 2 ``serve``, 2 workers on 2 Docker engines, PostgreSQL, Redis, forgesim),
an account and ``--builds`` GitLab projects linked with a rule building ``main``.

- Builds per minute, 1 worker against 2 workers on separate engines (each worker runs
  ``BUILDSVC_WORKER_CONCURRENCY`` = 2 builds at once). Each round pushes one commit to
  every project, whose Dockerfile's step sleeps ``--sleep`` s (so the engines' CPU does
  not decide), and times from the first build queued to the last one finished (the
  builds' own timestamps). Rounds alternate: 2 workers, 1 worker (worker-1 SIGTERMed:
  the one left builds on the cluster's own engine, which no one else uses), ... Goal:
  2 workers at least 1.8x the builds per minute of 1.
- Signed deliveries per second through the load balancer, 2 API processes against 1
  (api-2 SIGTERMed), both on PostgreSQL: one real forgesim push delivery re-sent with
  new delivery ids, ``--concurrency`` at a time; each is verified, recorded and queues a
  build (the workers are stopped first, so only the API side works). Reported, no goal:
  on 2 cores the load generator, haproxy, PostgreSQL and both APIs share them.

Exits 1 when the builds goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the cluster helpers live in tests/common/

from forgesim.client import AdminClient  # noqa: E402
from tests.chaos.repos import Repos, setup  # noqa: E402
from tests.common.cluster import LocalCluster  # noqa: E402
from tests.common.e2e_stack import FINISHED  # noqa: E402

GOAL_BUILDS = 1.8


def build_round(tenants: Repos, sleep: int) -> float:
    """One commit to every project; builds per minute from first queued to last finished."""
    headers = {"Authorization": f"Bearer {tenants.token}"}
    newest = {repo.repository_id: _newest(tenants, repo.repository_id) for repo in tenants.items}
    for repo in tenants.items:
        tenants.push(repo, step=f"sleep {sleep}")
    builds = []
    deadline = time.monotonic() + 120 + len(tenants.items) * sleep
    for repo in tenants.items:
        while True:
            url = f"{tenants.cluster.url}/api/v1/builds?repository_id={repo.repository_id}"
            items = requests.get(url, headers=headers, timeout=30).json()["items"]
            new = [b for b in items if b["id"] > newest[repo.repository_id]]
            if new and new[0]["status"] in FINISHED:
                if new[0]["status"] != "succeeded":
                    raise SystemExit(f"build {new[0]['id']} ended {new[0]['status']}: {new[0]}")
                builds.append(new[0])
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the builds of {repo.image} did not end")
            time.sleep(0.5)
    first = min(_when(b["queued_at"]) for b in builds)
    last = max(_when(b["finished_at"]) for b in builds)
    return len(builds) / (last - first).total_seconds() * 60


def _newest(tenants: Repos, repository_id: int) -> int:
    headers = {"Authorization": f"Bearer {tenants.token}"}
    url = f"{tenants.cluster.url}/api/v1/builds?repository_id={repository_id}"
    items = requests.get(url, headers=headers, timeout=30).json()["items"]
    return int(items[0]["id"]) if items else 0


def _when(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def delivery_round(url: str, template: dict[str, Any], total: int, concurrency: int) -> float:
    """Deliveries per second, closed loop, every one answered 202."""
    path = "/" + template["url"].split("/", 3)[3]
    skip = {"content-length", "host"}
    base = {k: v for k, v in template["headers"].items() if k.lower() not in skip}
    body = template["body"].encode()
    remaining = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def sender() -> None:
            for _ in remaining:
                delivery = str(uuid.uuid4())
                headers = {**base, "Idempotency-Key": delivery, "X-Gitlab-Event-UUID": delivery}
                async with session.post(path, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 202:
                        raise SystemExit(f"a delivery was answered {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


def measure(args: argparse.Namespace, cluster: LocalCluster) -> int:
    tenants = setup(cluster, args.builds)
    print(f"builds: {args.builds} projects, one step sleeping {args.sleep} s, {args.rounds} rounds")
    rates: dict[str, list[float]] = {"2 workers": [], "1 worker": []}
    for _ in range(args.rounds):
        rates["2 workers"].append(build_round(tenants, args.sleep))
        cluster.signal("worker-1", signal.SIGTERM)
        rates["1 worker"].append(build_round(tenants, args.sleep))
        cluster.start_parts("worker-1")
    for name, found in rates.items():
        shown = ", ".join(f"{rate:.1f}" for rate in found)
        print(f"  {name}: {statistics.median(found):.1f} builds/min (rounds: {shown})")
    ratio = statistics.median(rates["2 workers"]) / statistics.median(rates["1 worker"])
    print(f"  ratio 2 workers / 1 worker: {ratio:.2f}x (goal >= {GOAL_BUILDS:.1f}x)")

    forge = AdminClient(cluster.forge_url)
    try:
        template = [d for d in forge.deliveries() if d["status"] == 202][-1]
    finally:
        forge.close()
    for worker in ("worker-1", "worker-2"):  # the queued builds wait: the API side alone
        cluster.signal(worker, signal.SIGTERM)
    print(f"deliveries: {args.deliveries} per round, concurrency {args.concurrency}")
    speeds: dict[str, list[float]] = {"2 APIs": [], "1 API": []}
    for _ in range(args.rounds):
        for name in ("2 APIs", "1 API"):
            if name == "1 API":
                cluster.signal("api-2", signal.SIGTERM)
                time.sleep(5)  # haproxy's health check takes it out (2 x 2 s)
            rate = asyncio.run(
                delivery_round(cluster.url, template, args.deliveries, args.concurrency)
            )
            speeds[name].append(rate)
            if name == "1 API":
                cluster.start_parts("api-2")
                time.sleep(3)  # and back in (1 check)
    for name, found in speeds.items():
        shown = ", ".join(f"{rate:.0f}" for rate in found)
        print(f"  {name} on PostgreSQL: {statistics.median(found):.0f}/s (rounds: {shown})")
    scale = statistics.median(speeds["2 APIs"]) / statistics.median(speeds["1 API"])
    print(f"  ratio 2 APIs / 1 API: {scale:.2f}x (reported; no goal on 2 cores)")
    met = ratio >= GOAL_BUILDS
    print(f"{'PASS' if met else 'FAIL'} builds per minute ratio {ratio:.2f}x (goal >= 1.8x)")
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=8, help="projects, one build each round")
    parser.add_argument("--sleep", type=int, default=12, help="seconds the build step sleeps")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=2000, help="per round and side")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    cluster = LocalCluster.create({})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the cluster on the way out
    try:
        started = time.monotonic()
        cluster.start()
        print(f"cluster started in {time.monotonic() - started:.0f} s")
        return measure(args, cluster)
    finally:
        cluster.stop()
        cluster.remove()


if __name__ == "__main__":
    sys.exit(main())
