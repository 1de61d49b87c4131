"""Robot accounts as the REST API and the console show them."""

from __future__ import annotations

from pydantic import BaseModel

from buildsvc.registry import robots
from buildsvc.registry.permissions import Permission, load_permissions
from buildsvc.store.models import Robot
from buildsvc.web.jsonio import UtcDatetime


class RobotOut(BaseModel):
    name: str
    username: str
    permissions: list[Permission]
    disabled: bool
    expires_at: UtcDatetime | None
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None

    @classmethod
    def of(cls, account_name: str, robot: Robot) -> RobotOut:
        return cls(
            name=robot.name,
            username=robots.username(account_name, robot.name),
            permissions=load_permissions(robot.permissions),
            disabled=robot.disabled,
            expires_at=robot.expires_at,
            created_at=robot.created_at,
            last_used_at=robot.last_used_at,
        )
