from __future__ import annotations

import pytest

from bot.store.database import normalise_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/app", "postgresql+asyncpg://u:p@db.example:5432/app"),
        ("postgresql://u@db.example/app", "postgresql+asyncpg://u@db.example/app"),
        ("postgresql+psycopg2://u@db.example/app", "postgresql+asyncpg://u@db.example/app"),
        ("postgresql+asyncpg://u@db.example/app", "postgresql+asyncpg://u@db.example/app"),
        ("postgres://u@db.example/app?sslmode=require", "postgresql+asyncpg://u@db.example/app?ssl=require"),
        ("sqlite:///./rollout-bot.db", "sqlite+aiosqlite:///./rollout-bot.db"),
        ("sqlite+aiosqlite:////var/lib/bot.db", "sqlite+aiosqlite:////var/lib/bot.db"),
    ],
)
def test_urls_are_normalised_to_the_async_drivers(given: str, expected: str) -> None:
    assert normalise_database_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        normalise_database_url(url)


def test_other_databases_are_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'") as raised:
        normalise_database_url("mysql://user:hunter2@db.example/app")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
async def test_plain_postgres_urls_open_with_asyncpg(scheme, shared_postgres_url, encryption_keys, open_store):
    plain_url = shared_postgres_url.replace("postgresql+asyncpg", scheme, 1)

    async with open_store(plain_url, encryption_keys) as store:
        await store.migrate()
        assert await store.deliveries.claim(f"plain-{scheme}-url") is True
