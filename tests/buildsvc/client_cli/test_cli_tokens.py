"""``buildsvc tokens create|list|revoke`` against a running stack."""

from __future__ import annotations

import json
from collections.abc import Callable

from click.testing import Result

Cli = Callable[..., Result]


def test_create_list_and_revoke(cli: Cli) -> None:
    created = cli("tokens", "create", "ci-deploy", "--expires-in-days", "7")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("bsv_")
    assert "Copy it now: it is not shown again." in created.stderr

    listed = cli("tokens", "list", "--json")
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)["items"]
    [mine] = [item for item in items if item["last4"] == token[-4:]]
    assert (mine["name"], mine["expires_at"] is not None) == ("ci-deploy", True)
    assert token not in listed.stdout
    table = cli("tokens", "list")
    assert f"…{token[-4:]}" in table.stdout

    revoked = cli("tokens", "revoke", str(mine["id"]), "--yes")
    assert revoked.exit_code == 0, revoked.output
    assert f"Revoked API token {mine['id']}." in revoked.stdout
    again = cli("tokens", "revoke", str(mine["id"]), "--yes")
    assert again.exit_code != 0
    assert "TOKEN_NOT_FOUND" in again.stderr
