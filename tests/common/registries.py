"""Real Distribution registries (``docker-registry serve``) for replication tests.

``RegistryHttp`` reads and writes any registry over HTTP (Basic auth, or a Bearer
challenge answered from its realm with the same login, as buildsvc's token-auth
registry asks, or by its ``signer``); ``Registry`` runs one on a free loopback port with
htpasswd auth, optionally behind a self-signed TLS certificate (``ca_pem`` is what a
client must trust), or with ``token_settings`` as buildsvc's own registry: the config
``buildsvc admin registry-config`` renders for those settings, the test writing with
tokens signed by their key (``service_bearer``), as buildsvc signs its own calls.
``stop`` and ``start`` keep its port and storage, as a region going down and coming back.
``put_image`` writes an image through the registry API (random layers, a Docker v2
manifest) and ``manifest_digest`` reads what a tag points to.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from buildsvc.config import Settings
from buildsvc.registry.config import render
from buildsvc.registry.server import key_store, service_token
from buildsvc.registry.tokens import Access
from buildsvc.replication.copy import ACCEPT, DOCKER_MANIFEST, OCI_INDEX
from tests.common.servers import free_port
from tests.conftest import IsolatedSettings

USERNAME = "region"


def _self_signed(root: Path) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (root / "cert.pem").write_text(pem)
    (root / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return root / "cert.pem", root / "key.pem", pem


Signer = Callable[[str], str]  # a Bearer challenge's scope -> a token granting it


def service_bearer(settings: Settings, scope: str) -> str:
    """A token for ``scope`` (``repository:NAME:ACTIONS``) signed with ``settings``' key."""
    kind, name, actions = scope.split(":")
    access = [Access(kind, name, tuple(actions.split(",")))]
    return service_token(settings, key_store(settings).ensure(), access).token


@dataclass
class RegistryHttp:
    """A registry's HTTP API, as a test reads and writes it (requests, Basic auth)."""

    url: str
    username: str
    password: str
    verify: str | bool = True
    signer: Signer | None = None

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self._call("GET", path, **kwargs)

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if "://" in path else self.url + path
        login = (self.username, self.password)
        answer = requests.request(method, url, auth=login, verify=self.verify, timeout=30, **kwargs)
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status_code != 401 or not challenge.lower().startswith("bearer "):
            return answer
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if "scope" not in params:  # GET /v2/: nothing to grant
            return answer
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = "Bearer " + self._token(params, login)
        return requests.request(
            method, url, headers=headers, verify=self.verify, timeout=30, **kwargs
        )

    def _token(self, params: dict[str, str], login: tuple[str, str]) -> str:
        if self.signer is not None:
            return self.signer(params["scope"])
        query = {"service": params.get("service", ""), "scope": params["scope"]}
        answer = requests.get(
            params["realm"], params=query, auth=login, verify=self.verify, timeout=30
        )
        answer.raise_for_status()
        return str(answer.json()["token"])

    def put_blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = self._call("POST", f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        joined = location + ("&" if "?" in location else "?") + f"digest={digest}"
        done = self._call(
            "PUT", joined, data=data, headers={"Content-Type": "application/octet-stream"}
        )
        assert done.status_code == 201, done.text
        return digest

    def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> str:
        answer = self._call(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            data=raw,
            headers={"Content-Type": media_type},
        )
        assert answer.status_code == 201, answer.text
        return str(answer.headers["Docker-Content-Digest"])

    def manifest(self, repository: str, reference: str) -> tuple[int, bytes, str | None]:
        """(status, body, Docker-Content-Digest) of a manifest GET."""
        answer = self.get(f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT})
        return answer.status_code, answer.content, answer.headers.get("Docker-Content-Digest")


class Registry(RegistryHttp):
    def __init__(self, *, tls: bool = False, token_settings: Settings | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="buildsvc-region-"))
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        super().__init__(
            f"{'https' if tls else 'http'}://{self.host}", USERNAME, secrets.token_urlsafe(12)
        )
        self.ca_pem: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.token_settings = token_settings
        if token_settings is not None:
            self.signer = functools.partial(service_bearer, token_settings)
            config = render(token_settings, self.host, self.root / "data")
            (self.root / "config.yml").write_text(config)
            return
        htpasswd = subprocess.run(
            ["htpasswd", "-nbB", self.username, self.password],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (self.root / "htpasswd").write_text(htpasswd + "\n")
        http: dict[str, object] = {"addr": self.host, "secret": secrets.token_hex(16)}
        if tls:
            cert, key, self.ca_pem = _self_signed(self.root)
            self.verify = str(cert)
            http["tls"] = {"certificate": str(cert), "key": str(key)}
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}},
            "http": http,
            "auth": {"htpasswd": {"realm": "region", "path": str(self.root / "htpasswd")}},
        }
        (self.root / "config.yml").write_text(json.dumps(config))  # YAML reads JSON

    def start(self) -> None:
        with (self.root / "registry.log").open("ab") as out:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(self.root / "config.yml")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        deadline = time.monotonic() + 15
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "registry.log").read_text()
                raise RuntimeError(f"docker-registry on {self.host} did not start:\n{log}")
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            return self.get("/v2/").status_code in (200, 401)
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def token_source(root: Path) -> Iterator[Registry]:
    """A started token-auth ``Registry`` trusting keys under ``root`` (``token_settings``),
    as buildsvc's own registry; its notifications go to a port nobody listens on."""
    settings = IsolatedSettings(data_dir=root, public_url=f"http://127.0.0.1:{free_port()}")
    yield from running_registry(token_settings=settings)


def running_registry(
    tls: bool = False, token_settings: Settings | None = None
) -> Iterator[Registry]:
    """A started ``Registry`` for a fixture to yield from; closed afterwards."""
    registry = Registry(tls=tls, token_settings=token_settings)
    registry.start()
    try:
        yield registry
    finally:
        registry.close()


@dataclass(frozen=True)
class PushedImage:
    digest: str
    raw: bytes
    layers: list[str]
    config: str


def put_image(
    registry: RegistryHttp, repository: str, tag: str, layers: list[bytes], *, indent: int = 3
) -> PushedImage:
    """An image of ``layers`` at ``repository:tag``; its manifest JSON is indented (as no
    re-serialising client would write it) so a copy that changed bytes shows."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}, "n": tag}
    ).encode()
    config_digest = registry.put_blob(repository, config)
    digests = [registry.put_blob(repository, layer) for layer in layers]
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": config_digest,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(layer),
                "digest": digest,
            }
            for layer, digest in zip(layers, digests, strict=True)
        ],
    }
    raw = json.dumps(manifest, indent=indent).encode()
    digest = registry.put_manifest(repository, tag, raw, DOCKER_MANIFEST)
    return PushedImage(digest, raw, digests, config_digest)


def put_index(
    registry: RegistryHttp, repository: str, tag: str, children: list[PushedImage]
) -> str:
    """An OCI index over ``children`` (already in ``repository``) at ``tag``."""
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": DOCKER_MANIFEST,
                "digest": child.digest,
                "size": len(child.raw),
                "platform": {"architecture": arch, "os": "linux"},
            }
            for child, arch in zip(children, ("amd64", "arm64", "s390x"), strict=False)
        ],
    }
    return registry.put_manifest(repository, tag, json.dumps(index).encode(), OCI_INDEX)


def layers(count: int, size: int) -> list[bytes]:
    return [os.urandom(size) for _ in range(count)]
