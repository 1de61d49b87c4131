"""Replication rules and per-tag copies as the REST API and the console show them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from buildsvc.store.models import ReplicationRule
from buildsvc.web.jsonio import UtcDatetime


class ReplicationRuleOut(BaseModel):
    id: int
    repository_id: int
    scope: str
    namespace: str
    destination_url: str
    username: str | None
    password_set: bool
    ca_cert: str | None
    destination_namespace: str
    name_template: str
    tag_filter: str
    trigger: str
    enabled: bool
    created_at: UtcDatetime

    @classmethod
    def from_rule(cls, rule: ReplicationRule) -> ReplicationRuleOut:
        return cls(
            id=rule.id,
            repository_id=rule.repository_id,
            scope=rule.scope,
            namespace=rule.namespace,
            destination_url=rule.destination_url,
            username=rule.username,
            password_set=rule.password_encrypted is not None,
            ca_cert=rule.ca_cert,
            destination_namespace=rule.destination_namespace,
            name_template=rule.name_template,
            tag_filter=rule.tag_filter,
            trigger=rule.trigger,
            enabled=rule.enabled,
            created_at=rule.created_at,
        )


class ReplicationOut(BaseModel):
    """One tag at one destination: pending, copying, done or failed (with the
    registry's error code), and a line per attempt."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: int
    build_id: int | None
    tag: str
    digest: str
    destination: str
    status: str
    attempts: int
    error_code: str | None
    error_detail: str | None
    log: list[str]
    updated_at: UtcDatetime
