"""Signing in to the console through its form, as a browser does."""

from __future__ import annotations

import re

from tests.common.gitlab_env import Client


async def sign_in(client: Client, token: str) -> str:
    """Sign in through the form; the session's CSRF token."""
    page = await client.get("/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert csrf is not None
    response = await client.post(
        "/console/login",
        data={"csrf_token": csrf.group(1), "token": token, "next": "/console/sources"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/console/sources"
    sources = await client.get("/console/sources")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', await sources.text())
    assert found is not None
    return found.group(1)
