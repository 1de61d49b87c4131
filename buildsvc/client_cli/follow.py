"""``--follow``: stream a build's log live, show its status and phase, exit by its ending.

Log lines come from ``GET /api/v1/builds/{id}/logs?follow=true`` (server-sent events,
one per line, ``id`` = the line's seq, then ``end``). When the stream breaks or the API
answers 5xx (a restart, a proxy), the follower says so once on stderr and reconnects
with growing pauses, sending ``Last-Event-ID`` so no line is shown twice or lost; only
when the API stays gone for ``--reconnect-timeout`` seconds does it give up with one
line and ``EXIT_STREAM_LOST``. The status and phase come from polling the build once a
second in a background thread; on a terminal they are a rich status line under the
scrolling log, elsewhere (pipes, CI) a plain line each time the phase changes. Lines go
to stdout (to stderr with ``--json``, whose stdout is the final build as one JSON
document).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from buildsvc.client_cli.apiclient import ApiClient, ApiError
from buildsvc.client_cli.build_view import print_build
from buildsvc.client_cli.exit_codes import EXIT_STREAM_LOST, for_status
from buildsvc.client_cli.output import print_json, status_text, stderr, stdout

POLL_SECONDS = 1.0
RECONNECT_SECONDS = 30.0
FIRST_PAUSE_SECONDS = 0.5
LONGEST_PAUSE_SECONDS = 5.0
FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out", "superseded"})
F = TypeVar("F", bound=Callable[..., Any])


def follow_options(command: F) -> F:
    """``--follow`` and ``--reconnect-timeout`` for the commands that can follow a build."""
    command = click.option(
        "--reconnect-timeout",
        type=click.FloatRange(min=0),
        default=RECONNECT_SECONDS,
        show_default=True,
        metavar="SECONDS",
        help="With --follow: how long to keep reconnecting when the API goes away.",
    )(command)
    return click.option(
        "--follow",
        "-f",
        is_flag=True,
        help="Stream the log live and exit by the build's ending (0: succeeded; see "
        "`buildsvc builds --help` for the other codes).",
    )(command)


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
        text = Text(f"build {self.build_id} ")
        text.append(status_text(self.status))
        text.append(f"  {elapsed:5.1f}s", style="dim")
        return text


def _transient(error: ApiError) -> bool:
    """No answer, or a server error: the API may come back."""
    return error.status == 0 or error.status >= 500


def stream_log(
    client: ApiClient,
    build_id: int,
    show: Callable[[str], None],
    notice: Callable[[str], None],
    reconnect_seconds: float,
) -> str | None:
    """Show every log line; the final status from ``end`` (None: the API stayed gone)."""
    path = f"/api/v1/builds/{build_id}/logs?follow=true"
    last: str | None = None
    lost_at: float | None = None
    pause = FIRST_PAUSE_SECONDS
    while True:
        try:
            events = client.events(path, last_event_id=last)
            lost_at = None  # the API answered: a later loss gets the full timeout again
            with contextlib.closing(events):
                for event in events:
                    if event.event == "end":
                        return str(event.json().get("status"))
                    show(str(event.json().get("line", "")))
                    last = event.id or last
                    pause = FIRST_PAUSE_SECONDS
        except ApiError as exc:
            if not _transient(exc):
                raise
        # Here the stream broke, ended without ``end`` (the API stopped), or got a 5xx.
        now = time.monotonic()
        if lost_at is None:
            lost_at = now
            notice("connection lost, reconnecting…")
        left = reconnect_seconds - (now - lost_at)
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE_SECONDS)


def follow_build(
    client: ApiClient, build_id: int, *, as_json: bool, reconnect_seconds: float = RECONNECT_SECONDS
) -> int:
    """Follow until the build ends; the exit code for how it ended."""
    out = stderr() if as_json else stdout()
    status_console = stderr()
    live_view = status_console.is_terminal and not as_json

    def changed(status: str) -> None:
        if not live_view:
            status_console.print(f"build {build_id}: {status}", highlight=False)

    def notice(text: str) -> None:  # through the live view's console, above its line
        status_console.print(text, highlight=False)

    with _Progress(client, build_id, changed) as progress:
        if live_view:
            spinner = Spinner("dots", text=progress.line())
            with Live(spinner, console=status_console, refresh_per_second=8, transient=True):

                def show(line: str) -> None:
                    spinner.update(text=progress.line())
                    out.print(line, markup=False, highlight=False)

                ended = stream_log(client, build_id, show, notice, reconnect_seconds)
        else:
            plain = functools.partial(_plain, out)
            ended = stream_log(client, build_id, plain, notice, reconnect_seconds)
        if ended is None:
            return _gone(client, build_id, reconnect_seconds, as_json)
        progress.refresh()
    build = progress.build or {"id": build_id, "status": ended}
    final = ended if ended in FINISHED else build.get("status")
    if as_json:
        print_json(build)
    else:
        print_build(status_console, build, None)
    return for_status(str(final)) if final in FINISHED else EXIT_STREAM_LOST


def _gone(client: ApiClient, build_id: int, waited: float, as_json: bool) -> int:
    message = (
        f"the API at {client.url} did not come back within {waited:g} s; build {build_id} "
        f"may still be running (`buildsvc builds logs {build_id} -f` follows it again)"
    )
    if as_json:
        print_json({"error": {"code": "STREAM_LOST", "message": message, "detail": None}})
    else:
        stderr().print(f"[bold red]error[/]: {message}", highlight=False)
    return EXIT_STREAM_LOST


def _plain(console: Console, line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)
