"""Rule preview for the console's create form: which sample refs match, with which tags.

Pure (uses ``buildsvc.repositories.rules`` only). A sample ref is a short name, tried as a
branch against branch rules and as a tag against tag rules, or a full
``refs/heads/...`` / ``refs/tags/...`` ref tried as exactly that. Tags render with a
sample commit sha and today's date, and are shown with the image's repository prefix.
``warnings`` names rules that match none of the sample refs (typed or built in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.rule_warnings import rule_warnings
from buildsvc.repositories.rules import Rule, RuleType, compile_rule, match_rules, parse_ref

SAMPLE_SHA = "0123456789abcdef0123456789abcdef01234567"
MAX_REFS = 20


class PreviewRuleIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=16)
    pattern: str = Field(max_length=256)
    tag: str = Field(default="", max_length=512)


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[PreviewRuleIn] = Field(max_length=50)
    refs: list[str] = Field(max_length=MAX_REFS)
    image: str = Field(default="", max_length=600)


@dataclass(slots=True)
class RuleState:
    index: int
    error: str | None = None


@dataclass(slots=True)
class RefPreview:
    ref: str
    kind: str  # branch | tag | both
    matches: list[dict[str, object]] = field(default_factory=list)


def default_tag(rule_type: str) -> str:
    return "{branch}" if rule_type == "branch" else "{tag}"


def compile_all(rules: Sequence[PreviewRuleIn]) -> tuple[list[Rule], list[RuleState]]:
    compiled: list[Rule] = []
    states: list[RuleState] = []
    for index, rule in enumerate(rules):
        state = RuleState(index)
        try:
            tag = rule.tag.strip() or default_tag(rule.type)
            compiled.append(compile_rule(rule.type, rule.pattern, tag, rule_id=index))
        except InvalidRule as exc:
            state.error = exc.detail or exc.message
        states.append(state)
    return compiled, states


def preview(spec: PreviewIn, now: dt.datetime | None = None) -> dict[str, object]:
    moment = now or dt.datetime.now(dt.UTC)
    compiled, states = compile_all(spec.rules)
    refs: list[RefPreview] = []
    samples: list[tuple[RuleType, str]] = []
    for raw in spec.refs:
        name = raw.strip()
        if not name:
            continue
        parsed = parse_ref(name)
        kinds: list[tuple[RuleType, str]] = (
            [parsed] if parsed else [("branch", name), ("tag", name)]
        )
        samples.extend(kinds)
        result = RefPreview(name, parsed[0] if parsed else "both")
        for kind, ref_name in kinds:
            for match in match_rules(compiled, kind, ref_name, SAMPLE_SHA, moment):
                prefix = f"{spec.image}:" if spec.image else ""
                result.matches.append(
                    {
                        "rule": match.rule.id,
                        "as": kind,
                        "tags": [prefix + tag for tag in match.tags],
                    }
                )
        refs.append(result)
    return {
        "rules": [{"index": s.index, "error": s.error} for s in states],
        "refs": [{"ref": r.ref, "kind": r.kind, "matches": r.matches} for r in refs],
        "warnings": rule_warnings([(r.type, r.pattern) for r in spec.rules], samples),
        "sample_sha": SAMPLE_SHA[:7],
    }
