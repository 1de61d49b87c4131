"""What the chaos suite counts at the end, from forgesim, the cluster's PostgreSQL and the
registry; ``Counts.lost()`` names every count that must be zero and is not.

- every delivery the forge saw answered 202 is recorded once (``deliveries`` by its id);
- every build those answers named reaches a final state, and none is left queued or
  running at all;
- no commit has two builds for the same rule, and a build ran twice (its log's
  ``Build N:`` header twice) only where its log says its worker was lost or stopped;
- each repository's ``latest`` in the registry is the build of its last pushed commit
  (the tag's digest is that build's, its ``org.opencontainers.image.revision`` the sha).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from tests.chaos.repos import Repos
from tests.common.e2e_stack import FINISHED
from tests.common.registry_http import registry_image
from tests.common.services import Services

HANDED_BACK = ("The worker was lost", "The worker is shutting down")


@dataclass
class Counts:
    pushes: int = 0
    deliveries: int = 0
    by_status: Counter[str] = field(default_factory=Counter)  # forge-side answer
    redelivered: int = 0  # the same delivery again, straight to an API process
    answered_202: int = 0
    recorded_once: int = 0
    not_recorded: int = 0
    recorded_twice: int = 0
    builds_queued: int = 0  # named by 202 answers
    builds_final: int = 0
    builds_not_final: int = 0
    builds_missing: int = 0
    build_statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # error codes of failed builds
    left_running: int = 0  # any build still queued/fetching/building/pushing
    same_commit_twice: int = 0  # two builds of one commit for one rule
    ran_twice: int = 0
    ran_twice_handed_back: int = 0  # its worker was lost or stopped: allowed
    ran_twice_unexplained: int = 0
    refs: int = 0
    image_is_last_commit: int = 0
    image_wrong: list[str] = field(default_factory=list)
    by_api: dict[str, int] = field(default_factory=dict)  # webhook requests each served

    def lost(self) -> list[str]:
        bad = {
            "deliveries answered 202 but not recorded": self.not_recorded,
            "deliveries recorded twice": self.recorded_twice,
            "builds not in a final state": self.builds_not_final,
            "builds named by a 202 but missing": self.builds_missing,
            "builds left queued or running": self.left_running,
            "commits built twice by one rule": self.same_commit_twice,
            "builds run twice with no worker lost or stopped": self.ran_twice_unexplained,
            "refs whose image is not their last commit": len(self.image_wrong),
        }
        return [f"{name}: {value}" for name, value in bad.items() if value]

    def report(self) -> str:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items()))
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.build_statuses.items()))
        apis = ", ".join(f"{k} {v}" for k, v in sorted(self.by_api.items()))
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items())) or "none"
        lines = [
            f"pushes: {self.pushes}; deliveries sent by the forge: {self.deliveries} ({answers})",
            f"webhook requests served per API process: {apis}",
            f"redelivered to an API process directly (duplicates): {self.redelivered}",
            f"answered 202: {self.answered_202}; recorded once: {self.recorded_once}, "
            f"not recorded: {self.not_recorded}, recorded twice: {self.recorded_twice}",
            f"builds queued by them: {self.builds_queued}; final: {self.builds_final} "
            f"({statuses}); not final: {self.builds_not_final}; missing: {self.builds_missing}",
            f"failed builds by error code: {failures}",
            f"builds left queued or running: {self.left_running}",
            f"commits built twice by one rule: {self.same_commit_twice}; builds that ran twice: "
            f"{self.ran_twice} (worker lost or stopped: {self.ran_twice_handed_back}, "
            f"unexplained: {self.ran_twice_unexplained})",
            f"refs: {self.refs}; image is the last commit: {self.image_is_last_commit}"
            + (f"; wrong: {'; '.join(self.image_wrong)}" if self.image_wrong else ""),
        ]
        return "\n".join(lines)


def count(
    repos: Repos, deliveries: list[dict[str, Any]], redelivered: int, services: Services
) -> Counts:
    counts = Counts(pushes=sum(len(repo.pushed) for repo in repos.items))
    counts.deliveries = len(deliveries)
    counts.redelivered = redelivered
    counts.by_status = Counter(str(d["status"] or d["error"] or "none") for d in deliveries)
    for number in (1, 2):
        log = repos.cluster.log(f"api-{number}")  # its access log lines, across restarts
        counts.by_api[f"api-{number}"] = log.count('"path": "/webhooks/')
    rows = asyncio.run(_read_database(repos.cluster.settings()["BUILDSVC_DATABASE_URL"]))
    recorded: Counter[str] = Counter(row["delivery_id"] for row in rows["deliveries"])
    queued: set[int] = set()
    for delivery in deliveries:
        if delivery["status"] != 202:
            continue
        counts.answered_202 += 1
        seen = recorded[_delivery_id(delivery)]
        counts.recorded_once += seen == 1
        counts.not_recorded += seen == 0
        counts.recorded_twice += seen > 1
        queued.update(json.loads(delivery["response_body"]).get("build_ids", []))
    builds = {row["id"]: row for row in rows["builds"]}
    counts.builds_queued = len(queued)
    for build_id in queued:
        build = builds.get(build_id)
        if build is None:
            counts.builds_missing += 1
        elif build["status"] in FINISHED:
            counts.builds_final += 1
            counts.build_statuses[build["status"]] += 1
            if build["error_code"]:
                counts.failures[build["error_code"]] += 1
        else:
            counts.builds_not_final += 1
    counts.left_running = sum(b["status"] not in FINISHED for b in builds.values())
    per_commit = Counter(
        (b["repository_id"], b["rule_id"], b["commit_sha"]) for b in rows["builds"]
    )
    counts.same_commit_twice = sum(n > 1 for n in per_commit.values())
    _count_runs(counts, rows["lines"])
    _check_images(counts, repos, rows["builds"], services)
    return counts


def _delivery_id(delivery: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in delivery["headers"].items()}
    return str(headers.get("idempotency-key") or headers["x-gitlab-event-uuid"])


def _count_runs(counts: Counts, lines: list[asyncpg.Record]) -> None:
    runs: Counter[int] = Counter()
    handed_back: set[int] = set()
    for row in lines:
        if row["line"].startswith(f"Build {row['build_id']}: "):
            runs[row["build_id"]] += 1
        elif row["line"].startswith(HANDED_BACK):
            handed_back.add(row["build_id"])
    twice = [build_id for build_id, n in runs.items() if n > 1]
    counts.ran_twice = len(twice)
    counts.ran_twice_handed_back = sum(b in handed_back for b in twice)
    counts.ran_twice_unexplained = counts.ran_twice - counts.ran_twice_handed_back


def _check_images(
    counts: Counts, repos: Repos, builds: list[asyncpg.Record], services: Services
) -> None:
    for repo in repos.items:
        counts.refs += 1
        last = repo.pushed[-1]
        mine = [b for b in builds if b["repository_id"] == repo.repository_id]
        built = [b for b in mine if b["commit_sha"] == last and b["status"] == "succeeded"]
        try:
            image = registry_image(services, f"{services.registry}/{repo.image}:latest")
        except AssertionError as exc:
            counts.image_wrong.append(f"{repo.image}: not in the registry ({exc})")
            continue
        revision = image.labels.get("org.opencontainers.image.revision")
        if built and image.digest == built[-1]["digest"] and revision == last:
            counts.image_is_last_commit += 1
        else:
            counts.image_wrong.append(f"{repo.image}: revision {revision}, last pushed {last}")


async def _read_database(url: str) -> dict[str, list[asyncpg.Record]]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return {
            "deliveries": await connection.fetch("SELECT delivery_id FROM deliveries"),
            "builds": await connection.fetch(
                "SELECT id, repository_id, rule_id, commit_sha, status, digest, error_code"
                " FROM builds"
            ),
            "lines": await connection.fetch(
                "SELECT build_id, line FROM build_log_lines"
                " WHERE line LIKE 'Build %' OR line LIKE 'The worker %'"
            ),
        }
    finally:
        await connection.close()
