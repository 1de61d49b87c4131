"""Notification targets and their deliveries as the REST API and the console show them."""

from __future__ import annotations

from pydantic import BaseModel

from buildsvc.store.models import NotificationDelivery, NotificationTarget
from buildsvc.web.jsonio import UtcDatetime


class NotificationOut(BaseModel):
    id: int
    repository_id: int
    kind: str
    description: str
    url: str  # without credentials, query or a path's tail
    events: list[str]
    enabled: bool
    failing_since: UtcDatetime | None
    disabled_at: UtcDatetime | None
    disabled_reason: str | None
    created_at: UtcDatetime

    @classmethod
    def of(cls, target: NotificationTarget) -> NotificationOut:
        return cls(
            id=target.id,
            repository_id=target.repository_id,
            kind=target.kind,
            description=target.description,
            url=target.url_display,
            events=[str(event) for event in target.events],
            enabled=target.enabled,
            failing_since=target.failing_since,
            disabled_at=target.disabled_at,
            disabled_reason=target.disabled_reason,
            created_at=target.created_at,
        )


class NotificationDeliveryOut(BaseModel):
    id: int
    event: str
    build_id: int | None
    state: str  # pending | delivered | failed | abandoned
    attempts: int
    created_at: UtcDatetime
    next_attempt_at: UtcDatetime | None  # while pending
    last_attempt_at: UtcDatetime | None
    response_status: int | None
    response_ms: int | None
    error: str | None

    @classmethod
    def of(cls, delivery: NotificationDelivery) -> NotificationDeliveryOut:
        pending = delivery.state == "pending"
        return cls(
            id=delivery.id,
            event=delivery.event,
            build_id=delivery.build_id,
            state=delivery.state,
            attempts=delivery.attempts,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at if pending else None,
            last_attempt_at=delivery.last_attempt_at,
            response_status=delivery.response_status,
            response_ms=delivery.response_ms,
            error=delivery.error,
        )
