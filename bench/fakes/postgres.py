"""Temporary PostgreSQL databases (loopback, trust auth) for the tests and the bench."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.store.database import normalise_database_url

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def postgres_unavailable_reason(base_url: str = DEFAULT_POSTGRES_URL) -> str | None:
    """None when PostgreSQL answers at `base_url`, else why not (for `pytest.skip`)."""
    engine = _admin_engine(base_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (OSError, TimeoutError, SQLAlchemyError) as error:
        host = normalise_database_url(base_url).render_as_string(hide_password=True)
        return f"PostgreSQL is not reachable at {host}: {type(error).__name__}"
    finally:
        await engine.dispose()
    return None


@asynccontextmanager
async def temporary_postgres_url(
    base_url: str = DEFAULT_POSTGRES_URL, *, prefix: str = "rollout_bot_test_"
) -> AsyncIterator[str]:
    """Create a uniquely named, empty database next to `base_url`; yield its URL; drop it afterwards.

    `prefix` starts the name, so whatever a killed run left behind shows whose it was."""
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    engine = _admin_engine(base_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield normalise_database_url(base_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with engine.connect() as connection:
                # FORCE: a test that leaked a connection must not leave the database behind.
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@asynccontextmanager
async def transaction_counts(
    base_url: str, database: str
) -> AsyncIterator[Callable[[], Awaitable[tuple[int, int, int]]]]:
    """A reader of `database`'s committed and rolled-back transactions and of its sessions (connections established),
    from pg_stat_database, as the server counts them.

    It reads over one connection to `base_url`'s own database, so its reads are not in the counts. Each read is a
    transaction of its own (autocommit), hence a fresh statistics snapshot. Backends publish their counts when idle,
    up to 10 s late: the caller waits for them."""
    if normalise_database_url(base_url).database == database:
        raise ValueError("read the counts from another database than the one counted")
    engine = _admin_engine(base_url)
    try:
        async with engine.connect() as connection:

            async def read() -> tuple[int, int, int]:
                row = (
                    await connection.execute(
                        text("SELECT xact_commit, xact_rollback, sessions FROM pg_stat_database WHERE datname = :name"),
                        {"name": database},
                    )
                ).one()
                return int(row.xact_commit), int(row.xact_rollback), int(row.sessions)

            yield read
    finally:
        await engine.dispose()


def _admin_engine(base_url: str) -> AsyncEngine:
    # CREATE/DROP DATABASE cannot run inside a transaction; NullPool leaves no idle connection behind.
    return create_async_engine(
        normalise_database_url(base_url),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"timeout": 5},
    )
