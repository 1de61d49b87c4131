"""The event stream as the CLI reads it, against an aiohttp server that misbehaves on cue:
a stream cut mid-way, a 503 while the API restarts, a port where nothing listens.

No requests exception may escape ``ApiClient``; ``follow`` must resume with
``Last-Event-ID`` and give up only after its reconnect timeout.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web

from buildsvc.client_cli.apiclient import ApiClient, ApiError
from buildsvc.client_cli.follow import stream_log
from tests.common.servers import free_port

PATH = "/api/v1/builds/1/logs?follow=true"


class ScriptedServer:
    """Answers the log stream with the next of ``script``'s steps, one per request:
    ``503``, ``cut`` (line 1, then the connection dropped), ``rest`` (lines after the
    client's Last-Event-ID, then ``end``), ``gone`` (404)."""

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.seen: list[str | None] = []  # Last-Event-ID of each request
        self.url = f"http://127.0.0.1:{free_port()}"
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/api/v1/builds/1/logs", self._logs)
        self._runner = web.AppRunner(app)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        port = int(self.url.rsplit(":", 1)[1])

        async def start() -> None:
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", port).start()

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.headers.get("Last-Event-ID"))
        step = self.script.pop(0)
        if step == "503":
            return web.json_response(
                {"error": {"code": "UNAVAILABLE", "message": "restarting"}}, status=503
            )
        if step == "gone":
            return web.json_response({"error": {"code": "NOT_FOUND", "message": "no"}}, status=404)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if step == "cut":
            await response.write(b'id: 1\ndata: {"line": "one"}\n\n')
            assert request.transport is not None
            request.transport.close()  # mid-stream: no final chunk
            return response
        after = int(request.headers.get("Last-Event-ID") or 0)
        for seq, line in ((1, "one"), (2, "two")):
            if seq > after:
                await response.write(f'id: {seq}\ndata: {{"line": "{line}"}}\n\n'.encode())
        await response.write(b'event: end\ndata: {"status": "succeeded"}\n\n')
        await response.write_eof()
        return response


def test_a_stream_cut_mid_way_is_connection_lost_not_a_requests_error() -> None:
    with ScriptedServer(["cut"]) as server:
        client = ApiClient(server.url, "bsv_test")
        events = client.events(PATH)
        assert next(events).json() == {"line": "one"}
        with pytest.raises(ApiError) as lost:
            list(events)
        client.close()
    assert (lost.value.status, lost.value.code) == (0, "CONNECTION_LOST")


def test_follow_resumes_after_a_503_and_a_cut_with_each_line_once() -> None:
    shown: list[str] = []
    notices: list[str] = []
    with ScriptedServer(["cut", "503", "rest"]) as server:
        client = ApiClient(server.url, "bsv_test")
        ended = stream_log(client, 1, shown.append, notices.append, reconnect_seconds=10)
        client.close()
    assert ended == "succeeded"
    assert shown == ["one", "two"]
    assert server.seen == [None, "1", "1"]
    assert notices == ["connection lost, reconnecting…"]  # once for the whole outage


def test_follow_gives_up_after_the_timeout_when_nothing_answers() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}", "bsv_test")  # nothing listens
    notices: list[str] = []
    ended = stream_log(client, 1, lambda line: None, notices.append, reconnect_seconds=1)
    client.close()
    assert ended is None
    assert notices == ["connection lost, reconnecting…"]


def test_follow_does_not_retry_an_answer_that_is_no_outage() -> None:
    with ScriptedServer(["gone"]) as server:
        client = ApiClient(server.url, "bsv_test")
        with pytest.raises(ApiError) as refused:
            stream_log(client, 1, lambda line: None, lambda text: None, reconnect_seconds=10)
        client.close()
    assert (refused.value.status, refused.value.code) == (404, "NOT_FOUND")
    assert server.seen == [None]
