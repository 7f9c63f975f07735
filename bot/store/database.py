"""The engine and its transactions, with the SQLite/PostgreSQL differences kept in this one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# How long a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
_WRITE_TRANSACTION = "rollout_bot_write_transaction"


def normalise_database_url(database_url: str) -> URL:
    """Map any SQLite/PostgreSQL URL onto the async driver this store uses (aiosqlite, asyncpg)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
        if "sslmode" in url.query:
            # Hosted PostgreSQL URLs carry libpq's `sslmode`; asyncpg calls the same setting `ssl`.
            url = url.difference_update_query(["sslmode"]).update_query_dict({"ssl": url.query["sslmode"]})
        return url
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            # Every pooled connection would see its own empty in-memory database.
            raise ValueError("in-memory SQLite is not supported: give the store a database file")
        return url.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


class Database:
    """An async engine plus `read()` / `write()` transactions that behave the same on both backends."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect_name = engine.dialect.name
        # Shares the pool; only marks its transactions as writers (see _begin_sqlite_transaction).
        self._writer = engine.execution_options(**{_WRITE_TRANSACTION: True})

    @classmethod
    def connect(cls, database_url: str) -> Database:
        url = normalise_database_url(database_url)
        if url.get_backend_name() == "sqlite":
            engine = create_async_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                # No ROLLBACK as each connection goes back to the pool: every transaction here ends in COMMIT or
                # ROLLBACK inside read()/write(), and outside them the driver is in autocommit (see below). On
                # aiosqlite each statement is a round trip to its thread, so this is one fewer per transaction.
                pool_reset_on_return=None,
            )
            _take_over_sqlite_transactions(engine)
        else:
            engine = create_async_engine(url, pool_pre_ping=True)
        return cls(engine)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer.begin() as connection:
            yield connection

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT supporting `on_conflict_do_nothing` / `on_conflict_do_update` on this backend."""
        if self.dialect_name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _take_over_sqlite_transactions(engine: AsyncEngine) -> None:
    """SQLAlchemy's documented recipe for letting it, not the sqlite3 module, emit BEGIN."""

    @event.listens_for(engine.sync_engine, "connect")
    def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers proceed while a writer holds the lock.
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite's recommendation for WAL: no fsync on every commit, only at checkpoints. A crash of the process
        # loses nothing; only a power cut can undo the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_sqlite_transaction(connection: Connection) -> None:
        # A deferred transaction that later starts writing gets SQLITE_BUSY at once when another writer is
        # active; taking the write lock up front makes writers queue on the busy timeout instead.
        immediate = connection.get_execution_options().get(_WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
