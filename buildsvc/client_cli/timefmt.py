"""Times and durations as people read them, and as scripts parse them.

On a terminal a time is relative like gh's ("3 minutes ago", "in 5 days"); piped it is
ISO 8601 to the second (``2026-12-07T15:04:05Z``), never the API's microseconds.
"""

from __future__ import annotations

import datetime as dt

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {many or noun + 's'}"


def relative(when: dt.datetime, now: dt.datetime) -> str:
    """``3 minutes ago``, ``in 5 days``; a date past 30 days either way."""
    seconds = int((now - when).total_seconds())
    size = abs(seconds)
    if size < 60:
        return "less than a minute ago" if seconds >= 0 else "in less than a minute"
    if size >= 30 * 86400:
        return when.strftime("%b %-d, %Y")
    unit, length = next((u, n) for u, n in _UNITS if size >= n)
    amount = plural(size // length, unit)
    return f"{amount} ago" if seconds > 0 else f"in {amount}"


def shown(value: str | None, *, terminal: bool, now: dt.datetime | None = None) -> str:
    """An API timestamp for a table cell ("" when there is none)."""
    if not value:
        return ""
    when = parse(value)
    if terminal:
        return relative(when, now or dt.datetime.now(dt.UTC))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float | None) -> str:
    """``42s``, ``3m07s``, ``1h02m``; "" while unknown."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
