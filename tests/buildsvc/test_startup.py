"""Startup errors as lines: the variable, its value (secrets masked), the fix.

The commands that print them run as real processes in ``test_cli.py``; these check the
wording rules that every such message keeps.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from buildsvc import startup
from buildsvc.config import Settings


def invalid(monkeypatch: pytest.MonkeyPatch, **env: str) -> startup.InvalidSetting:
    for name, value in env.items():
        monkeypatch.setenv(f"BUILDSVC_{name}", value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    return startup.from_validation(caught.value)


def test_secrets_and_url_passwords_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    error = invalid(monkeypatch, SECRET_KEYS="hunter2-not-a-key")
    assert error.lines()[0].startswith("buildsvc: BUILDSVC_SECRET_KEYS=****: key 1 is not")
    assert startup.masked_url("redis://:hunter2@host:6379/0") == "redis://:****@host:6379/0"
    assert startup.masked_url("redis://host:6379/0") == "redis://host:6379/0"


def test_the_first_invalid_setting_is_described_and_the_others_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = invalid(monkeypatch, PORT="0", WORKER_CONCURRENCY="0", LOG_LEVEL="loud")
    assert error.lines() == [
        "buildsvc: BUILDSVC_PORT=0: should be greater than or equal to 1",
        "fix: correct BUILDSVC_PORT in the environment or .env, or unset it for the default (8080)",
        "also invalid: BUILDSVC_WORKER_CONCURRENCY, BUILDSVC_LOG_LEVEL",
    ]


def test_a_value_settings_could_not_decode_is_named() -> None:
    raised = SettingsError(
        'error parsing value for field "allowed_source_networks" from source "EnvSettingsSource"'
    )
    [first, fix] = startup.from_settings_error(raised).lines()
    assert first == "buildsvc: BUILDSVC_ALLOWED_SOURCE_NETWORKS=…: cannot be parsed"
    assert fix.startswith("fix: correct BUILDSVC_ALLOWED_SOURCE_NETWORKS")
