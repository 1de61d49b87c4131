"""``json_too_deep``: exact on valid JSON whatever its strings hold, linear on hostile
input, and applied by ``parse`` to every provider's body before it is decoded."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.common.webhook_payloads import PAYLOADS, encode, load
from tests.conformance.webhooks_examples import example_files
from webhooks import MAX_JSON_DEPTH, InvalidPayload, json_too_deep, parse

# Strings full of what the scan must not mistake for structure.
TRICKY_TEXT = st.text(alphabet='[]{}"\\/:,ab\n\u00e9\U0001f600', max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner, max_size=3),
    max_leaves=40,
)
PUSH_HEADERS = {
    "github": {"X-GitHub-Event": "push"},
    "gitlab": {"X-Gitlab-Event": "Push Hook"},
    "bitbucket": {"X-Event-Key": "repo:push"},
    "bitbucket-server": {"X-Event-Key": "repo:refs_changed"},
}


def depth(value: Any) -> int:
    """Levels of arrays and objects in a decoded value (a scalar is 0), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            todo.extend(
                (child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def nested(levels: int, inner: bytes = b"1") -> bytes:
    """``levels`` objects, one inside the other, around ``inner``."""
    return b'{"a":' * levels + inner + b"}" * levels


@given(value=JSON_VALUES, ascii_only=st.booleans())
def test_the_scan_measures_what_the_parser_builds(value: Any, ascii_only: bool) -> None:
    document = json.dumps(value, ensure_ascii=ascii_only)
    levels = depth(value)
    for limit in {0, max(levels - 1, 0), levels, levels + 1}:
        assert json_too_deep(document, limit) is (levels > limit)
        assert json_too_deep(document.encode("utf-8"), limit) is (levels > limit)


@pytest.mark.parametrize(
    ("document", "levels"),
    [
        (b'["\\"[[[["]', 1),  # an escaped quote does not end the string
        (b'["\\\\", [[]]]', 3),  # an escaped backslash does not escape the quote after it
        (b'{"a\\\\\\"[{":[""]}', 2),
        (b'["", "", [""]]', 2),
        (b"[[[[", 4),  # unclosed levels count: the parser descends into them too
        ('["é", ["\U0001f600"]]'.encode("utf-16"), 2),  # json.loads reads UTF-16 too
    ],
)
def test_the_scan_on_edge_cases(document: bytes, levels: int) -> None:
    assert json_too_deep(document, levels - 1)
    assert not json_too_deep(document, levels)


def test_the_limit_is_inclusive_and_the_default() -> None:
    assert not json_too_deep(nested(MAX_JSON_DEPTH))
    assert json_too_deep(nested(MAX_JSON_DEPTH + 1))
    assert not json_too_deep(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert json_too_deep(b"[" * (MAX_JSON_DEPTH + 1))


def test_real_payloads_nest_far_below_the_limit() -> None:
    files = [*PAYLOADS.glob("*/*.json"), *example_files()]
    assert files
    for path in files:
        assert depth(json.loads(path.read_bytes())) <= 16, path
        assert not json_too_deep(path.read_bytes()), path


@pytest.mark.parametrize(
    "document",
    [
        b"[" * 1_000_000,
        nested(200_000),
        b'["' + b'\\"' * 500_000 + b'"]',  # one long string of escaped quotes
        b'"\\"' * 300_000,  # unterminated strings everywhere
        b'["[",' * 250_000 + b"1]",
        b"[" * 500_000 + b"]" * 500_000,  # nothing to peel but one pair a round
        b"]" * 100_000 + b"[" * 400_000 + b"]" * 400_000,
        b"[" + b"[]," * 300_000 + nested(MAX_JSON_DEPTH) + b"]",  # wide, then deep
    ],
    ids=[
        "arrays",
        "objects",
        "escapes",
        "unterminated",
        "bracket strings",
        "balanced",
        "unbalanced",
        "wide then deep",
    ],
)
def test_the_scan_is_linear_on_hostile_input(document: bytes) -> None:
    started = time.process_time()
    json_too_deep(document)
    assert time.process_time() - started < 0.5


@pytest.mark.parametrize("provider", PUSH_HEADERS)
@pytest.mark.parametrize("body", [b"[" * 100_000, nested(5_000), nested(MAX_JSON_DEPTH + 1)])
def test_parse_refuses_a_body_nested_too_deep(provider: str, body: bytes) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse(provider, PUSH_HEADERS[provider], body)
    assert (raised.value.reason, raised.value.provider) == ("too_deep", provider)
    assert str(MAX_JSON_DEPTH) in raised.value.message


def test_parse_refuses_a_github_form_payload_nested_too_deep() -> None:
    headers = {**PUSH_HEADERS["github"], "Content-Type": "application/x-www-form-urlencoded"}
    with pytest.raises(InvalidPayload) as raised:
        parse("github", headers, b"payload=" + b"%5B" * 100_000)
    assert raised.value.reason == "too_deep"


def test_nesting_up_to_the_limit_in_an_ignored_field_still_parses() -> None:
    data = load("github/push_branch.json")
    expected = parse("github", PUSH_HEADERS["github"], encode(data))
    data["repository"]["topics"] = json.loads(
        b"[" * (MAX_JSON_DEPTH - 2) + b"]" * (MAX_JSON_DEPTH - 2)
    )
    assert parse("github", PUSH_HEADERS["github"], encode(data)) == expected
    # Two levels more: pydantic-core's parser, the push path's, takes arrays one further.
    data["repository"]["topics"] = [[data["repository"]["topics"]]]
    with pytest.raises(InvalidPayload):
        parse("github", PUSH_HEADERS["github"], encode(data))
