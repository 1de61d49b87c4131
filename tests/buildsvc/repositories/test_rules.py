"""Build rule patterns, tag templates and matching (pure)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.rules import (
    PATTERN_HELP,
    TAG_HELP,
    compile_pattern,
    compile_rule,
    match_rules,
    parse_ref,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
NOW = dt.datetime(2024, 5, 17, 23, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("main", "exact"),
        ("release-1.0", "exact"),  # a dot alone is not a regex
        ("feature/login", "exact"),
        ("feature+x", "exact"),  # legal in a git ref name: matched literally
        ("main|develop", "exact"),  # likewise (the rule warnings point at /main|develop/)
        ("v*", "glob"),
        ("release/**", "glob"),
        ("v[0-9]*", "glob"),
        ("/release-.*/", "regex"),
        ("/main/", "regex"),
    ],
)
def test_pattern_kind(pattern: str, kind: str) -> None:
    assert compile_pattern(pattern).kind == kind


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        # Issue 14: "v*" was a regex ("zero or more v") and v1.0 built nothing.
        ("v*", ["v1.0", "v", "v2.0.0-rc.1"], ["1.0", "release/v1"]),
        ("release/*", ["release/1.0"], ["release/1.0/hotfix", "release", "release-1"]),
        ("release/**", ["release/1.0", "release/1.0/hotfix"], ["release", "releases/1"]),
        ("v?.?", ["v1.0"], ["v10.0", "v1/0"]),
        ("v[0-9]*", ["v1.0", "v2"], ["vx", "v"]),
        ("feature+x", ["feature+x"], ["featurex", "featureex"]),
    ],
)
def test_globs_and_names_match_like_path_filters(
    pattern: str, matches: list[str], misses: list[str]
) -> None:
    compiled = compile_pattern(pattern)
    assert [name for name in matches if compiled.match(name) is None] == []
    assert [name for name in misses if compiled.match(name) is not None] == []


def test_exact_pattern_matches_only_itself() -> None:
    pattern = compile_pattern("release-1.0")
    assert pattern.match("release-1.0") == {}
    assert pattern.match("release-1x0") is None
    assert pattern.match("release-1.0.1") is None


def test_regex_is_a_full_match() -> None:
    pattern = compile_pattern("/dev/")
    assert pattern.match("dev") == {}
    assert pattern.match("devel") is None
    assert pattern.match("my-dev") is None


def test_slashes_allow_literal_metacharacters() -> None:
    pattern = compile_pattern(r"/feature\+x/")
    assert pattern.match("feature+x") == {}
    assert pattern.match("featurex") is None


def test_named_groups() -> None:
    pattern = compile_pattern(r"/v(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?/")
    # Named groups are numbered too: {1} and {major} are the same value.
    assert pattern.group_names == {"major", "minor", "patch", "1", "2", "3"}
    found = pattern.match("v1.2")
    assert found == {"major": "1", "minor": "2", "patch": "", "1": "1", "2": "2", "3": ""}
    assert (pattern.match("v1.2.3") or {}).get("patch") == "3"


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("", "must not be empty"),
        ("/(unclosed/", "not a valid regular expression"),
        ("a" * 257, "longer than 256"),
        ("has space", "not a valid branch or tag name"),
        (r"v\d+", r"write a regular expression between slashes: /v\d+/"),
        ("^main$", "write a regular expression between slashes: /^main$/"),
        ("/v(?P<tag>.+)/", "built-in placeholder"),
        ("/(a+)+$/", None),
        ("/(a|aa)+b/", "catastrophic backtracking"),
        (r"/^(([a-z])+.)+[A-Z]([a-z])+$/", "catastrophic backtracking"),
    ],
)
def test_invalid_patterns(pattern: str, fragment: str | None) -> None:
    if fragment is None:  # the regex engine copes with this classic one: accepted
        compile_pattern(pattern)
        return
    with pytest.raises(InvalidRule) as info:
        compile_pattern(pattern)
    assert info.value.code == "INVALID_RULE"
    assert fragment in (info.value.detail or "")


def test_match_is_time_bounded_and_long_names_never_match() -> None:
    pattern = compile_pattern("/a.*/")
    assert pattern.match("a" * 1025) is None
    started = time.perf_counter()
    compile_pattern("/[a-z0-9._/-]+/").match("x" * 1024)
    assert time.perf_counter() - started < 0.5


def test_tag_placeholders_render_docker_safe() -> None:
    rule = compile_rule("branch", "/.+/", "{branch},{branch}-{short_sha},{date},latest")
    [found] = match_rules([rule], "branch", "feature/Login!x", SHA, NOW)
    assert found.tags == ("feature-Login-x", "feature-Login-x-0123456", "20240517", "latest")


def test_named_groups_in_tags_and_empty_tags_dropped() -> None:
    rule = compile_rule(
        "tag", r"/v(?P<major>\d+)\.(?P<minor>\d+)(?:-(?P<pre>\w+))?/", "{major}.{minor},{pre}"
    )
    assert match_rules([rule], "tag", "v1.2", SHA, NOW)[0].tags == ("1.2",)
    assert match_rules([rule], "tag", "v1.2-rc1", SHA, NOW)[0].tags == ("1.2", "rc1")


@pytest.mark.parametrize("template", ["{1}.{2}", "{\\1}.{\\2}"])
def test_numbered_groups_in_tags_as_docker_hub_writes_them(template: str) -> None:
    rule = compile_rule("tag", r"/v(\d+)\.(\d+)/", template)
    assert match_rules([rule], "tag", "v1.2", SHA, NOW)[0].tags == ("1.2",)


def test_globs_have_no_groups_for_tags() -> None:
    with pytest.raises(InvalidRule) as info:
        compile_rule("tag", "v*", "{1}")
    assert "unknown placeholder {1}" in (info.value.detail or "")


def test_leading_separators_are_dropped_and_tags_cut_at_128() -> None:
    rule = compile_rule("branch", "/.+/", "{branch}")
    assert match_rules([rule], "branch", ".hidden", SHA, NOW)[0].tags == ("hidden",)
    assert len(match_rules([rule], "branch", "b" * 300, SHA, NOW)[0].tags[0]) == 128


@pytest.mark.parametrize(
    ("rule_type", "tag", "fragment"),
    [
        ("tag", "{branch}", "unknown placeholder {branch}"),
        ("branch", "{tag}", "unknown placeholder {tag}"),
        ("branch", "{nope}", "unknown placeholder {nope}"),
        ("branch", "a/b", "only letters"),
        ("branch", "latest,", "must not be empty"),
        ("branch", "-latest", "must start with"),
        ("branch", "x" * 129, "longer than 128"),
        ("branch", "{branch", "only letters"),
        ("branch", ",".join(["t"] * 11), "at most 10"),
    ],
)
def test_invalid_templates(rule_type: str, tag: str, fragment: str) -> None:
    with pytest.raises(InvalidRule) as info:
        compile_rule(rule_type, "main" if rule_type == "branch" else "/.+/", tag)
    assert fragment in (info.value.detail or "")


def test_invalid_type() -> None:
    with pytest.raises(InvalidRule):
        compile_rule("commit", "main", "latest")


def test_match_rules_filters_by_type_and_keeps_order() -> None:
    rules = [
        compile_rule("branch", "main", "latest", rule_id=1),
        compile_rule("tag", "/.+/", "{tag}", rule_id=2),
        compile_rule("branch", "/ma.*/", "{branch}-{sha}", rule_id=3),
    ]
    matched = match_rules(rules, "branch", "main", SHA, NOW)
    assert [(m.rule.id, m.tags) for m in matched] == [(1, ("latest",)), (3, (f"main-{SHA}",))]
    assert [m.rule.id for m in match_rules(rules, "tag", "main", SHA, NOW)] == [2]
    assert match_rules(rules, "branch", "dev", SHA, NOW) == []


def test_parse_ref() -> None:
    assert parse_ref("refs/heads/feature/x") == ("branch", "feature/x")
    assert parse_ref("refs/tags/v1") == ("tag", "v1")
    assert parse_ref("refs/heads/") is None
    assert parse_ref("main") is None


def test_the_readme_says_what_the_console_and_the_api_say() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    assert PATTERN_HELP in readme
    assert TAG_HELP in readme
