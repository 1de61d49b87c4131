"""The console's rule preview (pure): matches per sample ref, and warnings."""

from __future__ import annotations

import datetime as dt

from buildsvc.console.preview import PreviewIn, PreviewRuleIn, preview

NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def test_a_pattern_matching_none_of_the_sample_refs_is_flagged() -> None:
    spec = PreviewIn(
        rules=[PreviewRuleIn(type="tag", pattern="v*"), PreviewRuleIn(type="tag", pattern="/v*/")],
        refs=["main", "v1.0"],
    )
    answer = preview(spec, NOW)
    assert answer["refs"] == [
        {"ref": "main", "kind": "both", "matches": []},
        {"ref": "v1.0", "kind": "both", "matches": [{"rule": 0, "as": "tag", "tags": ["v1.0"]}]},
    ]
    [warning] = answer["warnings"]  # type: ignore[misc]
    assert warning.startswith("rules[1]: the tag pattern '/v*/' matches none")
