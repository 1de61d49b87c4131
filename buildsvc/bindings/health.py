"""Token health, the checking half: ``POST /api/v1/sources/{provider}/check``.

Runs the stored binding through the provider's binding checks again (user, token,
scopes, expiry: what ``POST /api/v1/sources`` checks), with the stored token:

- they pass: the binding is ``ok`` again (a broken mark is cleared), with the scopes and
  expiry date the forge reports now;
- the forge answers but refuses (token revoked or expired, scope removed, user gone):
  the binding is marked ``broken`` with that reason; the answer is the binding, 200;
- the forge cannot be reached: nothing changes, 502 ``SOURCE_UNREACHABLE``.

Like every mark (``bindings.watch``), both updates apply only while the stored token is
still the one checked, so a re-bind during the check is never overwritten.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from buildsvc.bindings.access import SourceAccess, expiry_warning
from buildsvc.bindings.errors import SourceNotBound
from buildsvc.bindings.service import BindingView
from buildsvc.bindings.watch import OK, mark_broken
from buildsvc.errors import SourceError, SourceUnreachable
from buildsvc.store.models import SourceBinding


def _not_bound(provider: str) -> SourceNotBound:
    return SourceNotBound(f"No {provider} account is bound.")


async def check_binding(access: SourceAccess, account_id: int, provider: str) -> BindingView:
    checker = access.provider(provider)
    row = await access.find(account_id, provider)
    if row is None:
        raise _not_bound(provider)
    _, credentials = access.restore(row)
    warnings: tuple[str, ...] = ()
    try:
        binding = await checker.bind(credentials)
    except SourceUnreachable as exc:  # no verdict on the token: leave the binding as it is
        raise SourceUnreachable(detail=exc.detail) from exc
    except SourceError as exc:
        reason = f"refused on check: {exc.detail or exc.message}"
        await mark_broken(access.sessionmaker, row.id, row.token_encrypted, reason)
    else:
        warnings = binding.warnings
        async with access.sessionmaker.begin() as session:
            await session.execute(
                update(SourceBinding)
                .where(
                    SourceBinding.id == row.id,
                    SourceBinding.token_encrypted == row.token_encrypted,
                )
                .values(
                    status=OK,
                    broken_reason=None,
                    scopes=list(binding.scopes),
                    expires_at=binding.expires_at,
                )
                .execution_options(synchronize_session=False)
            )
    found = await access.find(account_id, provider)
    if found is None:  # unbound meanwhile
        raise _not_bound(provider)
    today = dt.datetime.now(dt.UTC).date()
    expiry = expiry_warning(found.expires_at, today, access.settings.token_expiry_warning_days)
    return BindingView(
        found, tuple(w for w in warnings if w != expiry) + ((expiry,) if expiry else ())
    )
