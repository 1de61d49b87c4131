"""Where ``buildsvc login`` keeps the API URL and token.

``$XDG_CONFIG_HOME/buildsvc/config.json`` (``~/.config/buildsvc/config.json`` without
it): the directory is created ``0700`` and the file written ``0600`` through a temporary
file and a rename, so the token is never readable by others, not even for an instant.
``BUILDSVC_API_URL`` and ``BUILDSVC_API_TOKEN`` override the file (for CI jobs).

A URL without a scheme gets one (``api.example.com`` → ``https://``, a loopback host
→ ``http://``), as ``docker login`` does, rather than requests' "No connection adapters".
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

URL_ENV = "BUILDSVC_API_URL"
TOKEN_ENV = "BUILDSVC_API_TOKEN"  # noqa: S105 -- the variable's name, not a secret
DEFAULT_URL = "http://127.0.0.1:8080"


class ConfigError(Exception):
    """No usable login: the message says what to run."""


@dataclass(frozen=True, slots=True)
class Login:
    url: str
    token: str

    def __repr__(self) -> str:  # never print the token by accident
        return f"Login(url={self.url!r}, token='…{self.token[-4:]}')"


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(text: str) -> str:
    """``text`` as an http(s) base URL without a trailing slash; ConfigError if it is none."""
    url = text.strip()
    if "://" not in url:
        host = urlsplit(f"//{url}").hostname or ""
        url = f"{'http' if _loopback(host) else 'https'}://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{text!r} is not an API URL; give one like http://127.0.0.1:8080")
    return url.rstrip("/")


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "buildsvc"


def config_path() -> Path:
    return config_dir() / "config.json"


def save(login: Login) -> Path:
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    path = config_path()
    partial = path.with_name(f".config.{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"url": login.url, "token": login.token}, handle)
        handle.write("\n")
    os.replace(partial, path)
    return path


def load() -> Login:
    """The environment's login, else the saved one; ConfigError when there is none."""
    url, token = os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV)
    saved: dict[str, str] = {}
    path = config_path()
    if path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON; run `buildsvc login` again") from exc
    url = normalize_url(url or saved.get("url") or DEFAULT_URL)
    token = token or saved.get("token")
    if not token:
        raise ConfigError(f"not logged in: run `buildsvc login` (or set {TOKEN_ENV})")
    return Login(url, token)


def forget() -> bool:
    path = config_path()
    if path.exists():
        path.unlink()
        return True
    return False
