"""Errors of the build worker: why a build failed, as a stable code.

Each is recorded on the failed build (code, message, detail). ``transient`` says whether
trying again later may help; user errors (a bad Dockerfile, a rejected password) never are.
``detail`` names the cause and never contains a secret.

ServiceError
└── BuildError
    ├── SourceFetchFailed           SOURCE_FETCH_FAILED (network, server error, bad URL)
    │   ├── SourceAuthFailed        SOURCE_AUTH_FAILED (the forge rejected the token)
    │   ├── CommitNotFound          SOURCE_COMMIT_NOT_FOUND (sha not in the repository)
    │   ├── SourceUrlNotAllowed     SOURCE_URL_NOT_ALLOWED (the clone URL's host resolves
    │   │                           into a network the address policy refuses)
    │   └── SourceFetchTimeout      SOURCE_FETCH_TIMEOUT
    ├── BuildContextNotFound        BUILD_CONTEXT_NOT_FOUND
    ├── DockerfileNotFound          DOCKERFILE_NOT_FOUND
    ├── BuildFailed                 BUILD_FAILED (a step failed; names it)
    ├── BuildCancelled              BUILD_CANCELLED
    ├── DockerUnavailable           DOCKER_UNAVAILABLE (the engine did not answer)
    └── RegistryError               PUSH_FAILED (anything not below)
        ├── RegistryUnauthorized    REGISTRY_UNAUTHORIZED
        ├── RegistryDenied          REGISTRY_DENIED
        └── RegistryUnavailable     REGISTRY_UNAVAILABLE (transient, after retries)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from buildsvc.errors import ServiceError


class BuildError(ServiceError):
    """Root of the reasons a build ends in ``failed``."""

    code = "BUILD_ERROR"
    status = 422
    default_message = "The build failed."
    transient: ClassVar[bool] = False


class SourceFetchFailed(BuildError):
    code = "SOURCE_FETCH_FAILED"
    status = 502
    default_message = "Failed to fetch the source code at the requested commit."
    transient = True


class SourceAuthFailed(SourceFetchFailed):
    code = "SOURCE_AUTH_FAILED"
    default_message = (
        "The source code repository site rejected the credentials of the bound account."
    )
    transient = False


class CommitNotFound(SourceFetchFailed):
    code = "SOURCE_COMMIT_NOT_FOUND"
    default_message = "The commit to build was not found in the source repository."
    transient = False


class SourceUrlNotAllowed(SourceFetchFailed):
    """The same refusal binding makes (``buildsvc.sources``), made again at every fetch."""

    code = "SOURCE_URL_NOT_ALLOWED"
    status = 400
    default_message = "The source URL points to a network this service may not contact."
    transient = False


class SourceFetchTimeout(SourceFetchFailed):
    code = "SOURCE_FETCH_TIMEOUT"
    default_message = "Fetching the source code took too long."


class BuildContextNotFound(BuildError):
    code = "BUILD_CONTEXT_NOT_FOUND"
    default_message = "The build context directory was not found in the repository."

    def __init__(self, path: str | None = None, *, detail: str | None = None) -> None:
        self.path = path
        super().__init__(
            detail=detail or (f"build context {path!r} not found" if path is not None else None)
        )


class DockerfileNotFound(BuildError):
    code = "DOCKERFILE_NOT_FOUND"
    default_message = "The Dockerfile was not found in the build context."

    def __init__(self, path: str | None = None, *, detail: str | None = None) -> None:
        self.path = path
        super().__init__(
            detail=detail or (f"Dockerfile {path!r} not found" if path is not None else None)
        )


class BuildFailed(BuildError):
    """A build step failed; ``step`` names it as the builder does: ``[2/3] RUN false``
    (BuildKit), ``Step 2/3 : RUN false`` (legacy) or ``FROM image`` (a base image pull)."""

    code = "BUILD_FAILED"
    default_message = "The image build failed."

    def __init__(
        self, error: str = "", *, step: str | None = None, last_lines: Sequence[str] = ()
    ) -> None:
        self.error = error
        self.step = step
        self.last_lines = list(last_lines)
        head = f"{step}: {error}" if step else error
        tail = "\n".join(self.last_lines)
        super().__init__(detail=f"{head}\nlast lines of output:\n{tail}" if tail else head or None)


class BuildCancelled(BuildError):
    code = "BUILD_CANCELLED"
    status = 409
    default_message = "The build was cancelled."


class DockerUnavailable(BuildError):
    code = "DOCKER_UNAVAILABLE"
    status = 503
    default_message = "The Docker engine of the build worker is not available."
    transient = True


class RegistryError(BuildError):
    code = "PUSH_FAILED"
    status = 502
    default_message = "Pushing the image to the registry failed."


class RegistryUnauthorized(RegistryError):
    code = "REGISTRY_UNAUTHORIZED"
    default_message = "The registry rejected the credentials (unauthorized)."


class RegistryDenied(RegistryError):
    code = "REGISTRY_DENIED"
    default_message = "The registry denied access to the image repository."


class RegistryUnavailable(RegistryError):
    code = "REGISTRY_UNAVAILABLE"
    status = 503
    default_message = "The registry is not available. Please try again later."
    transient = True
