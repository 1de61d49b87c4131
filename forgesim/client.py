"""What tests hold: the running ``Forge`` handle and its synchronous ``AdminClient``.

The admin client speaks HTTP to ``/_forgesim`` over one kept-alive connection, so it
works from sync tests and from threads alike (it never touches the server's loop).
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class AdminError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"forgesim admin API answered {status}: {body}")
        self.status = status
        self.body = body


class AdminClient:
    def __init__(self, base_url: str, ca_file: Path | None = None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self._lock = threading.Lock()
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._netloc, timeout=30, context=self._context)
        return http.client.HTTPConnection(self._netloc, timeout=30)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with self._lock:
            for attempt in (1, 2):
                conn = self._conn or self._connect()
                try:
                    conn.request(method, "/_forgesim" + path, body=data, headers=headers)
                    resp = conn.getresponse()
                    text = resp.read().decode()
                except (http.client.HTTPException, ConnectionError):
                    conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise
                    continue
                self._conn = conn
                if resp.status >= 400:
                    raise AdminError(resp.status, text)
                return json.loads(text) if text else None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # the contract ----------------------------------------------------------------------
    def create_user(self, username: str, *, name: str = "", email: str = "") -> dict[str, Any]:
        body = {"username": username, "name": name, "email": email}
        return dict(self.request("POST", "/users", body))

    def create_token(
        self, username: str, scopes: list[str], expires_at: str | None = None, *, name: str = ""
    ) -> str:
        body = {"username": username, "scopes": scopes, "expires_at": expires_at}
        if name:
            body["name"] = name
        return str(self.request("POST", "/tokens", body)["token"])

    def create_fine_grained_token(
        self,
        username: str,
        permissions: dict[str, str],
        expires_at: str | None = None,
        *,
        name: str = "",
    ) -> str:
        """GitHub only: a fine-grained token (``github_pat_...``) with repository
        permissions such as ``{"contents": "write", "webhooks": "write"}`` (levels
        ``read`` / ``write``; ``metadata: read`` is implied)."""
        body: dict[str, Any] = {
            "username": username,
            "permissions": permissions,
            "expires_at": expires_at,
        }
        if name:
            body["name"] = name
        return str(self.request("POST", "/github/fine-grained-tokens", body)["token"])

    def revoke_token(self, token: str) -> None:
        self.request("POST", "/tokens/revoke", {"token": token})

    def create_namespace(
        self, path: str, members: dict[str, str] | None = None, *, visibility: str = "private"
    ) -> dict[str, Any]:
        body = {"path": path, "members": members or {}, "visibility": visibility}
        return dict(self.request("POST", "/namespaces", body))

    def create_repository(
        self,
        namespace: str,
        name: str,
        private: bool = True,
        default_branch: str = "main",
        members: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {
            "namespace": namespace,
            "name": name,
            "private": private,
            "default_branch": default_branch,
            "members": members or {},
        }
        return dict(self.request("POST", "/repositories", body))

    def deliveries(self, hook_id: int | None = None) -> list[dict[str, Any]]:
        query = f"?hook_id={hook_id}" if hook_id is not None else ""
        return list(self.request("GET", "/deliveries" + query))

    def clear_deliveries(self) -> None:
        self.request("DELETE", "/deliveries")

    def wait_for_deliveries(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Poll until at least ``count`` deliveries are recorded (they are sent async)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.deliveries()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no webhook delivery is in flight (at most 25 s per call).

        After ``git push`` returns, this is the moment every delivery of that push is
        recorded: check for deliveries that must *not* happen without sleeping."""
        self.request("GET", f"/idle?timeout={timeout:g}")

    def set_fault(
        self,
        path_regex: str,
        *,
        delay_ms: int = 0,
        status: int | None = None,
        body: str | None = None,
        reset: bool = False,
        content_type: str | None = None,
        method: str | None = None,
        times: int | None = None,
    ) -> None:
        self.request(
            "PUT",
            "/faults",
            {
                "path_regex": path_regex,
                "delay_ms": delay_ms,
                "status": status,
                "body": body,
                "reset": reset,
                "content_type": content_type,
                "method": method,
                "times": times,
            },
        )

    def clear_faults(self) -> None:
        self.request("DELETE", "/faults")

    def faults(self) -> list[dict[str, Any]]:
        """The faults set, each with the ``times`` it has left (a fault without a status
        or delay only counts the requests it matches)."""
        found: list[dict[str, Any]] = self.request("GET", "/faults")
        return found


@dataclass(frozen=True)
class Forge:
    provider: str
    url: str  # what a user types as the instance URL
    api_url: str
    ca_file: Path | None
    data_dir: Path
    admin: AdminClient
    git_prefix: str = ""

    def git_url(self, full_path: str) -> str:
        return f"{self.url}{self.git_prefix}/{full_path}.git"

    def git_url_with_token(self, full_path: str, token: str, username: str = "oauth2") -> str:
        """Clone URL with credentials in it (tests only; never do this in the service)."""
        scheme, _, rest = self.git_url(full_path).partition("://")
        return f"{scheme}://{urllib.parse.quote(username)}:{urllib.parse.quote(token)}@{rest}"
