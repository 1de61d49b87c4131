"""Rendering console pages: the shared context, filters and provider descriptions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from buildsvc.accounts.services import get_account
from buildsvc.console.rule_form import options_summary
from buildsvc.console.session import ConsoleSession
from buildsvc.errors import ServiceError
from buildsvc.web.keys import PROVIDERS, SESSIONMAKER
from buildsvc.web.responses.repositories import RuleOut


@dataclass(frozen=True, slots=True)
class ProviderCard:
    name: str
    title: str
    url_mode: str  # "required", "optional" or "none"
    url_placeholder: str
    url_hint: str
    token_label: str
    token_hint: str


PROVIDER_CARDS = (
    ProviderCard(
        "gitlab",
        "GitLab",
        "required",
        "https://gitlab.example.com",
        "Enter the root URL of the GitLab instance, not the URL of a repository "
        "(https://gitlab.example.com, or https://example.com/gitlab).",
        "Private Token",
        "A personal access token with the api scope.",
    ),
    ProviderCard(
        "github",
        "GitHub",
        "optional",
        "https://github.com",
        "Leave empty for github.com; for GitHub Enterprise enter the instance root URL.",
        "Personal access token",
        "Classic tokens need the repo and admin:repo_hook scopes.",
    ),
    ProviderCard(
        "bitbucket",
        "Bitbucket",
        "none",
        "",
        "",
        "App password",
        "An app password (or access token) with repository read and webhook permissions.",
    ),
    ProviderCard(
        "bitbucket-server",
        "Bitbucket Server",
        "required",
        "https://bitbucket.example.com",
        "Enter the root URL of the Bitbucket Data Center / Server instance, not a repository URL.",
        "HTTP access token",
        "An HTTP access token with repository admin permission (to add webhooks).",
    ),
)
CARDS_BY_NAME = {card.name: card for card in PROVIDER_CARDS}


def error_context(exc: ServiceError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "detail": exc.detail}


def available_providers(request: web.Request) -> list[str]:
    providers = request.app[PROVIDERS]
    return sorted(providers)


async def page(
    request: web.Request,
    template: str,
    session: ConsoleSession | None,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    """Render ``template`` with the signed-in account and CSRF token added."""
    account_name = None
    if session is not None:
        account_name = (await get_account(request.app[SESSIONMAKER], session.account_id)).name
    full = {
        "csrf_token": session.csrf if session else None,
        "account_name": account_name,
        "path": request.path,
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def when(value: dt.datetime | str | None) -> str:
    """A timestamp as ``2024-05-01 12:00:03 UTC``."""
    if value is None:
        return "\N{EN DASH}"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """A past moment relative to now: ``just now``, ``3 minutes ago``, ``2 days ago``."""
    if value is None:
        return "\N{EN DASH}"
    elapsed = int(((now or dt.datetime.now(dt.UTC)) - value).total_seconds())
    if elapsed < 45:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if elapsed >= size:
            count = round(elapsed / size) if unit == "minute" else elapsed // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "1 minute ago"


def seconds(value: float | None) -> str:
    if value is None:
        return "\N{EN DASH}"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(value), 60)
    return f"{minutes} min {rest:02d} s"


def size(value: int | None) -> str:
    """Bytes as ``12.3 MB`` (decimal units, as registries and ``docker images`` show them)."""
    if value is None:
        return "\N{EN DASH}"
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable: GB is the last unit")


def rule_options(rule: RuleOut) -> str:
    """What a rule sets besides its pattern, in a few words (the rules table's summary)."""
    paths = len(rule.include_paths) + len(rule.ignore_paths)
    return options_summary(len(rule.build_args), len(rule.secret_build_args), rule.no_cache, paths)


FILTERS = {"when": when, "ago": ago, "seconds": seconds, "size": size, "rule_options": rule_options}
