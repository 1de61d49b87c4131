"""Which statuses a batch of reports posts, decided in SQL: on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from buildsvc.builds.forge_status import Report, load_targets
from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import SourceBinding
from tests.common.factories import add_account, add_build, add_repository


async def test_a_batch_posts_what_each_build_still_needs(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            account = await add_account(session)
            repo = await add_repository(session, account.id)
            session.add(
                SourceBinding(
                    account_id=account.id,
                    provider="gitlab",
                    url="http://127.0.0.1:9",
                    api_url="http://127.0.0.1:9/api/v4",
                    api_version="v4",
                    username="alice",
                    forge_user_id="1",
                    token_encrypted="not-a-real-ciphertext",
                    token_last4="abcd",
                )
            )

            async def build(status: str, sha: str, context: str | None, ref: str) -> int:
                added = await add_build(
                    session,
                    account.id,
                    repo.id,
                    status=status,
                    commit_sha=sha * 40,
                    status_context=context,
                    ref=f"refs/heads/{ref}",
                )
                return added.id

            superseded = await build("superseded", "1", "A", "main")
            other_rule = await build("queued", "2", "B", "main")
            superseder = await build("queued", "3", "A", "main")
            covered = await build("superseded", "4", "A", "dev")
            same_commit = await build("queued", "4", "A", "release")  # newer, same name
            cancelled = await build("cancelled", "5", None, "main")
        batch: dict[int, Report] = {
            superseded: "superseded",
            other_rule: "pending",
            superseder: "pending",
            covered: "superseded",
            same_commit: "superseded",  # it is queued: not what was reported any more
            cancelled: "canceled",
        }
        targets = await load_targets(sessionmaker, batch)
    finally:
        await engine.dispose()

    assert sorted((t.build_id, t.report, t.sha[0], t.context, t.description) for t in targets) == [
        (superseded, "superseded", "1", "A", f"Superseded by build {superseder}"),
        (other_rule, "pending", "2", "B", "Build queued"),
        (superseder, "pending", "3", "A", "Build queued"),
        (cancelled, "canceled", "5", "buildsvc", "Build cancelled before it started"),
    ]
    assert {t.state for t in targets} == {"canceled", "pending"}
    assert {t.source_repository for t in targets} == {"group/project"}
