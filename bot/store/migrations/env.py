"""Alembic environment. Migrates the connection handed over by `bot.store.alembic_runner`, or, for the
CLI, a URL given as `-x url=...`; either way on the store's async drivers."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from bot.store.database import Database, normalise_database_url
from bot.store.schema import UtcDateTime, metadata

config = context.config


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Generated migrations must not import application types that may change after the migration is written.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _cli_database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database as: -x url=<database url>")
    return url


async def _run_cli_migrations() -> None:
    database = Database.connect(_cli_database_url())
    try:
        async with database.write() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await database.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=normalise_database_url(_cli_database_url()),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
elif (shared_connection := config.attributes.get("connection")) is not None:
    do_run_migrations(shared_connection)
else:
    asyncio.run(_run_cli_migrations())
