"""Reading registry challenges as Distribution words them."""

from __future__ import annotations

from buildsvc.registry_challenge import Challenge, basic_authorization, parse_challenge


def test_a_bearer_challenge_names_realm_and_service() -> None:
    header = (
        'Bearer realm="https://svc.example/v2/token",service="registry.example",'
        'scope="repository:acme/app:pull,push"'
    )
    assert parse_challenge(header) == Challenge(
        "bearer", "https://svc.example/v2/token", "registry.example"
    )


def test_a_basic_challenge_has_no_token_service() -> None:
    assert parse_challenge('Basic realm="region"') == Challenge("basic", "region", None)
    assert parse_challenge("") == Challenge("", None, None)


def test_basic_authorization_is_base64_of_user_and_password() -> None:
    assert basic_authorization("buildsvc", "s3cret") == "Basic YnVpbGRzdmM6czNjcmV0"
