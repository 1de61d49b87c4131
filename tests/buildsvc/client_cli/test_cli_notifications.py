"""``buildsvc notifications``: add (secret shown once), list, test (sent by the stack's
worker process to a real receiver), deliveries, disable, enable, remove."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from click.testing import Result
from standardwebhooks import Webhook

from tests.buildsvc.client_cli.conftest import CliStack

Cli = Callable[..., Result]


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]]  # set per server below

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_test_deliveries_disable_enable_remove(
    cli: Cli, cli_stack: CliStack, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    bind = ("sources", "bind", "gitlab", "--url", cli_stack.forge.url, "--username", "alice")
    bind += ("--token-stdin",)
    bound = cli(*bind, input=cli_stack.forge_token + "\n")
    assert bound.exit_code == 0, bound.output
    assert cli("repos", "create", "team/notified", "--source", "acme/app").exit_code == 0

    added = cli("notifications", "add", "team/notified", "--url-stdin", input=url + "\n")
    assert added.exit_code == 0, added.output
    assert "signing secret (shown once" in added.stdout
    secret = next(w for w in added.stdout.split() if w.startswith("whsec_"))
    [target] = _json(cli("notifications", "list", "team/notified", "--json"))["items"]
    assert "secret" not in target
    target_id = str(target["id"])

    tested = cli("notifications", "test", "team/notified", target_id)
    assert tested.exit_code == 0, tested.output
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the stack's worker process sends it
        log = _json(cli("notifications", "deliveries", "team/notified", target_id, "--json"))
        [delivery] = log["items"]
        if delivery["state"] != "pending":
            break
        time.sleep(0.2)
    assert (delivery["state"], delivery["response_status"]) == ("delivered", 204)
    [(headers, body)] = received
    assert Webhook(secret).verify(body, headers)["type"] == "notification.test"
    shown = cli("notifications", "deliveries", "team/notified", target_id)
    assert "notification.test" in shown.stdout
    assert "delivered" in shown.stdout

    disabled = cli("notifications", "disable", "team/notified", target_id)
    assert "disabled: disabled by a user" in disabled.stdout
    enabled = _json(cli("notifications", "enable", "team/notified", target_id, "--json"))
    assert enabled["enabled"] is True
    assert _json(cli("notifications", "remove", "team/notified", target_id, "--json"))["deleted"]
    assert _json(cli("notifications", "list", "team/notified", "--json"))["items"] == []
