"""Requests parked until the user picks a credential or connects a CRM, then rerun once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.schema import as_utc, parked_requests, utc_now


class ParkedRequestRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def park(self, user: SlackUser, payload: dict[str, Any], ttl: timedelta) -> str:
        if ttl <= timedelta(0):
            raise ValueError("a parked request needs a positive time to live")
        request_id = uuid.uuid4().hex
        now = utc_now()
        async with self._database.write() as connection:
            await connection.execute(
                parked_requests.insert().values(
                    id=request_id,
                    team_id=user.team_id,
                    user_id=user.user_id,
                    payload=payload,
                    expires_at=now + ttl,
                    created_at=now,
                )
            )
        return request_id

    async def take(self, request_id: str, user: SlackUser, now: datetime) -> dict[str, Any] | None:
        """The payload, for its owner only and only once; None when taken, expired, unknown or someone else's."""
        now = as_utc(now)
        # DELETE ... RETURNING is the compare-and-set: of concurrent takers, only one gets the row back.
        take_row = (
            delete(parked_requests)
            .where(
                (parked_requests.c.id == request_id)
                & (parked_requests.c.team_id == user.team_id)
                & (parked_requests.c.user_id == user.user_id)
            )
            .returning(parked_requests.c.payload, parked_requests.c.expires_at)
        )
        async with self._database.write() as connection:
            row = (await connection.execute(take_row)).one_or_none()
        # An expired request is deleted all the same: nobody can use it any more.
        if row is None or row.expires_at <= now:
            return None
        payload: dict[str, Any] = row.payload  # a JSON column: the dict stored by park()
        return payload

    async def prune(self, now: datetime) -> int:
        """Delete requests that expired before `now`; returns how many."""
        expired = delete(parked_requests).where(parked_requests.c.expires_at <= as_utc(now))
        async with self._database.write() as connection:
            result = await connection.execute(expired)
        return result.rowcount
