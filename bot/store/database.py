"""The engine and its transactions, with the SQLite/PostgreSQL differences kept in this one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import Table, UpdateBase, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, AdaptedConnection, Connection, make_url
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
        # SQLite: one serving process per database file (its write transaction is the lock); PostgreSQL: any number.
        self.single_process = self.dialect_name == "sqlite"
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

    def lone_statement(self, statement: UpdateBase) -> LoneStatement:
        """`statement` (with bind parameters for what varies) ready to run on its own, compiled once."""
        return LoneStatement(self, statement)

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
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        # Straight to aiosqlite: one trip to its thread, where a statement through SQLAlchemy takes three (cursor,
        # execute, close) and a full execution context. BEGIN returns nothing to read.
        adapted = cast(AdaptedConnection, connection.connection.dbapi_connection)  # how the async engine wraps a driver
        adapted.run_async(lambda driver: driver.execute(statement))


class LoneStatement:
    """One writing statement run outside any transaction, which makes it atomic on its own; returns its row count.

    For the statement every Slack delivery runs (its exactly-once claim). On SQLite it goes straight to aiosqlite: one
    trip to the driver's thread, where a transaction through SQLAlchemy takes five (BEGIN, cursor, execute, close,
    COMMIT). It is compiled once, and its values pass SQLAlchemy's own bind processing, so they are stored exactly as
    SQLAlchemy stores them. On PostgreSQL it is an ordinary write transaction.
    """

    def __init__(self, database: Database, statement: UpdateBase) -> None:
        self._database = database
        self._statement = statement
        self._direct = database.dialect_name == "sqlite"
        self._sql = ""
        self._binds: list[tuple[str, Callable[[Any], Any] | None]] = []
        if self._direct:  # only this path runs the compiled form
            dialect = database.engine.dialect
            compiled = statement.compile(dialect=dialect)
            self._sql = str(compiled)
            self._binds = [
                (name, compiled.binds[name].type.bind_processor(dialect)) for name in compiled.positiontup or ()
            ]

    async def run(self, **values: Any) -> int:
        if not self._direct:
            async with self._database.write() as connection:
                return (await connection.execute(self._statement, values)).rowcount
        parameters = [values[name] if process is None else process(values[name]) for name, process in self._binds]
        async with self._database.engine.connect() as connection:
            # No SQLAlchemy execution on this connection, so no transaction begins: SQLite runs the statement in
            # autocommit, waiting on its busy timeout for the write lock like any writer.
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None  # a connection just checked out of the pool is open
            cursor = await driver.execute(self._sql, parameters)
            return int(cursor.rowcount)
