"""Commit status names: one per image repository and rule, so they never overwrite each other.

``buildsvc/team/app:latest (branch main)`` names the image, the tags a rule pushes and
the refs it builds: readable on the forge, and the same for every build of the rule, so
GitHub branch protection (or Bitbucket's required builds) can require it. Rules that
differ only in their Dockerfile or build context name those too; rules alike in all of
this get ``#2``, ``#3`` in the order they are listed. A build without a rule goes under
``buildsvc/team/app``. Names are at most ``MAX_LENGTH`` characters (``bounded``).

Intake and manual builds store the name on the build when it is queued
(``Build.status_context``), so a build's statuses keep their name when its rule is
edited or deleted; builds queued before names existed report under ``LEGACY``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from buildsvc.sources import bounded

LEGACY = "buildsvc"
MAX_LENGTH = 100
DEFAULT_DOCKERFILE, DEFAULT_CONTEXT = "Dockerfile", "."


class NamedRule(Protocol):
    """What names a rule: a ``BuildRule`` row or intake's ``StoredRule``."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def pattern(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def dockerfile(self) -> str: ...
    @property
    def context(self) -> str: ...


def image_context(namespace: str, name: str) -> str:
    """The name of a build without a rule."""
    return bounded(f"{LEGACY}/{namespace}/{name}", MAX_LENGTH)


def _describe(image: str, rule: NamedRule) -> str:
    extra = [rule.dockerfile] if rule.dockerfile != DEFAULT_DOCKERFILE else []
    if rule.context != DEFAULT_CONTEXT:
        extra.append(f"context {rule.context}")
    where = ", ".join([f"{rule.type} {rule.pattern}", *extra])
    return f"{image}:{rule.tag} ({where})"


def rule_contexts(namespace: str, name: str, rules: Iterable[NamedRule]) -> dict[int, str]:
    """Each rule's status name (by rule id), given all the repository's rules in order."""
    image = f"{LEGACY}/{namespace}/{name}"
    named: dict[int, str] = {}
    seen: dict[str, int] = {}
    for rule in rules:
        text = _describe(image, rule)
        seen[text] = seen.get(text, 0) + 1
        if seen[text] > 1:
            text = f"{text} #{seen[text]}"
        named[rule.id] = bounded(text, MAX_LENGTH)
    return named
