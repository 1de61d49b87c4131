"""The source link of an image repository, for code that needs one.

A plain image repository (created without a source, or by a ``docker push`` to a new
name) has every source column None. Code that talks to the forge asks for the link
here, so a plain repository is refused in one place with ``NoSourceLinked``.
"""

from __future__ import annotations

from dataclasses import dataclass

from buildsvc.repositories.errors import NoSourceLinked
from buildsvc.store.models import ImageRepository


@dataclass(frozen=True, slots=True)
class SourceLink:
    provider: str
    repository: str  # the forge's full path, group/project
    repository_id: str
    clone_url: str
    hook_key: str
    hook_secret_encrypted: str


def source_link(repository: ImageRepository) -> SourceLink:
    """The repository's link; ``NoSourceLinked`` (409) for a plain repository."""
    link = linked(repository)
    if link is None:
        raise NoSourceLinked(detail=f"{repository.namespace}/{repository.name}")
    return link


def linked(repository: ImageRepository) -> SourceLink | None:
    r = repository
    if (
        r.provider is None
        or r.source_repository is None
        or r.source_repository_id is None
        or r.clone_url is None
        or r.hook_key is None
        or r.hook_secret_encrypted is None
    ):
        return None
    return SourceLink(
        r.provider,
        r.source_repository,
        r.source_repository_id,
        r.clone_url,
        r.hook_key,
        r.hook_secret_encrypted,
    )
