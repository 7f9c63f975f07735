from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.store.alembic_runner import POSTGRES_MIGRATION_LOCK_KEY, alembic_config, head_revision
from bot.store.schema import approvals, metadata, users

STORE_TABLES = {
    "users",
    "deliveries",
    "conversations",
    "conversation_messages",
    "approvals",
    "parked_requests",
    "activity",
    "answer_feedback",
    "llm_usage",
    "thread_saves",
    "follows",
    "digest_settings",
    "scheduled_work",
    "rollout_read_budget",
    "slack_installations",
    "slack_bots",
    "slack_oauth_states",
}


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_open_does_not_migrate_and_migrate_creates_every_table(
    empty_database_url, encryption_keys, open_store, raw_database
):
    async with open_store(empty_database_url, encryption_keys) as store, raw_database(empty_database_url) as database:
        async with database.read() as connection:
            assert await connection.run_sync(_table_names) == set()

        await store.migrate()

        async with database.read() as connection:
            assert await connection.run_sync(_table_names) == {*STORE_TABLES, "alembic_version"}
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert versions == [head_revision()]


async def test_migrating_again_changes_nothing(
    empty_database_url, encryption_keys, open_store, raw_database, make_user
):
    user = make_user()
    async with open_store(empty_database_url, encryption_keys) as store:
        await store.migrate()
        await store.users.set_default_credential(user, "cred-1")

        await store.migrate()

        assert (await store.users.get_or_create(user)).default_credential_id == "cred-1"
    async with raw_database(empty_database_url) as database, database.read() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert versions == [head_revision()]


async def test_two_processes_migrating_at_once_both_succeed(empty_database_url, encryption_keys, open_store):
    async with (
        open_store(empty_database_url, encryption_keys) as first,
        open_store(empty_database_url, encryption_keys) as second,
    ):
        await asyncio.gather(first.migrate(), second.migrate())


async def test_migrated_schema_matches_the_models(store, database_url, raw_database):
    def differences(connection: Connection) -> list[object]:
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with raw_database(database_url) as database, database.read() as connection:
        assert await connection.run_sync(differences) == []


async def test_migrations_of_different_databases_can_run_at_once(tmp_path, encryption_keys, open_store):
    first_url, second_url = f"sqlite:///{tmp_path / 'first.db'}", f"sqlite:///{tmp_path / 'second.db'}"
    async with open_store(first_url, encryption_keys) as first, open_store(second_url, encryption_keys) as second:
        await asyncio.gather(first.migrate(), second.migrate())

        for store in (first, second):
            assert await store.deliveries.claim("migrated") is True


async def _migration_lock_waiters(database) -> int:
    async with database.read() as connection:
        return await connection.scalar(
            text("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = :low"),
            {"low": POSTGRES_MIGRATION_LOCK_KEY & 0xFFFFFFFF},
        )


async def test_on_postgresql_migrate_waits_for_another_process_migrating(
    fresh_postgres_url, encryption_keys, open_store, raw_database
):
    async with (
        raw_database(fresh_postgres_url) as other_process,
        open_store(fresh_postgres_url, encryption_keys) as store,
    ):
        async with other_process.write() as connection:
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY})
            migration = asyncio.create_task(store.migrate())
            async with asyncio.timeout(10):
                # PostgreSQL offers no event for "a session started waiting on this lock": poll pg_locks.
                while await _migration_lock_waiters(other_process) == 0:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            assert not migration.done()

        await asyncio.wait_for(migration, timeout=10)


async def test_saves_finished_before_the_upgrade_stay_saved_after_it(
    empty_database_url, encryption_keys, open_store, raw_database, make_user
):
    requester, with_default = make_user(), make_user()

    def upgrade_to_0005(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")

    def save(user, status: str, last_ts: str, credential: str | None, thread: str = "1700000000.000001") -> dict:
        person = {"id": "per_1", "name": "Ada", "email": None, "credential_id": credential, "url": None}
        now = datetime.now(UTC)
        return {
            "id": uuid.uuid4().hex,
            "team_id": user.team_id,
            "user_id": user.user_id,
            "tool_name": "slack.thread_to_crm",
            "arguments": {"last_ts": last_ts, "person": person, "channel_id": "C1", "thread_ts": thread},
            "summary": "Save a Slack thread",
            "status": status,
            "conversation_team_id": user.team_id,
            "conversation_channel_id": "C1",
            "conversation_thread_ts": thread,
            "expires_at": now,
            "created_at": now,
            "updated_at": now,
        }

    async with raw_database(empty_database_url) as database:
        async with database.write() as connection:
            await connection.run_sync(upgrade_to_0005)
        async with database.write() as connection:
            await connection.execute(
                approvals.insert(),
                [
                    save(requester, "done", "1700000005.000100", "cred-a"),
                    save(requester, "done", "1700000012.000100", "cred-a"),
                    save(requester, "cancelled", "1700000099.000100", "cred-a"),
                    save(requester, "done", "1700000003.000100", "cred-b"),
                    save(with_default, "done", "1700000007.000100", None),
                ],
            )
            await connection.execute(
                users.insert().values(
                    team_id=with_default.team_id,
                    user_id=with_default.user_id,
                    subject="s",
                    default_credential_id="cred-d",
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                )
            )

    async with open_store(empty_database_url, encryption_keys) as store:
        await store.migrate()
        logs = store.thread_logs
        assert await logs.last_logged(requester, "cred-a", "C1", "1700000000.000001") == "1700000012.000100"
        assert await logs.last_logged(requester, "cred-b", "C1", "1700000000.000001") == "1700000003.000100"
        assert await logs.last_logged(with_default, "cred-d", "C1", "1700000000.000001") == "1700000007.000100"
        assert await logs.last_logged(requester, "cred-a", "C1", "1700000000.000999") is None
