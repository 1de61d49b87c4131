"""Rule preview: which rules a ref triggers, and the exact images each would push.

``POST /api/v1/repositories/{id}/rules/preview {"ref", "rules"?, "sha"?}``; nothing is
built or stored.

- ``ref``: a full ``refs/heads/…`` / ``refs/tags/…`` ref, or a short name, tried both as
  a branch (against branch rules) and as a tag (against tag rules);
- ``rules``: unsaved rules to preview instead of the stored ones, validated as a PATCH
  validates them (``INVALID_RULE`` naming the rule and field);
- ``sha``: the commit to render ``{sha}`` and ``{short_sha}`` with; by default the commit
  the ref names on the forge now, looked up (bounded) only for refs some rule matches.

The answer's ``warnings`` name rules whose pattern matches none of the sample names
(the ref asked about among them), or holds regex syntax without slashes.

Matching and rendering are ``repositories.rules``, the functions webhook intake and
manual builds use, so the preview says what a push would do. Rules stored before a
validation was tightened never match, as at intake. Path filters are shown, not applied:
they depend on what a push changes. When the commit is unknown (the ref does not exist
yet, the forge cannot be asked) the tags render with a sample commit, ``exact`` is false
and ``error`` says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from buildsvc.bindings.access import SourceAccess
from buildsvc.bindings.errors import SourceNotBound
from buildsvc.errors import NotFound, ServiceError
from buildsvc.repositories import queries
from buildsvc.repositories.errors import InvalidRef, InvalidRule
from buildsvc.repositories.links import source_link
from buildsvc.repositories.rule_warnings import rule_warnings
from buildsvc.repositories.rules import Rule, RuleType, compile_rule, match_rules, parse_ref
from buildsvc.repositories.schemas import RuleIn, prepare_rules
from buildsvc.sources import RefNotFound
from buildsvc.store.models import BuildRule, ImageRepository, utcnow

SAMPLE_SHA = "0123456789abcdef0123456789abcdef01234567"
RESOLVE_SECONDS = 5.0
_PREFIXES: dict[RuleType, str] = {"branch": "refs/heads/", "tag": "refs/tags/"}


@dataclass(frozen=True, slots=True)
class PreviewRule:
    id: int | None  # None: an unsaved rule
    index: int  # its position in the rules previewed
    type: str
    pattern: str
    tag: str
    include_paths: tuple[str, ...]
    ignore_paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: PreviewRule
    tags: tuple[str, ...]  # full image references, registry/namespace/name:tag


@dataclass(frozen=True, slots=True)
class RefPreview:
    ref: str
    type: RuleType
    name: str
    commit: str | None
    error: str | None
    matches: tuple[RuleHit, ...]

    @property
    def exact(self) -> bool:
        return self.commit is not None


@dataclass(frozen=True, slots=True)
class Preview:
    image: str
    refs: tuple[RefPreview, ...]
    warnings: tuple[str, ...]  # doubtful rules, see ``rule_warnings``


def _stored(rows: Sequence[BuildRule]) -> list[PreviewRule]:
    return [
        PreviewRule(
            row.id,
            index,
            row.type,
            row.pattern,
            row.tag,
            tuple(str(p) for p in row.include_paths),
            tuple(str(p) for p in row.ignore_paths),
        )
        for index, row in enumerate(rows)
    ]


def _unsaved(rules: list[RuleIn]) -> list[PreviewRule]:
    return [
        PreviewRule(
            None,
            index,
            values["type"],
            values["pattern"],
            values["tag"],
            tuple(values["include_paths"]),
            tuple(values["ignore_paths"]),
        )
        for index, values in enumerate(prepare_rules(rules))
    ]


def _compiled(rules: Sequence[PreviewRule]) -> list[Rule]:
    compiled = []
    for rule in rules:
        try:
            compiled.append(compile_rule(rule.type, rule.pattern, rule.tag, rule_id=rule.index))
        except InvalidRule:  # stored before a validation was tightened: never matches
            continue
    return compiled


def candidates(ref: str) -> list[tuple[RuleType, str]]:
    """(type, name) pairs a ref stands for: itself, or a short name as branch and as tag."""
    text = ref.strip()
    parsed = parse_ref(text)
    if parsed is not None:
        return [parsed]
    if not text or text.startswith("refs/"):
        raise InvalidRef(detail="ref: a branch or tag name, refs/heads/<branch> or refs/tags/<tag>")
    return [("branch", text), ("tag", text)]


async def _resolve(
    access: SourceAccess, repository: ImageRepository, full_ref: str
) -> tuple[str | None, str | None]:
    """(commit, None), or (None, why the commit is not known)."""
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            link = source_link(repository)
            client = await access.client_for(repository.account_id, link.provider)
            return await client.resolve_ref(link.repository, full_ref), None
    except TimeoutError:
        return None, f"the forge did not answer within {RESOLVE_SECONDS:g} s; sample commit used"
    except RefNotFound:
        return None, f"{full_ref} does not exist on the forge yet; sample commit used"
    except SourceNotBound as exc:  # a NotFound, but the preview goes on without the forge
        return None, _unknown_commit(exc)
    except NotFound:
        raise
    except ServiceError as exc:
        return None, _unknown_commit(exc)


def _unknown_commit(exc: ServiceError) -> str:
    return f"{exc.code}: {exc.detail or exc.message}; sample commit used"


async def preview(
    access: SourceAccess,
    account_id: int,
    repository_id: int,
    ref: str,
    *,
    rules: list[RuleIn] | None = None,
    sha: str | None = None,
    now: dt.datetime | None = None,
) -> Preview:
    wanted = candidates(ref)
    previewed = _unsaved(rules) if rules is not None else None
    repository = await queries.get_repository(access.sessionmaker, account_id, repository_id)
    if previewed is None:
        previewed = _stored(repository.rules)
    compiled = _compiled(previewed)
    image = f"{access.settings.registry}/{repository.namespace}/{repository.name}"
    moment = now or utcnow()
    refs = []
    for kind, name in wanted:
        full_ref = _PREFIXES[kind] + name
        commit, error = sha, None
        if commit is None and match_rules(compiled, kind, name, SAMPLE_SHA, moment):
            commit, error = await _resolve(access, repository, full_ref)
        found = match_rules(compiled, kind, name, commit or SAMPLE_SHA, moment)
        hits = tuple(
            RuleHit(previewed[m.rule.id or 0], tuple(f"{image}:{tag}" for tag in m.tags))
            for m in found
        )
        refs.append(RefPreview(full_ref, kind, name, commit, error, hits))
    warnings = rule_warnings([(r.type, r.pattern) for r in previewed], wanted)
    return Preview(image, tuple(refs), tuple(warnings))
