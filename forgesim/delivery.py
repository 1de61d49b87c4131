"""Sending webhooks: one POST per ``Outgoing``, timed out, recorded, failures counted.

Like GitLab, a hook that fails ``spec.hook_disable_after`` times in a row is disabled
for a minute, doubling per further failure up to a day; after ten times that many
failures it is disabled for good. A success resets it.
"""

from __future__ import annotations

import datetime as dt
import time

import aiohttp

from forgesim.models import Delivery, Hook, Repository, now_iso, parse_iso
from forgesim.provider import Outgoing, ProviderSpec
from forgesim.state import State

MAX_BACKOFF = dt.timedelta(hours=24)
KEEP_DELIVERIES = 5000
RESPONSE_KEEP = 2000  # characters of each response body kept in the record


def hook_disabled(hook: Hook, now: dt.datetime | None = None) -> bool:
    if not hook.active or hook.alert_status == "disabled":
        return True
    if hook.disabled_until is None:
        return False
    return parse_iso(hook.disabled_until) > (now or dt.datetime.now(dt.UTC))


def record_result(hook: Hook, ok: bool, disable_after: int | None) -> None:
    if ok:
        hook.recent_failures = hook.backoff_count = 0
        hook.disabled_until = None
        hook.alert_status = "executable"
        return
    hook.recent_failures += 1
    if disable_after is None or hook.recent_failures < disable_after:
        return
    if hook.recent_failures >= disable_after * 10:
        hook.alert_status, hook.disabled_until = "disabled", None
        return
    hook.backoff_count += 1
    pause = min(dt.timedelta(minutes=2 ** (hook.backoff_count - 1)), MAX_BACKOFF)
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

    async def deliver(self, hook: Hook, repo: Repository, out: Outgoing) -> None:
        """Send ``out`` to ``hook`` unless the hook is disabled; record the attempt."""
        if hook_disabled(hook) or self._session is None:
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
        record_result(hook, ok, self.spec.hook_disable_after)
        self.state.deliveries.append(record)
        del self.state.deliveries[:-KEEP_DELIVERIES]
        self.state.changed()
