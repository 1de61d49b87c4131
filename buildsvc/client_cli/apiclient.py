"""The REST API as the CLI sees it: JSON calls, pagination and server-sent events.

Every failure becomes one ``ApiError`` carrying the API's ``code``, ``message`` and
``detail`` (``CONNECTION_FAILED`` when the API cannot be reached at all,
``CONNECTION_LOST`` when an event stream breaks), so commands print errors one way and
no requests exception escapes. ``status`` is 0 when no answer came.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

TIMEOUT_SECONDS = 30.0
STREAM_READ_TIMEOUT_SECONDS = 60.0  # the API sends a keep-alive every 15 s


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, detail: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": {"code": self.code, "message": self.message, "detail": self.detail},
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event."""

    event: str  # "message" unless the server named it
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


def _error_from(response: requests.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(
            response.status_code, str(error["code"]), str(error["message"]), error.get("detail")
        )
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:200] or response.reason
        return ApiError(
            response.status_code, f"HTTP_{response.status_code}", "Unexpected answer.", text
        )


class ApiClient:
    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self._session.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._session.request(method, self.url + path, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(
                0, "CONNECTION_FAILED", f"Cannot reach the API at {self.url}.", str(exc)
            ) from exc
        if response.status_code >= 400:
            error = _error_from(response)
            response.close()
            raise error
        return response

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        response = self._send(method, path, json=body, params=params, timeout=self.timeout)
        if response.status_code == 204:  # No Content: nothing to parse
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                response.status_code, "INVALID_RESPONSE", "The API did not answer JSON.", None
            ) from exc

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def all_items(self, path: str, **params: Any) -> Iterator[Any]:
        """Every item of a paginated list, page after page."""
        page = 1
        while True:
            answer = self.get(path, page=page, per_page=100, **params)
            yield from answer["items"]
            if page * 100 >= int(answer["total"]) or not answer["items"]:
                return
            page += 1

    def events(
        self, path: str, *, last_event_id: str | None = None
    ) -> Generator[Event, None, None]:
        """Server-sent events of ``path`` until the server closes the stream.

        The request is sent at once (an unreachable API raises here); a stream that
        breaks later raises ``ApiError`` ``CONNECTION_LOST`` from the generator. Close
        the generator when leaving early: that closes the connection."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        response = self._send(
            "GET",
            path,
            headers=headers,
            stream=True,
            timeout=(self.timeout, STREAM_READ_TIMEOUT_SECONDS),
        )
        return self._read_events(response)

    def _read_events(self, response: requests.Response) -> Generator[Event, None, None]:
        with response:
            try:
                yield from parse_events(response.iter_lines(decode_unicode=True))
            except requests.RequestException as exc:
                raise ApiError(
                    0, "CONNECTION_LOST", f"Lost the connection to {self.url}.", str(exc)
                ) from exc


def parse_events(lines: Iterator[str | bytes]) -> Iterator[Event]:
    """The SSE wire format: fields until a blank line; comments (``:``) ignored."""
    name: str = "message"
    event_id: str | None = None
    data: list[str] = []
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        if not line:
            if data:
                yield Event(name, "\n".join(data), event_id)
            name, event_id, data = "message", None, []
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
        elif key == "id":
            event_id = value
    if data:
        yield Event(name, "\n".join(data), event_id)
