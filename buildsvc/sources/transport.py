"""The one HTTP transport every forge adapter uses: a hardened ``requests.Session``.

- Every connection resolves its host, checks each address against the
  ``AddressPolicy`` and connects to the checked address (no second lookup), so DNS
  rebinding between the binding check and a later request cannot reach a refused
  network. Redirects open new connections through the same check.
- No environment proxies, ``.netrc`` or ``REQUESTS_CA_BUNDLE`` (``trust_env`` off): a
  proxy would hide the real destination from the check.
- A redirect to another host drops the token headers (requests only drops
  ``Authorization``; GitLab's ``PRIVATE-TOKEN`` would otherwise follow it).
- A successful API answer must be JSON: an HTML sign-in page or proxy error page with
  status 200 raises ``UnexpectedAnswer`` instead of reaching the SDK's parser.
- ``ca_cert`` PEM text is validated and written once to a content-addressed file that
  ``verify=`` can point at (a public certificate, not a secret).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import socket
import tempfile
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from buildsvc.sources.errors import InvalidCaCert
from buildsvc.sources.failures import UnexpectedAnswer
from buildsvc.sources.network import AddressPolicy, resolve_checked

TOKEN_HEADERS = ("PRIVATE-TOKEN", "Authorization", "JOB-TOKEN")


def _pinned_connect(conn: HTTPConnection, policy: AddressPolicy) -> socket.socket:
    """Resolve, check every address, connect to a checked one (urllib3's error types)."""
    host = conn._dns_host.strip("[]")  # the name urllib3 would resolve
    try:
        addresses = resolve_checked(host, conn.port, policy)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    last: OSError | None = None
    for _family, address in addresses:
        try:
            return urllib3_connection.create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
            ) from exc
        except OSError as exc:
            last = exc
    raise NewConnectionError(conn, f"Failed to establish a new connection: {last}") from last


def _pinned_pool_classes(
    policy: AddressPolicy,
) -> dict[str, type[HTTPConnectionPool]]:
    class PinnedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_connect(self, policy)

    class PinnedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_connect(self, policy)

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}


class PinnedAdapter(HTTPAdapter):
    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned_pool_classes(self._policy)


def _other_origin(old: str, new: str) -> bool:
    before, after = urlsplit(old), urlsplit(new)
    if before.hostname != after.hostname:
        return True
    if (before.scheme, after.scheme) == ("http", "https"):
        return after.port not in (None, 443) or before.port not in (None, 80)
    return (before.scheme, before.port) != (after.scheme, after.port)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class GuardedSession(requests.Session):
    """A session for one forge operation; close it when the operation ends."""

    def __init__(self, policy: AddressPolicy, ca_file: str | None = None) -> None:
        super().__init__()
        self.trust_env = False
        self.proxies = {}
        self.verify = ca_file if ca_file is not None else True
        self.max_redirects = 5
        adapter = PinnedAdapter(policy)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: Any) -> None:
        """On a redirect to another host (or a downgrade to http) drop every token header."""
        if _other_origin(str(response.request.url or ""), str(prepared_request.url or "")):
            for name in TOKEN_HEADERS:
                prepared_request.headers.pop(name, None)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        if 200 <= response.status_code < 300 and not kwargs.get("stream") and response.content:
            content_type = response.headers.get("Content-Type", "")
            if not _is_json(content_type):
                kind = "HTML" if "html" in content_type.lower() else (content_type or "no type")
                raise UnexpectedAnswer(f"answered with {kind} instead of JSON")
        return response


def validate_ca_cert(pem: str) -> str:
    """The PEM text if it holds at least one X.509 certificate; else ``InvalidCaCert``."""
    try:
        certificates = x509.load_pem_x509_certificates(pem.strip().encode())
    except ValueError as exc:
        raise InvalidCaCert(detail=f"ca_cert must be one or more PEM certificates: {exc}") from None
    if not certificates:
        raise InvalidCaCert(detail="ca_cert holds no PEM certificate")
    return pem.strip() + "\n"


_ca_dir: str | None = None
_ca_lock = threading.Lock()


def ca_file(pem: str) -> str:
    """A file holding ``pem``, named by its hash, written once per process."""
    global _ca_dir
    data = validate_ca_cert(pem).encode()
    with _ca_lock:
        if _ca_dir is None:
            _ca_dir = tempfile.mkdtemp(prefix="buildsvc-ca-")
            atexit.register(shutil.rmtree, _ca_dir, True)
        path = os.path.join(_ca_dir, hashlib.sha256(data).hexdigest()[:32] + ".pem")
        if not os.path.exists(path):
            partial = f"{path}.{threading.get_ident()}.tmp"
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, path)
    return path
