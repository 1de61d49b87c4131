"""What one image build is asked to do, whichever builder runs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

__all__ = ["BUILDKIT_NETWORK_MODES", "BuildRequest", "Builder", "oci_labels", "uses_buildkit"]

Builder = Literal["buildkit", "legacy"]
# What BuildKit in the engine can run steps in; "bridge" is the engine's default network.
BUILDKIT_NETWORK_MODES = (None, "default", "bridge", "none", "host")


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """One ``docker build``: ``dockerfile`` is relative to ``context``."""

    context: Path
    tags: tuple[str, ...]
    dockerfile: str = "Dockerfile"
    buildargs: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    labels: Mapping[str, str] = field(default_factory=dict)
    nocache: bool = False
    network_mode: str | None = None
    memory_limit: int | str | None = None  # bytes or docker notation ("512m")
    builder: Builder = "buildkit"
    # Images whose inline BuildKit cache the build may reuse (``registry_cache``).
    cache_from: tuple[str, ...] = ()
    # Registry host -> {"username", "password"}: for base and cache images pulled first.
    registry_credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    # Whether the engine has its bridge network (``WorkerDeps.engine_has_bridge``, asked
    # once per worker); None: the builder asks the engine itself.
    engine_has_bridge: bool | None = None
    # BuildKit: serve the context through a session (the engine fetches only what
    # changed since the last build of this directory); False: send it as a tar.
    context_session: bool = True

    @property
    def uses_buildkit(self) -> bool:
        return uses_buildkit(self.builder, self.memory_limit, self.network_mode)


def uses_buildkit(
    builder: Builder, memory_limit: int | str | None, network_mode: str | None
) -> bool:
    """BuildKit unless the legacy builder is asked for, or a memory limit or a network
    BuildKit cannot use (a user-defined one) needs it."""
    return builder == "buildkit" and memory_limit is None and network_mode in BUILDKIT_NETWORK_MODES


def oci_labels(source: str, revision: str, created: datetime | None = None) -> dict[str, str]:
    """The OCI annotations every image records: where it came from and when."""
    moment = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": moment.isoformat().replace("+00:00", "Z"),
    }
