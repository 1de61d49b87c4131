"""Every setting is documented in README.md, so operators can find what to set."""

from __future__ import annotations

from pathlib import Path

import pytest

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
