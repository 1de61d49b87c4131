"""verify + parse throughput of a ~10 KB GitHub push against bare ``json.loads``.

Run: ``python bench/webhooks_parse.py [--check]``. The payload starts from the real
GitHub push example in ``../shared/forge-examples`` (or ``$BUILDSVC_SHARED_DIR``), with
commits added until the body, compact as GitHub sends it, reaches 10 KB; without the
examples it is generated. Both sides run in the same process on the same bytes, taking
turns, best of several rounds, timed in process CPU time (so other load on the machine
skews neither side). Goal: verify + parse at least 0.5x the ``json.loads`` rate;
``--check`` exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import os
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic_core

from webhooks import PingEvent, PushEvent, parse, verify

TARGET_BYTES = 10 * 1024
GOAL = 0.5
SECRET = "bench-secret-not-a-real-one"


def shared_dir() -> Path:
    configured = os.environ.get("BUILDSVC_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[1].parent / "shared"


def base_payload() -> tuple[dict[str, Any], str]:
    examples = sorted(
        (shared_dir() / "forge-examples" / "github" / "webhooks").glob("push.branch.*.json"),
        key=lambda path: path.stat().st_size,
    )
    if examples:  # the largest real ordinary branch push
        return json.loads(examples[-1].read_bytes()), examples[-1].name
    commit = {
        "id": "0" * 39 + "1",
        "tree_id": "1" * 40,
        "distinct": True,
        "message": "Update the service",
        "timestamp": "2024-05-01T10:00:00+02:00",
        "url": "https://github.com/octo/app/commit/" + "0" * 39 + "1",
        "author": {"name": "Octo Cat", "email": "octo@example.com", "username": "octo"},
        "committer": {"name": "Octo Cat", "email": "octo@example.com", "username": "octo"},
        "added": [],
        "removed": [],
        "modified": ["README.md"],
    }
    api = "https://api.github.com/repos/octo/app"
    repository = {f"{key}_url": f"{api}/{key}" for key in ("keys", "tags", "hooks", "forks")}
    repository.update(full_name="octo/app", clone_url="https://github.com/octo/app.git")
    return {
        "ref": "refs/heads/main",
        "before": "2" * 40,
        "after": commit["id"],
        "created": False,
        "deleted": False,
        "commits": [commit],
        "head_commit": commit,
        "repository": repository,
        "pusher": {"name": "octo", "email": "octo@example.com"},
        "sender": {"login": "octo", "id": 1},
    }, "generated"


def enlarge(payload: dict[str, Any]) -> bytes:
    """Add distinct commits (each a variation of the real one) until 10 KB."""
    template = payload["commits"][-1]
    payload = copy.deepcopy(payload)
    number = 0
    while True:
        body = json.dumps(payload, separators=(",", ":")).encode()
        if len(body) >= TARGET_BYTES:
            return body
        number += 1
        commit = copy.deepcopy(template)
        commit["id"] = hashlib.sha1(f"bench-{number}".encode()).hexdigest()  # noqa: S324
        commit["message"] = f"Change {number}: adjust the build configuration"
        commit["url"] = commit["url"].rsplit("/", 1)[0] + "/" + commit["id"]
        commit["modified"] = [f"src/module_{number}.py", "Dockerfile"]
        payload["commits"].append(commit)
        payload["head_commit"] = commit
        payload["after"] = commit["id"]


def best_rates(functions: dict[str, Callable[[], object]], rounds: int = 15) -> dict[str, float]:
    """Calls per second of each function, best of ``rounds``.

    The functions take turns within every round (~0.2 s each), so a load change on the
    machine hits all of them alike instead of skewing the ratio; and the clock is this
    process's CPU time, so time spent waiting for a busy CPU does not count.
    """
    timers = {
        name: timeit.Timer(function, timer=time.process_time)
        for name, function in functions.items()
    }
    numbers = {name: max(1, timer.autorange()[0]) for name, timer in timers.items()}
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]))
    return {name: numbers[name] / best[name] for name in functions}


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--check", action="store_true", help=f"exit 1 below {GOAL}x")
    check = options.parse_args().check
    payload, source = base_payload()
    body = enlarge(payload)
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": signature,
    }

    def verify_and_parse() -> list[PushEvent | PingEvent]:
        verify("github", headers, body, SECRET)
        return parse("github", headers, body)

    event = verify_and_parse()[0]
    if not isinstance(event, PushEvent):
        raise SystemExit(f"expected a PushEvent, got {event!r}")
    commits = len(event.commits)
    rates = best_rates(
        {
            "json.loads": lambda: json.loads(body),
            "verify+parse": verify_and_parse,
            "verify": lambda: verify("github", headers, body, SECRET),
            "parse": lambda: parse("github", headers, body),
            "from_json": lambda: pydantic_core.from_json(body),
        }
    )
    baseline, ours = rates["json.loads"], rates["verify+parse"]
    verify_only, parse_only, fast_json = rates["verify"], rates["parse"], rates["from_json"]
    ratio = ours / baseline
    print(f"payload: {len(body)} bytes, {commits} commits (from {source})")
    print(f"json.loads (baseline)    {baseline:10,.0f} /s")
    print(f"verify + parse           {ours:10,.0f} /s   ratio {ratio:.2f}x (goal >= {GOAL}x)")
    print(f"  verify alone           {verify_only:10,.0f} /s")
    print(f"  parse alone            {parse_only:10,.0f} /s")
    print(f"  pydantic_core.from_json{fast_json:10,.0f} /s   (decoding alone, for reference)")
    print(f"goal {'met' if ratio >= GOAL else 'NOT met'}")
    return 1 if check and ratio < GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
