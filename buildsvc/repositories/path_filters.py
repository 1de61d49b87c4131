"""Why a rule's path filters keep a push from building, in words a user can act on.

``repositories.paths`` decides (globs, matching, unknown paths build); this module only
names the reason for a delivery's outcome, by asking ``paths_allow`` the narrower
questions, so there is one matcher and one set of rules:

- ``no changed path matches rule 7's include_paths``;
- ``every changed path matches rule 7's ignore_paths``;
- ``every changed path matching rule 7's include_paths matches its ignore_paths``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from buildsvc.repositories.paths import paths_allow


def rule_name(rule_id: int | None) -> str:
    return f"rule {rule_id}" if rule_id is not None else "the rule"


def filtered_reason(
    rule_id: int | None,
    include: Sequence[str],
    ignore: Sequence[str],
    changed: Collection[str],
    complete: bool,
) -> str | None:
    """None when a rule with these filters builds for the push; else why it does not."""
    if paths_allow(include, ignore, changed, complete):
        return None
    name = rule_name(rule_id)
    if not include:
        return f"every changed path matches {name}'s ignore_paths"
    if not paths_allow(include, [], changed, complete):
        return f"no changed path matches {name}'s include_paths"
    return f"every changed path matching {name}'s include_paths matches its ignore_paths"
