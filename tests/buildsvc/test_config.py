"""Every setting is documented in README.md, so operators can find what to set."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from buildsvc.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"`BUILDSVC_{name.upper()}`" not in text]
    assert missing == []


def test_every_setting_has_a_description() -> None:
    assert [name for name, f in Settings.model_fields.items() if not f.description] == []


def test_settings_read_the_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILDSVC_PORT", "9999")
    monkeypatch.setenv("BUILDSVC_ALLOWED_SOURCE_NETWORKS", '["127.0.0.0/8"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 9999
    assert settings.allowed_source_networks == ["127.0.0.0/8"]


def test_an_empty_memory_limit_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILDSVC_BUILD_MEMORY_LIMIT", "")
    assert Settings(_env_file=None).build_memory_limit is None  # type: ignore[call-arg]
    monkeypatch.setenv("BUILDSVC_BUILD_MEMORY_LIMIT", "2g")
    assert Settings(_env_file=None).build_memory_limit == "2g"  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "networks"),
    [
        ("127.0.0.0/8", ["127.0.0.0/8"]),  # issue 14: this used to want JSON
        ("127.0.0.0/8, 10.0.0.0/8", ["127.0.0.0/8", "10.0.0.0/8"]),
        ('["127.0.0.0/8", "::1/128"]', ["127.0.0.0/8", "::1/128"]),
        ("", []),
    ],
)
def test_list_settings_take_commas_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, networks: list[str]
) -> None:
    monkeypatch.setenv("BUILDSVC_ALLOWED_SOURCE_NETWORKS", value)
    assert Settings(_env_file=None).allowed_source_networks == networks  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ALLOWED_SOURCE_NETWORKS", "127.0.0.0/33", "is not a network"),
        ("ALLOWED_SOURCE_NETWORKS", '["127.0.0.0/8"', "a JSON list that does not parse"),
        ("BUILD_TIMEOUT_SECONDS", "-1", "greater than or equal to 1"),
        ("WORKER_CONCURRENCY", "0", "greater than or equal to 1"),
        ("PORT", "70000", "less than or equal to 65535"),
        ("SOURCE_TIMEOUT_SECONDS", "0", "greater than 0"),
        ("REDIS_URL", "localhost:6379", "expected redis://"),
        ("REDIS_URL", "redis://localhost:63x9/0", "the port is not a number"),
        ("REDIS_URL", "redis://localhost/zero", "the database 'zero' is not a number"),
        ("DATABASE_URL", "sqlite:///var/x.db", "expected sqlite+aiosqlite:///"),
        ("PUBLIC_URL", "builds.example.com", "expected an http(s) URL"),
        ("SECRET_KEYS", "not-a-key", "key 1 is not a Fernet key"),
        ("LOG_LEVEL", "loud", "expected one of DEBUG"),
    ],
)
def test_values_out_of_range_or_form_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(f"BUILDSVC_{name}", value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    [error] = caught.value.errors()
    assert error["loc"] == (name.lower(),)
    assert fragment in error["msg"]
