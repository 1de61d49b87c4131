"""What a client sends to create or change a replication rule, and its validation.

``tag_filter`` has the syntax of build rules' patterns (``buildsvc.repositories.rules``):
an exact tag, or a regular expression; the default matches every tag. ``name_template``
renders the destination repository's name from ``{namespace}`` and ``{name}`` (the
source repository's), under ``destination_namespace`` when one is given.
"""

from __future__ import annotations

import re
import ssl
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from buildsvc.replication.errors import InvalidReplicationRule
from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.rules import RefPattern, compile_pattern

__all__ = [
    "ALL_TAGS",
    "ReplicationRuleIn",
    "ReplicationRulePatch",
    "check_destination_url",
    "check_rule",
    "render_repository",
    "tag_matcher",
]

ALL_TAGS = "/.+/"
_PATH = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_PLACEHOLDERS = frozenset({"namespace", "name"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

Trigger = Literal["push", "manual"]
Scope = Literal["repository", "namespace"]


class ReplicationRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destination_url: str = Field(
        max_length=2048, description="the registry's root URL: https://host[:port]"
    )
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=4096, description="stored encrypted")
    ca_cert: str | None = Field(default=None, max_length=65536, description="PEM, for TLS")
    destination_namespace: str = Field(default="", max_length=255)
    name_template: str = Field(default="{name}", max_length=255)
    tag_filter: str = Field(default=ALL_TAGS, max_length=256)
    trigger: Trigger = "push"
    scope: Scope = Field(default="repository", description="this repository, or its namespace")
    enabled: bool = True


class ReplicationRulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destination_url: str | None = Field(default=None, max_length=2048)
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=4096)
    ca_cert: str | None = Field(default=None, max_length=65536)
    destination_namespace: str | None = Field(default=None, max_length=255)
    name_template: str | None = Field(default=None, max_length=255)
    tag_filter: str | None = Field(default=None, max_length=256)
    trigger: Trigger | None = None
    enabled: bool | None = None


def tag_matcher(tag_filter: str) -> RefPattern:
    """The build rules' matcher for ``tag_filter``."""
    try:
        return compile_pattern(tag_filter)
    except InvalidRule as exc:
        raise InvalidReplicationRule(detail=f"tag_filter: {exc.detail}") from exc


def check_destination_url(url: str) -> str:
    """``url`` as stored: scheme and authority only, without a trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidReplicationRule(detail="destination_url: must be http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InvalidReplicationRule(
            detail="destination_url: the registry's root URL, without path, query or user"
        )
    return f"{parts.scheme}://{parts.netloc}"


def render_repository(destination_namespace: str, template: str, namespace: str, name: str) -> str:
    rendered = template.replace("{namespace}", namespace).replace("{name}", name)
    return "/".join(part for part in (destination_namespace.strip("/"), rendered) if part)


def check_rule(
    destination_namespace: str, template: str, tag_filter: str, ca_cert: str | None
) -> None:
    tag_matcher(tag_filter)
    unknown = set(_PLACEHOLDER.findall(template)) - _PLACEHOLDERS
    if unknown:
        raise InvalidReplicationRule(
            detail=f"name_template: unknown placeholder {{{sorted(unknown)[0]}}}; "
            "use {namespace} and {name}"
        )
    sample = render_repository(destination_namespace, template, "ns", "app")
    if not _PATH.fullmatch(sample):
        raise InvalidReplicationRule(
            detail=f"destination_namespace / name_template: {sample!r} is not a repository name"
        )
    if ca_cert:
        try:
            ssl.create_default_context(cadata=ca_cert)
        except (ssl.SSLError, ValueError) as exc:
            raise InvalidReplicationRule(detail=f"ca_cert: not a PEM certificate: {exc}") from exc
