"""A BuildKit build posted before its source is there (``buildkit_early``), on the real
engine: BuildKit sets up and waits; the build goes on once the files are served, and
ends at once when they never come."""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from pathlib import Path

import docker
import pytest

from buildsvc.worker.build_request import BuildRequest
from buildsvc.worker.buildkit_early import EarlyBuild
from buildsvc.worker.errors import BuildCancelled, BuildError, DockerfileNotFound
from tests.common.build_contexts import make_context
from tests.common.build_steps import said

pytestmark = pytest.mark.e2e
BASE = "FROM buildsvc/busybox:latest\n"
ASK_SECONDS = 20  # BuildKit asks for the Dockerfile within ms; a loaded machine is slow


class Running:
    """``EarlyBuild.run`` in a thread, as ``run_streaming`` runs it."""

    def __init__(self, ahead: EarlyBuild) -> None:
        self.lines: list[str] = []
        self.result: str | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(ahead,), daemon=True)
        self._thread.start()

    def _run(self, ahead: EarlyBuild) -> None:
        try:
            self.result = ahead.run(self.lines.append, ahead.cancel)
        except BaseException as exc:
            self.result = exc

    def join(self, timeout: float = 60) -> str | BaseException | None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the build thread did not end"
        return self.result


def posted(
    docker_api: docker.APIClient, context: Path, image_name: str
) -> tuple[EarlyBuild, Running]:
    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    ahead = EarlyBuild(docker_api, request)
    assert ahead.open()
    running = Running(ahead)
    assert ahead.asked.wait(ASK_SECONDS), "BuildKit never asked for the Dockerfile"
    return ahead, running


def test_the_build_waits_for_its_files_then_builds_them(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"  # not there yet: the "checkout" comes later
    ahead, running = posted(docker_api, context, image_name)
    time.sleep(0.3)  # BuildKit waits: nothing to build from yet
    assert running.result is None
    marker = secrets.token_hex(4)
    make_context(context, BASE + "COPY app.txt /app.txt\nRUN cat /app.txt\n", **{"app.txt": marker})
    prepared: list[str] = []
    ahead.prepare(context.resolve(), prepared.append)

    image_id = running.join()
    assert isinstance(image_id, str), image_id
    assert image_id.startswith("sha256:")
    assert said(running.lines, marker)
    assert prepared == ["Offering the build context (2 files, 0.1 kB) to BuildKit"]
    assert docker_api.inspect_image(image_name)["Id"] == image_id


def test_a_source_that_never_comes_ends_the_build_at_once(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    ahead, running = posted(docker_api, tmp_path / "never", image_name)
    started = time.monotonic()
    ahead.abort()
    assert isinstance(running.join(timeout=10), BuildCancelled)
    assert time.monotonic() - started < 10


def test_a_missing_dockerfile_is_named_when_the_source_is_there(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"
    ahead, running = posted(docker_api, context, image_name)
    context.mkdir()
    (context / "README.md").write_text("no Dockerfile here\n")
    with pytest.raises(DockerfileNotFound):
        ahead.prepare(context.resolve(), lambda _line: None)
    ahead.abort()
    assert isinstance(running.join(timeout=10), BuildError)


def test_a_failing_step_fails_the_build_as_posted_after_the_checkout_would(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"
    ahead, running = posted(docker_api, context, image_name)
    make_context(context, BASE + "RUN echo about-to-fail && false\n")
    ahead.prepare(context.resolve(), lambda _line: None)
    failure = running.join()
    assert isinstance(failure, BuildError)
    assert "RUN echo about-to-fail && false" in str(failure.detail)


def test_a_build_aborted_before_it_ran_is_discarded_whole(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    # The pipeline cancels the posting task too: it may never reach ``run``, which
    # would have ended the session; ``discard`` does instead.
    before = {thread.name for thread in threading.enumerate()}
    request = BuildRequest(context=tmp_path / "never", tags=(image_name,), nocache=True)
    others = set(Path(tempfile.gettempdir()).glob("buildsvc-session-*"))
    ahead = EarlyBuild(docker_api, request)
    assert ahead.open()
    scratch = set(Path(tempfile.gettempdir()).glob("buildsvc-session-*")) - others
    assert scratch  # its own directory, with its socket
    ahead.abort()
    ahead.discard()
    left = {thread.name for thread in threading.enumerate()} - before
    assert not [name for name in left if name.startswith("filesync")]
    assert not [path for path in scratch if path.exists()]
    ahead.discard()  # again, as after a run that ended it: nothing to do
