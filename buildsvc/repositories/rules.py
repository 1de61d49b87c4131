"""Build rules: which refs a rule matches and which image tags it pushes.

Pure (no I/O): the repository service validates rules with it, webhook intake matches
pushes with it, and the rule preview answers "what would this ref build".

Patterns (``PATTERN_HELP``, the text the console and the README show)
    A pattern is one of three things, told apart by its form:

    - an exact name (``main``, ``release-1.0``, ``feature+x``): matches only itself;
    - a glob, when it holds ``*``, ``?`` or ``[``, none of which a git ref name may hold:
      ``*`` matches within one ``/``-separated part, ``**`` across parts, ``?`` one
      character, ``[0-9]`` a class. ``v*`` matches ``v1.0``, ``release/*`` matches
      ``release/1.0`` but not ``release/1.0/hotfix``, ``release/**`` matches both. The
      glob engine is the path filters' (``repositories.paths``);
    - a regular expression between slashes (``/v(\\d+)\\.(\\d+)/``): it must match the
      whole name; its groups, numbered (``{1}``, or ``{\\1}`` as Docker Hub writes it)
      or named (``(?P<version>...)``, ``{version}``), can be used in the tag.

    ``\\`` and ``^`` cannot occur in a ref name, so an unslashed pattern holding them is
    refused with the slashed form to use instead. Names are matched without
    ``refs/heads/`` or ``refs/tags/``. Rules stored when an unslashed pattern with
    regex characters was a regex were wrapped in slashes by migration 0004.

    Regexes run on the ``regex`` engine with a time limit: a pattern that backtracks
    catastrophically on probe inputs is refused when the rule is saved, and a match that
    still overruns at push time counts as no match.

Tag templates
    Comma-separated tags, each literal text (``latest``) with placeholders ``{branch}``
    (branch rules), ``{tag}`` (tag rules), ``{sha}``, ``{short_sha}`` (7 hex), ``{date}``
    (UTC, YYYYMMDD) and a regex pattern's groups (``{1}``/``{\\1}``, ``{name}``). Rendered
    values are made Docker-safe: characters outside ``[A-Za-z0-9_.-]`` become ``-``
    (``feature/x`` renders ``feature-x``), leading ``.`` and ``-`` are dropped, and a tag
    is cut at 128 characters. A tag that renders empty (an unmatched optional group) is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import regex

from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.paths import translate

RuleType = Literal["branch", "tag"]
RULE_TYPES: tuple[RuleType, ...] = ("branch", "tag")
PatternKind = Literal["exact", "glob", "regex"]

PATTERN_HELP = (
    "A pattern is an exact name (main), a glob (v*, release/**: * stays within one "
    "/-separated part, ** spans several, ? is one character), or a regular expression "
    "between slashes (/v(\\d+)\\.(\\d+)/) whose groups tags use as {1} or {name}."
)
TAG_HELP = (
    "Tags: comma-separated templates with {branch}, {tag}, {sha}, {short_sha}, {date} "
    "and a regular expression's groups ({1}, {name})."
)

PATTERN_MAX_LENGTH = 256
NAME_MAX_LENGTH = 1024  # longer ref names never match: bounds the regex work per push
TAG_MAX_LENGTH = 128  # Docker's limit
TEMPLATE_MAX_LENGTH = 512
MAX_TAGS_PER_RULE = 10
MATCH_TIMEOUT_SECONDS = 0.05
PROBE_TIMEOUT_SECONDS = 0.02

_GLOB_MARKERS = frozenset("*?[")
_REGEX_ONLY = frozenset("\\^")  # git refuses both in ref names: only a regex needs them
_BUILTINS: dict[RuleType, frozenset[str]] = {
    "branch": frozenset({"branch", "sha", "short_sha", "date"}),
    "tag": frozenset({"tag", "sha", "short_sha", "date"}),
}
_RESERVED = _BUILTINS["branch"] | _BUILTINS["tag"]
_PLACEHOLDER = regex.compile(r"\{([^{}]*)\}")
_BACKREFERENCE = regex.compile(r"\\([0-9]+)")  # {\1}: Docker Hub's spelling of {1}
_TAG_LITERAL = regex.compile(r"[A-Za-z0-9_.-]*")
_TAG_VALID = regex.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_UNSAFE = regex.compile(r"[^A-Za-z0-9_.-]")
_NAME_FORBIDDEN = regex.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True)
class RefPattern:
    source: str  # as the user wrote it
    kind: PatternKind
    compiled: regex.Pattern[str] | None  # None: an exact name

    @property
    def is_exact(self) -> bool:
        return self.compiled is None

    @property
    def group_names(self) -> frozenset[str]:
        """Placeholders the pattern adds: a regex's group names and numbers."""
        if self.kind != "regex" or self.compiled is None:
            return frozenset()
        numbers = (str(n) for n in range(1, self.compiled.groups + 1))
        return frozenset(self.compiled.groupindex) | frozenset(numbers)

    def match(self, name: str) -> dict[str, str] | None:
        """The groups of a full match by name and number ({} for a name), or None."""
        if len(name) > NAME_MAX_LENGTH:
            return None
        if self.compiled is None:
            return {} if name == self.source else None
        try:
            found = self.compiled.fullmatch(name, timeout=MATCH_TIMEOUT_SECONDS)
        except TimeoutError:
            return None
        if found is None:
            return None
        if self.kind == "glob":
            return {}  # a glob's wildcards are not groups
        groups = {str(n): value for n, value in enumerate(found.groups(default=""), 1)}
        groups.update(found.groupdict(default=""))
        return groups


