"""Startup failures as one line naming the variable, the expected form and the fix.

What can be wrong before the service does any work becomes a ``StartupError``: a setting
that does not validate, a data directory that is a file, a database that cannot be
opened, Redis not answering when a worker starts. The CLI prints ``lines()`` (at most
three) and exits with 2, where it used to print a traceback of 50 to 200 lines.

StartupError
├── InvalidSetting     a BUILDSVC_* value does not validate (``from_validation``)
├── DataDirUnusable    BUILDSVC_DATA_DIR is a file, or its parent does not exist
├── DatabaseUnusable   the database cannot be opened (path or URL named)
├── RedisUnreachable   Redis does not answer (a worker cannot run without it)
└── CannotListen       the API's address is taken or not this machine's

Values are shown as set, except secrets (``****``) and passwords inside URLs.
"""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.engine import make_url

from buildsvc.config import Settings
from buildsvc.jsonlog import configure_logging

REDIS_TIMEOUT_SECONDS = 3.0
DATABASE_TIMEOUT_SECONDS = 10.0
_SETTINGS_ERROR_FIELD = re.compile(r'field "([a-z_]+)"')


class StartupError(Exception):
    """What is wrong, with which variable and value, and how to fix it."""

    def __init__(self, variable: str, value: str, problem: str, fix: str) -> None:
        super().__init__(f"{variable}={value}: {problem}")
        self.variable = variable
        self.value = value
        self.problem = problem
        self.fix = fix
        self.more: list[str] = []  # further variables that are wrong too

    def lines(self) -> list[str]:
        lines = [f"buildsvc: {self.variable}={self.value}: {self.problem}", f"fix: {self.fix}"]
        if self.more:
            lines.append(f"also invalid: {', '.join(self.more)}")
        return lines


class InvalidSetting(StartupError):
    pass


class DataDirUnusable(StartupError):
    pass


class DatabaseUnusable(StartupError):
    pass


class RedisUnreachable(StartupError):
    pass


class CannotListen(StartupError):
    @classmethod
    def at(cls, host: str, port: int, reason: str) -> CannotListen:
        return cls(
            "BUILDSVC_HOST:BUILDSVC_PORT",
            f"{host}:{port}",
            f"cannot listen there ({reason})",
            "choose a free port (BUILDSVC_PORT or --port) or an address of this machine",
        )


def variable(field: str) -> str:
    return f"BUILDSVC_{field.upper()}"


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``****``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _shown(field: str, value: object) -> str:
    if isinstance(value, SecretStr) or field in ("secret_keys", "registry_password"):
        return "****"
    text = str(value)
    if field in ("database_url", "redis_url"):
        text = masked_url(text)
    return repr(text) if not text or text != text.strip() or " " in text else text


def _fix(field: str) -> str:
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    unset = f", or unset it for the default ({default})" if default is not None else ""
    return f"correct {variable(field)} in the environment or .env{unset}"


def from_validation(exc: ValidationError) -> InvalidSetting:
    """The first invalid setting of a ``Settings()`` that failed; the others listed."""
    found: list[tuple[str, object, str]] = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field not in Settings.model_fields or any(f == field for f, _, _ in found):
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message.replace("Input should be", "should be", 1)
        found.append((field, error.get("input"), message))
    if not found:
        return InvalidSetting("BUILDSVC_*", "?", str(exc).splitlines()[0], "check the settings")
    field, value, message = found[0]
    invalid = InvalidSetting(variable(field), _shown(field, value), message, _fix(field))
    invalid.more = [variable(f) for f, _, _ in found[1:]]
    return invalid


def from_settings_error(exc: SettingsError) -> InvalidSetting:
    """pydantic-settings failed to decode a value before validation could say more."""
    named = _SETTINGS_ERROR_FIELD.search(str(exc))
    field = named.group(1) if named and named.group(1) in Settings.model_fields else None
    if field is None:
        return InvalidSetting("BUILDSVC_*", "?", str(exc), "check the settings")
    return InvalidSetting(variable(field), "…", "cannot be parsed", _fix(field))


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file the settings name, or None (PostgreSQL, in memory)."""
    url = make_url(settings.resolved_database_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database)


def check_paths(settings: Settings) -> None:
    """The data directory is a directory (made if missing, in an existing parent), and a
    SQLite database's directory exists: nothing is created where nobody asked."""
    data_dir = settings.data_dir
    fix_dir = "point BUILDSVC_DATA_DIR at a directory (it is created if missing)"
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirUnusable(
            variable("data_dir"), str(data_dir), "is a file, not a directory", fix_dir
        )
    if not data_dir.exists() and not data_dir.absolute().parent.is_dir():
        raise DataDirUnusable(
            variable("data_dir"),
            str(data_dir),
            f"its parent {data_dir.absolute().parent} does not exist",
            f"create {data_dir.absolute().parent} first, or {fix_dir}",
        )
    database = sqlite_file(settings)
    if settings.database_url is None or database is None:
        return
    if not database.parent.is_dir():
        raise DatabaseUnusable(
            variable("database_url"),
            masked_url(settings.database_url),
            f"the directory {database.parent} does not exist",
            f"create {database.parent} first, or point the URL at an existing directory",
        )


async def check_database(settings: Settings) -> None:
    """Open the database once and ask it a trivial question."""
    from buildsvc.store.engine import create_engine, ping

    engine = None
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            engine = create_engine(settings)
            await ping(engine)
    except Exception as exc:  # any driver, any cause: named with the database below
        raise _database_error(settings, exc) from exc
    finally:
        if engine is not None:
            await engine.dispose()


def _database_error(settings: Settings, exc: BaseException) -> DatabaseUnusable:
    cause = _first_line(exc) if not isinstance(exc, TimeoutError) else "no answer"
    database = sqlite_file(settings)
    if settings.database_url is None:
        name, value = variable("data_dir"), str(settings.data_dir)
    else:
        name, value = variable("database_url"), masked_url(settings.database_url)
    where = f"the SQLite database {database}" if database else "the database"
    return DatabaseUnusable(
        name,
        value,
        f"{where} cannot be opened: {cause}",
        f"check that it is a database this user can read and write, or point {name} elsewhere",
    )


async def check_redis(settings: Settings) -> None:
    """Redis answers a PING within a few seconds."""
    from redis.asyncio import Redis

    client = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        async with asyncio.timeout(REDIS_TIMEOUT_SECONDS * 2):
            await client.ping()
    except Exception as exc:  # refused, DNS, auth, timeout: all mean "not usable"
        cause = _first_line(exc) if not isinstance(exc, TimeoutError) else "no answer"
        raise RedisUnreachable(
            variable("redis_url"),
            masked_url(settings.redis_url),
            f"Redis does not answer ({cause})",
            "start Redis there, or point BUILDSVC_REDIS_URL at a running one",
        ) from exc
    finally:
        await client.aclose()


def check_listen(host: str, port: int) -> None:
    """The address can be bound now, before migrations and log lines run ahead of a
    failure that would come only once the server starts (aiohttp reuses addresses too)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise CannotListen.at(host, port, exc.strerror or str(exc)) from exc


def _first_line(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's appended statement and links."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0][:200] if text else type(original).__name__


def load_settings() -> Settings:
    """The settings, validated, with a usable data directory and database path."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise from_validation(exc) from exc
    except SettingsError as exc:
        raise from_settings_error(exc) from exc
    check_paths(settings)
    configure_logging(settings.log_level)
    return settings
