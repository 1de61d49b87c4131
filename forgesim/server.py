"""Starting a forge: in a background thread for tests (``running``), or in the
foreground for ``python -m forgesim`` (``serve``)."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from forgesim import providers, tls
from forgesim.app import create_app
from forgesim.client import AdminClient, Forge
from forgesim.core import Core, ForgeConfig
from forgesim.state import State

SHUTDOWN_TIMEOUT = 0.2  # seconds granted to in-flight requests (e.g. injected delays)


async def start_site(config: ForgeConfig) -> tuple[web.AppRunner, Core, Path | None]:
    spec = providers.load(config.provider)
    core = Core(config, spec, State.open(config.data_dir))
    ssl_context, ca_file = None, None
    if config.tls_self_signed:
        ca_file, key_file = tls.self_signed(config.data_dir)
        ssl_context = tls.server_context(ca_file, key_file)
    runner = web.AppRunner(
        create_app(core), handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    host = "127.0.0.1" if config.host in ("", "0.0.0.0") else config.host  # noqa: S104
    host = f"[{host}]" if ":" in host else host
    core.base_url = f"{'https' if ssl_context else 'http'}://{host}:{port}"
    return runner, core, ca_file


async def stop_site(runner: web.AppRunner) -> None:
    """Drop open connections first: an idle TLS keep-alive connection would otherwise wait
    for the client's close_notify and outlive the loop."""
    if runner.server is not None:
        for connection in runner.server.connections:
            if connection.transport is not None:
                connection.transport.abort()
        await asyncio.sleep(0)
    await runner.cleanup()


def _handle(core: Core, ca_file: Path | None) -> Forge:
    return Forge(
        provider=core.spec.name,
        url=core.base_url,
        api_url=core.api_url,
        ca_file=ca_file,
        data_dir=core.config.data_dir,
        admin=AdminClient(core.base_url, ca_file),
        git_prefix=core.spec.git_prefix,
    )


class running:  # used like a function: ``with forgesim.running(...)``
    """Run a forge in a background thread with its own event loop.

    Works as ``with`` (sync tests, python-gitlab) and ``async with`` (async tests).
    """

    def __init__(
        self,
        provider: str,
        data_dir: Path,
        *,
        tls_self_signed: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        delivery_timeout: float = 10.0,
        **options: str,
    ) -> None:
        self.config = ForgeConfig(
            provider, Path(data_dir), host, port, tls_self_signed, dict(options), delivery_timeout
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._forge: Forge | None = None

    def __enter__(self) -> Forge:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        outcome: dict[str, Any] = {}

        def serve_in_thread() -> None:
            asyncio.set_event_loop(loop)
            try:
                runner, core, ca_file = loop.run_until_complete(start_site(self.config))
            except BaseException as exc:
                outcome["error"] = exc
                ready.set()
                loop.close()
                return
            outcome["forge"] = _handle(core, ca_file)
            ready.set()
            loop.run_forever()
            loop.run_until_complete(stop_site(runner))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=serve_in_thread, name="forgesim", daemon=True)
        self._thread.start()
        ready.wait()
        if "error" in outcome:
            self._thread.join()
            raise outcome["error"]
        self._loop, self._forge = loop, outcome["forge"]
        return outcome["forge"]  # type: ignore[no-any-return]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._forge is not None:
            self._forge.admin.close()
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop = self._thread = self._forge = None

    async def __aenter__(self) -> Forge:
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, tb)


async def serve(config: ForgeConfig) -> None:
    """Foreground server for the CLI: prints one line with the base URL, runs until a signal."""
    runner, core, _ = await start_site(config)
    print(f"forgesim {core.spec.name} listening on {core.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await stop_site(runner)
