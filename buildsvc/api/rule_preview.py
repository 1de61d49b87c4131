"""``POST /api/v1/repositories/{id}/rules/preview``: what a ref would build, without building.

Answers, per ref the input stands for (a full ref, or a short name as branch and as
tag), the rules that match and the exact image references each would push, rendered
with the commit the ref names on the forge (see ``buildsvc.repositories.preview``).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from buildsvc.repositories import preview
from buildsvc.repositories.schemas import MAX_RULES, RuleIn
from buildsvc.web.forge_access import source_access
from buildsvc.web.jsonio import json_body, json_response, path_id
from buildsvc.web.keys import ACCOUNT_ID
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()


class RulePreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str = Field(
        min_length=1,
        max_length=1024,
        description="a branch or tag name (tried as both), refs/heads/<b> or refs/tags/<t>",
    )
    rules: list[RuleIn] | None = Field(
        default=None,
        max_length=MAX_RULES,
        description="unsaved rules to preview instead of the stored ones",
    )
    sha: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{40}$",
        description="the commit for {sha}; default: what the ref names on the forge now",
    )


class RuleHitOut(BaseModel):
    rule_id: int | None  # None for an unsaved rule
    index: int
    type: str
    pattern: str
    tags: list[str]  # full image references
    include_paths: list[str]  # shown, not applied: they depend on a push's changes
    ignore_paths: list[str]


class RefPreviewOut(BaseModel):
    ref: str
    type: Literal["branch", "tag"]
    name: str
    commit: str | None
    exact: bool  # False: the commit is unknown and the tags use a sample one
    error: str | None
    matches: list[RuleHitOut]

    @classmethod
    def from_preview(cls, found: preview.RefPreview) -> RefPreviewOut:
        hits = [
            RuleHitOut(
                rule_id=hit.rule.id,
                index=hit.rule.index,
                type=hit.rule.type,
                pattern=hit.rule.pattern,
                tags=list(hit.tags),
                include_paths=list(hit.rule.include_paths),
                ignore_paths=list(hit.rule.ignore_paths),
            )
            for hit in found.matches
        ]
        return cls(
            ref=found.ref,
            type=found.type,
            name=found.name,
            commit=found.commit,
            exact=found.exact,
            error=found.error,
            matches=hits,
        )


class RulePreviewOut(BaseModel):
    image: str
    refs: list[RefPreviewOut]
    warnings: list[str]  # rules whose pattern matches no sample name, and the like


@routes.post("/api/v1/repositories/{repository_id}/rules/preview")
@describe(
    "Which rules a ref triggers and the exact tags each would push, without building",
    body=RulePreviewIn,
    response=RulePreviewOut,
)
async def preview_rules(request: web.Request) -> web.Response:
    repository_id = path_id(request, "repository_id", "Image repository")
    body = await json_body(request, RulePreviewIn)
    found = await preview.preview(
        source_access(request),
        request[ACCOUNT_ID],
        repository_id,
        body.ref,
        rules=body.rules,
        sha=body.sha,
    )
    refs = [RefPreviewOut.from_preview(item) for item in found.refs]
    return json_response(
        RulePreviewOut(image=found.image, refs=refs, warnings=list(found.warnings))
    )
