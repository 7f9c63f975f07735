"""Alembic, configured in code (no alembic.ini), run on the store's own async engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.store.database import Database

MIGRATIONS_DIRECTORY = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every process running migrations.
POSTGRES_MIGRATION_LOCK_KEY = 0x526F6C6C6F7574  # "Rollout"

# Alembic keeps the running migration in module globals (`alembic.context`, `alembic.op`): two migrations
# interleaving on one event loop, even of different databases, would corrupt each other. Hence one lock per loop.
_alembic_locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()


def alembic_config() -> Config:
    config = Config()
    # Config values go through configparser interpolation, which treats "%" as special.
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations directory has no revisions"
    return head


async def upgrade_to_head(database: Database) -> None:
    """`alembic upgrade head` inside one write transaction; safe to run repeatedly and from several processes."""
    async with _alembic_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock()), database.write() as connection:
        if database.dialect_name == "postgresql":
            # Serialises processes that start together; SQLite's write transaction already does.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY})
        await connection.run_sync(_upgrade_on)


def _upgrade_on(connection: Connection) -> None:
    config = alembic_config()
    # env.py migrates this connection instead of opening its own.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
