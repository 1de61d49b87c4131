"""Sending webhooks: one POST per ``Outgoing``, timed out, recorded, failures counted.

A hook that keeps failing is paused, then disabled, as the provider's ``HookBackoff``
says (GitLab: paused after 4 failures in a row for a minute, doubling up to a day,
disabled for good after 40; Bitbucket Server: its circuit breaker). A success resets it.
"""

from __future__ import annotations

import datetime as dt
import time

import aiohttp

from forgesim.models import Delivery, Hook, Repository, now_iso, parse_iso
from forgesim.provider import HookBackoff, Outgoing, ProviderSpec
from forgesim.state import State

KEEP_DELIVERIES = 5000
RESPONSE_KEEP = 2000  # characters of each response body kept in the record


def hook_disabled(hook: Hook, now: dt.datetime | None = None) -> bool:
    if not hook.active or hook.alert_status == "disabled":
        return True
    if hook.disabled_until is None:
        return False
    return parse_iso(hook.disabled_until) > (now or dt.datetime.now(dt.UTC))


def reset_failures(hook: Hook) -> None:
    """What a success does, and what editing a hook does on GitLab and Bitbucket Server."""
    hook.recent_failures = hook.backoff_count = 0
    hook.disabled_until = None
    hook.alert_status = "executable"


def record_result(hook: Hook, ok: bool, backoff: HookBackoff | None) -> None:
    if ok:
        reset_failures(hook)
        return
    hook.recent_failures += 1
    if backoff is None or hook.recent_failures < backoff.after:
        return
    if backoff.disable_after is not None and hook.recent_failures >= backoff.disable_after:
        hook.alert_status, hook.disabled_until = "disabled", None
        return
    hook.backoff_count += 1
    pause = min(backoff.first * 2 ** (hook.backoff_count - 1), backoff.longest)
    until = dt.datetime.now(dt.UTC) + pause
    hook.disabled_until = until.strftime("%Y-%m-%dT%H:%M:%S.") + f"{until.microsecond // 1000:03d}Z"
    hook.alert_status = "temporarily_disabled"


class WebhookSender:
    def __init__(self, state: State, spec: ProviderSpec, timeout: float) -> None:
        self.state = state
        self.spec = spec
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # No cookie jar, no env proxies: deliveries go straight to the hook URL.
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), trust_env=False, auto_decompress=True
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def deliver(
        self, hook: Hook, repo: Repository, out: Outgoing, *, force: bool = False
    ) -> None:
        """Send ``out`` to ``hook`` unless the hook is disabled (``force``: send anyway, as
        a forge's "test" button does); record the attempt."""
        if (hook_disabled(hook) and not force) or self._session is None:
            return
        record = Delivery(
            id=self.state.next_id("delivery"),
            hook_id=hook.id,
            repo=repo.full_path,
            provider=self.spec.name,
            event=out.event,
            url=hook.url,
            headers=dict(out.headers),
            body=out.body.decode(),
            delivered_at=now_iso(),
        )
        started = time.monotonic()
        try:
            async with self._session.post(
                hook.url,
                data=out.body,
                headers=out.headers,
                ssl=hook.ssl_verify,  # False skips certificate checks, as GitLab lets a hook do
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as resp:
                record.status = resp.status
                record.response_body = (await resp.text(errors="replace"))[:RESPONSE_KEEP]
        except TimeoutError:
            record.error = f"timed out after {self.timeout:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        record.duration_ms = round((time.monotonic() - started) * 1000, 1)
        ok = record.error is None and record.status is not None and 200 <= record.status < 300
        record_result(hook, ok, self.spec.hook_backoff)
        self.state.deliveries.append(record)
        del self.state.deliveries[:-KEEP_DELIVERIES]
        self.state.changed()
