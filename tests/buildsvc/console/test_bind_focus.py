"""After a failed bind the form opens on the field to fix."""

from __future__ import annotations

from buildsvc.console.bind_focus import wrong_field


def test_each_failure_points_at_its_field() -> None:
    assert wrong_field("SOURCE_ERROR_RESPONSE", "GitLab answered 401", has_url=True) == "token"
    assert wrong_field("SOURCE_ERROR_RESPONSE", "token scopes are read_user", has_url=True) == (
        "token"
    )
    mismatch = "the token belongs to user bob, not alice"
    assert wrong_field("SOURCE_ERROR_RESPONSE", mismatch, has_url=True) == "username"
    assert wrong_field("SOURCE_UNREACHABLE", "connection refused", has_url=True) == "url"
    assert wrong_field("INVALID_SOURCE_URL", "a repository URL", has_url=True) == "url"
    assert wrong_field("INVALID_INPUT", "ca_cert holds no PEM certificate", has_url=True) == (
        "ca_cert"
    )


def test_without_a_url_field_an_unreachable_forge_points_at_the_token() -> None:
    assert wrong_field("SOURCE_UNREACHABLE", "timeout", has_url=False) == "token"
