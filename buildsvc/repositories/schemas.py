"""What a client sends to create or change an image repository, and its validation.

The pydantic models check shapes; ``prepare_rules`` checks meaning (pattern, tag
template, paths, build args) and raises ``InvalidRule`` naming the rule and field
(``rules[1].dockerfile: ...``), so clients get a stable code, not a parser message.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from buildsvc.repositories.errors import InvalidRepositoryName, InvalidRule
from buildsvc.repositories.paths import MAX_GLOBS, GlobError, compile_glob
from buildsvc.repositories.rules import PATTERN_HELP, TAG_HELP, compile_rule

MAX_RULES = 50
MAX_BUILD_ARGS = 100
MAX_BUILD_ARG_VALUE = 4096
MAX_PATH_LENGTH = 1024
ALL_TAGS_PATTERN = "/.+/"

_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")  # a Docker repository path component
_BUILD_ARG = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["branch", "tag"]
    pattern: str = Field(max_length=256, description=PATTERN_HELP)
    tag: str | None = Field(
        default=None, max_length=512, description=f"{TAG_HELP} Default: {{branch}} or {{tag}}."
    )
    dockerfile: str = "Dockerfile"
    context: str = "."
    build_args: dict[str, str] = Field(default_factory=dict)
    secret_build_args: list[str] = Field(
        default_factory=list, description="names of build_args whose values are masked"
    )
    no_cache: bool = False
    include_paths: list[str] = Field(default_factory=list)
    ignore_paths: list[str] = Field(default_factory=list)


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["gitlab", "github", "bitbucket", "bitbucket-server"]
    repository: str = Field(min_length=1, max_length=1024, description="group/project")


class RepositoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    source: SourceIn | None = Field(
        default=None, description="left out: a plain repository, pushed to with docker"
    )
    visibility: Literal["private", "public"] = Field(
        default="private", description="public: anyone may pull, anonymously"
    )
    auto_build: bool = True
    rules: list[RuleIn] | None = Field(
        default=None,
        description="default: the default branch builds 'latest', tags build their name",
    )


class RepositoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_build: bool | None = None
    rules: list[RuleIn] | None = Field(default=None, description="replaces every rule")
    visibility: Literal["private", "public"] | None = None


def check_image_name(namespace: str, name: str) -> None:
    """Namespace and name must each be a Docker repository path component."""
    for field, value in (("namespace", namespace), ("name", name)):
        if not _NAME.fullmatch(value):
            raise InvalidRepositoryName(
                detail=f"{field}: lowercase letters, digits and single '.', '_' or '-' "
                "between them",
            )


def default_rules(default_branch: str | None) -> list[RuleIn]:
    return [
        RuleIn(type="branch", pattern=default_branch or "main", tag="latest"),
        RuleIn(type="tag", pattern=ALL_TAGS_PATTERN, tag="{tag}"),
    ]


def prepare_rules(rules: list[RuleIn]) -> list[dict[str, Any]]:
    """Validated BuildRule column values, in order."""
    if len(rules) > MAX_RULES:
        raise InvalidRule(detail=f"rules: at most {MAX_RULES}")
    prepared = []
    for position, rule in enumerate(rules):
        try:
            prepared.append(_prepare(rule, position))
        except InvalidRule as exc:
            raise InvalidRule(detail=f"rules[{position}].{exc.detail}") from exc
    return prepared


def _prepare(rule: RuleIn, position: int) -> dict[str, Any]:
    tag = rule.tag or ("{branch}" if rule.type == "branch" else "{tag}")
    compile_rule(rule.type, rule.pattern, tag)
    for field in ("include_paths", "ignore_paths"):
        globs: list[str] = getattr(rule, field)
        if len(globs) > MAX_GLOBS:
            raise InvalidRule(detail=f"{field}: at most {MAX_GLOBS} globs")
        for glob in globs:
            try:
                compile_glob(glob)
            except GlobError as exc:
                raise InvalidRule(detail=f"{field}: {exc}") from exc
    _check_build_args(rule)
    return {
        "position": position,
        "type": rule.type,
        "pattern": rule.pattern,
        "tag": tag,
        "dockerfile": relative_path("dockerfile", rule.dockerfile),
        "context": relative_path("context", rule.context),
        "build_args": dict(rule.build_args),
        "secret_build_args": sorted(set(rule.secret_build_args)),
        "no_cache": rule.no_cache,
        "include_paths": list(rule.include_paths),
        "ignore_paths": list(rule.ignore_paths),
    }


def relative_path(field: str, value: str) -> str:
    """A normalised path inside the repository: relative, no '..', no control characters."""
    if not value or len(value) > MAX_PATH_LENGTH or any(ord(c) < 32 for c in value):
        raise InvalidRule(detail=f"{field}: must be 1 to {MAX_PATH_LENGTH} printable characters")
    if value.startswith("/") or "\\" in value:
        raise InvalidRule(detail=f"{field}: must be relative to the repository root")
    normal = posixpath.normpath(value)
    if normal == ".." or normal.startswith("../") or "/../" in f"/{value}/":
        raise InvalidRule(detail=f"{field}: must not leave the repository ('..')")
    return normal


def _check_build_args(rule: RuleIn) -> None:
    if len(rule.build_args) > MAX_BUILD_ARGS:
        raise InvalidRule(detail=f"build_args: at most {MAX_BUILD_ARGS}")
    for key, value in rule.build_args.items():
        if not _BUILD_ARG.fullmatch(key):
            raise InvalidRule(detail=f"build_args: {key[:40]!r} is not a valid argument name")
        if len(value) > MAX_BUILD_ARG_VALUE:
            raise InvalidRule(detail=f"build_args.{key}: longer than {MAX_BUILD_ARG_VALUE}")
    unknown = sorted(set(rule.secret_build_args) - set(rule.build_args))
    if unknown:
        raise InvalidRule(detail=f"secret_build_args: {unknown[0]!r} is not in build_args")
