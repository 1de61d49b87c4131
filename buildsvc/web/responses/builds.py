"""Builds as the REST API and the console show them."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from buildsvc.builds.states import BuildStatus
from buildsvc.store.models import Build
from buildsvc.web.jsonio import UtcDatetime


class BuildErrorOut(BaseModel):
    code: str
    message: str
    detail: str | None


class PhaseDurations(BaseModel):
    """Seconds spent in each phase; null until the phase has ended."""

    queued: float | None
    fetching: float | None
    building: float | None
    pushing: float | None
    total: float | None


class BuildReplicationOut(BaseModel):
    """Where the build's digest was (or is being) copied by replication rules."""

    destination: str
    status: str
    error_code: str | None
    updated_at: UtcDatetime


class BuildOut(BaseModel):
    id: int
    repository_id: int
    rule_id: int | None
    trigger: str
    ref: str
    ref_type: str
    ref_name: str
    commit_sha: str
    commit_message: str | None
    status: BuildStatus
    tags: list[str]
    digest: str | None
    image_size: int | None = Field(
        default=None, description="Bytes of the pushed image: config and layers, compressed."
    )
    cancelled_by: str | None = Field(
        default=None, description='Who cancelled it: "acme (token ci-deploy)".'
    )
    error: BuildErrorOut | None
    status_note: str | None
    queued_at: UtcDatetime
    fetching_at: UtcDatetime | None
    building_at: UtcDatetime | None
    pushing_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    durations: PhaseDurations
    replications: list[BuildReplicationOut] | None = None  # on GET of one build

    @classmethod
    def from_build(cls, build: Build) -> BuildOut:
        error = None
        if build.error_code is not None:
            error = BuildErrorOut(
                code=build.error_code,
                message=build.error_message or "",
                detail=build.error_detail,
            )
        return cls(
            id=build.id,
            repository_id=build.repository_id,
            rule_id=build.rule_id,
            trigger=build.trigger,
            ref=build.ref,
            ref_type=build.ref_type,
            ref_name=build.ref_name,
            commit_sha=build.commit_sha,
            commit_message=build.commit_message,
            status=BuildStatus(build.status),
            tags=[str(tag) for tag in build.tags],
            digest=build.digest,
            image_size=build.image_size,
            cancelled_by=build.cancelled_by,
            error=error,
            status_note=build.status_note,
            queued_at=build.queued_at,
            fetching_at=build.fetching_at,
            building_at=build.building_at,
            pushing_at=build.pushing_at,
            finished_at=build.finished_at,
            durations=_durations(build),
        )


def _durations(build: Build) -> PhaseDurations:
    def span(start: dt.datetime | None, *ends: dt.datetime | None) -> float | None:
        end = next((value for value in ends if value is not None), None)
        if start is None or end is None:
            return None
        return round((end - start).total_seconds(), 3)

    finished = build.finished_at
    return PhaseDurations(
        queued=span(build.queued_at, build.fetching_at, finished),
        fetching=span(build.fetching_at, build.building_at, finished),
        building=span(build.building_at, build.pushing_at, finished),
        pushing=span(build.pushing_at, finished),
        total=span(build.queued_at, finished),
    )
