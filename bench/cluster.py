"""Scale-out of ``make cluster``: builds per minute, the registry build cache on a cold
engine, and deliveries per second, each against its baseline measured in the same run.

    python bench/cluster.py [--builds 8] [--sleep 8] [--rounds 3] [--cache-runs 3]
        [--step-seconds 1] [--deliveries 500] [--parts builds,cache,deliveries]

Starts a cluster of its own (``scripts/cluster.sh`` in a temporary directory on free
ports: haproxy, 2 ``serve``, 2 workers on 2 Docker engines, PostgreSQL, Redis, forgesim;
the registry is ``scripts/services.sh``'s, on ``BUILDSVC_SERVICES_REGISTRY_PORT``), an
account and ``--builds`` GitLab projects linked with a rule building ``main``. As root.
About 7 minutes with the defaults.

- Builds per minute, 1 worker against 2 workers on separate engines (each worker runs
  ``BUILDSVC_WORKER_CONCURRENCY`` = 2 builds at once). Each round pushes one commit to
  every project, whose Dockerfile's step sleeps ``--sleep`` s (so the engines' CPU does
  not decide), and times from the first build queued to the last one finished (the
  builds' own timestamps). Rounds alternate: 2 workers, 1 worker (worker-1 SIGTERMed:
  the one left builds on the cluster's own engine, which no one else uses), ... Goal:
  2 workers at least 1.8x the builds per minute of 1.
- The registry build cache: one project whose Dockerfile has 5 steps of
  ``--step-seconds`` each, linked twice (a rule with the cache, one with ``no_cache``);
  worker-2 builds the first once, which pushes the image with its inline cache. Then,
  ``--cache-runs`` times each side, in alternating order: a new dockerd (nothing but the
  base image; one throwaway BuildKit build so its builder is up, as on a machine in
  service) and a worker on it, started and ready before anything is queued (the other
  workers are stopped); timed from the API request that starts the build to the build
  seen ``succeeded`` (the image is in the registry then). Goal: with the cache at most
  0.30x the time without.
- Signed deliveries per second through the load balancer, 2 API processes against 1
  (api-2 SIGTERMed), both on PostgreSQL: one real forgesim push delivery re-sent with
  new delivery ids, ``--concurrency`` at a time; each is verified, recorded and queues a
  build (no worker runs, so only the API side works). Reported, no goal: on 2 cores the
  load generator, haproxy, PostgreSQL and both APIs share them.

Prints a summary of the three ratios; exits 1 when a goal is missed.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the cluster helpers live in tests/common/

from forgesim.client import AdminClient  # noqa: E402
from tests.chaos.repos import Repos, setup  # noqa: E402
from tests.common.cluster import LocalCluster  # noqa: E402
from tests.common.cold_engine import cold_engine, warm_builder  # noqa: E402
from tests.common.e2e_stack import FINISHED, git  # noqa: E402

GOAL_BUILDS = 1.8
GOAL_CACHE = 0.30
CACHE_SIDES = ("cached", "uncached")


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


def five_steps(step_seconds: float, nonce: str) -> str:
    steps = "".join(
        f"RUN sleep {step_seconds:g} && echo {n} {nonce} > /step{n}\n" for n in range(1, 6)
    )
    return "FROM buildsvc/busybox:latest\n" + steps


def cache_setup(tenants: Repos, step_seconds: float) -> dict[str, tuple[int, int]]:
    """One project with the 5-step Dockerfile, linked twice: ``cached`` (the default
    rule) and ``uncached`` (``no_cache``), builds by API only; {side: (repository, rule)}."""
    cluster = tenants.cluster
    nonce = uuid.uuid4().hex[:12]  # no engine has these steps cached
    forge = AdminClient(cluster.forge_url)
    try:
        project = forge.create_repository("acme", f"five-steps-{nonce}")
    finally:
        forge.close()
    work = cluster.directory / "work" / "five-steps"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    (work / "Dockerfile").write_text(five_steps(step_seconds, nonce))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "five steps")
    auth = tenants.git_auth()
    git(work, "push", "-q", project["clone_url"], "HEAD:refs/heads/main", env=auth)
    headers = {"Authorization": f"Bearer {tenants.token}"}
    linked = {}
    for side in CACHE_SIDES:
        rule = {"type": "branch", "pattern": "main", "tag": "latest", "no_cache": side != "cached"}
        body = {
            "namespace": tenants.namespace,
            "name": f"five-steps-{side}",
            "source": {"provider": "gitlab", "repository": project["full_path"]},
            "rules": [rule],
            "auto_build": False,
        }
        url = f"{cluster.url}/api/v1/repositories"
        answer = requests.post(url, json=body, headers=headers, timeout=60)
        answer.raise_for_status()
        found = answer.json()
        linked[side] = (int(found["id"]), int(found["rules"][0]["id"]))
    return linked


def timed_build(tenants: Repos, repository: tuple[int, int]) -> tuple[float, dict[str, Any]]:
    """Start a build through the API; seconds until it is seen finished, and the build."""
    headers = {"Authorization": f"Bearer {tenants.token}"}
    base = tenants.cluster.url
    started = time.perf_counter()
    url = f"{base}/api/v1/repositories/{repository[0]}/builds"
    answer = requests.post(url, json={"rule_id": repository[1]}, headers=headers, timeout=30)
    answer.raise_for_status()
    build_id = int(answer.json()["builds"][0]["id"])
    deadline = time.monotonic() + 300
    while True:
        build = requests.get(f"{base}/api/v1/builds/{build_id}", headers=headers, timeout=30).json()
        if build["status"] in FINISHED:
            elapsed = time.perf_counter() - started
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"build {build_id} did not end: {build}")
        time.sleep(0.05)
    if build["status"] != "succeeded":
        raise SystemExit(f"build {build_id} ended {build['status']}: {build}")
    url = f"{base}/api/v1/builds/{build_id}/logs?limit=10000"
    build["log"] = requests.get(url, headers=headers, timeout=30).json()["items"]
    build["lines"] = [item["line"] for item in build["log"]]
    return elapsed, build


def show_log(build: dict[str, Any]) -> None:
    """The build's log, each line at its seconds since the build was queued."""
    queued = _when(build["queued_at"])
    for item in build["log"]:
        print(f"    {(_when(item['ts']) - queued).total_seconds():6.2f} {item['line'][:150]}")


