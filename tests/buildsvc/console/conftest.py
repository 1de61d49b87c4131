"""The console in a real headless Chromium, against the whole stack.

``console_stack`` (module): the API in a thread, a worker process (real Docker engine), a
token-auth registry whose realm is that API (``registry``), forgesim GitLab with alice,
her ``api`` token, group ``acme`` and project ``acme/app``, and a buildsvc account.
``browser``: selenium's Chrome driver on Debian's ``chromium`` and ``chromium-driver`` (no
download: both binaries are given).
``screenshot(name)`` saves ``docs/screenshots/<name>.png`` (``BUILDSVC_SCREENSHOT_DIR``
overrides the directory).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

import forgesim
from tests.common.api_stack import (
    REPO_ROOT,
    ServerThread,
    WorkerProcess,
    stack_settings,
)
from tests.common.token_registry import serve_registry, stop_process

REDIS_DB = 11
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1100",
)


@dataclass(frozen=True)
class ConsoleStack:
    server: ServerThread
    forge: forgesim.Forge
    token: str  # the buildsvc account's API token
    forge_token: str
    root: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def registry(self) -> str:
        return self.server.settings.registry


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    root = tmp_path_factory.mktemp("console-stack")
    settings = stack_settings(root, REDIS_DB, registry=True)
    server = ServerThread(settings).start()
    registry = serve_registry(settings, root / "registry")
    worker = WorkerProcess(settings, root / "worker.log")
    try:
        with forgesim.running("gitlab", root / "forge") as forge:
            forge.admin.create_user("alice", name="Alice")
            forge_token = forge.admin.create_token("alice", ["api"])
            forge.admin.create_namespace("acme", members={"alice": "maintainer"})
            forge.admin.create_repository("acme", "app")
            token = server.create_account("console-tests")
            yield ConsoleStack(server, forge, token, forge_token, root)
    finally:
        worker.stop()
        stop_process(registry)
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    os.environ.setdefault("SE_AVOID_STATS", "true")  # selenium must not phone home
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshot(browser: webdriver.Chrome) -> Callable[[str], Path]:
    directory = Path(os.environ.get("BUILDSVC_SCREENSHOT_DIR", REPO_ROOT / "docs" / "screenshots"))
    directory.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> Path:
        path = directory / f"{name}.png"
        assert browser.save_screenshot(str(path)), path
        return path

    return save
