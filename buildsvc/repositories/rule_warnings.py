"""Warnings about rules that are valid but probably not what their author meant.

A rule is saved either way; the API answers (``warnings``), the rule preview and the
console show these so a typo is seen before a push goes unbuilt:

- a glob or regex that matches none of the sample names of its type: the built-in
  ``SAMPLE_NAMES`` plus the refs the preview was asked about (``v*`` on a branch rule,
  ``/v*/`` where ``v*`` was meant);
- an exact name or glob holding regex syntax (``(main|master)``, ``v[0-9]+``): it is
  matched literally, and ``/.../`` would make it a regular expression.

Exact names are never checked against the samples: they name one ref on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import regex

from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.rules import RULE_TYPES, RefPattern, RuleType, compile_pattern

SAMPLE_NAMES: dict[RuleType, tuple[str, ...]] = {
    "branch": (
        "main",
        "master",
        "develop",
        "dev",
        "feature/login",
        "release/1.0",
        "release-1.0",
        "hotfix/1.0.1",
    ),
    "tag": ("v1", "v1.0", "v1.2.3", "v2.0.0-rc.1", "1.0", "1.2.3", "release-1.0"),
}
_REGEX_SYNTAX = regex.compile(r"[+(){}|$]|\.[*+?]")
_SHOWN = 4


def rule_warnings(
    rules: Sequence[tuple[str, str]], samples: Iterable[tuple[RuleType, str]] = ()
) -> list[str]:
    """One line per doubtful (type, pattern), naming it by position (``rules[0]``).

    Invalid rules are skipped: their error says more than a warning could.
    """
    extra: dict[RuleType, list[str]] = {"branch": [], "tag": []}
    for sample_type, name in samples:
        extra[sample_type].append(name)
    warnings = []
    for position, (rule_type, text) in enumerate(rules):
        try:
            pattern = compile_pattern(text)
        except InvalidRule:
            continue
        if rule_type not in RULE_TYPES:
            continue
        kind: RuleType = "branch" if rule_type == "branch" else "tag"
        warnings.extend(_warnings(f"rules[{position}]", kind, pattern, extra[kind]))
    return warnings


def _warnings(label: str, kind: RuleType, pattern: RefPattern, extra: list[str]) -> list[str]:
    found = []
    if pattern.kind != "regex" and _REGEX_SYNTAX.search(pattern.source):
        reading = "a glob" if pattern.kind == "glob" else "an exact name"
        found.append(
            f"{label}: {pattern.source!r} is matched as {reading}, not as a regular "
            f"expression; write /{pattern.source}/ for one"
        )
    if pattern.is_exact:
        return found
    names = [*extra, *SAMPLE_NAMES[kind]]
    if not any(pattern.match(name) is not None for name in names):
        shown = ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")
        found.append(
            f"{label}: the {kind} pattern {pattern.source!r} matches none of the sample "
            f"{kind} names ({shown}); check the pattern and the rule's type"
        )
    return found
