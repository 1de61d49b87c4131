"""The structure comparison behind ``make conformance``, and the check itself."""

from __future__ import annotations

from tests.conformance.forgesim_examples import check, compare


def test_identical_structures_pass() -> None:
    value = {"a": 1, "b": {"c": "x"}, "d": [{"e": True}]}
    assert compare("x", value, {"a": 2, "b": {"c": "y"}, "d": [{"e": False}]}) == []


def test_missing_unexpected_and_type_changes_fail() -> None:
    failures = compare("x", {"a": 1, "b": "s"}, {"b": 2, "c": None})
    assert failures == [
        "x: missing $.a (number)",
        "x: $.b is {'number'}, example has {'str'}",
        "x: unexpected $.c (null)",
    ]


def test_null_in_example_allows_any_value() -> None:
    assert compare("x", {"a": None}, {"a": {"deep": [1]}}) == []
    assert compare("x", {"a": "s"}, {"a": None}) == ["x: $.a is {'null'}, example has {'str'}"]


def test_empty_lists_compare_as_lists() -> None:
    assert compare("x", {"l": []}, {"l": [{"k": 1}]}) == []
    assert compare("x", {"l": [{"k": 1}]}, {"l": []}) == []
    assert compare("x", {"l": [{"k": 1}]}, {"l": [{"j": 1}]}) != []


def test_allowed_extras() -> None:
    assert compare("x", {"a": 1}, {"a": 1, "new": {"n": 1}}, frozenset({"new"})) == []


def test_forgesim_matches_the_published_examples() -> None:
    assert check() == []
