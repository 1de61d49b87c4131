"""API tokens as the REST API and the console show them (never the secret)."""

from __future__ import annotations

from pydantic import BaseModel

from buildsvc.store.models import ApiToken
from buildsvc.web.jsonio import UtcDatetime


class TokenOut(BaseModel):
    id: int
    name: str
    last4: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None  # to the minute
    expires_at: UtcDatetime | None

    @classmethod
    def from_row(cls, row: ApiToken) -> TokenOut:
        return cls(
            id=row.id,
            name=row.name,
            last4=row.last4,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
        )
