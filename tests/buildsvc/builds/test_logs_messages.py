"""Channel messages of build logs: the end names the last line, old and odd shapes still read."""

from __future__ import annotations

import json

import pytest

from buildsvc.builds import logs


def test_an_end_carries_the_last_line_only_when_given() -> None:
    assert json.loads(logs.encode_end("succeeded", 42)) == {"end": "succeeded", "last": 42}
    assert json.loads(logs.encode_end("cancelled")) == {"end": "cancelled"}
    assert logs.decode(logs.encode_end("succeeded", 42)) == logs.LogEnd("succeeded", 42)
    assert logs.decode(logs.encode_end("failed")) == logs.LogEnd("failed", None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"end": "failed"}', logs.LogEnd("failed")),  # before ``last`` existed
        ('{"end": "failed", "last": "7"}', logs.LogEnd("failed")),
        ('{"end": "failed", "last": true}', logs.LogEnd("failed")),
        ('{"end": "failed", "last": 7.5}', logs.LogEnd("failed")),
        ('{"end": "failed", "last": null, "more": 1}', logs.LogEnd("failed")),
        ('["end"]', None),
        ('"the end"', None),
        ("42", None),
        ("not json", None),
    ],
)
def test_odd_and_old_messages_are_read_tolerantly(data: str, expected: object) -> None:
    assert logs.decode(data) == expected