def compile_pattern(text: str) -> RefPattern:
    if not text.strip():
        raise InvalidRule(detail="pattern: must not be empty")
    if len(text) > PATTERN_MAX_LENGTH:
        raise InvalidRule(detail=f"pattern: longer than {PATTERN_MAX_LENGTH} characters")
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        return _compile_regex(text, text[1:-1])
    if _REGEX_ONLY.intersection(text):
        raise InvalidRule(
            detail=f"pattern {text!r}: a branch or tag name cannot hold '\\' or '^'; "
            f"write a regular expression between slashes: /{text}/"
        )
    if _NAME_FORBIDDEN.search(text) or text.startswith("/") or text.endswith("/"):
        raise InvalidRule(detail=f"pattern {text!r}: not a valid branch or tag name")
    if _GLOB_MARKERS.intersection(text):
        compiled = regex.compile(translate(text), regex.DOTALL)
        _probe(compiled, text)
        return RefPattern(text, "glob", compiled)
    return RefPattern(text, "exact", None)


def _compile_regex(text: str, body: str) -> RefPattern:
    try:
        compiled = regex.compile(body)
    except regex.error as exc:
        raise InvalidRule(
            detail=f"pattern {text!r}: not a valid regular expression: {exc}"
        ) from exc
    reserved = sorted(_RESERVED.intersection(compiled.groupindex))
    if reserved:
        raise InvalidRule(
            detail=f"pattern {text!r}: group name {reserved[0]!r} is a built-in placeholder; "
            "rename the group"
        )
    _probe(compiled, text)
    return RefPattern(text, "regex", compiled)


