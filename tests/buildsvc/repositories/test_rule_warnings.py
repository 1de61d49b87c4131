"""Warnings about valid rules that probably do not say what was meant (pure)."""

from __future__ import annotations

from buildsvc.repositories.rule_warnings import rule_warnings


def test_a_regex_matching_no_sample_tag_is_flagged() -> None:
    # "/v*/" is "zero or more v": none of v1, v1.0 ... matches it.
    [warning] = rule_warnings([("branch", "main"), ("tag", "/v*/")])
    assert warning.startswith("rules[1]: the tag pattern '/v*/' matches none of the sample")


def test_a_glob_under_the_wrong_type_is_flagged() -> None:
    [warning] = rule_warnings([("branch", "v*")])
    assert "the branch pattern 'v*' matches none" in warning


def test_usual_patterns_are_not_flagged() -> None:
    rules = [
        ("branch", "main"),
        ("branch", "production"),  # an exact name is never checked against samples
        ("branch", "feature/**"),
        ("tag", "v*"),
        ("tag", "/.+/"),
        ("tag", r"/v(\d+)\.(\d+)/"),
    ]
    assert rule_warnings(rules) == []


def test_the_previewed_refs_count_as_samples() -> None:
    assert rule_warnings([("branch", "ci-*")]) != []
    assert rule_warnings([("branch", "ci-*")], [("branch", "ci-nightly")]) == []


def test_regex_syntax_outside_slashes_is_flagged() -> None:
    [warning] = rule_warnings([("branch", "(main|master)")])
    assert "exact name, not as a regular expression; write /(main|master)/" in warning


def test_invalid_rules_are_left_to_their_error() -> None:
    assert rule_warnings([("branch", "/(open/"), ("tag", "/v*/")])[0].startswith("rules[1]")