def cache_round(
    tenants: Repos, repository: tuple[int, int], name: str
) -> tuple[float, dict[str, Any]]:
    """On a new engine that never built anything, with a worker ready on it: one build."""
    with cold_engine() as url:
        warm_builder(url)
        with tenants.cluster.extra_worker(name, url):
            return timed_build(tenants, repository)


def measure_cache(args: argparse.Namespace, tenants: Repos) -> float:
    """Cold engine, unchanged 5-step Dockerfile: with the registry cache / without."""
    cluster = tenants.cluster
    linked = cache_setup(tenants, args.step_seconds)
    # The rule's first image, pushed with its inline cache (by worker-2, on engine 2).
    cluster.start_parts("worker-2")
    timed_build(tenants, linked["cached"])
    cluster.signal("worker-2", signal.SIGTERM)
    print(
        f"cache: cold engine (a new dockerd, base image only, builder warmed up; a worker "
        f"ready on it), unchanged 5-step Dockerfile ({args.step_seconds:g} s a step), "
        f"request to image pushed, {args.cache_runs} runs each:"
    )
    times: dict[str, list[float]] = {side: [] for side in CACHE_SIDES}
    last: dict[str, dict[str, Any]] = {}
    for n in range(args.cache_runs):
        for side in CACHE_SIDES[n % 2 :] + CACHE_SIDES[: n % 2]:
            elapsed, last[side] = cache_round(tenants, linked[side], f"worker-cold-{side}-{n}")
            times[side].append(elapsed)
            if args.verbose:
                print(f"  {side}, {elapsed:.2f} s:")
                show_log(last[side])
    for side in CACHE_SIDES:
        shown = ", ".join(f"{t:.2f}" for t in times[side])
        phases = ", ".join(
            f"{k} {v:.2f}" for k, v in last[side]["durations"].items() if v is not None
        )
        print(f"  {side}: {statistics.median(times[side]):.2f} s (runs: {shown}; last: {phases})")
    hits = [line for line in last["cached"]["lines"] if line.startswith("cache: ")]
    print(f"  the last cached build said: {hits[-1] if hits else '(no cache line)'}")
    ratio = statistics.median(times["cached"]) / statistics.median(times["uncached"])
    print(f"  ratio with / without the registry cache: {ratio:.2f}x (goal <= {GOAL_CACHE:.2f}x)")
    return ratio


def measure_builds(args: argparse.Namespace, tenants: Repos) -> float:
    """Builds per minute, 2 workers on 2 engines against 1; the ratio."""
    cluster = tenants.cluster
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
    return ratio


def measure_deliveries(args: argparse.Namespace, cluster: LocalCluster) -> float:
    """Signed deliveries per second through haproxy, 2 APIs against 1; the ratio."""
    forge = AdminClient(cluster.forge_url)
    try:
        template = [d for d in forge.deliveries() if d["status"] == 202][-1]
    finally:
        forge.close()
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
    return scale


def stop_workers(cluster: LocalCluster) -> None:
    for worker in ("worker-1", "worker-2"):
        if cluster.running(worker):
            cluster.signal(worker, signal.SIGTERM)


@dataclass(frozen=True)
class Result:
    name: str
    ratio: float
    met: bool | None  # None: reported, no goal
    goal: str


def measure(args: argparse.Namespace, cluster: LocalCluster) -> int:
    parts = set(args.parts.split(","))
    tenants = setup(cluster, args.builds)
    results: list[Result] = []
    if "builds" in parts:
        ratio = measure_builds(args, tenants)
        goal = f">= {GOAL_BUILDS:.1f}x"
        results.append(
            Result("builds per minute, 2 workers / 1", ratio, ratio >= GOAL_BUILDS, goal)
        )
    stop_workers(cluster)  # from here on only the cold engines' workers build
    if "cache" in parts:
        ratio = measure_cache(args, tenants)
        goal = f"<= {GOAL_CACHE:.2f}x"
        results.append(
            Result("cold engine, registry cache / none", ratio, ratio <= GOAL_CACHE, goal)
        )
    if "deliveries" in parts:
        if "builds" not in parts:  # a delivery to copy: one push, built by nobody
            tenants.push(tenants.items[0])
        ratio = measure_deliveries(args, cluster)  # last: its builds stay queued
        results.append(Result("signed deliveries per second, 2 APIs / 1", ratio, None, "none"))
    print("summary:")
    for result in results:
        verdict = "" if result.met is None else " PASS" if result.met else " FAIL"
        print(f"  {result.name}: {result.ratio:.2f}x (goal {result.goal}){verdict}")
    return 1 if any(result.met is False for result in results) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=8, help="projects, one build each round")
    parser.add_argument("--sleep", type=int, default=8, help="seconds the build step sleeps")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=500, help="per round and side")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--step-seconds", type=float, default=1.0, help="cache: each step's")
    parser.add_argument("--cache-runs", type=int, default=3, help="cache: runs per side")
    parser.add_argument("--verbose", action="store_true", help="cache: each build's log")
    parser.add_argument(
        "--parts", default="builds,cache,deliveries", help="which to measure (comma-separated)"
    )
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
