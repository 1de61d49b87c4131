"""Every published webhook example parses to the event its file name describes.

Examples live in ``../shared/forge-examples/<forge>/webhooks/`` (or under
``$BUILDSVC_SHARED_DIR``), named ``<event>.<qualifiers>.<origin>.json`` (for example
``push.branch-deleted.subgroup.go-scm.json``). The bodies are byte-exact copies without
their HTTP headers, so the event header is derived from ``<event>`` the way the forge
would send it. Expectations come from the name (branch/tag, created/deleted, subgroup,
ping, create/delete => unsupported) and, independently of ``webhooks``, from a few
fields read straight from the JSON. Each body is also signed with a test secret:
``verify`` must accept it and reject it once a byte changes.

Run alone: ``python -m tests.conformance.webhooks_examples``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from webhooks import (
    PingEvent,
    PushEvent,
    SignatureError,
    UnsupportedEvent,
    WebhookError,
    parse,
    verify,
)

SECRET = "conformance-secret"
PROVIDERS = {
    "github": "github",
    "gitlab": "gitlab",
    "bitbucket-cloud": "bitbucket",
    "bitbucket-server": "bitbucket-server",
}
GITLAB_EVENTS = {"push": "Push Hook", "tag_push": "Tag Push Hook"}
UNSUPPORTED = {("github", "create"), ("github", "delete")}
PINGS = {("github", "ping"), ("bitbucket-server", "diagnostics_ping")}
# At least this many examples must be found: an empty or moved directory is a failure.
MIN_EXAMPLES = 40


def shared_dir() -> Path:
    configured = os.environ.get("BUILDSVC_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared"


def example_files(root: Path | None = None) -> list[Path]:
    base = (root or shared_dir()) / "forge-examples"
    return sorted(base.glob("*/webhooks/*.json"))


def headers_for(folder: str, event: str) -> dict[str, str]:
    """The headers the forge sends with this event (signature added separately)."""
    if folder == "github":
        return {"X-GitHub-Event": event, "X-GitHub-Delivery": "conformance-delivery"}
    if folder == "gitlab":
        if event not in GITLAB_EVENTS:
            raise KeyError(f"no X-Gitlab-Event known for {event!r}")
        return {"X-Gitlab-Event": GITLAB_EVENTS[event], "Idempotency-Key": "conformance-delivery"}
    # Bitbucket event keys: repo_push -> repo:push, repo_refs_changed -> repo:refs_changed
    key = event.replace("_", ":", 1)
    delivery = "X-Request-UUID" if folder == "bitbucket-cloud" else "X-Request-Id"
    return {"X-Event-Key": key, delivery: "conformance-delivery"}


def signed(folder: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256)
    if folder == "github":
        return {**headers, "X-Hub-Signature-256": "sha256=" + digest.hexdigest()}
    if folder == "gitlab":  # Standard Webhooks form, the stricter of GitLab's two
        stamp = str(int(time.time()))
        mac = hmac.new(SECRET.encode(), f"msg_1.{stamp}.".encode() + body, hashlib.sha256)
        signature = "v1," + base64.b64encode(mac.digest()).decode()
        return {
            **headers,
            "webhook-id": "msg_1",
            "webhook-timestamp": stamp,
            "webhook-signature": signature,
        }
    return {**headers, "X-Hub-Signature": "sha256=" + digest.hexdigest()}


Fact = tuple[str, str, str | None, str | None]


def raw_facts(folder: str, data: dict[str, Any]) -> list[Fact]:
    """(ref, repository, old sha, new sha) per change, read without ``webhooks``; a sha
    is None where the forge marks the ref absent (all zeros or null)."""

    def sha(value: str | None) -> str | None:
        return None if value is None or set(value) == {"0"} else value

    if folder in ("github", "gitlab"):
        repo = data["repository"]["full_name"] if folder == "github" else None
        repo = repo or data["project"]["path_with_namespace"]
        return [(data["ref"], repo, sha(data["before"]), sha(data["after"]))]
    if folder == "bitbucket-cloud":
        facts = []
        for change in data["push"]["changes"]:
            old, new = change["old"], change["new"]
            side = new or old
            prefix = "refs/heads/" if side["type"] == "branch" else "refs/tags/"
            old_sha = old["target"]["hash"] if old else None
            new_sha = new["target"]["hash"] if new else None
            facts.append((prefix + side["name"], data["repository"]["full_name"], old_sha, new_sha))
        return facts
    repo = data["repository"]
    path = f"{repo['project']['key']}/{repo['slug']}"
    return [(ch["refId"], path, sha(ch["fromHash"]), sha(ch["toHash"])) for ch in data["changes"]]


def check_push(name: str, folder: str, words: set[str], event: PushEvent) -> list[str]:
    problems = []
    tag = "tag" in words or name.startswith("tag_push.")
    wanted: dict[str, object] = {"ref_type": "tag" if tag else "branch"}
    if words & {"created", "deleted", "branch"}:  # else the name does not say
        wanted["created"] = "created" in words
        wanted["deleted"] = "deleted" in words
    for field, value in wanted.items():
        if getattr(event, field) != value:
            problems.append(f"{field} is {getattr(event, field)!r}, expected {value!r}")
    if "subgroup" in words and event.repository.count("/") < 2:
        problems.append(f"repository {event.repository!r} lost its subgroups")
    if event.provider != PROVIDERS[folder]:
        problems.append(f"provider is {event.provider!r}")
    if event.delivery_id != "conformance-delivery":
        problems.append(f"delivery_id is {event.delivery_id!r}")
    paths: set[str] = set()
    for commit in event.commits:
        paths.update(commit.added, commit.modified, commit.removed)
    if paths != event.changed_paths:
        problems.append("changed_paths is not the union of the commits' paths")
    return problems


def check_file(path: Path) -> list[str]:
    folder, name = path.parent.parent.name, path.name
    event_name, *qualifiers = name.removesuffix(".json").split(".")[:-1]
    words = {word for qualifier in qualifiers for word in qualifier.split("-")}
    body = path.read_bytes()
    try:
        headers = headers_for(folder, event_name)
    except KeyError as exc:
        return [f"{folder}/{name}: {exc.args[0]}"]
    try:
        events = parse(PROVIDERS[folder], headers, body)
    except UnsupportedEvent:
        if (folder, event_name) in UNSUPPORTED:
            return []
        return [f"{folder}/{name}: UnsupportedEvent for a push or ping"]
    except WebhookError as exc:
        return [f"{folder}/{name}: {type(exc).__name__} ({exc.reason}): {exc.message}"]
    if (folder, event_name) in UNSUPPORTED:
        return [f"{folder}/{name}: parsed to {events!r}, expected UnsupportedEvent"]
    problems = check_signature(folder, headers, body)
    if (folder, event_name) in PINGS:
        if len(events) != 1 or not isinstance(events[0], PingEvent):
            problems.append(f"expected one PingEvent, got {events!r}")
    else:
        problems += check_pushes(name, folder, words, events, raw_facts(folder, json.loads(body)))
    return [f"{folder}/{name}: {problem}" for problem in problems]


def check_pushes(
    name: str, folder: str, words: set[str], events: Sequence[object], facts: list[Fact]
) -> list[str]:
    """The parsed events against the ref changes the raw payload describes."""
    problems = []
    if len(events) != len(facts):
        problems.append(f"{len(events)} events for {len(facts)} ref changes")
    for event, fact in zip(events, facts, strict=False):
        if not isinstance(event, PushEvent):
            problems.append(f"expected a PushEvent, got {event!r}")
            continue
        problems += check_push(name, folder, words, event)
        got = (event.ref, event.repository, event.before, event.after)
        if got != fact:
            problems.append(f"(ref, repository, before, after) is {got}, the payload says {fact}")
    return problems


def check_signature(folder: str, headers: dict[str, str], body: bytes) -> list[str]:
    provider, good = PROVIDERS[folder], signed(folder, headers, body)
    try:
        verify(provider, good, body, SECRET)
    except SignatureError as exc:
        return [f"verify rejected a correctly signed body ({exc.reason})"]
    try:
        verify(provider, good, body + b" ", SECRET)
    except SignatureError:
        return []
    return ["verify accepted a body changed after signing"]


def check() -> list[str]:
    """Failure messages; empty when every example conforms."""
    files = example_files()
    if len(files) < MIN_EXAMPLES:
        where = shared_dir() / "forge-examples"
        return [f"found {len(files)} webhook examples under {where}, expected {MIN_EXAMPLES}+"]
    failures: list[str] = []
    for path in files:
        failures += check_file(path)
    return failures


def main() -> int:
    files, failures = example_files(), check()
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"webhooks conformance: {len(files)} examples, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
