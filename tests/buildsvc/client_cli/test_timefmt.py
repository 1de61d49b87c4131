"""Relative times like gh's, ISO times to the second, and short durations."""

from __future__ import annotations

import datetime as dt

import pytest

from buildsvc.client_cli.timefmt import duration, plural, relative, shown

NOW = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "less than a minute ago"),
        (60, "1 minute ago"),
        (150, "2 minutes ago"),
        (3 * 3600 + 5, "3 hours ago"),
        (86400, "1 day ago"),
        (-5 * 86400, "in 5 days"),
        (40 * 86400, "Oct 28, 2026"),
    ],
)
def test_relative(seconds: int, text: str) -> None:
    assert relative(NOW - dt.timedelta(seconds=seconds), NOW) == text


def test_shown_is_relative_on_a_terminal_and_iso_to_the_second_elsewhere() -> None:
    api = "2026-12-07T14:57:59.123456Z"
    assert shown(api, terminal=True, now=NOW) == "2 minutes ago"
    assert shown(api, terminal=False) == "2026-12-07T14:57:59Z"
    assert shown(None, terminal=True) == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (3.14159, "3.1s"), (42.4, "42s"), (187, "3m07s"), (3720, "1h02m")],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_plural() -> None:
    assert (plural(1, "build"), plural(2, "build")) == ("1 build", "2 builds")
    assert plural(3, "repository", "repositories") == "3 repositories"
