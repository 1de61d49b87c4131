"""``buildsvc replication add|list|run|status|remove`` against a running stack whose
``buildsvc worker`` process makes the copies, into a TLS registry of the test's own."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator

import pytest
from click.testing import Result

from tests.buildsvc.client_cli.conftest import ACCOUNT, CliStack, bind_and_link
from tests.common.registries import (
    Registry,
    RegistryHttp,
    layers,
    put_image,
    running_registry,
)

pytestmark = pytest.mark.e2e

Cli = Callable[..., Result]


@pytest.fixture
def region() -> Iterator[Registry]:
    yield from running_registry(tls=True)


def test_a_rule_added_and_run_from_the_cli_copies_existing_tags(
    cli: Cli, cli_stack: CliStack, region: Registry, tmp_path: object
) -> None:
    name = f"mirror-{secrets.token_hex(3)}"
    bind_and_link(cli, cli_stack, f"team/{name}", "acme/app")
    # The image is pushed as the account, with its registry password (token auth).
    password = secrets.token_urlsafe(18)
    assert cli("registry", "password", "--password-stdin", input=password + "\n").exit_code == 0
    ours = RegistryHttp(f"http://{cli_stack.server.settings.registry}", ACCOUNT, password)
    image = put_image(ours, f"team/{name}", "v1", layers(2, 1024))
    ca = region.root / "cert.pem"

    added = cli(
        "replication", "add", f"team/{name}", "--url", region.url, "--username",
        region.username, "--ca-cert", str(ca), "--namespace", "dr", "--trigger", "manual",
        "--password-stdin", "--json", input=region.password + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    rule = json.loads(added.stdout)
    assert rule["password_set"] is True
    listed = cli("replication", "list", f"team/{name}")
    assert region.url in listed.stdout

    ran = cli("replication", "run", f"team/{name}", str(rule["id"]))
    assert ran.exit_code == 0, ran.output
    assert "1 tags planned, 1 queued" in ran.stdout

    deadline = time.monotonic() + 60
    while True:
        shown = json.loads(cli("replication", "status", f"team/{name}", "--json").stdout)
        if shown and shown[0]["status"] == "done":
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert shown[0]["destination"] == f"{region.host}/dr/{name}:v1"
    assert region.manifest(f"dr/{name}", "v1")[2] == image.digest

    removed = cli("replication", "remove", f"team/{name}", str(rule["id"]))
    assert removed.exit_code == 0, removed.output
    assert json.loads(cli("replication", "status", f"team/{name}", "--json").stdout) == []
