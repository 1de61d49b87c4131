"""parse() on hostile input: only events or a WebhookError, never another exception,
and never more than linear time.

Seeds are this project's payloads plus every published example in ../shared (when
present); hypothesis mutates their JSON trees and their bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.common.webhook_payloads import PAYLOADS, encode, load
from tests.conformance.webhooks_examples import PROVIDERS, example_files, headers_for
from webhooks import InvalidPayload, PingEvent, PushEvent, WebhookError, github, parse
from webhooks._core import Headers

OWN_HEADERS = {
    "github": ("github", {"X-GitHub-Event": "push"}),
    "gitlab": ("gitlab", {"X-Gitlab-Event": "Push Hook"}),
    "bitbucket": ("bitbucket", {"X-Event-Key": "repo:push"}),
    "bitbucket_server": ("bitbucket-server", {"X-Event-Key": "repo:refs_changed"}),
}
EVENT_HEADERS = [
    ("github", {"X-GitHub-Event": "push"}),
    ("github", {"X-GitHub-Event": "ping"}),
    ("github", {"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}),
    ("gitlab", {"X-Gitlab-Event": "Push Hook"}),
    ("gitlab", {"X-Gitlab-Event": "Tag Push Hook"}),
    ("bitbucket", {"X-Event-Key": "repo:push"}),
    ("bitbucket-server", {"X-Event-Key": "repo:refs_changed"}),
    ("bitbucket-server", {"X-Event-Key": "diagnostics:ping"}),
]


Seed = tuple[str, dict[str, str], Any]


def _seeds() -> dict[str, Seed]:
    """Named (provider, headers, document) triples."""
    seeds: dict[str, Seed] = {}
    for path in sorted(PAYLOADS.glob("*/*.json")):
        provider, headers = OWN_HEADERS[path.parent.name]
        name = f"{path.parent.name}/{path.name}"
        seeds[f"own:{name}"] = (provider, headers, load(name))
    for path in example_files():  # the published examples, if ../shared is there
        folder, event = path.parent.parent.name, path.name.split(".")[0]
        document = json.loads(path.read_bytes())
        seeds[f"shared:{folder}/{path.name}"] = (
            PROVIDERS[folder],
            headers_for(folder, event),
            document,
        )
    return seeds


SEEDS = _seeds()
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=50)
    | st.sampled_from(
        ["0" * 40, "refs/heads/x", "refs/tags/v1", "https://x/y.git", "2024-01-01T00:00:00Z"]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def check(provider: str, headers: dict[str, str], body: bytes) -> None:
    """The property: a non-empty list of valid events, or a WebhookError."""
    try:
        events = parse(provider, headers, body)
    except WebhookError:
        return
    assert events
    for event in events:
        assert isinstance(event, PushEvent | PingEvent)
        assert event.provider == provider
        if isinstance(event, PushEvent):
            union: set[str] = set()
            for commit in event.commits:
                union.update(commit.added, commit.modified, commit.removed)
            assert union == event.changed_paths


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def mutate(document: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EVENT_HEADERS), st.binary(max_size=2000))
def test_arbitrary_bytes(target: tuple[str, dict[str, str]], body: bytes) -> None:
    check(target[0], target[1], body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_payloads(data: st.DataObject) -> None:
    provider, headers, seed = data.draw(st.sampled_from(list(SEEDS.values())))
    document = json.loads(json.dumps(seed))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(paths(document)))
        document = mutate(
            document, path, data.draw(JSON_VALUES), bool(path) and data.draw(st.booleans())
        )
    body = encode(document)
    check(provider, headers, body)
    if provider == "github" and headers.get("X-GitHub-Event") == "push":
        strict_and_lenient_agree(body, document)


def strict_and_lenient_agree(body: bytes, document: Any) -> None:
    """Where the strict schema accepts a GitHub body, the lenient path gives the same."""
    try:
        strict = github._Push.model_validate_json(body)
    except ValueError:
        return
    try:
        fast = github._event(strict, True, None)
    except WebhookError as error:
        with pytest.raises(type(error)):
            github._event(*github._lenient(document), None)
        return
    assert github._event(*github._lenient(document), None) == fast


# Values of every JSON type, each wrong somewhere: the sweep below puts each at every
# path of every seed (and deletes every path), which random sampling cannot promise.
POISONS: list[Any] = [None, True, 0, "", "x", [], [{}], {}]


@pytest.mark.parametrize("name", SEEDS)
def test_every_field_replaced_or_removed(name: str) -> None:
    provider, headers, original = SEEDS[name]
    document = json.loads(json.dumps(original))
    github_push = provider == "github" and headers.get("X-GitHub-Event") == "push"
    for path in paths(document)[1:]:
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        key, kept = path[-1], parent[path[-1]]
        for poison in POISONS:
            parent[key] = poison
            check(provider, headers, body := encode(document))
            if github_push:
                strict_and_lenient_agree(body, document)
        if isinstance(parent, dict):
            del parent[key]
            check(provider, headers, encode(document))
        parent[key] = kept
        assert document == original


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_bytes(data: st.DataObject) -> None:
    provider, headers, seed = data.draw(st.sampled_from(list(SEEDS.values())))
    body = bytearray(encode(seed))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        body[index] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(body)))
    check(provider, headers, bytes(body[:cut]))


DEEP = 100_000
DEEP_BODIES = {
    "arrays": b"[" * DEEP,
    "objects": b'{"a":' * DEEP,
    "closed arrays": b"[" * DEEP + b"]" * DEEP,
    "inside a push": b'{"ref":"refs/heads/main","commits":' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@pytest.mark.parametrize("target", EVENT_HEADERS, ids=lambda target: "-".join(target[1].values()))
@pytest.mark.parametrize("name", DEEP_BODIES)
def test_deep_nesting_fails_fast(target: tuple[str, dict[str, str]], name: str) -> None:
    provider, headers = target
    started = time.process_time()
    if headers.get("X-Event-Key") == "diagnostics:ping":  # the one event that reads no body
        assert isinstance(parse(provider, headers, DEEP_BODIES[name])[0], PingEvent)
    else:
        with pytest.raises(InvalidPayload):
            parse(provider, headers, DEEP_BODIES[name])
    assert time.process_time() - started < 1.0


def _timed(function: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        function()
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("fixture", ["github/push_branch.json", "gitlab/push.json"])
def test_parse_time_grows_linearly_with_commits(fixture: str) -> None:
    data = load(fixture)
    provider, headers = OWN_HEADERS[Path(fixture).parent.name]

    def body(count: int) -> bytes:
        commit = data["commits"][0]
        data["commits"] = [commit | {"added": [f"src/{i}.py"]} for i in range(count)]
        return encode(data)

    small, large = body(2_000), body(8_000)
    ratio = _timed(lambda: parse(provider, headers, large)) / _timed(
        lambda: parse(provider, headers, small)
    )
    assert ratio < 10, f"4x the commits took {ratio:.1f}x the time"  # quadratic would be ~16x


def test_headers_with_non_string_values_are_ignored() -> None:
    headers = Headers({"X-GitHub-Event": "push", "X-Bad": None, 3: "x"})  # type: ignore[dict-item]
    assert headers.get("x-github-event") == "push"
    assert headers.get("x-bad") is None