def _probe(compiled: regex.Pattern[str], text: str) -> None:
    """Refuse patterns that backtrack catastrophically on long near-miss names."""
    letters = sorted({c for c in text if c.isalnum()})[:8]
    probes = [c * 200 + "!" for c in [*letters, "a", "0", "-", ".", "/"]]
    if letters:
        probes.append("".join(letters) * (200 // len(letters)) + "!")
    for probe in probes:
        try:
            compiled.fullmatch(probe, timeout=PROBE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise InvalidRule(
                detail=f"pattern {text!r}: too slow to evaluate (catastrophic backtracking); "
                "avoid nested or overlapping repetitions such as (a+)+ or (a|aa)*"
            ) from None


@dataclass(frozen=True, slots=True)
class TagTemplate:
    source: str
    # One entry per comma-separated tag: its parts as (text, is_placeholder).
    tags: tuple[tuple[tuple[str, bool], ...], ...]

    def render(self, values: Mapping[str, str]) -> list[str]:
        rendered: list[str] = []
        for parts in self.tags:
            raw = "".join(_UNSAFE.sub("-", values.get(t, "")) if ph else t for t, ph in parts)
            tag = raw.lstrip(".-")[:TAG_MAX_LENGTH]
            if tag and tag not in rendered:
                rendered.append(tag)
        return rendered


def compile_template(text: str, rule_type: RuleType, groups: frozenset[str]) -> TagTemplate:
    if len(text) > TEMPLATE_MAX_LENGTH:
        raise InvalidRule(detail=f"tag: longer than {TEMPLATE_MAX_LENGTH} characters")
    pieces = [piece.strip() for piece in text.split(",")]
    if len(pieces) > MAX_TAGS_PER_RULE:
        raise InvalidRule(detail=f"tag: at most {MAX_TAGS_PER_RULE} comma-separated tags")
    allowed = _BUILTINS[rule_type] | groups
    return TagTemplate(text, tuple(_compile_tag(piece, allowed) for piece in pieces))


def _compile_tag(piece: str, allowed: frozenset[str]) -> tuple[tuple[str, bool], ...]:
    if not piece:
        raise InvalidRule(detail="tag: must not be empty")
    parts: list[tuple[str, bool]] = []
    pos = 0
    for found in _PLACEHOLDER.finditer(piece):
        parts.append((piece[pos : found.start()], False))
        name = found.group(1)
        backreference = _BACKREFERENCE.fullmatch(name)
        name = backreference.group(1) if backreference else name
        if name not in allowed:
            raise InvalidRule(
                detail=f"tag {piece!r}: unknown placeholder {{{name}}}; "
                f"available: {', '.join('{' + n + '}' for n in sorted(allowed))}"
            )
        parts.append((name, True))
        pos = found.end()
    parts.append((piece[pos:], False))
    literal = "".join(t for t, ph in parts if not ph)
    if not _TAG_LITERAL.fullmatch(literal):
        raise InvalidRule(
            detail=f"tag {piece!r}: only letters, digits, '_', '.', '-' and {{placeholders}}"
        )
    if len(literal) > TAG_MAX_LENGTH:
        raise InvalidRule(detail=f"tag {piece!r}: longer than {TAG_MAX_LENGTH} characters")
    if len(parts) == 1 and not _TAG_VALID.fullmatch(literal):
        raise InvalidRule(detail=f"tag {piece!r}: must start with a letter, digit or '_'")
    return tuple(p for p in parts if p[0] or p[1])


@dataclass(frozen=True, slots=True)
class Rule:
    type: RuleType
    pattern: RefPattern
    tag: TagTemplate
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: Rule
    tags: tuple[str, ...]  # rendered tags, without registry and repository


def compile_rule(rule_type: str, pattern: str, tag: str, *, rule_id: int | None = None) -> Rule:
    if rule_type not in RULE_TYPES:
        raise InvalidRule(detail=f"type {rule_type!r}: must be 'branch' or 'tag'")
    compiled = compile_pattern(pattern)
    template = compile_template(tag, rule_type, compiled.group_names)
    return Rule(rule_type, compiled, template, rule_id)


def match_rules(
    rules: Sequence[Rule], ref_type: str, ref_name: str, sha: str, now: dt.datetime
) -> list[RuleMatch]:
    """Every rule of ``ref_type`` whose pattern matches ``ref_name``, with its tags."""
    date = now.astimezone(dt.UTC).strftime("%Y%m%d")
    matches: list[RuleMatch] = []
    for rule in rules:
        if rule.type != ref_type:
            continue
        groups = rule.pattern.match(ref_name)
        if groups is None:
            continue
        values = {**groups, rule.type: ref_name, "sha": sha, "short_sha": sha[:7], "date": date}
        tags = rule.tag.render(values)
        if tags:
            matches.append(RuleMatch(rule, tuple(tags)))
    return matches


def parse_ref(ref: str) -> tuple[RuleType, str] | None:
    """("branch", "main") for refs/heads/main, ("tag", "v1") for refs/tags/v1, else None."""
    prefixes: tuple[tuple[str, RuleType], ...] = (("refs/heads/", "branch"), ("refs/tags/", "tag"))
    for prefix, kind in prefixes:
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return kind, ref[len(prefix) :]
    return None
