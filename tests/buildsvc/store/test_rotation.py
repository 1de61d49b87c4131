"""``admin rotate-secrets``: every stored secret re-encrypted, so the old key can go."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from buildsvc.config import Settings
from buildsvc.crypto import Cipher, generate_key
from buildsvc.secret_args import decrypt_secrets, encrypt_secrets
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import Build, BuildRule, ImageRepository, NotificationTarget
from buildsvc.store.rotation import rotate_stored_secrets
from tests.common.factories import add_account, add_build, add_repository, build_rule

ARGS = {"MODE": "prod", "TOKEN": "hunter2-to-rotate"}


async def test_rules_and_builds_secret_build_args_are_rotated(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)
    old, new = generate_key().encode(), generate_key().encode()
    before = Cipher([old])
    stored = encrypt_secrets(before, ARGS, ["TOKEN"])
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            account = await add_account(session)
            rule = build_rule(build_args=stored, secret_build_args=["TOKEN"])
            repository = await add_repository(
                session,
                account.id,
                hook_secret_encrypted=before.encrypt("hook-secret"),
                rules=[rule],
            )
            for _ in range(5):
                await add_build(
                    session,
                    account.id,
                    repository.id,
                    build_args=stored,
                    secret_build_args=["TOKEN"],
                )
            plain = await add_build(session, account.id, repository.id, build_args={"A": "1"})

        # Builds in batches of 2: three transactions, the last one short.
        rotated = await rotate_stored_secrets(sessionmaker, Cipher([new, old]), batch_size=2)

        assert rotated == 1 + 1 + 5  # the hook secret, the rule's TOKEN, each build's TOKEN
        only_new = Cipher([new])  # the old key is gone
        async with sessionmaker() as session:
            rules = (await session.scalars(select(BuildRule))).all()
            builds = (await session.scalars(select(Build).order_by(Build.id))).all()
            hooked = await session.get(ImageRepository, repository.id)
        assert hooked is not None
        assert only_new.decrypt(hooked.hook_secret_encrypted) == "hook-secret"
        for row in [*rules, *[b for b in builds if b.id != plain.id]]:
            assert row.build_args["TOKEN"] != stored["TOKEN"]
            assert decrypt_secrets(only_new, row.build_args, row.secret_build_args) == ARGS
        assert [b.build_args for b in builds if b.id == plain.id] == [{"A": "1"}]
    finally:
        await engine.dispose()


async def test_notification_urls_and_signing_secrets_are_rotated(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)
    old, new = generate_key().encode(), generate_key().encode()
    before = Cipher([old])
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            account = await add_account(session)
            repository = await add_repository(
                session, account.id, hook_secret_encrypted=before.encrypt("hook-secret")
            )
            for kind, secret in (("webhook", "whsec_c2VjcmV0"), ("slack", None)):
                session.add(
                    NotificationTarget(
                        repository_id=repository.id,
                        kind=kind,
                        url_encrypted=before.encrypt(f"https://{kind}.example.com/T0/secret"),
                        url_display=f"https://{kind}.example.com/T0",
                        secret_encrypted=before.encrypt(secret) if secret else None,
                        events=["build.failed"],
                    )
                )

        rotated = await rotate_stored_secrets(sessionmaker, Cipher([new, old]))

        assert rotated == 1 + 3  # the hook secret; two URLs and one signing secret
        only_new = Cipher([new])
        async with sessionmaker() as session:
            targets = (
                await session.scalars(select(NotificationTarget).order_by(NotificationTarget.id))
            ).all()
        assert [only_new.decrypt(t.url_encrypted) for t in targets] == [
            "https://webhook.example.com/T0/secret",
            "https://slack.example.com/T0/secret",
        ]
        assert only_new.decrypt(targets[0].secret_encrypted or "") == "whsec_c2VjcmV0"
    finally:
        await engine.dispose()
