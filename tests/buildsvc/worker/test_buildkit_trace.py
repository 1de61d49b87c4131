"""BuildKit's trace messages (protobuf in the build stream) rendered as plain progress."""

from __future__ import annotations

import base64
from typing import Any

from buildsvc.worker.buildkit_trace import Progress, StatusResponse, decode_trace

RUN = "sha256:" + "2" * 64
FROM = "sha256:" + "1" * 64


def stamp(message: Any, seconds: float) -> None:
    message.seconds = int(seconds)
    message.nanos = round((seconds - int(seconds)) * 1e9)


def vertex(
    response: Any,
    digest: str,
    name: str,
    *,
    started: float | None = None,
    completed: float | None = None,
    cached: bool = False,
    error: str = "",
) -> None:
    item = response.vertexes.add(digest=digest, name=name, cached=cached, error=error)
    if started is not None:
        stamp(item.started, started)
    if completed is not None:
        stamp(item.completed, completed)


def log(response: Any, digest: str, at: float, data: bytes) -> None:
    item = response.logs.add(vertex=digest, stream=1, msg=data)
    stamp(item.timestamp, at)


def render(*responses: Any) -> tuple[list[str], Progress]:
    lines: list[str] = []
    progress = Progress(lines.append)
    for response in responses:
        # Through the wire format, as the engine sends it (base64 in the JSON stream).
        progress.feed_aux(base64.b64encode(response.SerializeToString()).decode())
    progress.flush()
    return lines, progress


def test_a_step_is_announced_once_its_output_timed_and_its_end_said() -> None:
    queued, running, done = StatusResponse(), StatusResponse(), StatusResponse()
    vertex(queued, RUN, "[2/2] RUN make")  # known, not started: not said yet
    vertex(running, RUN, "[2/2] RUN make", started=100.0)
    log(running, RUN, 100.25, b"compiling a\ncompil")
    log(running, RUN, 100.5, b"ing b\n")
    vertex(done, RUN, "[2/2] RUN make", started=100.0, completed=101.34)

    lines, progress = render(queued, running, done)

    assert lines == [
        "#1 [2/2] RUN make",
        "#1 0.250 compiling a",
        "#1 0.500 compiling b",  # a line split across messages is joined
        "#1 DONE 1.3s",
    ]
    assert progress.step is None


def test_cached_steps_statuses_and_numbering_follow_first_sight() -> None:
    response = StatusResponse()
    vertex(response, FROM, "[1/2] FROM docker.io/library/base", cached=True)
    vertex(response, RUN, "exporting to image", started=5.0)
    status = response.statuses.add(ID="writing image sha256:abc", vertex=RUN, name="writing image")
    stamp(status.completed, 5.1)
    unfinished = response.statuses.add(ID="exporting layers", vertex=RUN)
    stamp(unfinished.started, 5.0)

    lines, _ = render(response, response)  # the engine repeats itself: said once

    assert lines == [
        "#1 [1/2] FROM docker.io/library/base",
        "#1 CACHED",
        "#2 exporting to image",
        "#2 writing image done",
    ]


def test_a_failing_step_is_remembered_with_its_own_last_lines() -> None:
    first, second = StatusResponse(), StatusResponse()
    vertex(first, FROM, "[2/3] RUN echo ok", started=1.0)
    log(first, FROM, 1.1, b"ok\n")
    vertex(first, FROM, "[2/3] RUN echo ok", started=1.0, completed=1.2)
    vertex(second, RUN, "[3/3] RUN make", started=2.0)
    log(second, RUN, 2.5, b"".join(f"line {n}\n".encode() for n in range(30)) + b"no newline")
    vertex(second, RUN, "[3/3] RUN make", started=2.0, completed=3.0, error="exit code: 2")

    lines, progress = render(first, second)

    assert lines[-2:] == [
        "#2 2.500 no newline" if False else "#2 no newline",
        "#2 ERROR: exit code: 2",
    ]
    assert progress.step == "[3/3] RUN make"
    assert progress.tail[-1] == "no newline"
    assert "ok" not in progress.tail  # only the failing step's output
    assert len(progress.tail) == 20


def test_decode_reads_what_the_engine_sends() -> None:
    response = StatusResponse()
    vertex(response, RUN, "[internal] load remote build context", started=1.0)
    decoded = decode_trace(base64.b64encode(response.SerializeToString()).decode())
    assert decoded.vertexes[0].name == "[internal] load remote build context"
    assert decoded.vertexes[0].started.seconds == 1


def test_the_failure_is_the_first_real_error_not_the_steps_cancelled_beside_it() -> None:
    failing, cancelled = StatusResponse(), StatusResponse()
    vertex(failing, RUN, "[fast 2/2] RUN make", started=1.0)
    log(failing, RUN, 1.1, b"boom-output\n")
    vertex(failing, RUN, "[fast 2/2] RUN make", started=1.0, completed=1.2, error="exit code: 3")
    vertex(cancelled, FROM, "[slow 2/2] RUN sleep 5", started=1.0)
    vertex(
        cancelled,
        FROM,
        "[slow 2/2] RUN sleep 5",
        started=1.0,
        completed=1.3,
        error="exit code: 137: context canceled: context canceled",
    )

    _, progress = render(failing, cancelled)

    assert progress.step == "[fast 2/2] RUN make"
    assert progress.tail == ["boom-output"]


def test_a_step_seen_first_in_its_output_is_named_once_known() -> None:
    early, named = StatusResponse(), StatusResponse()
    log(early, RUN, 1.0, b"early line\n")
    vertex(named, RUN, "[2/2] RUN make", started=0.5)

    lines, _ = render(early, named)

    assert lines == ["#1 early line", "#1 [2/2] RUN make"]  # never an empty "#1 "


def test_the_dockerfile_steps_taken_from_the_cache_are_counted() -> None:
    response = StatusResponse()
    vertex(response, "sha256:" + "a" * 64, "[internal] load metadata for x", cached=True)
    vertex(response, FROM, "[1/4] FROM docker.io/buildsvc/busybox:latest", cached=True)
    vertex(response, RUN, "[2/4] RUN make", cached=True)
    vertex(response, "sha256:" + "3" * 64, "[builder 3/4] COPY . /src", cached=True)
    vertex(response, "sha256:" + "4" * 64, "[4/4] RUN test", started=1.0, completed=2.0)

    _, progress = render(response)

    assert progress.cached_steps == 2  # the RUN and the COPY; not FROM, not internals


def test_a_cache_source_buildkit_could_not_read_is_not_the_failure() -> None:
    response = StatusResponse()
    importing = "importing cache manifest from 127.0.0.1:5000/ns/app@sha256:" + "9" * 64
    vertex(response, FROM, importing, started=1.0, completed=1.1, error="no active sessions")
    vertex(response, RUN, "[2/2] RUN make", started=2.0, completed=3.0, error="exit code: 2")

    lines, progress = render(response)

    assert "#1 ERROR: no active sessions" in lines  # still shown
    assert progress.step == "[2/2] RUN make"
