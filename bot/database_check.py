"""Saying what is wrong with the database in one line, for `serve`/`migrate` at start and for `doctor`.

Never the whole DATABASE_URL: it may hold a password.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot import redaction

# What reaching a database that is down, refusing us or missing its file raises; anything else is a bug to show.
UNREACHABLE_ERRORS = (OSError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)


def database_location(database_url: str) -> str:
    """Where the database is, never who logs in to it or with what password."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"sqlite file {url.database}"
    where = f"{url.host or 'localhost'}{f':{url.port}' if url.port else ''}"
    return f"{backend} at {where}/{url.database or ''}"


def unreachable_reason(error: BaseException) -> str:
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.orig is not None:
        error = error.orig
    if isinstance(error, TimeoutError):
        return "no answer"
    if isinstance(error, OSError) and error.errno is not None and error.errno > 0:
        return os.strerror(error.errno).lower()  # asyncio's own text repeats the address
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {redaction.scrub(first_line)}" if first_line else type(error).__name__


def unreachable_message(database_url: str, error: BaseException) -> str:
    return (
        f"could not reach the database ({database_location(database_url)}: {unreachable_reason(error)}): "
        "check DATABASE_URL and that the database is running."
    )


class NoDatabaseYet(Exception):
    """The SQLite file does not exist: nothing has migrated it yet (and a read-only check must not create it)."""


async def schema_revision(database_url: str) -> str | None:
    """The migration revision the database is at, read without writing anything; None before the first migration.

    The caller bounds it with a timeout. Raises NoDatabaseYet for a SQLite file that is not there, one of
    UNREACHABLE_ERRORS when it cannot be reached.
    """
    engine = create_async_engine(_read_only_url(database_url))
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(text("SET TRANSACTION READ ONLY"))
            has_table = await connection.run_sync(lambda sync: sqlalchemy.inspect(sync).has_table("alembic_version"))
            if not has_table:
                return None
            revision = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            return None if revision is None else str(revision)
    finally:
        await engine.dispose()


def _read_only_url(database_url: str) -> URL:
    from bot.store.database import normalise_database_url

    url = normalise_database_url(database_url)
    if url.get_backend_name() != "sqlite":
        return url
    assert url.database is not None
    path = Path(url.database)
    if not path.exists():
        raise NoDatabaseYet(str(path))
    # SQLite's read-only mode: connecting cannot create the file or change its journal.
    return url.set(database=f"file:{path.resolve()}?mode=ro").update_query_dict({"uri": "true"})


def known_revisions() -> set[str]:
    """Every migration revision this code has, the head included."""
    from alembic.script import ScriptDirectory

    from bot.store.alembic_runner import alembic_config

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
