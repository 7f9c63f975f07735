"""Every store test runs twice: on a SQLite file and on a real PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from cryptography.fernet import Fernet

from bench.fakes.postgres import postgres_unavailable_reason, temporary_postgres_url
from bot.identity import SlackUser
from bot.store import Store
from bot.store.database import Database


@asynccontextmanager
async def _open_store(database_url: str, keys: Sequence[str]) -> AsyncIterator[Store]:
    store = await Store.open(database_url, keys)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def _raw_database(database_url: str) -> AsyncIterator[Database]:
    database = Database.connect(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def open_store() -> Callable[[str, Sequence[str]], AbstractAsyncContextManager[Store]]:
    """More stores on one database: what separate processes would have."""
    return _open_store


@pytest.fixture
def raw_database() -> Callable[[str], AbstractAsyncContextManager[Database]]:
    """Direct SQL access, to check what the repositories really wrote."""
    return _raw_database


@pytest.fixture
def new_key() -> Callable[[], str]:
    return lambda: Fernet.generate_key().decode()


@pytest.fixture(scope="session")
async def postgres_available() -> None:
    reason = await postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("REQUIRE_POSTGRES"):  # CI must run these, not skip them
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
async def shared_postgres_url(postgres_available: None) -> AsyncIterator[str]:
    """One database for the session; tests keep apart by using fresh users and keys."""
    async with temporary_postgres_url() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("shared_postgres_url")


@pytest.fixture
async def fresh_postgres_url(postgres_available: None) -> AsyncIterator[str]:
    async with temporary_postgres_url() as url:
        yield url


@pytest.fixture
def empty_database_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    """A database nothing has touched yet, for migration tests."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def encryption_keys(new_key: Callable[[], str]) -> list[str]:
    return [new_key()]


@pytest.fixture
async def store(database_url: str, encryption_keys: list[str]) -> AsyncIterator[Store]:
    async with _open_store(database_url, encryption_keys) as opened:
        await opened.migrate()
        yield opened


@pytest.fixture
def make_user() -> Callable[[], SlackUser]:
    """Users no other test has seen, so tests sharing the PostgreSQL database cannot see each other's rows."""
    team_id = f"T{uuid.uuid4().hex[:10].upper()}"
    return lambda: SlackUser(team_id, f"U{uuid.uuid4().hex[:10].upper()}")
