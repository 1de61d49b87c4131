"""A BuildKit build posted while its source is still being fetched.

From ``POST /build`` to its first request for the Dockerfile, BuildKit spends some
25-45 ms setting up the solve. Posted with a session that has nothing to serve yet
(``FileSyncSession`` without dirs), it does that while git fetches; the session holds
the engine's first request until ``prepare()``: the checkout done, the context and the
Dockerfile checked, the base images pulled with the registry login, the files listed.
From there it is the build ``buildkit_build`` runs, with the same parameters and the
same retries for an image BuildKit could not get.

Two threads: ``run`` posts and reads the build stream (``run_streaming``'s work);
``prepare`` runs once the fetch is done. ``abort`` ends both when the fetch fails.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import docker

from buildsvc.worker.base_images import PullFailures
from buildsvc.worker.build_context import Line, check_dockerfile
from buildsvc.worker.build_request import BuildRequest
from buildsvc.worker.buildkit_build import (
    base_image_failures,
    build_through_session,
    run_attempts,
)
from buildsvc.worker.buildkit_session import (
    FileSyncSession,
    SessionUnavailable,
    offering_line,
    served_name,
    session_dirs,
    shared_key,
)
from buildsvc.worker.docker_build import engine_errors
from buildsvc.worker.streaming import StreamCancel

__all__ = ["EarlyBuild"]


class EarlyBuild:
    """One build posted ahead of its source.

    ``request.context`` is where the build context will be once checked out (as
    spelt, not resolved yet) and ``request.cache_from`` is final: both go into the
    request posted before the checkout.
    """

    def __init__(self, api: docker.APIClient, request: BuildRequest) -> None:
        self.cancel = StreamCancel()  # the build's
        self._pulls = StreamCancel()  # the base image pulls' (a handle tracks one stream)
        self._api = api
        self._request = request
        self._name = served_name(request.dockerfile)
        self._session = FileSyncSession(api, None, shared_key(request.context))
        self._failed = PullFailures()
        self._prepared = threading.Event()

    @property
    def asked(self) -> threading.Event:
        """Set once BuildKit has asked for the files: its solve is set up and waiting."""
        return self._session.asked

    def open(self) -> bool:
        """Start the session (blocking, ~ms); False when the engine cannot hold one."""
        try:
            self._session.open()
        except SessionUnavailable:
            return False  # the regular build says so, and sends a tar
        return True

    def run(self, on_line: Line, handle: StreamCancel) -> str:
        """Post the build and read it to its end; the image id (blocking)."""
        request = self._request

        def attempt() -> tuple[str, int]:
            return build_through_session(
                self._api, request, request.cache_from, self._session, self._name, on_line, handle
            )

        def failed() -> PullFailures:
            # BuildKit asks for an image only after the Dockerfile, served once prepared.
            self._prepared.wait()
            return self._failed

        try:
            with engine_errors(self._api, handle, request):
                return run_attempts(
                    self._api,
                    attempt,
                    request=request,
                    cache_from=request.cache_from,
                    failed=failed,
                    on_line=on_line,
                    cancel=handle,
                )
        finally:
            self._session.close()

    def prepare(self, context: Path, on_line: Line) -> BuildRequest:
        """The checkout is done: check the Dockerfile in ``context`` (resolved), pull the
        base images, serve the files; the request as built (blocking)."""
        request = replace(self._request, context=context)
        dockerfile = check_dockerfile(context, request.dockerfile, on_line)
        with engine_errors(self._api, self._pulls, request):
            self._failed = base_image_failures(self._api, request, dockerfile, on_line, self._pulls)
        dirs = session_dirs(context, dockerfile, on_line, served_as=self._name)
        on_line(offering_line(dirs))
        self._prepared.set()
        self._session.serve(dirs)
        return request

    def discard(self) -> None:
        """End the session for good (blocking): one opened for a build that never ran,
        or one ``abort`` began to end (after ``run``, a no-op)."""
        self._session.close()

    def abort(self) -> None:
        """Stop the build posted ahead (its source never came); ``run`` ends."""
        self.cancel.cancel()
        self._pulls.cancel()
        self._prepared.set()
        self._session.close(wait=False)  # from the event loop: run() or discard() end it
