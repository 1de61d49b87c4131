"""``--follow``: stream a build's log live, show its status and phase, exit by its ending.

Log lines come from ``GET /api/v1/builds/{id}/logs?follow=true`` (server-sent events,
one per line, then ``end``). A dropped stream is resumed with ``Last-Event-ID`` so no line
is shown twice or lost. The status and phase come from polling the build once a second in
a background thread; on a terminal they are a rich status line under the scrolling log,
elsewhere (pipes, CI) a plain line each time the phase changes. Lines go to stdout (to
stderr with ``--json``, whose stdout is the final build as one JSON document).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from buildsvc.client_cli.apiclient import ApiClient, ApiError
from buildsvc.client_cli.exit_codes import EXIT_STREAM_LOST, for_status
from buildsvc.client_cli.output import print_json, stderr, stdout

POLL_SECONDS = 1.0
RECONNECTS = 5
RECONNECT_DELAY_SECONDS = 1.0
FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out", "superseded"})
STATUS_STYLE = {"succeeded": "green", "failed": "red", "timed_out": "red", "cancelled": "yellow"}


class _Progress:
    """The build's latest status, refreshed by a polling thread."""

    def __init__(self, client: ApiClient, build_id: int, on_change: Callable[[str], None]):
        self.client = client
        self.build_id = build_id
        self.build: dict[str, Any] = {}
        self.started = time.monotonic()
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="build-status", daemon=True)

    def __enter__(self) -> _Progress:
        self.refresh()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def status(self) -> str:
        return str(self.build.get("status", "unknown"))

    def refresh(self) -> None:
        before = self.build.get("status")
        try:
            self.build = self.client.get(f"/api/v1/builds/{self.build_id}")
        except ApiError:
            return  # a missed poll only delays the status line
        if self.build.get("status") != before:
            self._on_change(self.status)

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.refresh()

    def line(self) -> Text:
        elapsed = time.monotonic() - self.started
        style = STATUS_STYLE.get(self.status, "cyan")
        text = Text(f"build {self.build_id} ")
        text.append(self.status, style=f"bold {style}")
        text.append(f"  {elapsed:5.1f}s", style="dim")
        return text


def _stream(client: ApiClient, build_id: int, show: Callable[[str], None]) -> str | None:
    """Show every log line; the final status from the ``end`` event (None: stream lost)."""
    last: str | None = None
    for attempt in range(RECONNECTS + 1):
        try:
            for event in client.events(
                f"/api/v1/builds/{build_id}/logs?follow=true", last_event_id=last
            ):
                if event.event == "end":
                    return str(event.json().get("status"))
                show(str(event.json().get("line", "")))
                last = event.id or last
        except ApiError as exc:
            if exc.status != 0 or attempt == RECONNECTS:  # an answer, not a lost connection
                raise
        time.sleep(RECONNECT_DELAY_SECONDS)
    return None


def follow_build(client: ApiClient, build_id: int, *, as_json: bool) -> int:
    """Follow until the build ends; the exit code for how it ended."""
    out = stderr() if as_json else stdout()
    status_console = stderr()
    live_view = status_console.is_terminal and not as_json

    def changed(status: str) -> None:
        if not live_view:
            status_console.print(f"build {build_id}: {status}", highlight=False)

    with _Progress(client, build_id, changed) as progress:
        if live_view:
            spinner = Spinner("dots", text=progress.line())
            with Live(spinner, console=status_console, refresh_per_second=8, transient=True):

                def show(line: str) -> None:
                    spinner.update(text=progress.line())
                    out.print(line, markup=False, highlight=False)

                ended = _stream(client, build_id, show)
        else:
            ended = _stream(client, build_id, lambda line: _plain(out, line))
        progress.refresh()
    build = progress.build
    final = ended if ended in FINISHED else build.get("status")
    _summary(status_console, build, as_json)
    if final not in FINISHED:
        return EXIT_STREAM_LOST
    return for_status(str(final))


def _plain(console: Console, line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _summary(console: Console, build: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(build)
        return
    status = str(build.get("status"))
    style = STATUS_STYLE.get(status, "cyan")
    durations = build.get("durations") or {}
    total = durations.get("total")
    took = f" in {total:.1f}s" if isinstance(total, int | float) else ""
    console.print(f"build {build.get('id')} [bold {style}]{status}[/]{took}", highlight=False)
    phases = [
        f"{phase} {durations[phase]:.1f}s"
        for phase in ("queued", "fetching", "building", "pushing")
        if isinstance(durations.get(phase), int | float)
    ]
    if phases:
        console.print("  phases: " + ", ".join(phases), highlight=False)
    for tag in build.get("tags") or []:
        console.print(f"  image:  {tag}", highlight=False, markup=False)
    if build.get("digest"):
        console.print(f"  digest: {build['digest']}", highlight=False, markup=False)
    error = build.get("error")
    if error:
        console.print(f"  error:  {error.get('code')}: {error.get('message')}", highlight=False)
        if error.get("detail"):
            console.print(f"          {error['detail']}", highlight=False, markup=False)
