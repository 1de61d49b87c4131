"""A cold engine rebuilding an unchanged Dockerfile: with the registry cache against without.

Run: ``python bench/cache.py [--runs 5] [--step-seconds 1] [--check]`` (after
``make services``; as root: it starts Docker engines of its own). Starts a stack on
loopback (forgesim GitLab, ``buildsvc serve``) in a temporary directory, pushes one
commit whose Dockerfile has five steps of ``--step-seconds`` each, and links it to two
image repositories with one rule each: ``cached`` (the default rule) and ``uncached``
(``no_cache``). A worker on the main engine builds ``cached`` once, which pushes its
image with the inline BuildKit cache. Then, each round in another order, N times each:

- a new, cold engine (a second ``dockerd`` with only the base image; one throwaway
  BuildKit build starts its builder) and a worker on it, ready (none of it timed);
- a build of the same commit started through the API, timed from the request to the
  build's ``end`` event on the live log (the image is in the registry then): for
  ``cached`` the worker pulls the rule's last image and BuildKit takes the steps from
  it; for ``uncached`` every step runs, as on a cold engine without the registry cache.

Prints the medians and the ratio cached / uncached (goal: at most 0.30x when each step
takes at least 1 s), and the same for the build phase alone as the worker logs it (the
totals also hold what does not change with the cache: a worker's first job, the fetch,
the push). ``--check`` exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the stack helpers live in tests/common/

from tests.common.cold_engine import cold_engine, warm_builder  # noqa: E402
from tests.common.e2e_stack import Stack  # noqa: E402

GOAL_RATIO = 0.30
SIDES = ("cached", "uncached")
REDIS_DB = 13  # nobody else's: bench/e2e.py takes 14, the e2e tests 15


def dockerfile(step_seconds: float, nonce: str) -> str:
    steps = "".join(
        f"RUN sleep {step_seconds:g} && echo {n} {nonce} > /step{n}\n" for n in range(1, 6)
    )
    return "FROM buildsvc/busybox:latest\n" + steps


def link(stack: Stack, project_path: str, name: str, *, no_cache: bool) -> dict[str, Any]:
    rule = {"type": "branch", "pattern": "main", "tag": "latest", "no_cache": no_cache}
    body = {
        "namespace": "bench",
        "name": name,
        "source": {"provider": "gitlab", "repository": project_path},
        "rules": [rule],
        "auto_build": False,  # builds start through the API, one at a time
    }
    found: dict[str, Any] = stack.call("POST", "/api/v1/repositories", body, expect=201)
    return found


def build(stack: Stack, repository: dict[str, Any]) -> tuple[float, list[str]]:
    """Start a build of the rule's branch and wait for its end; seconds and its log."""
    rule_id = repository["rules"][0]["id"]
    started = time.perf_counter()
    answer = stack.call(
        "POST", f"/api/v1/repositories/{repository['id']}/builds", {"rule_id": rule_id}
    )
    build_id = int(answer["builds"][0]["id"])
    end = next(data for event, data in stack.follow(build_id, timeout=300) if event == "end")
    elapsed = time.perf_counter() - started
    lines = [
        i["line"] for i in stack.call("GET", f"/api/v1/builds/{build_id}/logs?limit=10000")["items"]
    ]
    if end["status"] != "succeeded":
        raise SystemExit(f"build {build_id} ended {end}:\n" + "\n".join(lines[-20:]))
    return elapsed, lines


def build_seconds(lines: list[str]) -> float:
    """The build phase's seconds, from the worker's ``Built <id> in <s> s`` line."""
    found = [line for line in lines if line.startswith("Built ") and line.endswith(" s")]
    return float(found[-1].rsplit(" in ", 1)[1].removesuffix(" s")) if found else float("nan")


def on_cold_engine(stack: Stack, repository: dict[str, Any]) -> tuple[float, list[str]]:
    with cold_engine() as url:
        warm_builder(url)  # as on an engine in service: not the build's cost
        stack.start_worker("worker-cold", docker_url=url)
        try:
            return build(stack, repository)
        finally:
            stack.stop("worker-cold")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--step-seconds", type=float, default=1.0)
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args()
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    building: dict[str, list[float]] = {side: [] for side in SIDES}  # the build phase alone
    cached_lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="buildsvc-bench-cache-") as tmp:
        stack = Stack(Path(tmp) / "stack", REDIS_DB)
        try:
            stack.start()
            project = stack.new_project("five-steps")
            nonce = str(time.time_ns())  # the main engine's own cache outlives a run
            stack.push(project, {"Dockerfile": dockerfile(args.step_seconds, nonce)})
            repositories = {
                side: link(stack, project.full_path, f"{side}-{nonce}", no_cache=side == "uncached")
                for side in SIDES
            }
            stack.start_worker()  # the main engine: the rule's first image, pushed
            build(stack, repositories["cached"])
            stack.stop("worker")
            for n in range(args.runs):
                for side in SIDES[n % 2 :] + SIDES[: n % 2]:
                    elapsed, lines = on_cold_engine(stack, repositories[side])
                    times[side].append(elapsed)
                    building[side].append(build_seconds(lines))
                    if side == "cached":
                        cached_lines = lines
        finally:
            stack.close()
    hits = [line for line in cached_lines if line.startswith("cache: ")]
    # Where the last cached build spent its time (the log's own phase lines).
    phases = [
        f"{line.split()[0].lower()} {line.rsplit(' in ', 1)[1]}"
        for line in cached_lines
        if line.startswith(("Fetched ", "Built ", "Pushed ")) and " in " in line
    ]
    median = {side: statistics.median(found) for side, found in times.items()}
    ratio = median["cached"] / median["uncached"]
    print(
        f"cold engine, unchanged 5-step Dockerfile ({args.step_seconds:g} s per step), "
        f"request to image in the registry, median of {args.runs} runs each (seconds):"
    )
    shown = {"cached": "with the registry cache:", "uncached": "without it (no_cache):  "}
    for side, label in shown.items():
        print(f"  {label} {median[side]:.2f}  {[round(t, 2) for t in times[side]]}")
    print(f"  last cached build said: {hits[-1] if hits else '(no cache line)'}")
    print(f"  its phases: {'; '.join(phases)}")
    built = {side: statistics.median(found) for side, found in building.items()}
    print(
        f"  the build phase alone (the log's 'Built ... in'): {built['cached']:.2f} against "
        f"{built['uncached']:.2f}, {built['cached'] / built['uncached']:.2f}x"
    )
    print(f"  ratio with / without: {ratio:.2f}x (goal <= {GOAL_RATIO:.2f}x)")
    return 1 if args.check and ratio > GOAL_RATIO else 0


if __name__ == "__main__":
    raise SystemExit(main())
