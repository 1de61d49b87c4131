"""One delivery attempt against real sockets on loopback: what the network or the target
does becomes an ``Outcome`` (never an exception), described without the URL."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from buildsvc import notifications
from buildsvc.notifications import http
from buildsvc.sources import AddressPolicy
from tests.common.receivers import receiving

LOOPBACK = AddressPolicy.from_cidrs(["127.0.0.0/8"])
SECRET_PATH = "/services/T000/B000/token-in-the-path"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_refused_connection() -> None:
    url = f"http://127.0.0.1:{closed_port()}{SECRET_PATH}"

    outcome = await http.post(url, b"{}", {}, LOOPBACK, 2)

    assert (outcome.status, outcome.ok) == (None, False)
    assert outcome.error == "the connection failed (refused, reset or DNS)"


async def test_no_answer_in_time(silent_port: int) -> None:
    outcome = await http.post(f"http://127.0.0.1:{silent_port}/", b"{}", {}, LOOPBACK, 0.3)

    assert outcome.error == "no answer within 0.3 s"
    assert outcome.milliseconds >= 300


async def test_a_redirect_is_a_failure_and_not_followed() -> None:
    async with receiving([302]) as receiver:
        outcome = await http.post(receiver.url, b"{}", {}, LOOPBACK, 2)

    assert (outcome.status, outcome.error, outcome.ok) == (302, "answered 302", False)
    assert len(receiver.received) == 1


async def test_a_refused_address_is_not_contacted() -> None:
    async with receiving() as receiver:
        outcome = await http.post(receiver.url + SECRET_PATH, b"{}", {}, AddressPolicy(), 2)

    assert receiver.received == []
    assert outcome.error == "refused by the address policy: 127.0.0.1 resolves to 127.0.0.1"
    assert SECRET_PATH not in outcome.error


def test_the_display_form_hides_credentials_query_and_the_path_tail() -> None:
    url = "https://user:pass@hooks.example.com:8443/services/T000/B000/tail-that-is-a-secret?token=abc"

    assert http.display_url(url) == "https://hooks.example.com:8443/services/T0…"


def test_the_package_exports_emit_and_the_event_names() -> None:
    assert sorted(notifications.__all__) == ["Event", "emit"]
    assert [e.value for e in notifications.Event][:2] == ["build.queued", "build.started"]
